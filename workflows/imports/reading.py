"""Reading a file: its encoding (UTF-8, with or without a byte-order mark), its size and number
of rows, its header, and text a database can store in every cell.

Whatever is wrong at this stage is the file's shape, not one value: it is refused here with
every such problem, before any cell is checked and before the database is read.
"""

from __future__ import annotations

import csv
import io
import os
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from workflows.imports.report import ImportRejected, Problem, plural_word
from workflows.text import unstorable

MAX_ROWS = 20_000
MAX_FILE_BYTES = 20 * 1024 * 1024
SOURCE_NAME_MAX_LENGTH = 200  # what consent_source and the audit keep of the file's name

CUSTOMER_COLUMNS = (
    "company", "industry", "employees", "region", "crm_id", "contact_name", "contact_email",
    "contact_title", "health_score", "nps", "renewal_date", "customer_since",
)
ADVOCATE_COLUMNS = (
    "email", "name", "company", "industry", "employees", "region", "job_level", "tier", "timezone",
    "formats", "use_cases", "topics", "avoid_topics", "competitors", "weekly_windows", "quarterly_cap",
)
COLUMNS = {"customers": CUSTOMER_COLUMNS, "advocates": ADVOCATE_COLUMNS}
ARTICLED = {"customers": "a customers", "advocates": "an advocates"}

Source = str | os.PathLike | IO[bytes] | IO[str]


@dataclass
class Table:
    header: list[str]
    rows: list[tuple[int, dict[str, str]]]  # (spreadsheet row number, column → trimmed cell)


def name_of(source: Source, given: str | None) -> str:
    """The file's name without its folders, as the report, the consent and the audit keep it."""
    name = given or (
        os.fspath(source) if isinstance(source, str | os.PathLike) else getattr(source, "name", None)
    )
    name = Path(str(name).replace("\\", "/")).name if name and not isinstance(name, int) else ""
    name = " ".join(name.split())
    return (name or "the uploaded file")[:SOURCE_NAME_MAX_LENGTH]


def read_table(kind: str, source: Source, name: str) -> Table:
    """The header and the non-blank rows; a file-level problem → ``ImportRejected`` at once."""
    text = _read_text(kind, source, name)
    unstorable_text = unstorable(text) is not None  # then find the cells that hold it
    reader = csv.reader(io.StringIO(text, newline=""))
    expected = COLUMNS[kind]

    def refuse(*problems: Problem):
        return ImportRejected(kind, name, problems)

    try:
        header = next(reader, None)
    except csv.Error as error:
        raise refuse(Problem(1, None, f"The header row is not well-formed CSV: {error}.")) from None
    if unstorable_text and (problem := unstorable("".join(header or []))):
        raise refuse(Problem(1, None, f"The header row {problem}."))
    header = [cell.strip().lower() for cell in header or []]
    if not any(header):
        raise refuse(Problem(1, None, (
            f"The file is empty: its first row must name the columns, {', '.join(expected)}."
        )))
    if len(header) == 1 and ";" in header[0]:
        raise refuse(Problem(1, None, (
            "The columns are separated by semicolons. Save the file as “CSV UTF-8 (comma delimited)”; "
            "semicolons separate the items of a list inside a cell."
        )))
    problems = _check_header(kind, header)
    if problems:
        raise refuse(*problems)

    rows: list[tuple[int, dict[str, str]]] = []
    problems = []
    number = 1
    unnamed = [i for i, column in enumerate(header) if not column]  # spreadsheets add empty ones
    try:
        for number, cells in enumerate(reader, start=2):  # noqa: B007  (``number`` is read after)
            if not any(cell.strip() for cell in cells):
                continue  # a blank line holds nothing to import
            if len(rows) >= MAX_ROWS:
                raise refuse(Problem(number, None, (
                    f"The file has more than {MAX_ROWS:,} rows: split it into files of at most "
                    f"{MAX_ROWS:,} rows and import them one after the other."
                )))
            if any(cell.strip() for cell in cells[len(header):]):
                problems.append(Problem(number, None, (
                    f"This row has {len(cells)} cells but the header names {len(header)} columns. "
                    "A cell holding a comma must be in double quotes."
                )))
            elif stray := [i for i in unnamed if i < len(cells) and cells[i].strip()]:
                problems.append(Problem(number, None, (
                    f"This row has a value in column {stray[0] + 1}, which has no name in the header row."
                )))
            cells = cells + [""] * (len(header) - len(cells))
            row = {column: cells[i].strip() for i, column in enumerate(header) if column}
            if unstorable_text:
                problems += _unstorable(number, row)
            rows.append((number, row))
    except csv.Error as error:
        problems.append(Problem(number + 1, None, f"This row is not well-formed CSV: {error}."))
    if problems:
        raise refuse(*problems)
    return Table(header, rows)


def _unstorable(number: int, row: dict[str, str]) -> list[Problem]:
    """The cells of a row no database can store (a NUL character, say), each named: refused
    here rather than failing deep inside the write."""
    return [Problem(number, column, f"{problem}.")
            for column, cell in row.items() if (problem := unstorable(cell))]


def _read_text(kind: str, source: Source, name: str) -> str:
    def refuse(message: str, row: int | None = None):
        return ImportRejected(kind, name, [Problem(row, None, message)])

    too_big = (f"The file is larger than {MAX_FILE_BYTES // (1024 * 1024)} MB: split it into smaller "
               "files and import them one after the other.")
    if isinstance(source, str | os.PathLike):
        if os.path.getsize(source) > MAX_FILE_BYTES:
            raise refuse(too_big)
        with open(source, "rb") as file:
            data: bytes | str = file.read()
    else:
        data = source.read(MAX_FILE_BYTES + 1)
        if len(data) > MAX_FILE_BYTES:
            raise refuse(too_big)
    if isinstance(data, str):
        return data.removeprefix("\ufeff")
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise refuse("The file is UTF-16 text. In your spreadsheet, save it as “CSV UTF-8” instead.")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = data[: error.start].count(b"\n") + 1
        raise refuse(
            f"The file is not UTF-8 text (line {line} holds a byte that is not UTF-8). "
            "In your spreadsheet, save it as “CSV UTF-8”.",
            line,
        ) from None


def _check_header(kind: str, header: list[str]) -> list[Problem]:
    expected = COLUMNS[kind]
    problems = []
    seen: set[str] = set()
    for column in header:
        if column in seen and column:
            problems.append(Problem(1, column, f"The column “{column}” appears twice."))
        seen.add(column)
    other = next(k for k in COLUMNS if k != kind)
    if seen - {""} == set(COLUMNS[other]):
        return [Problem(1, None, (
            f"This file has the columns of {ARTICLED[other]} file, not of {ARTICLED[kind]} file: "
            f"import it as {other}."
        ))]
    unknown = [column for column in header if column and column not in expected]
    missing = [column for column in expected if column not in seen]
    if unknown:
        problems.append(Problem(1, None, (
            f"Unknown {plural_word(len(unknown), 'column', 'columns')}: {', '.join(unknown)}. "
            f"{ARTICLED[kind].capitalize()} file has exactly these columns: {', '.join(expected)}."
        )))
    if missing:
        problems.append(Problem(1, None, (
            f"Missing {plural_word(len(missing), 'column', 'columns')}: {', '.join(missing)}. "
            f"{ARTICLED[kind].capitalize()} file has exactly these columns (in any order): "
            f"{', '.join(expected)}."
        )))
    return problems
