"""Feedback on a call, given through the link each side gets after it (DESIGN.md §2 step 6,
§7.9): did the call take place, a rating from 1 to 5, a comment, and for the prospect whether
it helped their decision.

A link works once per side: the first answer is kept (the database's one-per-side constraint
has the last word) and a second use is refused with a page that says so. A link is refused for
a call cancelled, not booked or not yet held, and after the feedback window
(``prospect_links.feedback_closes``).

An answer moves the call on: both sides saying it took place complete it at once
(``followup.complete_step``); either side saying it did not leaves it booked for the coordinator
to decide, as a possible no-show; a prospect's good rating given after the call completed by
itself still earns the advocate the bonus.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from models import Engagement, EngagementStatus, Feedback, FeedbackSide, db
from models.types import utcnow
from workflows import errors, followup, points
from workflows.prospect_links import LinkRefused, feedback_closes
from workflows.timeline import record
from workflows.transaction import transaction

COMMENT_MAX_LENGTH = 2000
RATINGS = {1: "Poor", 2: "Fair", 3: "Good", 4: "Very good", 5: "Excellent"}
HAPPENED_CHOICES = {"yes": True, "no": False}
HELPED_CHOICES = {"yes": True, "no": False, "unsure": None}


class FeedbackInvalid(errors.Invalid):
    """The answers break a rule; ``errors`` holds each field's message."""


class AlreadyGiven(LinkRefused):
    """This side gave its feedback on the call already: the link works once."""

    def __init__(self, given: Feedback | None = None) -> None:
        on = f" on {given.created_at:%d %B %Y}" if given is not None else ""
        super().__init__(f"Your feedback on this call is in{on}: thank you! The link works once, so "
                         "there is nothing more to do.", status=409)


@dataclass(frozen=True)
class FeedbackInput:
    call_happened: bool
    rating: int | None  # None when the call did not take place
    comment: str
    helped_decision: bool | None  # the prospect's answer; None: not sure, or the advocate
    shared_with_advocate: bool


# --- the rules -------------------------------------------------------------------------------


def parse_feedback(form: Mapping[str, str], side: FeedbackSide) -> FeedbackInput:
    """The form's answers, checked: ``FeedbackInvalid`` naming each field at fault. A rating or
    a "did it help" given for a call that did not take place is not kept."""
    found: dict[str, str] = {}
    happened = HAPPENED_CHOICES.get(form.get("call_happened") or "")
    if happened is None:
        found["call_happened"] = "Say whether the call took place."
    raw_rating = (form.get("rating") or "").strip()
    rating = int(raw_rating) if re.fullmatch(r"[1-5]", raw_rating) else None
    if raw_rating and rating is None:
        found["rating"] = "Pick a rating from 1 (poor) to 5 (excellent)."
    elif happened and rating is None:
        found["rating"] = "Pick a rating from 1 (poor) to 5 (excellent), so we know how it went."
    comment = (form.get("comment") or "").replace("\r\n", "\n").strip()
    if len(comment) > COMMENT_MAX_LENGTH:
        found["comment"] = f"Keep the comment to {COMMENT_MAX_LENGTH} characters or fewer."
    helped = None
    shared = True
    if side is FeedbackSide.PROSPECT:
        raw_helped = form.get("helped_decision") or "unsure"
        if raw_helped not in HELPED_CHOICES:
            found["helped_decision"] = "Pick yes, no or not sure yet."
        helped = HELPED_CHOICES.get(raw_helped)
        shared = form.get("shared_with_advocate") == "y"
    if found:
        raise FeedbackInvalid("Nothing was saved: see the messages beside the answers.", errors=found)
    if not happened:
        rating, helped = None, None
    return FeedbackInput(call_happened=bool(happened), rating=rating, comment=comment,
                         helped_decision=helped, shared_with_advocate=shared)


