"""SQL pieces the time-based reports share, written once for both databases: the whole seconds
between two moments, the calendar month (UTC) of a moment, and the median of a set of durations
(PostgreSQL's ``percentile_cont``; SQLite has none, so the middle rows are picked with window
functions and averaged)."""

from __future__ import annotations

from sqlalchemy import Float, String
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement


class seconds_between(FunctionElement):  # noqa: N801  (reads as the SQL function it is)
    """``seconds_between(earlier, later)``: whole seconds from one moment to the other, rounded,
    so that both databases give the same number."""

    type = Float()
    inherit_cache = True
    name = "seconds_between"


@compiles(seconds_between, "postgresql")
def _seconds_pg(element, compiler, **kw):
    earlier, later = (compiler.process(arg, **kw) for arg in element.clauses)
    return f"ROUND(EXTRACT(EPOCH FROM ({later} - {earlier})))"


@compiles(seconds_between)
def _seconds_sqlite(element, compiler, **kw):
    earlier, later = (compiler.process(arg, **kw) for arg in element.clauses)
    return f"ROUND((julianday({later}) - julianday({earlier})) * 86400.0)"


class month_of(FunctionElement):  # noqa: N801
    """``month_of(moment)``: its calendar month in UTC, as ``2026-04``."""

    type = String()
    inherit_cache = True
    name = "month_of"


@compiles(month_of, "postgresql")
def _month_pg(element, compiler, **kw):
    (moment,) = (compiler.process(arg, **kw) for arg in element.clauses)
    return f"to_char({moment} AT TIME ZONE 'UTC', 'YYYY-MM')"


@compiles(month_of)
def _month_sqlite(element, compiler, **kw):
    (moment,) = (compiler.process(arg, **kw) for arg in element.clauses)
    return f"strftime('%Y-%m', {moment})"


def median_seconds(source, dialect: str) -> dict[tuple[str, str | None], float]:
    """The median of ``source.c.seconds`` for each ``(step, month)`` and each ``step`` over every
    month (keyed ``(step, None)``), in one query. ``source`` is a subquery with the columns
    ``step``, ``month`` and ``seconds``."""
    from sqlalchemy import func, or_, select, tuple_

    from models import db

    step, month, seconds = source.c.step, source.c.month, source.c.seconds
    if dialect == "postgresql":
        query = select(step, month, func.percentile_cont(0.5).within_group(seconds)).group_by(
            func.grouping_sets(tuple_(step, month), tuple_(step))
        )
        return {(s, m): float(value) for s, m, value in db.session.execute(query)}
    ranked = select(
        step, month, seconds,
        func.row_number().over(partition_by=(step, month), order_by=seconds).label("rn"),
        func.count().over(partition_by=(step, month)).label("n"),
        func.row_number().over(partition_by=step, order_by=seconds).label("rn_all"),
        func.count().over(partition_by=step).label("n_all"),
    ).subquery()
    r = ranked.c
    middle = select(r.step, r.month, r.seconds, r.rn, r.n, r.rn_all, r.n_all).where(
        or_(r.rn.in_([(r.n + 1) // 2, (r.n + 2) // 2]),
            r.rn_all.in_([(r.n_all + 1) // 2, (r.n_all + 2) // 2]))
    )
    picked: dict[tuple[str, str | None], list[float]] = {}
    for s, m, value, rn, n, rn_all, n_all in db.session.execute(middle):
        if rn in ((n + 1) // 2, (n + 2) // 2):
            picked.setdefault((s, m), []).append(float(value))
        if rn_all in ((n_all + 1) // 2, (n_all + 2) // 2):
            picked.setdefault((s, None), []).append(float(value))
    return {key: sum(values) / len(values) for key, values in picked.items()}
