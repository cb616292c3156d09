"""Reading a reference request as sales submit it (DESIGN.md §9 "JSON API", M3 item 1).

One parser for every way a request comes in: the JSON API (lists as lists, numbers as numbers)
and the form in the admin area (every value a string: lists separated by ``;`` or one per line,
numbers as text). ``parse_request`` checks every rule at once and either returns a typed
``RequestInput`` — catalogue names already resolved to their rows — or raises ``RequestInvalid``
whose ``errors`` map each field of the contract to what is wrong with it. It changes nothing;
``workflows.requests.submit_request`` saves what it returns.

The rules are plain functions (``text``, ``amount``, ``employees``, ``needed_by``, ``items``…),
usable alone. Catalogues (industries, regions, topics, formats) are matched case-insensitively,
spaces folded, and an unknown name is named in its message; each catalogue is read at most
once or twice, so parsing runs a fixed number of queries whatever the input.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any, TypeVar

from email_validator import EmailNotValidError, validate_email
from sqlalchemy import select

from models import Format, Industry, Region, Topic, db
from models._columns import name_key
from models.types import utcnow
from workflows.errors import Invalid

# The contract's fields, in its order (DESIGN.md §9).
FIELDS: tuple[str, ...] = (
    "opportunity_id", "opportunity_name", "amount", "prospect_company", "industry", "employees",
    "region", "contact_name", "contact_email", "use_cases", "topics", "competitors", "format",
    "needed_by", "questions", "notes",
)
# Keys a submitted form carries besides the fields (Flask-WTF's token, the one-time submission
# key): never an error.
FORM_KEYS = frozenset({"csrf_token", "submission_key"})

# Lengths: the columns' own limits (requests, and the tag tables for list items).
TEXT_LIMITS: dict[str, int] = {
    "opportunity_id": 64,
    "opportunity_name": 200,
    "prospect_company": 200,
    "contact_name": 120,
    "contact_email": 254,
}
NOTES_MAX_LENGTH = 5000
ITEM_MAX_LENGTH = 120  # a use case, topic or competitor
QUESTION_MAX_LENGTH = 500
LIST_MAX_ITEMS = 20
AMOUNT_MAX = Decimal("999999999999.99")  # Numeric(14, 2)
EMPLOYEES_MAX = 10_000_000
CENT = Decimal("0.01")

LIST_SEPARATORS = re.compile(r"[;\r\n]+")
LINES = re.compile(r"[\r\n]+")
DATE_FORMAT = re.compile(r"\d{4}-\d{2}-\d{2}")
WHOLE_NUMBER = re.compile(r"\d+|\d{1,3}(?:,\d{3})+")
DECIMAL_NUMBER = re.compile(r"(?:\d+|\d{1,3}(?:,\d{3})+)(?:\.\d+)?|\.\d+")


@dataclass(kw_only=True)
class RequestInput:
    """A request as submitted, checked and typed; catalogue entries are their rows."""

    opportunity_id: str = ""
    opportunity_name: str = ""
    amount: Decimal | None = None
    prospect_company: str
    industry: Industry | None = None
    employees: int | None = None
    region: Region | None = None
    contact_name: str = ""
    contact_email: str = ""
    use_cases: list[str] = field(default_factory=list)
    topics: list[Topic] = field(default_factory=list)
    competitors: list[str] = field(default_factory=list)
    format: Format
    needed_by: date | None = None
    questions: list[str] = field(default_factory=list)
    notes: str = ""


@dataclass(frozen=True)
class RequestEdit:
    """What the seller may still change before an advocate accepts."""

    needed_by: date | None
    notes: str
    topics: list[Topic]
    contact_name: str
    contact_email: str


class RequestInvalid(Invalid):
    """The request breaks one or more rules. ``errors`` maps each field at fault to its messages
    (an unknown key maps to a message naming it); nothing was saved."""

    def __init__(self, errors: Mapping[str, Iterable[str]]) -> None:
        # The contract's order first, then any unknown keys.
        order = {name: position for position, name in enumerate(FIELDS)}
        ordered = {
            name: list(errors[name]) for name in sorted(errors, key=lambda n: (order.get(n, len(order)), n))
        }
        details = "; ".join(
            f"{name}: {message}" for name, messages in ordered.items() for message in messages
        )
        first = next(iter(ordered), None)
        super().__init__(f"The request was not saved. {details}", first, ordered)


class _Invalid(ValueError):
    """One field's problem, raised by a rule and collected by ``parse_request``."""


