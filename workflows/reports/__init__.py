"""Reports for staff (``/admin/reports``): each a chart and a table beside it, over the filters
every report shares, with the table exported to CSV.

The API a report module uses (one module per report, ``workflows/reports/<slug>.py``):

``ReportFilters``
    What the reader picked: ``date_from`` and ``date_to`` (dates, both included), and
    ``industry_id``, ``region_id``, ``tier_id`` (None for "any"). ``start`` and ``end`` are the
    range as aware UTC datetimes (``end`` exclusive: midnight after ``date_to``), for
    ``column >= start AND column < end``. ``args()`` gives them back as query parameters (for
    links to another page, to the CSV). Industry and region are the advocate's company's for
    the reports about advocates and asks; a report about requests may apply them to the
    prospect (say so in its ``notes``). The tier is the advocate's.

``parse_filters(args, choices=None, today=None) -> ParsedFilters``
    Reads the request's query parameters ``from``, ``to``, ``industry``, ``region``, ``tier``.
    ``ParsedFilters.filters`` is always usable (the defaults where a value was bad), and
    ``ParsedFilters.page`` is the ``page`` parameter (1 to ``PAGE_MAX``);
    ``ParsedFilters.errors`` maps a parameter to a message a person reads (a bad date, a range
    backwards, a number beyond the database's integers, a NUL byte, an id not in ``choices``).
    The view answers 400 with the form showing them, and builds no report.
    Default range: the last ``DEFAULT_DAYS`` days up to today (UTC).

``filter_choices() -> FilterChoices``
    The industries, regions and tiers for the form's selects (three small queries).

``Column(key, label, numeric=False)`` and ``Table(title, columns, rows, ...)``
    ``rows`` is a list of tuples, one value per column (numbers, text, dates, datetimes, None).
    ``marks`` maps a cell ``(row index, column index)`` to a short word the page shows beside
    its value (the coverage report marks its gaps ``"gap"``); ``row_flags`` maps a row index to
    a word for the whole row (``"burnout risk"``); ``matrix=True`` keeps a grid of numbers a
    grid on a phone (other tables become one card per row there). ``note`` says what is left out (a page of
    many, a cap). ``total_rows`` is the number of rows in all pages when ``rows`` is one page.
    ``csv()`` (the whole text) and ``csv_lines()`` (a generator, for streaming) write it with
    formulas neutralised (``safe_cell``).

``Bar(label, value, limit=None, note="", flagged=False)`` and ``Chart(title, summary, bars, ...)``
    A horizontal bar chart drawn on the server as SVG (templates/admin/reports/_charts.html):
    ``limit`` draws a marker on the bar (a quota), ``flagged`` colours it as a warning,
    ``unit`` names the values ("calls"), ``max_value`` fixes the scale (default: the largest
    value or limit). ``summary`` is the text alternative, read out with the title.
``Grid(title, summary, row_labels, column_labels, values, ...)``
    A heat-map grid (``values[row][column]``, numbers); ``gaps`` names the cells drawn as
    gaps (None: every 0); drawn by the same macro file. ``Report.chart`` is a Chart, a Grid or None.

``Report(title, table, chart=None, intro="", notes=(), more_tables=(), paging=None)``
    What a build function returns: ``table`` is drawn beside the chart (side by side on a
    wide screen, stacked on a phone); ``more_tables`` follow below; ``notes`` are the
    definitions the page states plainly (what "gap" or "burnout risk" means); ``paging``
    (``Paging(page, size, total)``) pages the last table of the page.

``register(slug, title, description, filters=ALL_FILTERS, order=100)``
    Decorates ``build(filters: ReportFilters, page: int) -> Report``; the report is then in
    ``REPORTS`` (slug → ``ReportSpec``) and on the index, by ``order``. ``filters`` names the
    filters the report uses (a subset of ``ALL_FILTERS``: "dates", "industry", "region",
    "tier"); the form shows only those. A report whose CSV is not its page's ``table`` (the
    asks ledger exports every ask, not one page) registers an exporter with
    ``@spec.exporter``: ``export(filters) -> Table``, and may set ``spec.csv_label`` (the
    link's words). Each of ``more_tables`` has a CSV of its own too (``?table=N``, N its place
    from 1); a paged one needs ``@spec.table_exporter(N)`` for all its rows.

``workflows.text.counted(number, one, many=None)``: "1 ask", "3 asks", for the words on a page.

Queries are aggregates (GROUP BY) with a number of statements that does not grow with the
data; lists are paged. The quota rule in SQL is ``workflows.quota``'s ``quota_limit()`` and
``quarter_use_subquery(quarter)`` (tested against its per-advocate reading).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import case, select

from models import Industry, Region, Tier, db
from models.catalogues import SIZE_BANDS
from models.types import ID_MAX, utcnow

DEFAULT_DAYS = 90
ALL_FILTERS = ("dates", "industry", "region", "tier")
EARLIEST_YEAR = 2000
LATEST_YEAR = 2999
# Pages of a paged table: any page size up to 1000 keeps the OFFSET within the database's integers.
PAGE_MAX = ID_MAX // 1000

# --- filters ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReportFilters:
    date_from: date
    date_to: date
    industry_id: int | None = None
    region_id: int | None = None
    tier_id: int | None = None

    @property
    def start(self) -> datetime:
        return datetime.combine(self.date_from, time(0), tzinfo=UTC)

    @property
    def end(self) -> datetime:
        """Exclusive: the midnight after ``date_to``."""
        return datetime.combine(self.date_to + timedelta(days=1), time(0), tzinfo=UTC)

    def args(self) -> dict[str, str]:
        found = {"from": self.date_from.isoformat(), "to": self.date_to.isoformat()}
        for name, value in (("industry", self.industry_id), ("region", self.region_id),
                            ("tier", self.tier_id)):
            if value is not None:
                found[name] = str(value)
        return found

    @classmethod
    def default(cls, today: date | None = None) -> ReportFilters:
        today = today or utcnow().date()
        return cls(today - timedelta(days=DEFAULT_DAYS - 1), today)


@dataclass(frozen=True)
class FilterChoices:
    industries: list[tuple[int, str]]
    regions: list[tuple[int, str]]
    tiers: list[tuple[int, str]]

    def of(self, name: str) -> list[tuple[int, str]]:
        """The choices of the filter ``name`` ("industry", "region", "tier")."""
        return {"industry": self.industries, "region": self.regions, "tier": self.tiers}[name]


def filter_choices() -> FilterChoices:
    return FilterChoices(
        industries=[tuple(r) for r in db.session.execute(select(Industry.id, Industry.name)
                                                         .order_by(Industry.name))],
        regions=[tuple(r) for r in db.session.execute(select(Region.id, Region.name).order_by(Region.name))],
        tiers=[tuple(r) for r in db.session.execute(select(Tier.id, Tier.name).order_by(Tier.rank))],
    )


@dataclass(frozen=True)
class ParsedFilters:
    filters: ReportFilters
    errors: dict[str, str] = field(default_factory=dict)
    # What the reader typed, to show back in the form (empty where absent).
    raw: dict[str, str] = field(default_factory=dict)
    page: int = 1


def _printable(raw: str) -> bool:
    return raw.isprintable() and not any(0xD800 <= ord(c) <= 0xDFFF for c in raw)


def _parse_date(raw: str) -> date | None:
    if len(raw) != 10 or not raw.isascii():
        return None
    try:
        value = date.fromisoformat(raw)
    except ValueError:
        return None
    return value if EARLIEST_YEAR <= value.year <= LATEST_YEAR else None


def _parse_id(raw: str) -> int | None:
    if not (raw.isascii() and raw.isdigit()) or len(raw) > len(str(ID_MAX)):
        return None
    value = int(raw)
    return value if 1 <= value <= ID_MAX else None


DATE_WORDS = {"from": "start date", "to": "end date"}
ID_WORDS = {"industry": "an industry", "region": "a region", "tier": "a tier"}


def parse_filters(args: Mapping[str, str], choices: FilterChoices | None = None,
                  today: date | None = None) -> ParsedFilters:
    """The filters from query parameters, with a message for each one that is wrong.
    An empty parameter means "any" (or the default date)."""
    defaults = ReportFilters.default(today)
    errors: dict[str, str] = {}
    raw: dict[str, str] = {}
    values: dict[str, Any] = {}
    for name in (*DATE_WORDS, *ID_WORDS):
        given = args.get(name)
        if given is None:
            continue
        if not _printable(given):
            errors[name] = f"The {DATE_WORDS.get(name) or name} has characters that cannot be read."
            continue
        raw[name] = given = given.strip()
        if not given:
            continue
        if name in DATE_WORDS:
            parsed = _parse_date(given)
            if parsed is None:
                errors[name] = (f"The {DATE_WORDS[name]} is a date like 2026-03-31, "
                                f"in the years {EARLIEST_YEAR} to {LATEST_YEAR}.")
            else:
                values[name] = parsed
        else:
            known = None if choices is None else {i for i, _ in choices.of(name)}
            parsed = _parse_id(given)
            if parsed is None or (known is not None and parsed not in known):
                errors[name] = f"Pick {ID_WORDS[name]} from the list."
            else:
                values[name] = parsed
    date_from = values.get("from", defaults.date_from)
    date_to = values.get("to", defaults.date_to)
    if "from" in values and "to" not in values and date_from > date_to:
        date_to = date_from
    if "to" in values and "from" not in values and date_from > date_to:
        date_from = date_to
    if date_from > date_to and not errors.keys() & {"from", "to"}:
        errors["to"] = "The end date is on or after the start date."
        date_from, date_to = defaults.date_from, defaults.date_to
    filters = ReportFilters(date_from, date_to, values.get("industry"), values.get("region"),
                            values.get("tier"))
    page = 1
    given_page = args.get("page")
    if given_page is not None:
        page = _parse_id(given_page) or 0
        if not 1 <= page <= PAGE_MAX:
            errors["page"] = f"The page is a whole number from 1 to {PAGE_MAX}."
            page = 1
    return ParsedFilters(filters, errors, raw, page)


# --- tables and CSV --------------------------------------------------------------------------

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: Any) -> str:
    """A value as CSV text a spreadsheet will not run (OWASP "CSV injection"): text starting
    with ``= + - @``, a tab or a carriage return gets a leading apostrophe. Numbers we computed
    (int, float, Decimal; never text) are written as they are, so ``-3`` stays a number;
    the text ``"-3"`` is neutralised like any other text."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int | float | Decimal):
        return str(value)
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
    if isinstance(value, date):
        return value.isoformat()
    text = str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


