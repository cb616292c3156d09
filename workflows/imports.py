"""CSV imports (DESIGN.md §7.11 and §9 "CSV files"; M3 item 7): the customers a CRM exports,
and the advocates of a reference program moving off its spreadsheet.

How a file is taken in
    The file is read whole: UTF-8 with or without a byte-order mark, at most ``MAX_ROWS`` rows
    and ``MAX_FILE_BYTES`` bytes. The header row must name every column of the contract, in any
    order, and no other. Then EVERY row is checked and each problem collected as a ``Problem``:
    the row as the spreadsheet numbers it (the header is row 1), the column, and what is wrong.
    One problem anywhere → ``ImportRejected`` listing them all, and nothing is written.
    Otherwise everything is written in one transaction with its audit event, and the
    ``ImportReport`` counts what was created, updated and left unchanged. Importing the same
    file again changes nothing (every record "unchanged"); a file with changed values updates
    what changed. Catalogues, existing companies, accounts and tags are read in a constant
    number of queries and new rows are inserted in bulk, so 5 000 rows take seconds.

Choices the contract leaves open
    - Cells are trimmed; blank lines are skipped; nothing else is altered: a cell starting with
      ``=`` is imported as the text it is (exports neutralise formulas, imports keep the text).
    - Lists are separated by ``;`` (or a line break inside the cell); a repeat is kept once.
    - Companies are found by name, case-insensitively, and created when missing. An empty
      company cell (industry, employees, region, CRM id, scores, dates) never erases what Vouch
      knows: it leaves the value as it is. Two rows of one file may not disagree on a value.
    - Advocates file: the file is the reference list of record for the columns it has. A row
      whose e-mail is new creates an advocate account and an ACTIVE advocate whose consent is
      recorded as given to the program before the import ("import of FILE on DATE"). A row
      whose e-mail is an advocate's already sets that advocate's columns to what the row says
      (an empty list clears it, an empty cap means the tier's quota, an empty time zone UTC);
      a candidate or invited advocate becomes active with consent recorded, a paused or retired
      one keeps their status, and consent recorded earlier is kept. Tier is required.
      Competitors are "evaluated" unless written ``Name (replaced)``. The e-mail of a staff or
      sales account is refused.
    - Customers file: one row per company. A contact with an e-mail becomes a CANDIDATE
      advocate (an advocate account that cannot be matched: no consent, not active) at that
      company, with the contact's title as job title: the "spot and invite candidates" flow
      starts from them. A contact already known as an advocate is left as they are; a contact
      without an e-mail is not added (the report says which rows).
"""

from __future__ import annotations

import csv
import io
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time
from pathlib import Path
from typing import IO, Any, NamedTuple

from email_validator import EmailNotValidError, validate_email
from sqlalchemy import Table, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import selectinload

from models import (
    Account,
    Advocate,
    AdvocateCompetitor,
    AdvocateStatus,
    AdvocateTopic,
    AuditEvent,
    Company,
    Competitor,
    CompetitorRelation,
    Format,
    Industry,
    JobLevel,
    Region,
    Role,
    Tier,
    Topic,
    TopicStance,
    UseCase,
    WeeklyWindow,
    db,
)
from models._columns import name_key
from models.accounts import normalize_email
from models.advocates import advocate_formats, advocate_use_cases
from models.locking import begin_write
from models.types import utcnow
from workflows import profiles
from workflows.audit import add_event
from workflows.availability import (
    WEEKDAYS,
    AvailabilityError,
    check_window,
    parse_time_of_day,
    resolve_time_zone,
)
from workflows.progress import Progress, ProgressCallback

MAX_ROWS = 20_000
MAX_FILE_BYTES = 20 * 1024 * 1024
NAME_MAX_LENGTH = 120  # Account.name, Advocate.job_title
COMPANY_MAX_LENGTH = 200  # Company.name
CRM_ID_MAX_LENGTH = 64  # Company.crm_id
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
# What one row of each kind creates, in words.
RECORDS = {"customers": "companies", "advocates": "advocates"}
ARTICLED = {"customers": "a customers", "advocates": "an advocates"}

Source = str | os.PathLike | IO[bytes] | IO[str]


# --- what an import answers --------------------------------------------------------------------


class Problem(NamedTuple):
    """One thing wrong with a file. ``row`` as the spreadsheet numbers it (the header is row 1;
    None for the file as a whole); ``column`` None when the problem is not one cell's."""

    row: int | None
    column: str | None
    message: str

    def __str__(self) -> str:
        where = "file" if self.row is None else f"row {self.row}"
        if self.column:
            where += f", {self.column}"
        return f"{where}: {self.message}"


class ImportRejected(ValueError):
    """The file was not imported, not one row of it; ``problems`` says every reason."""

    def __init__(self, kind: str, source_name: str, problems: Iterable[Problem]) -> None:
        self.kind = kind
        self.source_name = source_name
        self.problems = sorted(problems, key=lambda p: -1 if p.row is None else p.row)
        super().__init__(self.summary())

    @property
    def rows(self) -> list[int]:
        """The data rows at fault (the header aside)."""
        return sorted({p.row for p in self.problems if p.row is not None and p.row > 1})

    def summary(self) -> str:
        count = len(self.problems)
        problems = _plural(count, "problem", "problems")
        rows = self.rows
        where = f" in {_plural(len(rows), 'row', 'rows')}" if rows else ""
        return f"Nothing was imported from {self.source_name}: {problems}{where}."

    def describe(self) -> str:
        lines = [self.summary()]
        lines += [f"  {problem}" for problem in self.problems]
        lines.append("Fix the file and import it again: a file imports whole, or not at all.")
        return "\n".join(lines)


