"""SQL pieces the time-based reports share, written once for both databases: the whole seconds
between two moments, the calendar month (UTC) of a moment, and the median of a set of durations
(PostgreSQL's ``percentile_cont``; SQLite has none, so the durations come as plain tuples in one
query and the middle of each group is picked here)."""

from __future__ import annotations

from collections import defaultdict

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
    from sqlalchemy import func, select, tuple_

    from models import db

    step, month, seconds = source.c.step, source.c.month, source.c.seconds
    if dialect == "postgresql":
        query = select(step, month, func.percentile_cont(0.5).within_group(seconds)).group_by(
            func.grouping_sets(tuple_(step, month), tuple_(step))
        )
        return {(s, m): float(value) for s, m, value in db.session.execute(query)}
    # SQLite: the durations as plain tuples in one query, grouped and sorted here (Python sorts
    # a group faster than SQLite orders the whole set).
    by_month: dict[tuple[str, str | None], list[float]] = defaultdict(list)
    for s, m, value in db.session.execute(select(step, month, seconds)):
        by_month[(s, m)].append(value)
    by_step: dict[tuple[str, str | None], list[float]] = defaultdict(list)
    for (s, _m), values in by_month.items():
        values.sort()
        by_step[(s, None)].extend(values)
    return {key: _middle(values if key[1] is not None else sorted(values))
            for key, values in (*by_month.items(), *by_step.items())}


def _middle(ordered: list[float]) -> float:
    """The median of sorted values: the middle one, or the mean of the middle two (as
    ``percentile_cont(0.5)`` interpolates)."""
    half = len(ordered) // 2
    return float(ordered[half]) if len(ordered) % 2 else (ordered[half - 1] + ordered[half]) / 2