@dataclass(frozen=True)
class Column:
    key: str
    label: str
    numeric: bool = False


@dataclass
class Table:
    title: str
    columns: Sequence[Column]
    rows: list[tuple]
    note: str = ""
    empty: str = "Nothing to show for these filters."
    marks: dict[tuple[int, int], str] = field(default_factory=dict)
    row_flags: dict[int, str] = field(default_factory=dict)
    total_rows: int | None = None
    # The column (0 = the first) that names each row: a header cell of its row.
    row_header: int | None = 0
    # A matrix (rows × columns of numbers, like coverage's) stays a grid on a phone, scrolling
    # sideways in its box; other tables turn each row into a card there.
    matrix: bool = False

    def csv_lines(self) -> Iterator[str]:
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\r\n")

        def line(cells: Iterable[Any]) -> str:
            buffer.seek(0)
            buffer.truncate()
            writer.writerow([safe_cell(c) for c in cells])
            return buffer.getvalue()

        yield line(c.label for c in self.columns)
        for row in self.rows:
            yield line(row)

    def csv(self) -> str:
        return "".join(self.csv_lines())


# --- charts ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Bar:
    label: str
    value: float
    limit: float | None = None
    note: str = ""
    flagged: bool = False


@dataclass(frozen=True)
class Chart:
    title: str
    summary: str
    bars: Sequence[Bar]
    unit: str = ""
    max_value: float | None = None
    flag_word: str = ""  # what a flagged bar means, for the legend ("burnout risk")
    kind: str = "bars"

    @property
    def scale(self) -> float:
        """The value at the right edge of the plot (never 0)."""
        if self.max_value:
            return float(self.max_value)
        highest = max((max(b.value, b.limit or 0) for b in self.bars), default=0)
        return float(highest) or 1.0