@dataclass(frozen=True)
class ImportReport:
    """What an import did. ``created``/``updated``/``unchanged`` count the file's main records:
    advocates for an advocates file, companies for a customers file."""

    kind: str
    source_name: str
    rows: int
    created: int
    updated: int
    unchanged: int
    companies_created: int = 0  # advocates file: companies named for the first time
    companies_updated: int = 0
    candidates_created: int = 0  # customers file: contacts added as candidate advocates
    notes: tuple[str, ...] = ()

    @property
    def records(self) -> str:
        return RECORDS[self.kind]

    @property
    def changed(self) -> bool:
        return bool(self.created or self.updated or self.companies_created or self.companies_updated
                    or self.candidates_created)

    def summary(self) -> str:
        head = (
            f"Imported {self.source_name} ({_plural(self.rows, 'row', 'rows')}): "
            f"{self.created} {self.records} created, {self.updated} updated, {self.unchanged} unchanged"
        )
        if self.kind == "advocates" and (self.companies_created or self.companies_updated):
            head += f"; {self.companies_created} companies created, {self.companies_updated} updated"
        if self.kind == "customers" and self.candidates_created:
            head += "; " + _plural(self.candidates_created, "contact added as a candidate advocate",
                                   "contacts added as candidate advocates")
        if not self.changed:
            head += " (nothing changed)"
        return head + "."

    def describe(self) -> str:
        return "\n".join([self.summary(), *(f"  {note}" for note in self.notes)])

    def to_json(self) -> dict[str, Any]:
        return {
            "rows": self.rows, "created": self.created, "updated": self.updated,
            "unchanged": self.unchanged, "companies_created": self.companies_created,
            "companies_updated": self.companies_updated, "candidates_created": self.candidates_created,
            "notes": list(self.notes),
        }


# --- the two imports ---------------------------------------------------------------------------


def import_advocates(
    source: Source,
    *,
    on_progress: ProgressCallback | None = None,
    source_name: str | None = None,
    by: Account | None = None,
    now: datetime | None = None,
) -> ImportReport:
    """Import the contract's advocates CSV from a path or an open file (bytes or text)."""
    return _run("advocates", source, on_progress, source_name, by, now)


def import_customers(
    source: Source,
    *,
    on_progress: ProgressCallback | None = None,
    source_name: str | None = None,
    by: Account | None = None,
    now: datetime | None = None,
) -> ImportReport:
    """Import the contract's customers CSV from a path or an open file (bytes or text)."""
    return _run("customers", source, on_progress, source_name, by, now)


def _run(kind, source, on_progress, source_name, by, now) -> ImportReport:
    progress = Progress(on_progress)
    name = _source_name(source, source_name)
    table = _read_table(kind, source, name)
    progress.to(10)
    importer = _AdvocatesImport if kind == "advocates" else _CustomersImport
    try:
        # One transaction from the first read to the commit. On SQLite it holds the write lock
        # throughout (nothing read can change before it is written); on PostgreSQL the existing
        # advocates the file changes are locked as they are read.
        begin_write()
        job = importer(table, name, now or utcnow(), progress)
        job.check()
        if job.problems:
            raise ImportRejected(kind, name, job.problems)
        report = replace(job.write(), source_name=name)
        add_event(f"import.{kind}", actor=by, subject=name[:254], **report.to_json())
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        raise ImportRejected(kind, name, [Problem(None, None, (
            "Someone else changed the same people or companies while this file was being imported, "
            "so nothing was imported. Import the file again."
        ))]) from None
    except BaseException:
        db.session.rollback()
        raise
    progress.finish()
    return report


@dataclass(frozen=True)
class RecentImport:
    at: datetime
    kind: str
    source_name: str
    by: str | None  # the staff member's name; None from the command line
    summary: str


def recent_imports(limit: int = 10) -> list[RecentImport]:
    """The last imports, newest first, from the audit log (one query)."""
    rows = db.session.execute(
        select(AuditEvent, Account.name)
        .outerjoin(Account, Account.id == AuditEvent.actor_id)
        .where(AuditEvent.kind.in_([f"import.{kind}" for kind in COLUMNS]))
        .order_by(AuditEvent.at.desc(), AuditEvent.id.desc())
        .limit(limit)
    ).all()
    recent = []
    for event, actor_name in rows:
        kind = event.kind.removeprefix("import.")
        counts = {k: v for k, v in (event.detail or {}).items() if k in ImportReport.__dataclass_fields__}
        counts.setdefault("rows", 0)
        for key in ("created", "updated", "unchanged"):
            counts.setdefault(key, 0)
        counts["notes"] = tuple(counts.get("notes") or ())
        report = ImportReport(kind=kind, source_name=event.subject or "", **counts)
        recent.append(RecentImport(event.at, kind, event.subject or "", actor_name, report.summary()))
    return recent


# --- reading the file --------------------------------------------------------------------------


@dataclass
class _Table:
    header: list[str]
    rows: list[tuple[int, dict[str, str]]]  # (spreadsheet row number, column → trimmed cell)


def _source_name(source: Source, given: str | None) -> str:
    name = given or (
        os.fspath(source) if isinstance(source, str | os.PathLike) else getattr(source, "name", None)
    )
    name = Path(str(name).replace("\\", "/")).name if name and not isinstance(name, int) else ""
    name = " ".join(name.split())
    return (name or "the uploaded file")[:SOURCE_NAME_MAX_LENGTH]


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


def _read_table(kind: str, source: Source, name: str) -> _Table:
    """The header and the non-blank rows; a file-level problem → ``ImportRejected`` at once."""
    text = _read_text(kind, source, name)
    reader = csv.reader(io.StringIO(text, newline=""))
    expected = COLUMNS[kind]

    def refuse(*problems: Problem):
        return ImportRejected(kind, name, problems)

    try:
        header = next(reader, None)
    except csv.Error as error:
        raise refuse(Problem(1, None, f"The header row is not well-formed CSV: {error}.")) from None
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
            rows.append((number, {column: cells[i].strip() for i, column in enumerate(header) if column}))
    except csv.Error as error:
        problems.append(Problem(number + 1, None, f"This row is not well-formed CSV: {error}."))
    if problems:
        raise refuse(*problems)
    return _Table(header, rows)


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
            f"Unknown {_plural_word(len(unknown), 'column', 'columns')}: {', '.join(unknown)}. "
            f"{ARTICLED[kind].capitalize()} file has exactly these columns: {', '.join(expected)}."
        )))
    if missing:
        problems.append(Problem(1, None, (
            f"Missing {_plural_word(len(missing), 'column', 'columns')}: {', '.join(missing)}. "
            f"{ARTICLED[kind].capitalize()} file has exactly these columns (in any order): "
            f"{', '.join(expected)}."
        )))
    return problems


