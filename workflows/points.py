"""The points ledger and tier progress. The ledger is append-only: balances and progress are
always sums over it (DESIGN.md §4), computed here and nowhere else."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache

from sqlalchemy import and_, bindparam, case, func, select

from models import Advocate, PointsEntry, PointsReason, Tier, db
from models.points import balance_query
from models.types import utcnow
from workflows import settings

TIER_WINDOW = timedelta(days=365)
# A prospect's rating from this up earns the advocate the feedback bonus (DESIGN.md §5 "Points").
GOOD_FEEDBACK_RATING = 4
# The ledger's source for what a call earns: the engagement.
ENGAGEMENT_SOURCE = "engagement"


def balance(advocate_id: int) -> int:
    """Points the advocate can spend now (earned minus redeemed)."""
    return int(db.session.scalar(balance_query(advocate_id)))


def earned_recently(advocate_id: int, now: datetime | None = None) -> int:
    """Points earned over the last 12 months: what tier suggestions are based on."""
    since = (now or utcnow()) - TIER_WINDOW
    query = balance_query(advocate_id, since=since).where(PointsEntry.delta > 0)
    return int(db.session.scalar(query))


def earned_recently_by_advocate(*where, now: datetime | None = None) -> dict[int, int]:
    """``earned_recently`` of every advocate that ``where`` picks, in one grouped query;
    an advocate who earned nothing is left out (0)."""
    since = (now or utcnow()) - TIER_WINDOW
    rows = db.session.execute(
        select(PointsEntry.advocate_id, func.sum(PointsEntry.delta))
        .join(Advocate, Advocate.id == PointsEntry.advocate_id)
        .where(PointsEntry.created_at >= since, PointsEntry.delta > 0, *where)
        .group_by(PointsEntry.advocate_id)
    ).all()
    return {advocate_id: int(total) for advocate_id, total in rows}


@dataclass(frozen=True)
class TierProgress:
    tier: Tier | None
    next_tier: Tier | None
    points: int  # earned over the last 12 months
    points_to_next: int
    percent: int  # 0–100 towards the next tier (100 at the top)


def progress(points: int, current: Tier | None, tiers: Sequence[Tier]) -> TierProgress:
    """Where ``points`` stand between the current tier and the one above it."""
    ranked = sorted(tiers, key=lambda t: t.rank)  # rank 1 is the top
    above = [t for t in ranked if current is None or t.rank < current.rank]
    next_tier = above[-1] if above else None
    if next_tier is None:
        return TierProgress(current, None, points, 0, 100)
    floor = current.points_threshold if current else 0
    span = max(1, next_tier.points_threshold - floor)
    percent = max(0, min(100, (points - floor) * 100 // span))
    return TierProgress(current, next_tier, points, max(0, next_tier.points_threshold - points), percent)


def suggested_tier(points: int, tiers: Sequence[Tier]) -> Tier | None:
    """The highest tier whose threshold the points reach."""
    reached = [t for t in tiers if points >= t.points_threshold]
    return min(reached, key=lambda t: t.rank) if reached else None


def tier_progress(advocate: Advocate, now: datetime | None = None) -> TierProgress:
    tiers = db.session.scalars(select(Tier)).all()
    return progress(earned_recently(advocate.id, now), advocate.tier, tiers)


@dataclass(frozen=True)
class Standing:
    balance: int  # ``balance``
    progress: TierProgress  # ``tier_progress``


@cache
def _standing_queries():
    since = bindparam("since")
    recent = case((and_(PointsEntry.created_at >= since, PointsEntry.delta > 0), PointsEntry.delta), else_=0)
    sums = (select(func.coalesce(func.sum(PointsEntry.delta), 0), func.coalesce(func.sum(recent), 0))
            .where(PointsEntry.advocate_id == bindparam("advocate_id")))
    return sums, select(Tier)


def standing(advocate: Advocate, now: datetime | None = None) -> Standing:
    """``balance`` and ``tier_progress`` together, in two queries: the ledger summed once both
    ways, and the tiers."""
    sums, all_tiers = _standing_queries()
    total, earned = db.session.execute(
        sums, {"advocate_id": advocate.id, "since": (now or utcnow()) - TIER_WINDOW}).one()
    tiers = db.session.scalars(all_tiers).all()
    return Standing(int(total), progress(int(earned), advocate.tier, tiers))


def award(
    advocate_id: int,
    delta: int,
    reason: PointsReason,
    *,
    source_type: str | None = None,
    source_id: int | None = None,
    note: str = "",
    by_id: int | None = None,
) -> PointsEntry | None:
    """Add a ledger row to the current transaction, unless this source already earned it."""
    if source_type is not None and source_id is not None:
        already = db.session.scalar(
            select(PointsEntry.id).where(
                PointsEntry.advocate_id == advocate_id,
                PointsEntry.source_type == source_type,
                PointsEntry.source_id == source_id,
                PointsEntry.reason == reason.value,
            )
        )
        if already is not None:
            return None
    entry = PointsEntry(
        advocate_id=advocate_id,
        delta=delta,
        reason=reason.value,
        source_type=source_type,
        source_id=source_id,
        note=note,
        created_by_id=by_id,
    )
    db.session.add(entry)
    return entry


def is_good_feedback(rating: int | None) -> bool:
    """Whether a prospect's rating earns the bonus: 4 or 5 out of 5."""
    return rating is not None and rating >= GOOD_FEEDBACK_RATING


def award_call(advocate_id: int, engagement_id: int, prospect_rating: int | None) -> int:
    """What a completed call earns, in the current transaction: ``POINTS_CALL_COMPLETED``, and
    ``POINTS_GOOD_FEEDBACK`` when the prospect rated it well; each once per engagement (the
    ledger's source key). → the points added now (0 when the call had earned them already)."""
    entry = award(advocate_id, settings.value("POINTS_CALL_COMPLETED"), PointsReason.CALL_COMPLETED,
                  source_type=ENGAGEMENT_SOURCE, source_id=engagement_id)
    earned = entry.delta if entry is not None else 0
    return earned + award_good_feedback(advocate_id, engagement_id, prospect_rating)


def award_good_feedback(advocate_id: int, engagement_id: int, prospect_rating: int | None) -> int:
    """The bonus for a call the prospect rated well, once per engagement; → the points added now."""
    if not is_good_feedback(prospect_rating):
        return 0
    entry = award(advocate_id, settings.value("POINTS_GOOD_FEEDBACK"), PointsReason.PROSPECT_FEEDBACK,
                  source_type=ENGAGEMENT_SOURCE, source_id=engagement_id)
    return entry.delta if entry is not None else 0