@dataclass(frozen=True)
class Grid:
    title: str
    summary: str
    row_labels: Sequence[str]
    column_labels: Sequence[str]
    values: Sequence[Sequence[float]]
    # The cells (row, column) drawn as gaps; None: every cell of 0.
    gaps: frozenset[tuple[int, int]] | None = None
    gap_word: str = "gap"
    unit: str = ""  # what the numbers count ("advocates"), for the legend
    kind: str = "grid"

    @property
    def scale(self) -> float:
        return float(max((v for row in self.values for v in row), default=0)) or 1.0

    def is_gap(self, row: int, column: int) -> bool:
        if self.gaps is None:
            return self.values[row][column] == 0
        return (row, column) in self.gaps


# --- reports and their registry ----------------------------------------------------------------


@dataclass(frozen=True)
class Paging:
    page: int
    size: int
    total: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.size))

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.size

    @property
    def has_next(self) -> bool:
        return self.page < self.pages


@dataclass
class Report:
    title: str
    table: Table
    chart: Chart | Grid | None = None
    intro: str = ""
    notes: Sequence[str] = ()
    more_tables: Sequence[Table] = ()
    paging: Paging | None = None


Build = Callable[[ReportFilters, int], Report]
Export = Callable[[ReportFilters], Table]


@dataclass
class ReportSpec:
    slug: str
    title: str
    description: str
    build: Build
    filters: tuple[str, ...] = ALL_FILTERS
    order: int = 100
    export: Export | None = None
    # The CSV link's words: what the file holds.
    csv_label: str = "Download the table (CSV)"
    # Exporters of the tables below the first, by their place on the page (1 = more_tables[0]).
    more_exports: dict[int, Export] = field(default_factory=dict)

    def exporter(self, export: Export) -> Export:
        self.export = export
        return export

    def table_exporter(self, place: int) -> Callable[[Export], Export]:
        """Register how the table at ``place`` (1 for the first of ``more_tables``) exports all
        its rows: the one a page shows only a page of."""
        def register_export(export: Export) -> Export:
            self.more_exports[place] = export
            return export
        return register_export

    def exports(self, report: Report, place: int) -> bool:
        """Whether the table at ``place`` has a CSV of its own. The first always has; a paged
        table below it only with its exporter (else its CSV would be one page of it)."""
        if place == 0 or place in self.more_exports:
            return True
        paged = report.paging is not None and place == len(report.more_tables)
        return 1 <= place <= len(report.more_tables) and not paged

    def csv_table(self, filters: ReportFilters, place: int = 0) -> Table | None:
        """The table at ``place`` with all its rows, or None when it has no CSV of its own."""
        if place == 0:
            return self.export(filters) if self.export else self.build(filters, 1).table
        if place in self.more_exports:
            return self.more_exports[place](filters)
        report = self.build(filters, 1)
        return report.more_tables[place - 1] if self.exports(report, place) else None

    def applicable(self, filters: ReportFilters) -> ReportFilters:
        """The filters with those this report does not use set back to "any"."""
        values = {}
        if "industry" not in self.filters:
            values["industry_id"] = None
        if "region" not in self.filters:
            values["region_id"] = None
        if "tier" not in self.filters:
            values["tier_id"] = None
        return replace(filters, **values)


