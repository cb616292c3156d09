"""The links prospects (and, for feedback, advocates) open without an account (DESIGN.md §7.9).

Each is a bearer credential: signed (``workflows.links``), bound to one engagement and one
purpose — book, reschedule/cancel, feedback, read the written answers — and limited in time by
the engagement itself, not only by its signature's age: a booking link stops once the call is
booked or cancelled, a managing link moves and cancels only until the call begins, every link
of a call stops once feedback on it is no longer taken, a reading link after its days. A
refused link says why, with a 4xx status, never a 500.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from functools import cache

from flask import current_app
from sqlalchemy import bindparam, select
from sqlalchemy.orm import joinedload

from models import Advocate, Engagement, EngagementStatus, FeedbackSide, ReferenceRequest, db
from models.types import ID_MAX, utcnow
from workflows import errors
from workflows.links import InvalidToken, Purpose, external_url, load, sign

# A signature older than this is refused whatever the engagement's state: no engagement lives
# this long (booking horizon, the call, the feedback window, the reading window).
MAX_AGE = timedelta(days=180)

ENDPOINTS = {
    Purpose.BOOK: "portal.book",
    Purpose.MANAGE_BOOKING: "portal.manage_booking",
    Purpose.FEEDBACK: "portal.feedback",
    Purpose.READ_ANSWERS: "portal.read_answers",
}


class LinkRefused(errors.WorkflowError):
    """The link cannot be used: ``reason`` says why, in words for the person holding it."""

    status = 410

    def __init__(self, message: str, *, status: int = 410) -> None:
        super().__init__(message)
        self.status = status


def token(engagement: Engagement, purpose: Purpose, *, side: FeedbackSide | None = None) -> str:
    payload = {"e": engagement.id}
    if side is not None:
        payload["s"] = side.value
    return sign(purpose, payload)


def link(engagement: Engagement, purpose: Purpose, *, side: FeedbackSide | None = None) -> str:
    """The absolute link, on BASE_URL."""
    return external_url(ENDPOINTS[purpose], token_text=token(engagement, purpose, side=side))


def read(token_text: str, purpose: Purpose, *, now: datetime | None = None) -> tuple[Engagement, dict]:
    """The engagement a link is for, with its request and advocate loaded, and the payload;
    ``LinkRefused`` for a tampered, foreign-purpose or too old link, one whose engagement is
    gone, or one past the day its purpose closes (``closes_at``). What else the engagement's
    state allows is the workflow's to check (``check_bookable``, ``check_readable``)."""
    try:
        payload = load(purpose, token_text, int(MAX_AGE.total_seconds()))
    except InvalidToken as refusal:
        if refusal.expired:
            raise LinkRefused("This link has expired.") from None
        raise LinkRefused("This link is not valid. It may have been copied incompletely.",
                          status=400) from None
    engagement_id = payload.get("e") if isinstance(payload, dict) else None
    if not isinstance(engagement_id, int) or not 1 <= engagement_id <= ID_MAX:
        raise LinkRefused("This link is not valid.", status=400)
    engagement = db.session.scalars(_engagement_query(), {"id": engagement_id}).unique().one_or_none()
    if engagement is None or engagement.advocate is None:
        raise LinkRefused("This reference no longer exists.")
    closes = closes_at(engagement, purpose)
    if closes is not None and (now or utcnow()) >= closes:
        if purpose is Purpose.FEEDBACK:
            raise LinkRefused(f"Feedback on this call closed on {closes:%d %B %Y}. Thank you all the same.")
        raise LinkRefused(f"This link expired on {closes:%d %B %Y}.")
    return engagement, payload


@cache
def _engagement_query():
    return (
        select(Engagement)
        .where(Engagement.id == bindparam("id"))
        .options(
            joinedload(Engagement.request).joinedload(ReferenceRequest.requested_by),
            joinedload(Engagement.advocate).options(
                joinedload(Advocate.account), joinedload(Advocate.company)
            ),
            joinedload(Engagement.format),
        )
    )


def closes_at(engagement: Engagement, purpose: Purpose) -> datetime | None:
    """When a link of ``purpose`` stops working, whatever its signature's age: a reading link
    its days after the approval; every other link when feedback on the call is no longer taken.
    None while the engagement sets no such day (not approved, or not booked yet)."""
    if purpose is Purpose.READ_ANSWERS:
        return read_closes(engagement)
    return feedback_closes(engagement)


def read_closes(engagement: Engagement) -> datetime | None:
    """The written answers can be read for ``WRITTEN_READ_DAYS`` days after their approval."""
    if engagement.answers_approved_at is None:
        return None
    return engagement.answers_approved_at + timedelta(days=current_app.config["WRITTEN_READ_DAYS"])


def feedback_closes(engagement: Engagement) -> datetime | None:
    """When feedback on the call is no longer taken: a week after it would complete by itself."""
    if engagement.ends_at is None:
        return None
    days = current_app.config["COMPLETE_DAYS_AFTER"]
    return engagement.ends_at + timedelta(days=days + 7)


def check_bookable(engagement: Engagement) -> None:
    if engagement.status is EngagementStatus.CANCELLED:
        raise LinkRefused("This reference was cancelled, so there is nothing to book any more.")
    if engagement.status is not EngagementStatus.AWAITING_BOOKING:
        raise LinkRefused("This call is booked already: use the link in your confirmation e-mail "
                          "to move or cancel it.", status=409)


def check_readable(engagement: Engagement) -> None:
    """The written answers are there to read: approved, and not withdrawn since."""
    if engagement.answers_approved_at is None or engagement.status is not EngagementStatus.COMPLETED:
        raise LinkRefused("These answers are not ready to read yet.", status=409)
    if not engagement.advocate.account.active:
        raise LinkRefused("These answers were withdrawn by the person who wrote them.")
