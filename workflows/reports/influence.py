"""Influence: do opportunities with a completed reference win more often than those without?
From the outcomes sales recorded on their requests, overall and by the prospect's segment.

Definitions, stated on the page too:

- the opportunities are the requests created in the date range, the prospect in the industry
  and region chosen;
- "with a completed reference": a reference for it took place (a call held, or written answers
  approved); "without": none did (never asked, declined, cancelled, not yet held). With a tier
  chosen, "with" counts only references given by advocates of that tier, and opportunities
  whose reference came from another tier are left out;
- win rate = won ÷ (won + lost); open opportunities count in the pipeline only;
- pipeline = the amounts of all the opportunities in the group (won, lost and open); amounts
  not recorded count as nothing.

One query whatever the size: every group of every segment (overall, industry, size band, region),
the amounts summed in whole cents so both databases give the same total.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import BigInteger, String, case, cast, exists, func, literal, not_, select, union_all

from models import (
    Advocate,
    Engagement,
    EngagementStatus,
    Industry,
    ReferenceRequest,
    Region,
    RequestOutcome,
    db,
)
from workflows.reports import Bar, Chart, Column, Report, ReportFilters, Table, register, size_band_case
from workflows.reports.funnel import request_conditions
from workflows.reports.satisfaction import segment_name, segment_order

CENTS = Decimal("0.01")


@dataclass(frozen=True)
class Outcomes:
    opportunities: int
    won: int
    lost: int
    open: int
    pipeline: Decimal
    won_amount: Decimal

    @property
    def win_rate(self) -> float | None:
        decided = self.won + self.lost
        return self.won / decided if decided else None


NO_OUTCOMES = Outcomes(0, 0, 0, 0, Decimal("0.00"), Decimal("0.00"))


@dataclass(frozen=True)
class SegmentOutcomes:
    dimension: str  # all, industry, size, region
    segment: str
    with_reference: Outcomes
    without: Outcomes


@dataclass(frozen=True)
class Influence:
    overall: SegmentOutcomes
    segments: list[SegmentOutcomes]

    def by(self, dimension: str) -> list[SegmentOutcomes]:
        return [row for row in self.segments if row.dimension == dimension]


def influence(filters: ReportFilters) -> Influence:
    completed = [Engagement.request_id == ReferenceRequest.id,
                 Engagement.status == EngagementStatus.COMPLETED]
    any_reference = exists().where(*completed)
    if filters.tier_id is None:
        has_reference = any_reference
        conditions = request_conditions(filters, by_tier=False)
    else:
        has_reference = exists().where(*completed, Engagement.advocate_id == Advocate.id,
                                       Advocate.tier_id == filters.tier_id)
        # A reference from another tier is neither "with this tier's" nor "without any".
        conditions = [*request_conditions(filters, by_tier=False), has_reference | not_(any_reference)]
    # Each opportunity once, its reference looked up once; then grouped by every segment.
    covered = (
        select(
            ReferenceRequest.industry_id, ReferenceRequest.region_id,
            cast(size_band_case(ReferenceRequest.employees), String).label("band"),
            ReferenceRequest.outcome,
            func.coalesce(cast(func.round(ReferenceRequest.amount * 100), BigInteger), 0).label("cents"),
            case((has_reference, 1), else_=0).label("with_reference"),
        )
        .where(*conditions)
        .cte("opportunities")
    )
    o = covered.c
    won = o.outcome == RequestOutcome.WON
    measures = (
        func.count().label("opportunities"),
        func.sum(case((won, 1), else_=0)).label("won"),
        func.sum(case((o.outcome == RequestOutcome.LOST, 1), else_=0)).label("lost"),
        func.sum(case((o.outcome == RequestOutcome.OPEN, 1), else_=0)).label("open"),
        func.sum(o.cents).label("pipeline"),
        func.sum(case((won, o.cents), else_=0)).label("won_amount"),
    )
    grouped = {
        "all": (literal(""), None),
        "industry": (Industry.name, (Industry, Industry.id == o.industry_id)),
        "size": (o.band, None),
        "region": (Region.name, (Region, Region.id == o.region_id)),
    }
    parts = []
    for dimension, (column, join) in grouped.items():
        query = select(literal(dimension).label("dimension"), column.label("segment"), o.with_reference,
                       *measures).select_from(covered)
        if join is not None:
            query = query.outerjoin(*join)
        parts.append(query.group_by(column, o.with_reference))

    found: dict[tuple[str, str], dict[bool, Outcomes]] = {}
    for row in db.session.execute(union_all(*parts)):
        segment = "" if row.dimension == "all" else segment_name(row.dimension, row.segment)
        found.setdefault((row.dimension, segment), {})[bool(row.with_reference)] = Outcomes(
            int(row.opportunities), int(row.won or 0), int(row.lost or 0), int(row.open or 0),
            _amount(row.pipeline), _amount(row.won_amount),
        )
    rows = [
        SegmentOutcomes(dimension, segment, groups.get(True, NO_OUTCOMES), groups.get(False, NO_OUTCOMES))
        for (dimension, segment), groups in found.items()
    ]
    overall = next((r for r in rows if r.dimension == "all"),
                   SegmentOutcomes("all", "", NO_OUTCOMES, NO_OUTCOMES))
    segments = sorted((r for r in rows if r.dimension != "all"), key=segment_order)
    return Influence(overall=overall, segments=segments)


def _amount(cents) -> Decimal:
    return (Decimal(int(cents or 0)) / 100).quantize(CENTS)


# --- the page ----------------------------------------------------------------------------------

_DIMENSION_LABELS = {"all": "All", "industry": "Industry", "size": "Size", "region": "Region"}
WITH, WITHOUT = "With a completed reference", "Without"


def _rate(outcomes: Outcomes) -> float | None:
    return None if outcomes.win_rate is None else round(outcomes.win_rate * 100, 1)


def _rate_words(outcomes: Outcomes) -> str:
    rate = _rate(outcomes)
    decided = outcomes.won + outcomes.lost
    if rate is None:
        return "no outcome recorded yet"
    return f"{rate:g}% won ({outcomes.won} of {decided} decided)"


@register(
    "influence",
    "Influence on deals",
    "Win rate and pipeline of opportunities with a completed reference against those without, from the "
    "outcomes sales recorded, by the prospect's segment.",
    order=50,
)
def build(filters: ReportFilters, page: int = 1) -> Report:
    found = influence(filters)
    everything = [found.overall, *found.segments]
    rows = []
    for row in everything:
        by, segment = _DIMENSION_LABELS[row.dimension], row.segment or "All opportunities"
        for group, outcomes in ((WITH, row.with_reference), (WITHOUT, row.without)):
            rows.append((by, segment, group, outcomes.opportunities, outcomes.won, outcomes.lost,
                         outcomes.open, _rate(outcomes), outcomes.pipeline, outcomes.won_amount))
    overall = found.overall
    counted = overall.with_reference.opportunities + overall.without.opportunities
    bars, by_industry = [], []
    for row in [overall, *found.by("industry")]:
        name = "All" if row.dimension == "all" else row.segment
        for group, outcomes in (("with", row.with_reference), ("without", row.without)):
            if outcomes.win_rate is None:
                continue
            decided = outcomes.won + outcomes.lost
            bars.append(Bar(f"{name}: {group}", _rate(outcomes),
                            note=f"{_rate(outcomes):g}%, {outcomes.won} of {decided} won"))
            if row.dimension != "all":
                by_industry.append(f"{name} {group} a reference: {_rate_words(outcomes)}")
    if counted:
        summary = (f"With a completed reference: {_rate_words(overall.with_reference)}, pipeline "
                   f"{overall.with_reference.pipeline:,.2f}. Without: {_rate_words(overall.without)}, "
                   f"pipeline {overall.without.pipeline:,.2f}.")
        if by_industry:
            summary += " By industry: " + "; ".join(by_industry) + "."
    else:
        summary = "No opportunities came in between these dates."
    table = Table(
        title="Opportunities with and without a completed reference",
        columns=[Column("by", "By"), Column("segment", "Segment"), Column("reference", "Reference"),
                 Column("opportunities", "Opportunities", numeric=True), Column("won", "Won", numeric=True),
                 Column("lost", "Lost", numeric=True), Column("open", "Open", numeric=True),
                 Column("win_rate", "Win rate (%)", numeric=True),
                 Column("pipeline", "Pipeline amount", numeric=True),
                 Column("won_amount", "Won amount", numeric=True)],
        rows=rows if counted else [],
        empty="No opportunities came in between these dates.",
    )
    return Report(
        title="Influence on deals",
        table=table,
        chart=Chart(title="Win rate with and without a completed reference", summary=summary, bars=bars,
                    unit="% won", max_value=100),
        notes=(
            "Opportunities: the requests created between the dates, the prospect in the industry and region "
            "chosen; segments (industry, size, region) are the prospect's.",
            "With a completed reference: a reference for it took place (a call held, or written answers "
            "approved). Without: none did (never asked, declined, cancelled, or not held yet). With a tier "
            "chosen, only references by advocates of that tier count as with, and opportunities whose "
            "reference came from another tier are left out.",
            "Win rate = won ÷ (won + lost), from the outcomes sales recorded; open opportunities count in "
            "the pipeline only.",
            "Pipeline amount: the amounts of all the group's opportunities, won, lost and open (an amount "
            "not recorded counts as nothing). Won amount: those won.",
            "A difference in win rate is a correlation, not proof: references tend to be asked for the deals "
            "most likely to close.",
        ),
    )