REPORTS: dict[str, ReportSpec] = {}


def register(slug: str, title: str, description: str, filters: tuple[str, ...] = ALL_FILTERS,
             order: int = 100) -> Callable[[Build], ReportSpec]:
    unknown = set(filters) - set(ALL_FILTERS)
    if unknown:
        raise ValueError(f"unknown filters {sorted(unknown)} for report {slug}")

    def decorate(build: Build) -> ReportSpec:
        spec = ReportSpec(slug, title, description, build, tuple(filters), order)
        REPORTS[slug] = spec
        return spec

    return decorate


def listed() -> list[ReportSpec]:
    """The reports in index order."""
    return sorted(REPORTS.values(), key=lambda s: (s.order, s.title))


# --- SQL shared by the reports -------------------------------------------------------------------


def size_band_case(employees):
    """The index of ``models.catalogues.SIZE_BANDS`` an employee count falls in (None when
    unknown), in SQL (``models.catalogues.size_band_index``)."""
    whens = []
    for index, (_label, low, high) in enumerate(SIZE_BANDS):
        whens.append((employees <= high if high is not None else employees >= low, index))
    return case((employees.is_(None), None), (employees < 1, None), *whens, else_=None)


from workflows.reports import (  # noqa: E402,F401  (register the reports)
    asks_ledger,
    coverage,
    funnel,
    influence,
    satisfaction,
    utilisation,
)