T = TypeVar("T")


# --- the parser ------------------------------------------------------------------------------


def parse_request(raw: Mapping[str, Any]) -> RequestInput:
    """Check a submitted request (a JSON object or a form's values) against every rule.

    Values may be JSON's types or strings; ``None`` and empty strings count as not given.
    A form's ``MultiDict`` may repeat a list field (a multiple select) instead of separating
    its items. Raises ``RequestInvalid`` with every problem found, field by field.
    """
    if not isinstance(raw, Mapping):
        raise RequestInvalid({"request": ["the request must be an object with the request's fields"]})
    errors: dict[str, list[str]] = defaultdict(list)
    values = {name: _value(raw, name) for name in FIELDS}

    def check(name: str, rule: Callable[..., T], *args: Any, **kwargs: Any) -> T | None:
        try:
            return rule(values[name], *args, **kwargs)
        except _Invalid as problem:
            errors[name].append(str(problem))
            return None

    for key in raw:
        if key not in FIELDS and key not in FORM_KEYS:
            errors[str(key)].append(f"unknown field '{key}': a request has {', '.join(FIELDS)}")

    texts = {name: check(name, text, limit) for name, limit in TEXT_LIMITS.items()}
    company = texts["prospect_company"]
    if not company and "prospect_company" not in errors:
        errors["prospect_company"].append("required: the prospect's company name")
    contact_email = check("contact_email", email)
    notes = check("notes", text, NOTES_MAX_LENGTH, multiline=True)
    amount_value = check("amount", amount)
    employee_count = check("employees", employees)
    needed = check("needed_by", needed_by, today=utcnow().date())

    use_cases = check("use_cases", items, ITEM_MAX_LENGTH)
    competitors = check("competitors", items, ITEM_MAX_LENGTH)
    questions = check("questions", items, QUESTION_MAX_LENGTH, dedupe=False, one_per_line=True)
    topic_names = check("topics", items, ITEM_MAX_LENGTH)

    industry = check("industry", catalogue_entry, Industry, "industry") if values["industry"] else None
    region = check("region", catalogue_entry, Region, "region") if values["region"] else None
    topics: list[Topic] = []
    if topic_names:
        topics, unknown = match_topics(topic_names)
        if unknown:
            catalogue = ", ".join(_names(Topic))
            errors["topics"] += [f"unknown topic '{name}': use one of {catalogue}" for name in unknown]
    the_format = check("format", format_entry)
    if the_format is not None and the_format.code == "written" and questions == []:
        errors["questions"].append("a written reference needs at least one question")

    if errors or the_format is None or not company:  # (no errors means both are there)
        raise RequestInvalid(errors)
    return RequestInput(
        opportunity_id=texts["opportunity_id"] or "",
        opportunity_name=texts["opportunity_name"] or "",
        amount=amount_value,
        prospect_company=company,
        industry=industry,
        employees=employee_count,
        region=region,
        contact_name=texts["contact_name"] or "",
        contact_email=contact_email or "",
        use_cases=use_cases or [],
        topics=topics,
        competitors=competitors or [],
        format=the_format,
        needed_by=needed,
        questions=questions or [],
        notes=notes or "",
    )


def _value(raw: Mapping[str, Any], name: str) -> Any:
    """The field's value; a form's repeated key (``MultiDict.getlist``) becomes a list."""
    getlist = getattr(raw, "getlist", None)
    if getlist is not None:
        repeated = getlist(name)
        if len(repeated) > 1:
            return repeated
    value = raw.get(name)
    if isinstance(value, str) and not value.strip():
        return None
    return value


# --- the rules -------------------------------------------------------------------------------


