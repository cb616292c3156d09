"""The quota rule (DESIGN.md §5 "Quota"): how many calls an advocate has used in a quarter and
how many are left, and the check that claims a place under the advocate's row lock.

What counts: the advocate's engagements of any format that are awaiting booking, booked or
completed (``COUNTED_STATUSES``), in the quarter they count in (of the call once booked, of the
acceptance while unbooked). A cancelled engagement gives its place back. The limit is
``advocate.quarterly_limit``: min(tier quota, personal cap).

Accepting an ask (``workflows.requests``) and booking a call call ``claim_place`` inside their
own transaction, before they create or move an engagement.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import cache

from sqlalchemy import and_, bindparam, case, func, select
from sqlalchemy.orm import Session

from models import Advocate, Engagement, Tier, db, quarter_of
from models.engagements import COUNTED_STATUSES
from models.locking import lock_advocate
from models.types import utcnow
from workflows import errors, settings


def starting_cap(tier_quota: int | None) -> int | None:
    """The personal cap a new advocate starts with: the ``DEFAULT_QUARTERLY_CAP`` setting, lowered
    to their tier's quota (a cap never exceeds it); None, the tier's full quota, while the
    setting is empty."""
    default = settings.value("DEFAULT_QUARTERLY_CAP")
    if default is None or tier_quota is None:
        return default
    return min(default, tier_quota)


class QuotaExceeded(errors.Conflict):
    """No place left in the quarter; the message says how many were used of how many."""

    def __init__(self, use: QuarterUse, cap_below_quota: bool = False) -> None:
        self.use = use
        if use.limit == 0:
            message = (
                f"You take no calls in {use.label}: your limit for the quarter is 0. "
                "Nothing was changed."
            )
        else:
            message = (
                f"You have already used all {use.limit} of your calls for {use.label} "
                f"({use.used} counted). Nothing was changed."
            )
        if cap_below_quota:
            message += " You can raise your personal limit on your availability page."
        super().__init__(message)


class AdvocateNotFound(errors.NotFound):
    pass


@dataclass(frozen=True)
class QuarterUse:
    quarter: str  # "2026Q2"
    used: int
    limit: int

    @property
    def left(self) -> int:
        return max(0, self.limit - self.used)

    @property
    def full(self) -> bool:
        return self.used >= self.limit

    @property
    def label(self) -> str:
        """``2026Q2`` → ``Q2 2026``."""
        year, _, number = self.quarter.partition("Q")
        return f"Q{number} {year}"


def current_quarter(now: datetime | None = None) -> str:
    return quarter_of(now or utcnow())


def usage(advocate_id: int, quarter: str, session: Session | None = None) -> int:
    """Engagements that use up a place in ``quarter`` (one query)."""
    session = session or db.session
    return int(session.scalar(_usage_query(), {"advocate_id": advocate_id, "quarter": quarter}))


@cache
def _usage_query():
    return (select(func.count(Engagement.id))
            .where(Engagement.advocate_id == bindparam("advocate_id"), *_counted(bindparam("quarter"))))


def quarter_use(advocate: Advocate, quarter: str | None = None, session: Session | None = None) -> QuarterUse:
    """Used and left in ``quarter`` (default: the current one). Reads, locks nothing."""
    quarter = quarter or current_quarter()
    return QuarterUse(quarter, usage(advocate.id, quarter, session), advocate.quarterly_limit)


def check_place_left(use: QuarterUse, advocate: Advocate | None = None) -> None:
    """The rule alone: raises ``QuotaExceeded`` when the quarter is full."""
    if use.full:
        cap_below_quota = (
            advocate is not None
            and advocate.quarterly_cap is not None
            and advocate.tier is not None
            and advocate.quarterly_cap < advocate.tier.quarterly_quota
        )
        raise QuotaExceeded(use, cap_below_quota)


def claim_place(advocate_id: int, quarter: str, session: Session | None = None) -> Advocate:
    """Lock the advocate's row and check a place is left in ``quarter``; returns the locked,
    freshly read advocate. The place is taken by the engagement the caller then creates (or
    moves into ``quarter``) in the same transaction; the lock keeps any other claim waiting
    until that transaction ends. Raises ``QuotaExceeded`` (the caller rolls back).

    Taking the lock again in a transaction that already holds it is harmless, so a workflow
    may lock the advocate first thing and call this later, before it changes anything.
    """
    advocate = lock_advocate(advocate_id, session)
    if advocate is None:
        raise AdvocateNotFound(f"There is no advocate with id {advocate_id}.")
    use = QuarterUse(quarter, usage(advocate_id, quarter, session), advocate.quarterly_limit)
    check_place_left(use, advocate)
    return advocate


# --- the same rule in SQL, for lists and reports over many advocates -------------------------


def quota_limit():
    """The quarter's limit of an advocate in SQL, over ``Advocate`` outer-joined to ``Tier``:
    min(tier quota, personal cap), 0 without a tier (``models.advocates.quarterly_limit``)."""
    return case(
        (Tier.quarterly_quota.is_(None), 0),
        (and_(Advocate.quarterly_cap.is_not(None), Advocate.quarterly_cap < Tier.quarterly_quota),
         Advocate.quarterly_cap),
        else_=Tier.quarterly_quota,
    )


def _counted(quarter: str) -> tuple:
    """The engagements that take a place in ``quarter``."""
    return Engagement.quarter == quarter, Engagement.status.in_(COUNTED_STATUSES)


def used_in_quarter(quarter: str):
    """``usage`` of the enclosing query's ``Advocate``, as a correlated scalar subquery: one index
    lookup per advocate (``ix_engagements_advocate_quarter``), for a page of advocates, where
    ``quarter_use_subquery`` counts the whole quarter's engagements first."""
    return (
        select(func.count(Engagement.id))
        .where(Engagement.advocate_id == Advocate.id, *_counted(quarter))
        .correlate(Advocate)
        .scalar_subquery()
    )


def quarter_use_subquery(quarter: str):
    """(advocate_id, used): the engagements that take a place in ``quarter``, per advocate
    (``usage``); outer-join it and read ``coalesce(used, 0)``."""
    return (
        select(Engagement.advocate_id, func.count(Engagement.id).label("used"))
        .where(*_counted(quarter))
        .group_by(Engagement.advocate_id)
        .subquery("quarter_use")
    )
