"""What an import answers: the problems that kept a file out, or the report of what it did, and
the list of past imports the upload page shows."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import select

from models import Account, AuditEvent, db
from workflows import errors

# What one row of each kind of file creates, in words.
RECORDS = {"customers": "companies", "advocates": "advocates"}


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


class ImportRejected(errors.Invalid):
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
        problems = plural(count, "problem", "problems")
        rows = self.rows
        where = f" in {plural(len(rows), 'row', 'rows')}" if rows else ""
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
            f"Imported {self.source_name} ({plural(self.rows, 'row', 'rows')}): "
            f"{self.created} {self.records} created, {self.updated} updated, {self.unchanged} unchanged"
        )
        if self.kind == "advocates" and (self.companies_created or self.companies_updated):
            head += f"; {self.companies_created} companies created, {self.companies_updated} updated"
        if self.kind == "customers" and self.candidates_created:
            head += "; " + plural(self.candidates_created, "contact added as a candidate advocate",
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
        .where(AuditEvent.kind.in_([f"import.{kind}" for kind in RECORDS]))
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


# --- words -------------------------------------------------------------------------------------


def plural(count: int, one: str, many: str) -> str:
    return f"{count:,} {one if count == 1 else many}"


def plural_word(count: int, one: str, many: str) -> str:
    return one if count == 1 else many


def either(names: list[str]) -> str:
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} or {names[-1]}"


def row_list(numbers: list[int], shown: int = 10) -> str:
    text = ", ".join(str(n) for n in numbers[:shown])
    return text + (f" and {len(numbers) - shown} more" if len(numbers) > shown else "")