def text(value: Any, max_length: int, *, multiline: bool = False) -> str:
    """A string (a JSON number is taken as its digits, e.g. a CRM's numeric id), trimmed; on one
    line unless ``multiline``, with runs of spaces folded."""
    if value is None:
        return ""
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise _Invalid("must be text")
    value = str(value).strip()
    if not multiline:
        value = " ".join(value.split())
    if len(value) > max_length:
        raise _Invalid(f"at most {max_length:,} characters (this is {len(value):,})")
    return value


def email(value: Any) -> str:
    address = text(value, TEXT_LIMITS["contact_email"])
    if not address:
        return ""
    try:
        return validate_email(address, check_deliverability=False).normalized
    except EmailNotValidError as problem:
        raise _Invalid(f"'{address}' is not a valid e-mail address: {problem}") from None


def amount(value: Any) -> Decimal | None:
    """A sum of money: 0 or more, at most two decimals (``"1,250,000.50"`` is fine)."""
    if value is None:
        return None
    if isinstance(value, bool):
        raise _Invalid("must be a number")
    if isinstance(value, int | Decimal):
        number = Decimal(value)
    elif isinstance(value, float):
        number = Decimal(repr(value))
    elif isinstance(value, str):
        cleaned = value.strip()
        if cleaned.startswith("-") and DECIMAL_NUMBER.fullmatch(cleaned[1:]):
            raise _Invalid("must be 0 or more")
        if not DECIMAL_NUMBER.fullmatch(cleaned):
            raise _Invalid(f"'{value.strip()[:40]}' is not a number: write it like 250000 or 250000.50")
        number = Decimal(cleaned.replace(",", ""))
    else:
        raise _Invalid("must be a number")
    if not number.is_finite():
        raise _Invalid("must be a number")
    if number < 0:
        raise _Invalid("must be 0 or more")
    if number > AMOUNT_MAX:
        raise _Invalid(f"at most {AMOUNT_MAX:,}")
    try:
        rounded = number.quantize(CENT)
    except InvalidOperation:  # pragma: no cover - ruled out by the bound above
        raise _Invalid("must be a number") from None
    if rounded != number:
        raise _Invalid("at most 2 decimals")
    return rounded


def employees(value: Any) -> int | None:
    """The prospect's head count: a whole number of at least 1."""
    if value is None:
        return None
    if isinstance(value, bool):
        raise _Invalid("must be a whole number")
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, str):
        cleaned = value.strip()
        if cleaned.startswith("-") and WHOLE_NUMBER.fullmatch(cleaned[1:]):
            raise _Invalid("must be at least 1")
        if not WHOLE_NUMBER.fullmatch(cleaned):
            raise _Invalid(f"'{cleaned[:40]}' is not a whole number")
        value = int(cleaned.replace(",", ""))
    if not isinstance(value, int):
        raise _Invalid("must be a whole number")
    if value < 1:
        raise _Invalid("must be at least 1")
    if value > EMPLOYEES_MAX:
        raise _Invalid(f"at most {EMPLOYEES_MAX:,}")
    return value


def needed_by(value: Any, *, today: date) -> date | None:
    """A date as ``YYYY-MM-DD`` (or a ``date``), today or later; "today" is the UTC date."""
    if value is None:
        return None
    if isinstance(value, datetime):
        value = value.date()
    if not isinstance(value, date):
        if not isinstance(value, str) or not DATE_FORMAT.fullmatch(value.strip()):
            raise _Invalid("must be a date written YYYY-MM-DD")
        try:
            value = date.fromisoformat(value.strip())
        except ValueError:
            raise _Invalid(f"{value.strip()} is not a date on the calendar") from None
    if value < today:
        raise _Invalid(f"must not be in the past (today is {today.isoformat()}, UTC)")
    return value


