"""CSV imports (DESIGN.md §7.11 and §9 "CSV files"): the customers a CRM exports, and the
advocates of a reference program moving off its spreadsheet.

How a file is taken in
    The file is read whole (``reading``): UTF-8 with or without a byte-order mark, at most
    ``MAX_ROWS`` rows and ``MAX_FILE_BYTES`` bytes, and no cell holding text a database cannot
    store (a NUL character: ``workflows.text.unstorable``, the forms' and the API's rule). The
    header row must name every column of the contract, in any order, and no other. Then EVERY
    row is checked (``cells``, ``advocates``, ``customers``) and each problem collected as a
    ``Problem``: the row as the spreadsheet numbers it (the header is row 1), the column, and
    what is wrong. One problem anywhere → ``ImportRejected`` listing them all, and nothing is
    written. Otherwise everything is written in one transaction with its audit event, and the
    ``ImportReport`` counts what was created, updated and left unchanged. Importing the same
    file again changes nothing (every record "unchanged"); a file with changed values updates
    what changed. Catalogues, existing companies, accounts, the addresses of people who left
    and tags are read in a constant number of queries and new rows are inserted in bulk, so
    5 000 rows take seconds.

Choices the contract leaves open
    - Cells are trimmed; blank lines are skipped; nothing else is altered: a cell starting with
      ``=`` is imported as the text it is (exports neutralise formulas, imports keep the text).
    - Lists are separated by ``;`` (or a line break inside the cell); a repeat is kept once.
    - Companies are found by name, case-insensitively, and created when missing. An empty
      company cell (industry, employees, region, CRM id, scores, dates) never erases what Vouch
      knows: it leaves the value as it is. Two rows of one file may not disagree on a value.
    - Nobody who left the program comes back through an import (DESIGN.md §7.14): their
      address, kept as a keyed hash by ``workflows.suppression``, is refused on the row that
      holds it. What each file creates is described in ``advocates`` and ``customers``.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from sqlalchemy.exc import IntegrityError

from models import Account
from models.types import utcnow
from workflows.audit import add_event
from workflows.imports.advocates import AdvocatesImport
from workflows.imports.customers import CustomersImport
from workflows.imports.reading import (
    ADVOCATE_COLUMNS,
    COLUMNS,
    CUSTOMER_COLUMNS,
    MAX_FILE_BYTES,
    MAX_ROWS,
    Source,
    name_of,
    read_table,
)
from workflows.imports.report import ImportRejected, ImportReport, Problem, RecentImport, recent_imports
from workflows.progress import Progress, ProgressCallback
from workflows.transaction import transaction

__all__ = [
    "ADVOCATE_COLUMNS", "COLUMNS", "CUSTOMER_COLUMNS", "MAX_FILE_BYTES", "MAX_ROWS", "ImportRejected",
    "ImportReport", "Problem", "RecentImport", "import_advocates", "import_customers", "recent_imports",
]

_IMPORTS = {"advocates": AdvocatesImport, "customers": CustomersImport}


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


def _run(kind, source, on_progress, given_name, by, now) -> ImportReport:
    progress = Progress(on_progress)
    name = name_of(source, given_name)
    table = read_table(kind, source, name)
    progress.to(10)
    try:
        # One transaction from the first read to the commit: all rows or none. On SQLite it holds
        # the write lock throughout (nothing read can change before it is written); on PostgreSQL
        # the existing advocates the file changes are locked as they are read.
        with transaction():
            job = _IMPORTS[kind](table, name, now or utcnow(), progress)
            job.check()
            if job.problems:
                raise ImportRejected(kind, name, job.problems)
            report = replace(job.write(), source_name=name)
            add_event(f"import.{kind}", actor=by, subject=name[:254], **report.to_json())
    except IntegrityError:
        raise ImportRejected(kind, name, [Problem(None, None, (
            "Someone else changed the same people or companies while this file was being imported, "
            "so nothing was imported. Import the file again."
        ))]) from None
    progress.finish()
    return report