# --- checking cells ----------------------------------------------------------------------------

_INTEGER = re.compile(r"[+-]?\d{1,3}(,\d{3})+|[+-]?\d+")
_COMPETITOR = re.compile(r"(?P<name>.*?)\s*\((?P<relation>replaced|evaluated)\)", re.IGNORECASE)
_WINDOW = re.compile(
    r"(?P<first>[^\W\d_]+)(?:\s*[-–]\s*(?P<last>[^\W\d_]+))?\s+(?P<starts>\S+?)\s*[-–]\s*(?P<ends>\S+)"
)
_LIST_SEPARATORS = profiles.CELL_SEPARATORS  # ";" and line breaks, never commas


class _Cells:
    """One row's cells, with checks that record a problem and answer None when a cell is wrong."""

    def __init__(self, number: int, cells: dict[str, str], problems: list[Problem],
                 addresses: dict[str, str | None]) -> None:
        self.number = number
        self.cells = cells
        self.problems = problems
        self.addresses = addresses  # each e-mail cell of the file → ``_email(cell)``, worked out once
        self.ok = True

    def __getitem__(self, column: str) -> str:
        return self.cells[column]

    def error(self, column: str | None, message: str) -> None:
        self.problems.append(Problem(self.number, column, message))
        self.ok = False

    def text(self, column: str, what: str, *, max_length: int, required: bool = False) -> str | None:
        value = " ".join(self[column].split())
        if not value:
            if required:
                self.error(column, f"Give the {what}: this column cannot be empty.")
            return None
        if len(value) > max_length:
            self.error(column, f"The {what} is {len(value)} characters long: keep it to {max_length}.")
            return None
        return value

    def integer(self, column: str, what: str, low: int, high: int | None) -> int | None:
        value = self[column]
        if not value:
            return None
        if not _INTEGER.fullmatch(value):
            self.error(column, f"“{_short(value)}” is not a whole number: give the {what} like 250.")
            return None
        number = int(value.replace(",", ""))
        if number < low or (high is not None and number > high):
            bounds = f"from {low} to {high}" if high is not None else f"of at least {low}"
            self.error(column, f"{number} is out of range: give the {what} as a number {bounds}.")
            return None
        return number

    def date(self, column: str, what: str) -> date | None:
        value = self[column]
        if not value:
            return None
        try:
            if re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
                return date.fromisoformat(value)
        except ValueError:
            pass
        self.error(column, f"“{_short(value)}” is not a date: give the {what} like 2026-05-31.")
        return None

    def email(self, column: str, *, required: bool) -> str | None:
        value = self[column]
        if not value:
            if required:
                self.error(column, "Give the e-mail address: this column cannot be empty.")
            return None
        address = self.addresses[value] if value in self.addresses else _email(value)
        if address is None:
            self.error(column, f"“{_short(value)}” is not an e-mail address.")
        return address

    def lookup(self, column: str, table: dict[str, Any], what: str, choices: str) -> Any:
        value = self[column]
        if not value:
            return None
        found = table.get(name_key(value))
        if found is None:
            self.error(column, f"“{_short(value)}” is not {what}: use {choices}.")
        return found

    def names(self, column: str, what: str) -> list[str]:
        """A ``;``-separated list of free names (tags): each at most 120 characters, at most 30."""
        names = profiles.split_list(self[column], _LIST_SEPARATORS)
        for name in names:
            if len(name) > profiles.TAG_MAX_LENGTH:
                self.error(column, f"“{_short(name)}” is too long: keep each {what} to "
                                   f"{profiles.TAG_MAX_LENGTH} characters.")
                return []
        if len(names) > profiles.TAGS_MAX:
            self.error(column, f"That is {len(names)} {what}s: list at most {profiles.TAGS_MAX}.")
            return []
        return names

    def choices(self, column: str, table: dict[str, Any], what: str, choices: str) -> list[Any]:
        """A ``;``-separated list of catalogue entries; every unknown one named in one problem."""
        found, unknown = [], []
        for value in profiles.split_list(self[column], _LIST_SEPARATORS):
            row = table.get(name_key(value))
            if row is None:
                unknown.append(value)
            elif row not in found:
                found.append(row)
        if unknown:
            names = ", ".join(f"“{_short(value)}”" for value in unknown)
            self.error(column, f"{names} {f'is not a {what}' if len(unknown) == 1 else f'are not {what}s'}: "
                               f"use {choices}.")
        return found


def _short(value: str, length: int = 60) -> str:
    return value if len(value) <= length else value[:length] + "…"


def _email(value: str) -> str | None:
    """The address as accounts keep it (validated, case-folded), or None when it is not one."""
    try:
        return normalize_email(validate_email(value, check_deliverability=False).normalized)
    except EmailNotValidError:
        return None


def _addresses(cells: Iterable[str]) -> dict[str, str | None]:
    """Each distinct non-empty e-mail cell → the address it is (validation is the slow part)."""
    return {cell: _email(cell) for cell in set(cells) if cell}


def _weekday(word: str) -> int | None:
    word = word.casefold()
    if len(word) < 2:
        return None
    matches = [i for i, day in enumerate(WEEKDAYS) if day.casefold().startswith(word)]
    return matches[0] if len(matches) == 1 else None


class _Span(NamedTuple):
    weekday: int
    starts: time
    ends: time