def items(value: Any, max_length: int, *, dedupe: bool = True, one_per_line: bool = False) -> list[str]:
    """A list of short texts: a JSON list of strings, or one string with the items separated by
    ``;`` or new lines (``one_per_line``: by new lines only, when there are any — a question
    may well hold a semicolon). Spaces folded, empty items dropped, repeats (compared
    case-insensitively) kept once unless ``dedupe`` is off; at most ``LIST_MAX_ITEMS``."""
    if value is None:
        return []
    if isinstance(value, str):
        separators = LINES if one_per_line and LINES.search(value) else LIST_SEPARATORS
        parts: list[Any] = separators.split(value)
    elif isinstance(value, list | tuple):
        parts = list(value)
    else:
        raise _Invalid("must be a list of texts")
    found: list[str] = []
    seen: set[str] = set()
    for number, part in enumerate(parts, start=1):
        if not isinstance(part, str):
            raise _Invalid(f"item {number} is not text: the list must hold texts only")
        item = " ".join(part.split()).strip("; ")
        if not item or (dedupe and name_key(item) in seen):
            continue
        if len(item) > max_length:
            raise _Invalid(f"'{item[:40]}…' is longer than {max_length} characters")
        seen.add(name_key(item))
        found.append(item)
    if len(found) > LIST_MAX_ITEMS:
        raise _Invalid(f"at most {LIST_MAX_ITEMS} items (this has {len(found)})")
    return found


def catalogue_entry(value: Any, model: type[Industry] | type[Region], what: str) -> Industry | Region:
    """The industry or region a name stands for, matched case-insensitively."""
    name = text(value, ITEM_MAX_LENGTH)
    entry = db.session.scalar(select(model).where(model.key == name_key(name)))
    if entry is None:
        raise _Invalid(f"unknown {what} '{name}': use one of {', '.join(_names(model))}")
    return entry


def match_topics(names: list[str]) -> tuple[list[Topic], list[str]]:
    """(the topics found, in the order given; the names the catalogue does not hold)."""
    by_key = {topic.key: topic for topic in db.session.scalars(select(Topic))}
    found, unknown = [], []
    for name in names:
        topic = by_key.get(name_key(name))
        if topic is None:
            unknown.append(name)
        elif topic not in found:
            found.append(topic)
    return found, unknown


def format_entry(value: Any) -> Format:
    """A format by its code (``site_visit``), also written ``Site visit`` or by its name."""
    formats = list(db.session.scalars(select(Format).order_by(Format.position, Format.code)))
    codes = ", ".join(f.code for f in formats)
    if value is None:
        raise _Invalid(f"required: use one of {codes}")
    name = text(value, ITEM_MAX_LENGTH)
    wanted = name_key(name)
    for entry in formats:
        spellings = {entry.code, name_key(entry.code.replace("_", " ")), name_key(entry.name)}
        if wanted in spellings or wanted.replace("-", " ") in spellings:
            return entry
    raise _Invalid(f"unknown format '{name}': use one of {codes}")


def _names(model: type[Industry] | type[Region] | type[Topic]) -> list[str]:
    return list(db.session.scalars(select(model.name).order_by(model.id)))


# What a seller may still change before an advocate accepts (``requests.edit_request``).
EDIT_FIELDS: tuple[str, ...] = ("needed_by", "notes", "topics", "contact_name", "contact_email")


def parse_request_edit(raw: Mapping[str, Any]) -> RequestEdit:
    """Check the fields of an edit with the same rules as a new request; ``RequestInvalid``
    with every problem found."""
    errors: dict[str, list[str]] = defaultdict(list)
    values = {name: _value(raw, name) for name in EDIT_FIELDS}

    def check(name: str, rule: Callable[..., T], *args: Any, **kwargs: Any) -> T | None:
        try:
            return rule(values[name], *args, **kwargs)
        except _Invalid as problem:
            errors[name].append(str(problem))
            return None

    needed = check("needed_by", needed_by, today=utcnow().date())
    notes = check("notes", text, NOTES_MAX_LENGTH, multiline=True)
    contact_name = check("contact_name", text, TEXT_LIMITS["contact_name"])
    contact_email = check("contact_email", email)
    topic_names = check("topics", items, ITEM_MAX_LENGTH) or []
    topics, unknown = match_topics(topic_names) if topic_names else ([], [])
    if unknown:
        catalogue = ", ".join(_names(Topic))
        errors["topics"] += [f"unknown topic '{name}': use one of {catalogue}" for name in unknown]
    if errors:
        raise RequestInvalid(errors)
    return RequestEdit(needed_by=needed, notes=notes or "", topics=topics,
                       contact_name=contact_name or "", contact_email=contact_email or "")
