"""Around a booked call (DESIGN.md §2 steps 5–6): the reminder the day before, the feedback
requests after it, and how it ends — completed (both sides say it took place, or nobody says
otherwise in time, or the coordinator says so) or a no-show (the coordinator's call).

The periodic jobs (``send_due_reminders``, ``request_due_feedback``, ``complete_due``, run
together by ``workflows.jobs.run_due``) read which engagements are due, then handle each in a
transaction of its own under the advocate's row lock, where the engagement is read again by the
same rule: a run that overlaps another, or repeats, finds the work done. The stamp
(``reminded_at``, ``feedback_requested_at``, the status) is set in the transaction that queues
the e-mails, and each e-mail's idempotency key refuses a second copy all the same.

Completion (``complete_step``) awards the points (``workflows.points.award_call``), thanks the
advocate with their balance and tier progress, completes the request and asks the seller for the
deal's outcome with one-click links (``workflows.outcome_links``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import exists, select

from mail.outbox import enqueue
from models import (
    Account,
    Advocate,
    Engagement,
    EngagementStatus,
    Feedback,
    FeedbackSide,
    ReferenceRequest,
    RequestStatus,
    db,
)
from models.types import utcnow, zone_or_utc
from workflows import errors, outcome_links, points, requests
from workflows.audit import add_event
from workflows.bookings import join_text
from workflows.engagements import move_engagement
from workflows.links import Purpose, external_url
from workflows.prospect_links import feedback_closes, link
from workflows.timeline import record
from workflows.transaction import transaction

log = logging.getLogger(__name__)

# How a call came to be completed (the "completed" timeline line's ``how``).
BOTH_SIDES = "both_sides"
BY_ITSELF = "by_itself"
BY_COORDINATOR = "coordinator"


class CallNotOver(errors.Conflict):
    """The call has not begun: it cannot be a no-show or completed yet (cancel it instead)."""


class NoBookedCall(errors.Conflict):
    """The request has no booked call to mark."""


# --- the rules: when each step is due, as conditions on the engagement -----------------------


def reminder_due(now: datetime) -> tuple:
    """Booked, not reminded of its current time, and beginning within REMINDER_HOURS_BEFORE."""
    before = timedelta(hours=current_app.config["REMINDER_HOURS_BEFORE"])
    return (
        Engagement.status == EngagementStatus.BOOKED,
        Engagement.reminded_at.is_(None),
        Engagement.starts_at > now,
        Engagement.starts_at <= now + before,
    )


def feedback_due(now: datetime) -> tuple:
    """Booked, over for FEEDBACK_HOURS_AFTER, and nobody asked for feedback yet."""
    after = timedelta(hours=current_app.config["FEEDBACK_HOURS_AFTER"])
    return (
        Engagement.status == EngagementStatus.BOOKED,
        Engagement.feedback_requested_at.is_(None),
        Engagement.ends_at <= now - after,
    )


def doubted():
    """Some side said the call did not take place: it waits for the coordinator."""
    return exists().where(Feedback.engagement_id == Engagement.id, Feedback.call_happened.is_(False))


def completion_due(now: datetime) -> tuple:
    """Still booked COMPLETE_DAYS_AFTER days after both sides were asked for feedback, and
    nobody said the call did not take place. (The days count from the question, so a call
    whose feedback was asked for late still gets its days for an answer.)"""
    days = timedelta(days=current_app.config["COMPLETE_DAYS_AFTER"])
    return (
        Engagement.status == EngagementStatus.BOOKED,
        Engagement.feedback_requested_at.is_not(None),
        Engagement.feedback_requested_at <= now - days,
        ~doubted(),
    )


# --- the periodic jobs -----------------------------------------------------------------------


def send_due_reminders(now: datetime | None = None) -> int:
    """Remind both sides of each call beginning within REMINDER_HOURS_BEFORE; → how many calls."""
    now = now or utcnow()
    return _each_due(reminder_due(now), lambda e, a: remind_step(e, a, now))


def request_due_feedback(now: datetime | None = None) -> int:
    """Ask both sides of each call over for FEEDBACK_HOURS_AFTER for their feedback; → how many calls."""
    now = now or utcnow()
    return _each_due(feedback_due(now), lambda e, a: feedback_request_step(e, a, now))


def complete_due(now: datetime | None = None) -> int:
    """Complete each call nobody said did not take place within COMPLETE_DAYS_AFTER days of
    being asked; → how many calls."""
    now = now or utcnow()
    return _each_due(completion_due(now), lambda e, a: complete_step(e, a, now, how=BY_ITSELF))


def _each_due(rule: tuple, step: Callable[[Engagement, Advocate], None]) -> int:
    """``step`` on each engagement ``rule`` picks, one transaction each, under its advocate's
    lock, the engagement read again there by the same rule (another run may have done it)."""
    due = db.session.execute(
        select(Engagement.id, Engagement.advocate_id)
        .where(*rule, Engagement.advocate_id.is_not(None))
        .order_by(Engagement.id)
    ).all()
    db.session.rollback()  # end the read: each engagement gets its own transaction below
    done = 0
    for engagement_id, advocate_id in due:
        handled = False
        try:
            with transaction(lock=advocate_id) as advocate:
                engagement = db.session.scalars(
                    select(Engagement).where(Engagement.id == engagement_id, *rule)
                    .execution_options(populate_existing=True)
                ).one_or_none()
                if engagement is not None:
                    step(engagement, advocate)
                    handled = True
        except errors.WorkflowError as refusal:  # the advocate gone, a request in another state
            log.warning("engagement %s skipped: %s", engagement_id, refusal)
        done += handled
    return done


# --- the steps: they flush only, inside the caller's transaction -----------------------------


def remind_step(engagement: Engagement, advocate: Advocate, now: datetime) -> None:
    """The reminder to each side, in their own zone, with the join details (and for the prospect
    the link to move or cancel); stamped, so one reminder per booked time (a reschedule clears
    the stamp and raises the invitation's sequence, the key's part)."""
    key = f"reminder:{engagement.id}:{engagement.ics_sequence}"
    context = _call_context(engagement)
    account = advocate.account
    if account.active:
        zone = zone_or_utc(account.timezone)
        enqueue(
            template="reminder",
            to=[account.email],
            context={**context, "for_advocate": True, "recipient_name": account.name,
                     "other_name": engagement.prospect_name, "starts": engagement.starts_at.astimezone(zone),
                     "zone": zone.key, "link": _advocate_call_link(engagement)},
            idempotency_key=f"{key}:advocate",
        )
    if engagement.prospect_email:
        zone = zone_or_utc(engagement.prospect_timezone)
        enqueue(
            template="reminder",
            to=[engagement.prospect_email],
            context={**context, "for_advocate": False, "recipient_name": engagement.prospect_name,
                     "other_name": account.name, "starts": engagement.starts_at.astimezone(zone),
                     "zone": zone.key, "link": link(engagement, Purpose.MANAGE_BOOKING)},
            idempotency_key=f"{key}:prospect",
        )
    engagement.reminded_at = now
    if engagement.request_id is not None:
        record(engagement.request_id, "reminded", None, now, engagement_id=engagement.id,
               starts_at=engagement.starts_at.isoformat())


def feedback_request_step(engagement: Engagement, advocate: Advocate, now: datetime) -> None:
    """Each side's own feedback link, once; stamped. Past the feedback window (the jobs did not
    run for days) nobody is asked: a link that would be refused is not sent."""
    engagement.feedback_requested_at = now
    closes = feedback_closes(engagement)
    if closes is not None and closes <= now:
        return
    context = _call_context(engagement)
    account = advocate.account
    if account.active:
        enqueue(
            template="feedback_request",
            to=[account.email],
            context={**context, "for_advocate": True, "recipient_name": account.name,
                     "other_name": engagement.prospect_name, "closes": closes,
                     "starts": engagement.starts_at.astimezone(zone_or_utc(account.timezone)),
                     "zone": zone_or_utc(account.timezone).key,
                     "link": link(engagement, Purpose.FEEDBACK, side=FeedbackSide.ADVOCATE)},
            idempotency_key=f"feedback-request:{engagement.id}:advocate",
        )
    if engagement.prospect_email:
        enqueue(
            template="feedback_request",
            to=[engagement.prospect_email],
            context={**context, "for_advocate": False, "recipient_name": engagement.prospect_name,
                     "other_name": account.name, "closes": closes,
                     "starts": engagement.starts_at.astimezone(zone_or_utc(engagement.prospect_timezone)),
                     "zone": zone_or_utc(engagement.prospect_timezone).key,
                     "link": link(engagement, Purpose.FEEDBACK, side=FeedbackSide.PROSPECT)},
            idempotency_key=f"feedback-request:{engagement.id}:prospect",
        )
    if engagement.request_id is not None:
        record(engagement.request_id, "feedback_requested", None, now, engagement_id=engagement.id)


def complete_step(engagement: Engagement, advocate: Advocate, now: datetime, *, how: str,
                  by: Account | None = None) -> int:
    """The call took place: the engagement completed, its points on the advocate's ledger, the
    thank-you to the advocate, the request completed and its seller asked for the deal's
    outcome. → the points earned."""
    move_engagement(engagement, EngagementStatus.COMPLETED, now)
    prospect = feedback_of(engagement.id, FeedbackSide.PROSPECT)
    earned = points.award_call(advocate.id, engagement.id, prospect.rating if prospect else None)
    request = None
    if engagement.request_id is not None:
        request = requests.lock_request(engagement.request_id)
        if request.status is not RequestStatus.COMPLETED:
            requests.move_request(request, RequestStatus.COMPLETED, now)
        record(request.id, "completed", by, now, engagement_id=engagement.id, how=how)
    _thank(engagement, advocate, request, earned, now)
    if request is not None:
        outcome_links.ask_seller_step(request)
    return earned


def feedback_of(engagement_id: int, side: FeedbackSide) -> Feedback | None:
    return db.session.scalar(
        select(Feedback).where(Feedback.engagement_id == engagement_id, Feedback.side == side)
    )


# --- the coordinator's decisions -------------------------------------------------------------


def mark_no_show(request_id: int, *, by: Account, now: datetime | None = None) -> Engagement:
    """The request's booked call, begun or over, did not take place: the engagement is a no-show
    (it gives its place in the quarter back and earns no points) and the request, which the call
    was to serve, is closed as cancelled. Refused with ``CallNotOver`` before the call begins
    (cancel it instead, so both sides are told)."""
    now = now or utcnow()
    with _booked_call(request_id, by, now, "marked a no-show") as (engagement, _advocate, request):
        move_engagement(engagement, EngagementStatus.NO_SHOW, now)
        record(request.id, "no_show", by, now, engagement_id=engagement.id,
               advocate_id=engagement.advocate_id)
        requests.move_request(request, RequestStatus.CANCELLED, now)
        add_event("request.no_show", actor=by, subject=f"request:{request.id}", engagement_id=engagement.id)
    return engagement


def complete_call(request_id: int, *, by: Account, now: datetime | None = None) -> Engagement:
    """The coordinator says the request's call, begun or over, took place (one side said it did
    not, or nobody answered yet): completed as ``complete_step`` does."""
    now = now or utcnow()
    with _booked_call(request_id, by, now, "completed") as (engagement, advocate, request):
        complete_step(engagement, advocate, now, how=BY_COORDINATOR, by=by)
        add_event("request.call_completed", actor=by, subject=f"request:{request.id}",
                  engagement_id=engagement.id)
    return engagement


@contextmanager
def _booked_call(request_id: int, by: Account, now: datetime,
                 doing: str) -> Iterator[tuple[Engagement, Advocate, ReferenceRequest]]:
    """The request's booked call that has begun, in one transaction: under its advocate's lock
    then the request's, both read again (``RequestNotFound`` when ``by`` may not see it)."""
    advocate_id = db.session.scalar(
        select(Engagement.advocate_id).where(Engagement.request_id == request_id,
                                             Engagement.status == EngagementStatus.BOOKED)
    )
    if advocate_id is None:
        requests.request_for(by, request_id)  # RequestNotFound first, for a request not theirs
        raise NoBookedCall(f"This request has no booked call: there is nothing to be {doing}. "
                           "Nothing was changed.")
    with transaction(lock=advocate_id) as advocate:
        request = requests.lock_request(request_id, visible_to=by)
        engagement = db.session.scalars(
            select(Engagement)
            .where(Engagement.request_id == request.id, Engagement.status == EngagementStatus.BOOKED)
            .execution_options(populate_existing=True)
        ).one_or_none()
        if engagement is None:
            raise NoBookedCall("The call was completed or called off meanwhile. Nothing was changed.")
        if engagement.starts_at > now:
            raise CallNotOver(
                f"The call is on {engagement.starts_at:%d %B %Y at %H:%M} UTC and has not begun: it "
                f"cannot be {doing} yet. If it will not happen, cancel it instead, so both sides "
                "are told. Nothing was changed."
            )
        yield engagement, advocate, request