def _windows(cells: _Cells, column: str = "weekly_windows") -> list[_Span]:
    """``Mon 09:00-12:00; Wed 14:00-17:00`` (also ``Mon-Fri 09:00-12:00``), checked by the
    availability page's own rules: a known weekday, end after start, long enough, no overlap."""
    spans: list[_Span] = []
    for part in profiles.split_list(cells[column], _LIST_SEPARATORS):
        found = _WINDOW.fullmatch(part)
        if not found:
            cells.error(column, f"“{_short(part)}” is not a window: write it like Mon 09:00-12:00, "
                                "windows separated by “;”.")
            return []
        first = _weekday(found["first"])
        last = _weekday(found["last"]) if found["last"] else first
        if first is None or last is None:
            day = found["first"] if first is None else found["last"]
            cells.error(column, f"“{_short(day)}” in “{_short(part)}” is not a weekday: use Mon, Tue, "
                                "Wed, Thu, Fri, Sat or Sun.")
            return []
        if last < first:
            cells.error(column, f"“{_short(part)}”: the days run backwards; write them like Mon-Fri.")
            return []
        try:
            starts, ends = parse_time_of_day(found["starts"]), parse_time_of_day(found["ends"])
            for weekday in range(first, last + 1):
                check_window(weekday, starts, ends, spans)
                spans.append(_Span(weekday, starts, ends))
        except AvailabilityError as refusal:
            cells.error(column, f"“{_short(part)}”: {refusal}")
            return []
    return spans


# --- what both imports share -------------------------------------------------------------------


@dataclass
class _Catalogues:
    """The catalogues by case-folded name (formats and job levels by code too): six queries."""

    industries: dict[str, Industry]
    regions: dict[str, Region]
    topics: dict[str, Topic]
    formats: dict[str, Format]
    job_levels: dict[str, JobLevel]
    tiers: dict[str, Tier]
    choices: dict[str, str]  # column → the allowed values, in words

    @classmethod
    def load(cls) -> _Catalogues:
        industries = list(db.session.scalars(select(Industry).order_by(Industry.id)))
        regions = list(db.session.scalars(select(Region).order_by(Region.id)))
        topics = list(db.session.scalars(select(Topic).order_by(Topic.id)))
        formats = list(db.session.scalars(select(Format).order_by(Format.position, Format.code)))
        levels = list(db.session.scalars(select(JobLevel).order_by(JobLevel.rank)))
        tiers = list(db.session.scalars(select(Tier).order_by(Tier.rank)))
        return cls(
            industries={i.key: i for i in industries},
            regions={r.key: r for r in regions},
            topics={t.key: t for t in topics},
            formats={**{name_key(f.name): f for f in formats}, **{name_key(f.code): f for f in formats}},
            job_levels={**{name_key(j.name): j for j in levels}, **{name_key(j.code): j for j in levels}},
            tiers={name_key(t.name): t for t in tiers},
            choices={
                "industry": _either([i.name for i in industries]) + " (an admin can add industries)",
                "region": _either([r.name for r in regions]),
                "topics": "topics from the catalogue: " + _either([t.name for t in topics]),
                "formats": _either([f.code for f in formats]),
                "job_level": _either([j.name for j in levels]) + ", or leave it empty",
                "tier": _either([t.name for t in tiers]),
            },
        )


@dataclass
class _CompanyFacts:
    """What the file says about one company; ``rows`` remembers where each value came from."""

    name: str
    key: str
    values: dict[str, Any] = field(default_factory=dict)
    rows: dict[str, int] = field(default_factory=dict)

    def give(self, cells: _Cells, column: str, attribute: str, value: Any) -> None:
        """Record ``value`` (None: not given); two rows disagreeing is the later row's problem."""
        if value is None:
            return
        if attribute in self.values and self.values[attribute] != value:
            cells.error(column, (
                f"Row {self.rows[attribute]} gives {self.name} another {column}. A company has one "
                f"{column}: give the same on every row, or leave the cell empty on all rows but one."
            ))
            return
        self.values[attribute] = value
        self.rows.setdefault(attribute, cells.number)


def _apply_company(company: Company, values: dict[str, Any]) -> bool:
    """Set the values given; True when something changed."""
    changed = False
    for attribute, value in values.items():
        if getattr(company, attribute) != value:
            setattr(company, attribute, value)
            changed = True
    return changed


def _insert_returning(model, columns, rows: list[dict[str, Any]]) -> list[tuple]:
    """Bulk INSERT returning ``columns`` per row, in batches of SQLAlchemy's insertmanyvalues.
    ``render_nulls``: a None is sent as NULL rather than leaving the column out, so that every row
    has the same columns and the batches are not split by where the Nones fall."""
    if not rows:
        return []
    statement = insert(model).returning(*columns).execution_options(render_nulls=True)
    return list(db.session.execute(statement, rows).all())


def _insert(table: Table, rows: list[dict[str, Any]]) -> None:
    """Bulk INSERT into a table (one executemany)."""
    if rows:
        db.session.execute(table.insert(), rows)


def _new_companies(facts: Iterable[_CompanyFacts]) -> dict[str, int]:
    """Insert the companies named for the first time; their ids by name key."""
    rows = [{"name": f.name, "name_key": f.key, **f.values} for f in facts]
    for row in rows:
        for attribute in ("industry_id", "employees", "region_id", "health_score", "nps",
                          "renewal_date", "customer_since", "crm_id"):
            row.setdefault(attribute, None)
    return {key: company_id for company_id, key in _insert_returning(Company, (Company.id, Company.name_key),
                                                                     rows)}


# --- advocates ---------------------------------------------------------------------------------


