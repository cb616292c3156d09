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
from workflows.reports import ReportFilters, size_band_case
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
    flag = case((has_reference, 1), else_=0).label("with_reference")
    cents = func.coalesce(cast(func.round(ReferenceRequest.amount * 100), BigInteger), 0)
    won = ReferenceRequest.outcome == RequestOutcome.WON

    def measures():
        return (
            func.count().label("opportunities"),
            func.sum(case((won, 1), else_=0)).label("won"),
            func.sum(case((ReferenceRequest.outcome == RequestOutcome.LOST, 1), else_=0)).label("lost"),
            func.sum(case((ReferenceRequest.outcome == RequestOutcome.OPEN, 1), else_=0)).label("open"),
            func.sum(cents).label("pipeline"),
            func.sum(case((won, cents), else_=0)).label("won_amount"),
        )

    band = cast(size_band_case(ReferenceRequest.employees), String)
    grouped = {
        "all": (literal(""), None),
        "industry": (Industry.name, (Industry, Industry.id == ReferenceRequest.industry_id)),
        "size": (band, None),
        "region": (Region.name, (Region, Region.id == ReferenceRequest.region_id)),
    }
    parts = []
    for dimension, (column, join) in grouped.items():
        query = select(literal(dimension).label("dimension"), column.label("segment"), flag, *measures())
        query = query.select_from(ReferenceRequest)
        if join is not None:
            query = query.outerjoin(*join)
        parts.append(query.where(*conditions).group_by(column, flag))

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

