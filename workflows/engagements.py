"""Engagements, the reference activity itself: their state machine and the steps that move them.

The steps only flush: the workflow that calls them (accepting an ask, cancelling a request,
leaving the program, and the booking workflows) owns the transaction and its locks.
"""

from __future__ import annotations

from datetime import datetime
from functools import cache

from sqlalchemy import bindparam, case, select

from models import Engagement, EngagementStatus, db
from workflows import errors

ENGAGEMENT_TRANSITIONS: dict[EngagementStatus, frozenset[EngagementStatus]] = {
    # A written reference completes without a booking; a live one is booked first.
    EngagementStatus.AWAITING_BOOKING: frozenset(
        {EngagementStatus.BOOKED, EngagementStatus.COMPLETED, EngagementStatus.CANCELLED}
    ),
    EngagementStatus.BOOKED: frozenset(
        {EngagementStatus.COMPLETED, EngagementStatus.NO_SHOW, EngagementStatus.CANCELLED}
    ),
    EngagementStatus.COMPLETED: frozenset(),
    EngagementStatus.NO_SHOW: frozenset(),
    EngagementStatus.CANCELLED: frozenset(),
}

ENGAGEMENT_STAMPS: dict[EngagementStatus, str] = {
    EngagementStatus.BOOKED: "booked_at",
    EngagementStatus.COMPLETED: "completed_at",
    EngagementStatus.CANCELLED: "cancelled_at",
}

CANCEL_REASON_MAX_LENGTH = 500


class IllegalEngagementTransition(errors.Conflict):
    """The engagement is not in a state that allows this change."""


def check_engagement_transition(current: EngagementStatus, wanted: EngagementStatus) -> None:
    if wanted not in ENGAGEMENT_TRANSITIONS[current]:
        words = current.value.replace("_", " ")
        raise IllegalEngagementTransition(
            f"This reference is {words} and cannot become {wanted.value.replace('_', ' ')}. "
            "Nothing was changed."
        )


def move_engagement(engagement: Engagement, wanted: EngagementStatus, now: datetime) -> None:
    check_engagement_transition(engagement.status, wanted)
    engagement.status = wanted
    if wanted in ENGAGEMENT_STAMPS:
        setattr(engagement, ENGAGEMENT_STAMPS[wanted], now)


def cancel_engagement_step(engagement: Engagement, *, reason: str, now: datetime) -> None:
    """The engagement is called off; its place in the quarter is given back (a cancelled
    engagement does not count). Flushes only."""
    move_engagement(engagement, EngagementStatus.CANCELLED, now)
    engagement.cancel_reason = reason[:CANCEL_REASON_MAX_LENGTH]


def current_engagement(request_id: int, *, fresh: bool = False) -> Engagement | None:
    """The engagement a request is served by: its live one, else the last cancelled one."""
    query = _current_engagement_query()
    if fresh:
        query = query.execution_options(populate_existing=True)
    return db.session.scalars(query, {"request_id": request_id}).first()


@cache
def _current_engagement_query():
    return (
        select(Engagement)
        .where(Engagement.request_id == bindparam("request_id"))
        .order_by(
            case((Engagement.status == EngagementStatus.CANCELLED, 1), else_=0),
            Engagement.created_at.desc(),
            Engagement.id.desc(),
        )
        .limit(1)
    )