@dataclass
class _AdvocateRow:
    """One good row of an advocates file, parsed."""

    number: int
    email: str
    name: str
    company_key: str
    timezone: str
    tier: Tier
    job_level_code: str | None
    quarterly_cap: int | None
    formats: list[Format]
    use_cases: list[str]
    topics: dict[int, TopicStance]
    competitors: list[tuple[str, CompetitorRelation]]
    windows: list[_Span]
    account_id: int | None  # the advocate account with this e-mail, if one exists

    def collections(self) -> dict[str, set]:
        """The row's lists in the form ``_Current`` keeps them, to compare."""
        return {
            "formats": {f.code for f in self.formats},
            "use_cases": {name_key(name) for name in self.use_cases},
            "topics": set(self.topics.items()),
            "competitors": {(name_key(name), relation) for name, relation in self.competitors},
            "windows": {(w.weekday, w.starts, w.ends) for w in self.windows},
        }


@dataclass
class _Current:
    """An existing advocate as the import compares it: plain values, read with Core."""

    advocate_id: int
    account_id: int
    scalars: dict[str, Any]  # the Advocate columns an import sets
    collections: dict[str, set] = field(default_factory=lambda: {
        "formats": set(), "use_cases": set(), "topics": set(), "competitors": set(), "windows": set(),
    })


# The Advocate columns an import sets; the account's name and time zone are set too.
_ADVOCATE_SCALARS = (
    "company_id", "tier_id", "job_level_code", "quarterly_cap", "status", "consent_at", "consent_source",
)
# Each list of a profile: its table, and how a row of it is keyed to the advocate.
_CHILD_TABLES = {
    "formats": advocate_formats,
    "use_cases": advocate_use_cases,
    "topics": AdvocateTopic.__table__,
    "competitors": AdvocateCompetitor.__table__,
    "windows": WeeklyWindow.__table__,
}