def check_open(engagement: Engagement, side: FeedbackSide, now: datetime) -> None:
    """The link may take this side's feedback now; ``LinkRefused`` (``AlreadyGiven``) otherwise."""
    if engagement.status is EngagementStatus.CANCELLED:
        raise LinkRefused("This call was cancelled, so there is no feedback to give.")
    if engagement.status is EngagementStatus.NO_SHOW:
        raise LinkRefused("This call was recorded as not having taken place, so there is no feedback "
                          "to give. If that is wrong, reply to the e-mail the link came in.")
    if engagement.status is EngagementStatus.AWAITING_BOOKING or engagement.starts_at is None:
        raise LinkRefused("This call was never booked, so there is no feedback to give yet.", status=409)
    if engagement.starts_at > now:
        raise LinkRefused("This call has not taken place yet: the link works once it is over.", status=409)
    closes = feedback_closes(engagement)
    if closes is not None and closes <= now:
        raise LinkRefused(f"Feedback on this call closed on {closes:%d %B %Y}. Thank you all the same.")
    given = followup.feedback_of(engagement.id, side)
    if given is not None:
        raise AlreadyGiven(given)


def side_of(payload: Mapping) -> FeedbackSide:
    """The side a feedback link was made for; ``LinkRefused`` for a link that names none."""
    try:
        return FeedbackSide(payload.get("s"))
    except ValueError:
        raise LinkRefused("This link is not valid.", status=400) from None


# --- the change ------------------------------------------------------------------------------


def give_feedback(engagement_id: int, side: FeedbackSide, answers: FeedbackInput, *,
                  now: datetime | None = None) -> Feedback:
    """Keep one side's feedback, once, and move the call on (see the module's docstring); the
    timeline says "feedback" (never the comment), and "possible_no_show" when the side says the
    call did not take place."""
    now = now or utcnow()
    advocate_id = db.session.scalar(select(Engagement.advocate_id).where(Engagement.id == engagement_id))
    if advocate_id is None:
        raise LinkRefused("This reference no longer exists.")
    try:
        with transaction(lock=advocate_id) as advocate:
            engagement = db.session.scalars(
                select(Engagement).where(Engagement.id == engagement_id)
                .execution_options(populate_existing=True)
            ).one()
            check_open(engagement, side, now)
            given = Feedback(
                engagement_id=engagement.id,
                side=side,
                call_happened=answers.call_happened,
                rating=answers.rating,
                comment=answers.comment,
                helped_decision=answers.helped_decision,
                shared_with_advocate=answers.shared_with_advocate,
                created_at=now,
            )
            db.session.add(given)
            db.session.flush()  # one answer per side: the constraint has the last word
            _move_on(engagement, advocate, given, now)
    except IntegrityError:
        raise AlreadyGiven() from None
    return given


def _move_on(engagement: Engagement, advocate, given: Feedback, now: datetime) -> None:
    request_id = engagement.request_id
    if request_id is not None:
        record(request_id, "feedback", None, now, engagement_id=engagement.id, side=given.side.value,
               advocate_id=engagement.advocate_id, call_happened=given.call_happened,
               rating=given.rating, helped_decision=given.helped_decision)
    if not given.call_happened:
        if engagement.status is EngagementStatus.BOOKED and request_id is not None:
            record(request_id, "possible_no_show", None, now, engagement_id=engagement.id,
                   side=given.side.value, advocate_id=engagement.advocate_id)
        return
    if engagement.status is EngagementStatus.BOOKED:
        other = FeedbackSide.ADVOCATE if given.side is FeedbackSide.PROSPECT else FeedbackSide.PROSPECT
        answered = followup.feedback_of(engagement.id, other)
        if answered is not None and answered.call_happened:
            followup.complete_step(engagement, advocate, now, how=followup.BOTH_SIDES)
    elif engagement.status is EngagementStatus.COMPLETED and given.side is FeedbackSide.PROSPECT:
        points.award_good_feedback(advocate.id, engagement.id, given.rating)
