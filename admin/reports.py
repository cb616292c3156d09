"""Reports (``/admin/reports``): an index, one page per report with its filters (a GET form), its
chart beside its table, and each table as CSV (``/admin/reports/<slug>/csv``; ``?table=N`` for
the N-th table below the first).

The reports themselves are in ``workflows.reports`` (one module each, in its ``REPORTS``
registry); this module only parses the filters, calls the report's build function and draws
the result. Filters that cannot be read (a date that is none, an id beyond the database's
integers, a NUL byte, an id not in the catalogue) are a 400 with the form showing why, and no
report. Staff only (the blueprint's default).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from flask import Response, abort, render_template, request, stream_with_context

from admin import bp
from pages import date_and_time, int_arg, local_time
from workflows import reports as flow

MORE_TABLES_MAX = 10

FILTER_LABELS = {
    "from": "From",
    "to": "To",
    "industry": "Industry",
    "region": "Region",
    "tier": "Tier",
    "page": "Page",
}


def _spec(slug: str) -> flow.ReportSpec:
    spec = flow.REPORTS.get(slug)
    if spec is None:
        abort(404)
    return spec


def _parse() -> tuple[flow.ParsedFilters, flow.FilterChoices]:
    choices = flow.filter_choices()
    return flow.parse_filters(request.args, choices), choices


@bp.get("/reports")
def reports():
    return render_template("admin/reports/index.html", reports=flow.listed())


@bp.get("/reports/<slug>")
def report(slug: str):
    spec = _spec(slug)
    parsed, choices = _parse()
    if parsed.errors:
        return _page(spec, parsed, choices, None), 400
    filters = spec.applicable(parsed.filters)
    return _page(spec, parsed, choices, spec.build(filters, parsed.page))


@bp.get("/reports/<slug>/csv")
def report_csv(slug: str):
    spec = _spec(slug)
    parsed, choices = _parse()
    if parsed.errors:
        return _page(spec, parsed, choices, None), 400
    filters = spec.applicable(parsed.filters)
    place = int_arg(request.args, "table", 0, low=0, high=MORE_TABLES_MAX)
    table = spec.csv_table(filters, place)
    if table is None:
        abort(404)
    stem = spec.slug if place == 0 else f"{spec.slug}-{place + 1}"
    name = f"{stem}-{filters.date_from.isoformat()}-to-{filters.date_to.isoformat()}.csv" \
        if "dates" in spec.filters else f"{stem}-{date.today().isoformat()}.csv"

    def body():
        yield "\ufeff"  # so that spreadsheets read the file as UTF-8
        yield from table.csv_lines()

    response = Response(stream_with_context(body()), mimetype="text/csv")
    response.headers["Content-Disposition"] = f'attachment; filename="{name}"'
    response.headers["Cache-Control"] = "no-store"
    return response


def cell_text() -> Callable[[Any], str]:
    """``cell(value)`` for the tables: moments in the reader's zone, dates and numbers written
    the one way the app writes them, nothing as a dash."""
    local = local_time()

    def text(value: Any) -> str:
        if value is None or value == "":
            return "—"
        if isinstance(value, bool):
            return "yes" if value else "no"
        if isinstance(value, datetime):
            return date_and_time(local(value))
        if isinstance(value, date):
            return value.strftime("%d %b %Y")
        if isinstance(value, float):
            return f"{value:.1f}".removesuffix(".0")
        if isinstance(value, Decimal):
            return f"{value:,.2f}"
        return str(value)

    return text


def _page(spec: flow.ReportSpec, parsed: flow.ParsedFilters, choices: flow.FilterChoices,
          built: flow.Report | None) -> str:
    filters = parsed.filters
    shown = {**filters.args(), **parsed.raw} if parsed.errors else filters.args()
    args = spec.applicable(filters).args()
    if "dates" not in spec.filters:
        args.pop("from")
        args.pop("to")
    # Errors of filters this report's form does not show go above the form.
    fields = {"from", "to"} if "dates" in spec.filters else set()
    fields |= {name for name in ("industry", "region", "tier") if name in spec.filters}
    loose = [message for name, message in parsed.errors.items() if name not in fields]
    return render_template(
        "admin/reports/report.html",
        spec=spec,
        report=built,
        choices=choices,
        shown=shown,
        errors=parsed.errors,
        loose_errors=loose,
        labels=FILTER_LABELS,
        args=args,
        cell=cell_text(),
    )