class _AdvocatesImport:
    """Existing advocates are read as plain values (one query per table, whatever the number of
    rows) and compared with their rows; what differs is written in bulk: UPDATE by primary key
    for the columns, and for each list that changed, its old rows deleted and the new inserted."""

    def __init__(self, table: _Table, source_name: str, now: datetime, progress: Progress) -> None:
        self.table = table
        self.now = now
        self.progress = progress
        self.consent_source = f"import of {source_name} on {now:%Y-%m-%d}"
        self.problems: list[Problem] = []
        self.rows: list[_AdvocateRow] = []
        self.companies: dict[str, _CompanyFacts] = {}

    # -- checking ---------------------------------------------------------------------------

    def check(self) -> None:
        self.catalogues = _Catalogues.load()
        self.addresses = _addresses(cells["email"] for _n, cells in self.table.rows)
        emails = set(self.addresses.values()) - {None}
        keys = {name_key(cells["company"]) for _n, cells in self.table.rows if cells["company"].strip()}
        self.existing_companies = {
            c.name_key: c for c in db.session.scalars(select(Company).where(Company.name_key.in_(keys)))
        } if keys else {}
        self.accounts = {
            row.email: row for row in db.session.execute(
                select(Account.id, Account.email, Account.role, Account.name, Account.timezone)
                .where(Account.email.in_(emails))
            )
        } if emails else {}
        self.current = self.load_current([a.id for a in self.accounts.values() if a.role is Role.ADVOCATE])

        seen: dict[str, int] = {}
        step = self.progress.rows(10, 50, len(self.table.rows))
        for index, (number, cells) in enumerate(self.table.rows):
            row = self.check_row(_Cells(number, cells, self.problems, self.addresses), seen)
            if row is not None:
                self.rows.append(row)
            step(index)

    @staticmethod
    def load_current(account_ids: list[int]) -> dict[int, _Current]:
        """The existing advocates of these accounts by account id: six queries. On PostgreSQL
        their rows are locked (``FOR UPDATE``, in id order) until the import commits."""
        if not account_ids:
            return {}
        query = (
            select(Advocate.id, Advocate.account_id, Account.name, Account.timezone,
                   *(getattr(Advocate, column) for column in _ADVOCATE_SCALARS))
            .join(Account, Account.id == Advocate.account_id)
            .where(Advocate.account_id.in_(account_ids))
            .order_by(Advocate.id)
        )
        if db.session.get_bind().dialect.name != "sqlite":
            query = query.with_for_update(of=Advocate)
        by_id: dict[int, _Current] = {}
        for advocate_id, account_id, name, zone, *scalars in db.session.execute(query):
            by_id[advocate_id] = _Current(advocate_id, account_id, {
                "name": name, "timezone": zone, **dict(zip(_ADVOCATE_SCALARS, scalars, strict=True)),
            })
        if by_id:
            ids = list(by_id)
            lists = {
                "formats": select(advocate_formats.c.advocate_id, advocate_formats.c.format_code)
                .where(advocate_formats.c.advocate_id.in_(ids)),
                "use_cases": select(advocate_use_cases.c.advocate_id, UseCase.key)
                .join(UseCase, UseCase.id == advocate_use_cases.c.use_case_id)
                .where(advocate_use_cases.c.advocate_id.in_(ids)),
                "topics": select(AdvocateTopic.advocate_id, AdvocateTopic.topic_id, AdvocateTopic.stance)
                .where(AdvocateTopic.advocate_id.in_(ids)),
                "competitors": select(
                    AdvocateCompetitor.advocate_id, Competitor.key, AdvocateCompetitor.relation
                )
                .join(Competitor, Competitor.id == AdvocateCompetitor.competitor_id)
                .where(AdvocateCompetitor.advocate_id.in_(ids)),
                "windows": select(WeeklyWindow.advocate_id, WeeklyWindow.weekday, WeeklyWindow.starts,
                                  WeeklyWindow.ends)
                .where(WeeklyWindow.advocate_id.in_(ids)),
            }
            for name, query in lists.items():
                for advocate_id, *value in db.session.execute(query):
                    by_id[advocate_id].collections[name].add(value[0] if len(value) == 1 else tuple(value))
        return {current.account_id: current for current in by_id.values()}

    def check_row(self, cells: _Cells, seen: dict[str, int]) -> _AdvocateRow | None:
        cat = self.catalogues
        email = cells.email("email", required=True)
        account = self.accounts.get(email) if email else None
        if email in seen:
            cells.error("email", f"{email} is also on row {seen[email]}: one row per advocate.")
        elif email:
            seen[email] = cells.number
        if account is not None and account.role is not Role.ADVOCATE:
            cells.error("email", f"{email} belongs to a {account.role.value} account: an advocate needs "
                                 "an address of their own.")
            account = None
        name = cells.text("name", "advocate's name", max_length=NAME_MAX_LENGTH, required=True)
        company = self.company_facts(cells)
        tier = cells.lookup("tier", cat.tiers, "a tier", cat.choices["tier"])
        if tier is None and not cells["tier"]:
            cells.error("tier", f"Give the advocate's tier: {cat.choices['tier']}.")
        level = cells.lookup("job_level", cat.job_levels, "a job level", cat.choices["job_level"])
        windows = _windows(cells)
        zone = cells["timezone"]
        if zone:
            try:
                zone = resolve_time_zone(zone)
            except AvailabilityError:
                cells.error("timezone", f"“{_short(zone)}” is not a time zone name: use an IANA name "
                                        "like Europe/Berlin or America/New_York.")
        elif windows:
            cells.error("timezone", "Give the time zone the weekly windows are in, like Europe/Berlin.")
        formats = cells.choices("formats", cat.formats, "format", cat.choices["formats"])
        use_cases = cells.names("use_cases", "use case")
        glad = cells.choices("topics", cat.topics, "topic", cat.choices["topics"])
        avoid = cells.choices("avoid_topics", cat.topics, "topic", cat.choices["topics"])
        both = [t.name for t in avoid if t in glad]
        if both:
            cells.error("avoid_topics", f"{', '.join(both)} {'is' if len(both) == 1 else 'are'} in "
                                        "topics too: a topic is either glad to talk about or rather not.")
        competitors = self.competitors(cells)
        cap = cells.integer("quarterly_cap", "quarterly cap", 0, None)
        if cap is not None and tier is not None and cap > tier.quarterly_quota:
            cells.error("quarterly_cap", (
                f"{cap} is more than the {tier.name} tier allows: give 0 to {tier.quarterly_quota}, "
                "or leave it empty for the tier's full quota."
            ))
        if not cells.ok:
            return None
        return _AdvocateRow(
            number=cells.number, email=email, name=name, company_key=company.key,
            timezone=zone or "UTC", tier=tier, job_level_code=level.code if level else None,
            quarterly_cap=cap, formats=formats, use_cases=use_cases,
            topics={**{t.id: TopicStance.GLAD for t in glad}, **{t.id: TopicStance.AVOID for t in avoid}},
            competitors=competitors, windows=sorted(windows), account_id=account.id if account else None,
        )

    def company_facts(self, cells: _Cells) -> _CompanyFacts | None:
        cat = self.catalogues
        name = cells.text("company", "company's name", max_length=COMPANY_MAX_LENGTH, required=True)
        industry = cells.lookup("industry", cat.industries, "an industry", cat.choices["industry"])
        region = cells.lookup("region", cat.regions, "a region", cat.choices["region"])
        employees = cells.integer("employees", "number of employees", 1, None)
        if name is None:
            return None
        facts = self.companies.setdefault(name_key(name), _CompanyFacts(name, name_key(name)))
        facts.give(cells, "industry", "industry_id", industry.id if industry else None)
        facts.give(cells, "region", "region_id", region.id if region else None)
        facts.give(cells, "employees", "employees", employees)
        return facts

    def competitors(self, cells: _Cells) -> list[tuple[str, CompetitorRelation]]:
        found: dict[str, tuple[str, CompetitorRelation]] = {}
        for item in cells.names("competitors", "competitor"):
            marked = _COMPETITOR.fullmatch(item)
            name, relation = (marked["name"], CompetitorRelation(marked["relation"].lower())) if marked else (
                item, CompetitorRelation.EVALUATED)
            if not name:
                cells.error("competitors", f"“{_short(item)}” names no competitor.")
                continue
            key = name_key(name)
            if key in found and found[key][1] is not relation:
                cells.error("competitors", f"{name} is both evaluated and replaced: keep one.")
                continue
            found[key] = (name, relation)
        return list(found.values())

    # -- writing ----------------------------------------------------------------------------

    def write(self) -> ImportReport:
        companies_created, companies_updated = self.write_companies()
        self.progress.to(55)
        self.use_cases = profiles.tags(UseCase, [n for row in self.rows for n in row.use_cases])
        self.competitor_tags = profiles.tags(
            Competitor, [name for row in self.rows for name, _relation in row.competitors]
        )
        self.progress.to(60)

        new_rows = [row for row in self.rows if row.account_id not in self.current]
        existing = [
            (row, self.current[row.account_id]) for row in self.rows if row.account_id in self.current
        ]
        updated = self.update(existing)
        self.progress.to(70)
        self.create(new_rows)
        self.progress.to(95)
        return ImportReport(
            kind="advocates", source_name="", rows=len(self.rows), created=len(new_rows), updated=updated,
            unchanged=len(existing) - updated, companies_created=companies_created,
            companies_updated=companies_updated,
        )

    def write_companies(self) -> tuple[int, int]:
        updated = 0
        for key, facts in self.companies.items():
            company = self.existing_companies.get(key)
            if company is not None and _apply_company(company, facts.values):
                updated += 1
        new = [facts for key, facts in self.companies.items() if key not in self.existing_companies]
        db.session.flush()
        self.company_ids = {key: company.id for key, company in self.existing_companies.items()}
        self.company_ids.update(_new_companies(new))
        return len(new), updated

    def scalars(self, row: _AdvocateRow, current: _Current | None) -> dict[str, Any]:
        """What the advocate's own columns become. A candidate or invited advocate becomes active;
        a paused or retired one keeps their status; consent given earlier is kept."""
        status = AdvocateStatus.ACTIVE if current is None else current.scalars["status"]
        if status in (AdvocateStatus.CANDIDATE, AdvocateStatus.INVITED):
            status = AdvocateStatus.ACTIVE
        consent_at = current.scalars["consent_at"] if current else None
        consent_source = current.scalars["consent_source"] if current else ""
        if status is AdvocateStatus.ACTIVE and consent_at is None:
            consent_at, consent_source = self.now, self.consent_source
        return {
            "company_id": self.company_ids[row.company_key],
            "tier_id": row.tier.id,
            "job_level_code": row.job_level_code,
            "quarterly_cap": row.quarterly_cap,
            "status": status,
            "consent_at": consent_at,
            "consent_source": consent_source,
        }

    def children(self, advocate_id: int, row: _AdvocateRow) -> dict[str, list[dict[str, Any]]]:
        """The rows of the advocate's lists, ready to insert."""
        return {
            "formats": [{"advocate_id": advocate_id, "format_code": f.code} for f in row.formats],
            "use_cases": [{"advocate_id": advocate_id, "use_case_id": self.use_cases[name_key(name)].id}
                          for name in row.use_cases],
            "topics": [{"advocate_id": advocate_id, "topic_id": topic_id, "stance": stance}
                       for topic_id, stance in row.topics.items()],
            "competitors": [{"advocate_id": advocate_id, "relation": relation,
                             "competitor_id": self.competitor_tags[name_key(name)].id}
                            for name, relation in row.competitors],
            "windows": [{"advocate_id": advocate_id, "weekday": w.weekday, "starts": w.starts, "ends": w.ends}
                        for w in row.windows],
        }

    def update(self, pairs: list[tuple[_AdvocateRow, _Current]]) -> int:
        """Existing advocates: only what differs is written. Returns how many changed."""
        accounts, advocates = [], []
        replaced: dict[str, list[int]] = {name: [] for name in _CHILD_TABLES}
        inserts: dict[str, list[dict[str, Any]]] = {name: [] for name in _CHILD_TABLES}
        updated = 0
        for row, current in pairs:
            changed = False
            account = {"name": row.name, "timezone": row.timezone}
            if account != {key: current.scalars[key] for key in account}:
                accounts.append({"id": current.account_id, **account})
                changed = True
            scalars = self.scalars(row, current)
            if scalars != {key: current.scalars[key] for key in scalars}:
                advocates.append({"id": current.advocate_id, **scalars})
                changed = True
            wanted = row.collections()
            children = None
            for name in _CHILD_TABLES:
                if wanted[name] != current.collections[name]:
                    children = children or self.children(current.advocate_id, row)
                    replaced[name].append(current.advocate_id)
                    inserts[name] += children[name]
                    changed = True
            updated += changed
        if accounts:
            db.session.execute(update(Account), accounts)
        if advocates:
            db.session.execute(update(Advocate), advocates)
        for name, table in _CHILD_TABLES.items():
            if replaced[name]:
                db.session.execute(table.delete().where(table.c.advocate_id.in_(replaced[name])))
                _insert(table, inserts[name])
        return updated

    def create(self, rows: list[_AdvocateRow]) -> None:
        """New advocates in bulk: accounts, advocates, then the rows of their lists."""
        account_ids = {email: account_id for account_id, email in _insert_returning(
            Account, (Account.id, Account.email),
            [{"email": row.email, "name": row.name, "role": Role.ADVOCATE, "timezone": row.timezone}
             for row in rows if row.account_id is None],
        )}
        # Advocate accounts without a profile yet (made with ``flask users create``, say).
        bare = [{"id": row.account_id, "name": row.name, "timezone": row.timezone}
                for row in rows if row.account_id is not None]
        if bare:
            db.session.execute(update(Account), bare)
        account_ids.update((row.email, row.account_id) for row in rows if row.account_id is not None)
        self.progress.to(78)
        advocate_ids = {account_id: advocate_id for advocate_id, account_id in _insert_returning(
            Advocate, (Advocate.id, Advocate.account_id),
            [{"account_id": account_ids[row.email], **self.scalars(row, None)} for row in rows],
        )}
        self.progress.to(85)
        inserts: dict[str, list[dict[str, Any]]] = {name: [] for name in _CHILD_TABLES}
        for row in rows:
            for name, children in self.children(advocate_ids[account_ids[row.email]], row).items():
                inserts[name] += children
        for name, table in _CHILD_TABLES.items():
            _insert(table, inserts[name])


