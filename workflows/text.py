"""Text every database can store, checked the same way for forms, the API and imports.

PostgreSQL refuses the NUL character (U+0000) in text, and no database can take a lone UTF-16
surrogate (``"\\ud800"`` in JSON): either would fail deep inside a write. They are refused at
the door instead, naming the field (or the cell) that holds them.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from models.types import ID_MAX

NUL = "\x00"
# JSON nested deeper than this is refused before it is walked (a real request is 2 deep).
MAX_DEPTH = 32

# The same rule as a JSON Schema pattern, for the documents that describe text fields
# (openapi.json): no NUL. A lone surrogate cannot be written in UTF-8, so no pattern names it.
STORABLE_PATTERN = "^[^\\u0000]*$"
# Storable and not blank: at least one character besides NUL and the ASCII spaces.
FILLED_PATTERN = "^[^\\u0000]*[^\\u0000\\t\\n\\v\\f\\r ][^\\u0000]*$"
# The spaces ``one_line`` folds: those every regular-expression dialect agrees on.
SPACES = " \t\n\v\f\r"
_SPACE_TO_BLANK = str.maketrans({ch: " " for ch in SPACES})


def counted(number: int, one: str, many: str | None = None) -> str:
    """``counted(1, "ask")`` → "1 ask", ``counted(3, "company", "companies")`` → "3 companies"."""
    return f"{number} {one if number == 1 else (many or one + 's')}"


def one_line(text: str) -> str:
    """Runs of spaces (``SPACES``) folded to one, none at either end."""
    return " ".join(part for part in text.translate(_SPACE_TO_BLANK).split(" ") if part)


def whole_number(raw: str | None, low: int = 1, high: int = ID_MAX) -> int | None:
    """``raw`` as a whole number from ``low`` to ``high`` (ASCII digits only: "²" is a digit to
    ``str.isdigit`` but no number), or None."""
    if raw is None or not (raw.isascii() and raw.isdigit()) or len(raw) > len(str(high)):
        return None
    value = int(raw)
    return value if low <= value <= high else None


def unstorable(text: str) -> str | None:
    """Why ``text`` cannot be stored, or None when it can."""
    if NUL in text:
        return "contains a NUL character (U+0000), which cannot be stored: remove it"
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return "contains an invalid character (a lone UTF-16 surrogate), which cannot be stored: remove it"
    return None


def unstorable_fields(pairs: Iterable[tuple[str, str]]) -> dict[str, list[str]]:
    """The fields of a form or query string whose name or value cannot be stored."""
    found: dict[str, list[str]] = {}
    for name, value in pairs:
        problem = unstorable(name) or unstorable(value)
        if problem:
            found.setdefault(_printable(name), [f"This field {problem}."])
    return found


def unstorable_json(data: Any) -> dict[str, list[str]]:
    """The same for a parsed JSON document: each string, key or value, at any depth; a field is
    named by its top-level key."""
    found: dict[str, list[str]] = {}
    for field, text in _strings(data):
        problem = unstorable(text)
        if problem:
            found.setdefault(_printable(field), [f"This field {problem}."])
    return found


def json_depth_exceeded(data: Any, limit: int = MAX_DEPTH) -> bool:
    stack = [(data, 1)]
    while stack:
        value, depth = stack.pop()
        if depth > limit:
            return True
        if isinstance(value, dict):
            stack.extend((item, depth + 1) for item in value.values())
        elif isinstance(value, list):
            stack.extend((item, depth + 1) for item in value)
    return False


def _strings(data: Any) -> Iterator[tuple[str, str]]:
    """(top-level field, string) for every string in the document, without recursion."""
    stack: list[tuple[str, Any]] = []
    if isinstance(data, dict):
        for key, value in data.items():
            yield key, key
            stack.append((key, value))
    else:
        stack.append(("body", data))
    while stack:
        field, value = stack.pop()
        if isinstance(value, str):
            yield field, value
        elif isinstance(value, dict):
            for key, item in value.items():
                yield field, key
                stack.append((field, item))
        elif isinstance(value, list):
            stack.extend((field, item) for item in value)


def _printable(name: str) -> str:
    """A field's name fit to be shown and stored itself."""
    cleaned = "".join(ch if ch != NUL and not 0xD800 <= ord(ch) <= 0xDFFF else "?" for ch in name)
    return cleaned[:64] or "?"
