"""The funnel: how many requests were asked for, accepted, booked and completed, how long each
step took (median hours) and how that changes month by month (the "time to fulfil").

Definitions, stated on the page too:

- the requests are those created in the date range, the prospect in the industry and region
  chosen; with a tier chosen, those that asked at least one advocate of that tier;
- asked: at least one advocate was asked; accepted: an advocate accepted; booked: the call was
  booked (a written reference: the answers were submitted); completed: the reference took place;
- the steps' times: request → first ask (the request's own stamp); each ask → its acceptance;
  each acceptance → the booking (the answers, for a written reference); each booking → the
  call's start (the answers' approval, for a written reference); and request → completed, the
  time to fulfil. Each is the median, in hours, of every such step measured in whole seconds,
  over the range and by the month the request came in.

Two queries whatever the size: the counts by month, and the medians (``measures.median_seconds``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import case, exists, func, literal, or_, select, union_all

from models import Advocate, Ask, AskStatus, Engagement, EngagementStatus, ReferenceRequest, db
from workflows.reports import Bar, Chart, Column, Report, ReportFilters, Table, register
from workflows.reports.measures import median_seconds, month_of, seconds_between

STEPS = ("requests", "asked", "accepted", "booked", "completed")
STEP_LABELS = {
    "requests": "Requests",
    "asked": "Asked",
    "accepted": "Accepted",
    "booked": "Booked",
    "completed": "Completed",
}
# (key, label) of each measured time, in the order of the flow.
TIMES = (
    ("to_ask", "Request → first ask"),
    ("to_accept", "Ask → accepted"),
    ("to_book", "Accepted → booked"),
    ("to_call", "Booked → call"),
    ("to_fulfil", "Request → completed"),
)
# An engagement that reached its booking: booked (even if cancelled or missed later), or, for a
# written reference, answered.
_BOOKED_STATES = (EngagementStatus.BOOKED, EngagementStatus.COMPLETED, EngagementStatus.NO_SHOW)


@dataclass(frozen=True)
class Month:
    month: str  # 2026-04
    requests: int
    completed: int
    hours: dict[str, float | None]  # TIMES key → median hours


@dataclass(frozen=True)
class Funnel:
    counts: dict[str, int]  # STEPS key → requests that reached it
    hours: dict[str, float | None]  # TIMES key → median hours over the whole range
    months: list[Month] = field(default_factory=list)

    def share(self, step: str) -> float | None:
        """The share of the requests that reached ``step``."""
        total = self.counts["requests"]
        return self.counts[step] / total if total else None


def request_conditions(filters: ReportFilters, *, by_tier: bool = True) -> list:
    """The requests a report covers: created in the range, the prospect's industry and region;
    with a tier (unless ``by_tier`` is false), those that asked an advocate of that tier."""
    conditions = [ReferenceRequest.created_at >= filters.start, ReferenceRequest.created_at < filters.end]
    if filters.industry_id is not None:
        conditions.append(ReferenceRequest.industry_id == filters.industry_id)
    if filters.region_id is not None:
        conditions.append(ReferenceRequest.region_id == filters.region_id)
    if by_tier and filters.tier_id is not None:
        conditions.append(
            exists()
            .where(Ask.request_id == ReferenceRequest.id, Ask.advocate_id == Advocate.id,
                   Advocate.tier_id == filters.tier_id)
        )
    return conditions


def funnel(filters: ReportFilters) -> Funnel:
    conditions = request_conditions(filters)
    counts_by_month = _counts_by_month(conditions)
    medians = median_seconds(_durations(conditions).subquery(), db.engine.dialect.name)

    def hours(key: str, month: str | None) -> float | None:
        seconds = medians.get((key, month))
        return None if seconds is None else round(seconds / 3600, 1)

    counts = {step: sum(row[step] for row in counts_by_month.values()) for step in STEPS}
    months = [
        Month(month=month, requests=row["requests"], completed=row["completed"],
              hours={key: hours(key, month) for key, _label in TIMES})
        for month, row in sorted(counts_by_month.items())
    ]
    return Funnel(counts=counts, hours={key: hours(key, None) for key, _label in TIMES}, months=months)


def _counts_by_month(conditions) -> dict[str, dict[str, int]]:
    request_id = ReferenceRequest.id
    reached = {
        "asked": exists().where(Ask.request_id == request_id),
        "accepted": exists().where(Ask.request_id == request_id, Ask.status == AskStatus.ACCEPTED),
        "booked": exists().where(
            Engagement.request_id == request_id,
            or_(Engagement.booked_at.is_not(None), Engagement.answers_submitted_at.is_not(None),
                Engagement.status.in_(_BOOKED_STATES)),
        ),
        "completed": exists().where(
            Engagement.request_id == request_id, Engagement.status == EngagementStatus.COMPLETED
        ),
    }
    month = month_of(ReferenceRequest.created_at).label("month")
    query = (
        select(month, func.count().label("requests"),
               *(func.sum(case((test, 1), else_=0)).label(step) for step, test in reached.items()))
        .where(*conditions)
        .group_by(month)
    )
    return {
        row.month: {step: int(getattr(row, step) or 0) for step in STEPS}
        for row in db.session.execute(query)
    }


def _durations(conditions):
    """Every measured step of the requests covered, as (step, month of the request, seconds)."""
    covered = select(ReferenceRequest.id, ReferenceRequest.created_at, ReferenceRequest.first_asked_at,
                     month_of(ReferenceRequest.created_at).label("month")).where(*conditions).cte("covered")
    booked_at = func.coalesce(Engagement.booked_at, Engagement.answers_submitted_at)
    held_at = case((Engagement.starts_at.is_not(None), Engagement.starts_at), else_=Engagement.completed_at)
    completed = Engagement.status == EngagementStatus.COMPLETED

    def step(key: str, earlier, later):
        return select(literal(key).label("step"), covered.c.month,
                      seconds_between(earlier, later).label("seconds"))

    # The request stamps its first ask (workflows.requests.ask): no need to look through its asks.
    to_ask = step("to_ask", covered.c.created_at, covered.c.first_asked_at).select_from(covered).where(
        covered.c.first_asked_at.is_not(None))
    to_accept = step("to_accept", Ask.created_at, Ask.responded_at).join_from(
        covered, Ask, Ask.request_id == covered.c.id).where(
        Ask.status == AskStatus.ACCEPTED, Ask.responded_at.is_not(None))
    # Each engagement read once, its three times measured together (NULL where a step is not reached).
    engaged = (
        select(covered.c.month,
               seconds_between(Engagement.created_at, booked_at).label("to_book"),
               case((completed, seconds_between(booked_at, held_at)), else_=None).label("to_call"),
               case((completed, seconds_between(covered.c.created_at, held_at)),
                    else_=None).label("to_fulfil"))
        .join_from(covered, Engagement, Engagement.request_id == covered.c.id)
        .cte("engaged")
    )
    to_book, to_call, to_fulfil = (
        select(literal(key).label("step"), engaged.c.month, engaged.c[key].label("seconds"))
        .where(engaged.c[key].is_not(None))
        for key in ("to_book", "to_call", "to_fulfil")
    )
    return union_all(to_ask, to_accept, to_book, to_call, to_fulfil)


# --- the page ----------------------------------------------------------------------------------

# The step's time, measured on the way to each step.
_TIME_TO = {"asked": "to_ask", "accepted": "to_accept", "booked": "to_book", "completed": "to_call"}
_TIME_LABELS = dict(TIMES)


def _percent(share: float | None) -> float | None:
    return None if share is None else round(share * 100, 1)


def _hours_words(hours: float | None) -> str:
    return "no time measured" if hours is None else f"median {hours:g} h"


@register(
    "funnel",
    "Funnel and time to fulfil",
    "Requests → asked → accepted → booked → completed, the median hours of each step, and how they "
    "change month by month.",
    order=30,
)
def build(filters: ReportFilters, page: int = 1) -> Report:
    found = funnel(filters)
    total = found.counts["requests"]
    rows, bars = [], []
    for step in STEPS:
        count, share = found.counts[step], _percent(found.share(step))
        key = _TIME_TO.get(step)
        hours = found.hours[key] if key else None
        rows.append((STEP_LABELS[step], count, share, _TIME_LABELS[key] if key else "", hours))
        note = f"{count}" + (f" · {share:g}%" if share is not None and step != "requests" else "")
        if key:
            note += f" · {_hours_words(hours)}"
        bars.append(Bar(STEP_LABELS[step], count, note=note))
    fulfil = found.hours["to_fulfil"]
    if total:
        summary = (f"Of {total} request{'' if total == 1 else 's'}, "
                   + ", ".join(f"{found.counts[s]} {STEP_LABELS[s].lower()}" for s in STEPS[1:])
                   + ". " + "; ".join(f"{_TIME_LABELS[_TIME_TO[s]]}: {_hours_words(found.hours[_TIME_TO[s]])}"
                                      for s in STEPS[1:])
                   + f"; request → completed (time to fulfil): {_hours_words(fulfil)}.")
    else:
        summary = "No requests came in between these dates."
    table = Table(
        title="Each step: the requests that reached it and how long it took",
        columns=[Column("step", "Step"), Column("requests", "Requests", numeric=True),
                 Column("share", "Share of requests (%)", numeric=True), Column("measured", "Time measured"),
                 Column("hours", "Median hours", numeric=True)],
        rows=rows if total else [],
        empty="No requests came in between these dates.",
    )
    months = Table(
        title="Month by month (of the request): requests, completed, and the median hours of each step",
        columns=[Column("month", "Month"), Column("requests", "Requests", numeric=True),
                 Column("completed", "Completed", numeric=True),
                 *(Column(key, f"{label} (h)", numeric=True) for key, label in TIMES)],
        rows=[(m.month, m.requests, m.completed, *(m.hours[key] for key, _label in TIMES))
              for m in found.months],
        empty="No requests came in between these dates.",
    )
    return Report(
        title="Funnel and time to fulfil",
        intro=(f"Time to fulfil (request → completed), median: {fulfil:g} h." if fulfil is not None else ""),
        table=table,
        chart=Chart(title="Requests reaching each step", summary=summary, bars=bars if total else [],
                    unit="requests"),
        more_tables=(months,),
        notes=(
            "Requests: those created between the dates, the prospect in the industry and region chosen; with "
            "a tier chosen, those that asked at least one advocate of that tier.",
            "Asked: at least one advocate was asked. Accepted: an advocate accepted. Booked: the call was "
            "booked (for a written reference: the answers were submitted). Completed: the reference took "
            "place (a call held, written answers approved).",
            "Times are medians in hours over every step taken: request → first ask; each ask → its "
            "acceptance; each acceptance → the booking (or the answers); each booking → the call's start (or "
            "the answers' approval); request → completed is the time to fulfil.",
            "Month by month groups each request, and every step of it, by the month it came in (UTC).",
        ),
    )