# --- customers ---------------------------------------------------------------------------------


@dataclass
class _CustomerRow:
    number: int
    company_key: str
    contact_email: str | None
    contact_name: str | None
    contact_title: str | None
    contact: Account | None  # an advocate account with the contact's e-mail, if one exists


class _CustomersImport:
    def __init__(self, table: _Table, source_name: str, now: datetime, progress: Progress) -> None:
        self.table = table
        self.now = now
        self.progress = progress
        self.problems: list[Problem] = []
        self.rows: list[_CustomerRow] = []
        self.companies: dict[str, _CompanyFacts] = {}
        self.without_email: list[int] = []

    def check(self) -> None:
        self.catalogues = _Catalogues.load()
        cells_of = [cells for _n, cells in self.table.rows]
        keys = {name_key(c["company"]) for c in cells_of if c["company"].strip()}
        crm_ids = {c["crm_id"] for c in cells_of if c["crm_id"]}
        self.addresses = _addresses(c["contact_email"] for c in cells_of)
        emails = set(self.addresses.values()) - {None}
        self.existing_companies = {
            c.name_key: c for c in db.session.scalars(select(Company).where(Company.name_key.in_(keys)))
        } if keys else {}
        self.crm_owners = dict(db.session.execute(
            select(Company.crm_id, Company.name_key).where(Company.crm_id.in_(crm_ids))
        ).all()) if crm_ids else {}
        self.accounts = {
            a.email: a for a in db.session.scalars(
                select(Account).where(Account.email.in_(emails)).options(selectinload(Account.advocate))
            )
        } if emails else {}

        seen_companies: dict[str, int] = {}
        seen_crm: dict[str, int] = {}
        seen_emails: dict[str, int] = {}
        step = self.progress.rows(10, 50, len(self.table.rows))
        for index, (number, cells) in enumerate(self.table.rows):
            row = self.check_row(_Cells(number, cells, self.problems, self.addresses),
                                 seen_companies, seen_crm, seen_emails)
            if row is not None:
                self.rows.append(row)
            step(index)

    def check_row(self, cells: _Cells, seen_companies, seen_crm, seen_emails) -> _CustomerRow | None:
        cat = self.catalogues
        name = cells.text("company", "company's name", max_length=COMPANY_MAX_LENGTH, required=True)
        key = name_key(name) if name else None
        if key in seen_companies:
            cells.error("company", f"{name} is also on row {seen_companies[key]}: one row per company.")
        elif key:
            seen_companies[key] = cells.number
        values: dict[str, Any] = {}
        industry = cells.lookup("industry", cat.industries, "an industry", cat.choices["industry"])
        region = cells.lookup("region", cat.regions, "a region", cat.choices["region"])
        values["industry_id"] = industry.id if industry else None
        values["region_id"] = region.id if region else None
        values["employees"] = cells.integer("employees", "number of employees", 1, None)
        values["health_score"] = cells.integer("health_score", "health score", 0, 100)
        values["nps"] = cells.integer("nps", "NPS", -100, 100)
        values["renewal_date"] = cells.date("renewal_date", "renewal date")
        values["customer_since"] = cells.date("customer_since", "date they became a customer")
        crm_id = cells.text("crm_id", "CRM id", max_length=CRM_ID_MAX_LENGTH)
        if crm_id:
            owner = self.crm_owners.get(crm_id)
            if crm_id in seen_crm:
                cells.error("crm_id", f"The CRM id {crm_id} is also on row {seen_crm[crm_id]}: "
                                      "each company has its own.")
            elif owner is not None and key is not None and owner != key:
                cells.error("crm_id", f"The CRM id {crm_id} belongs to another company in Vouch already.")
            seen_crm[crm_id] = cells.number
        values["crm_id"] = crm_id

        email = cells.email("contact_email", required=False)
        contact_name = cells.text("contact_name", "contact's name", max_length=NAME_MAX_LENGTH)
        title = cells.text("contact_title", "contact's title", max_length=NAME_MAX_LENGTH)
        account = self.accounts.get(email) if email else None
        if email:
            if email in seen_emails:
                cells.error("contact_email", f"{email} is also the contact on row {seen_emails[email]}: "
                                             "a person is a contact at one company.")
            seen_emails[email] = cells.number
            if account is not None and account.role is not Role.ADVOCATE:
                cells.error("contact_email", f"{email} belongs to a {account.role.value} account: a "
                                             "customer contact needs an address of their own.")
        elif (contact_name or title) and not cells["contact_email"]:
            self.without_email.append(cells.number)
        if not cells.ok:
            return None
        self.companies[key] = _CompanyFacts(name, key, {k: v for k, v in values.items() if v is not None})
        return _CustomerRow(cells.number, key, email, contact_name, title, account)

    def write(self) -> ImportReport:
        updated = 0
        for key, facts in self.companies.items():
            company = self.existing_companies.get(key)
            if company is not None and _apply_company(company, facts.values):
                updated += 1
        new = [facts for key, facts in self.companies.items() if key not in self.existing_companies]
        company_ids = {key: company.id for key, company in self.existing_companies.items()}
        company_ids.update(_new_companies(new))
        self.progress.to(70)

        candidates = [row for row in self.rows if row.contact_email and (
            row.contact is None or row.contact.advocate is None)]
        known = sum(1 for row in self.rows if row.contact is not None and row.contact.advocate is not None)
        account_ids = {email: account_id for account_id, email in _insert_returning(
            Account, (Account.id, Account.email),
            [{"email": row.contact_email, "role": Role.ADVOCATE,
              "name": row.contact_name or row.contact_email.split("@")[0][:NAME_MAX_LENGTH]}
             for row in candidates if row.contact is None],
        )}
        account_ids.update({row.contact_email: row.contact.id for row in candidates if row.contact})
        self.progress.to(85)
        _insert_returning(Advocate, (Advocate.id,), [{
            "account_id": account_ids[row.contact_email],
            "company_id": company_ids[row.company_key],
            "status": AdvocateStatus.CANDIDATE,
            "job_title": row.contact_title or "",
        } for row in candidates])
        db.session.flush()
        self.progress.to(95)

        notes = []
        if known:
            notes.append(_plural(known, "contact was already an advocate and was left as they are.",
                                 "contacts were already advocates and were left as they are."))
        if self.without_email:
            notes.append(f"{_plural(len(self.without_email), 'contact has', 'contacts have')} no e-mail "
                         f"address and {'was' if len(self.without_email) == 1 else 'were'} not added "
                         f"({_plural_word(len(self.without_email), 'row', 'rows')} "
                         f"{_row_list(self.without_email)}).")
        return ImportReport(
            kind="customers", source_name="", rows=len(self.rows), created=len(new), updated=updated,
            unchanged=len(self.companies) - len(new) - updated, candidates_created=len(candidates),
            notes=tuple(notes),
        )


# --- words -------------------------------------------------------------------------------------


def _plural(count: int, one: str, many: str) -> str:
    return f"{count:,} {one if count == 1 else many}"


def _plural_word(count: int, one: str, many: str) -> str:
    return one if count == 1 else many


def _either(names: list[str]) -> str:
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} or {names[-1]}"


def _row_list(numbers: list[int], shown: int = 10) -> str:
    text = ", ".join(str(n) for n in numbers[:shown])
    return text + (f" and {len(numbers) - shown} more" if len(numbers) > shown else "")