@dataclass(frozen=True)
class CallFollowUp:
    """What the request's page says about a booked call that has begun."""

    doubted_by: tuple[FeedbackSide, ...]  # the sides that said it did not take place: it waits


def call_follow_up(engagement: Engagement | None, now: datetime) -> CallFollowUp | None:
    """For a booked call that has begun (one query): who doubts it took place; None otherwise."""
    if engagement is None or engagement.status is not EngagementStatus.BOOKED or engagement.starts_at > now:
        return None
    sides = db.session.scalars(
        select(Feedback.side).where(Feedback.engagement_id == engagement.id,
                                    Feedback.call_happened.is_(False)).order_by(Feedback.side)
    ).all()
    return CallFollowUp(doubted_by=tuple(sides))


# --- e-mails ---------------------------------------------------------------------------------


def _call_context(engagement: Engagement) -> dict:
    request = engagement.request
    return {
        "engagement": engagement,
        "format_name": engagement.format.name,
        "company": request.prospect_company if request is not None else "",
        "join": join_text(engagement),
        "minutes": int((engagement.ends_at - engagement.starts_at).total_seconds() // 60),
    }


def _advocate_call_link(engagement: Engagement) -> str:
    """The advocate's page about the call, where they change its join details or cancel it."""
    return external_url("portal.call", engagement_id=engagement.id)


def _thank(engagement: Engagement, advocate: Advocate, request: ReferenceRequest | None, earned: int,
           now: datetime) -> None:
    account = advocate.account
    if not account.active:
        return
    enqueue(
        template="thank_you",
        to=[account.email],
        context={
            "name": account.name,
            "format_name": engagement.format.name,
            "company": request.prospect_company if request is not None else "",
            "earned": earned,
            "balance": points.balance(advocate.id),
            "progress": points.tier_progress(advocate, now),
            "link": external_url("portal.history"),
            "perks_link": external_url("portal.perks"),
        },
        idempotency_key=f"thank-you:{engagement.id}",
    )
