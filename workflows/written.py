"""Written references (DESIGN.md §2): the advocate answers the questions that travelled with
the request, saves drafts as often as they like, then submits; the coordinator approves the
answers, or sends them back with a note (the advocate edits and submits again). Approval
completes the reference and the request, earns the advocate their points once, thanks them, and
sends the prospect contact (the seller in copy) a link to read the answers for
``WRITTEN_READ_DAYS`` days.

Each change takes the advocate's row lock first (so a draft saved in a second tab cannot land
after the submit, nor a submit after the approval), then the request's, checks the rules, and
commits once with the e-mails it causes. A refusal raises a ``workflows.errors`` refusal and
leaves nothing behind.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import joinedload, selectinload

from mail.outbox import enqueue
from models import (
    Account,
    Advocate,
    Engagement,
    EngagementStatus,
    PointsReason,
    ReferenceRequest,
    RequestEvent,
    RequestStatus,
    WrittenAnswer,
    db,
)
from models.types import utcnow
from workflows import errors, outcome_links, points, requests, settings
from workflows.audit import add_event
from workflows.engagements import move_engagement
from workflows.introductions import public_profile
from workflows.links import Purpose, external_url
from workflows.prospect_links import LinkRefused, check_readable, link, read, read_closes
from workflows.request_view import sight_of
from workflows.timeline import record
from workflows.transaction import transaction

WRITTEN_FORMAT = "written"
ANSWER_MAX_LENGTH = 5000
RETURN_NOTE_MAX_LENGTH = 2000


class WrittenError(errors.Invalid):
    """A change refused by a rule; ``position`` names the question at fault, if one is."""

    def __init__(self, message: str, position: int | None = None) -> None:
        super().__init__(message, f"answer-{position}" if position is not None else None)
        self.position = position


class AlreadySubmitted(errors.Conflict):
    """The answers were submitted: they are read-only now (HTTP 409)."""


class NotAnswerable(errors.Conflict):
    """The reference was cancelled, or has no questions (HTTP 409)."""


class NotFound(errors.NotFound):
    """No such written engagement among the advocate's own."""


class NotReviewable(errors.Conflict):
    """The answers are not waiting for approval: not submitted (again) yet, approved already,
    or the reference is over (HTTP 409)."""


# --- the rules -------------------------------------------------------------------------------


def check_lengths(answers: Sequence[str]) -> None:
    for position, answer in enumerate(answers):
        if len(answer) > ANSWER_MAX_LENGTH:
            raise WrittenError(
                f"Answer {position + 1} is {len(answer)} characters long: keep each answer to "
                f"{ANSWER_MAX_LENGTH} characters or fewer.",
                position,
            )


def check_complete(answers: Sequence[str]) -> None:
    for position, answer in enumerate(answers):
        if not answer.strip():
            raise WrittenError(
                f"Question {position + 1} has no answer yet: answer every question before you "
                "submit (or save a draft and come back later).",
                position,
            )


def check_answerable(engagement: Engagement, questions: Sequence[str]) -> None:
    if engagement.answers_submitted_at is not None:
        raise AlreadySubmitted(
            f"You submitted these answers on {engagement.answers_submitted_at:%d %B %Y}: "
            "they can no longer be changed. Nothing was changed."
        )
    if engagement.status is EngagementStatus.CANCELLED:
        raise NotAnswerable("This reference was cancelled: no answers are needed any more.")
    if engagement.status is not EngagementStatus.AWAITING_BOOKING:
        raise NotAnswerable(f"This reference is {engagement.status.value}: its answers cannot change.")
    if not questions:
        raise NotAnswerable(
            "No questions came with this request yet. Your program coordinator will be in touch."
        )


def check_reviewable(engagement: Engagement) -> None:
    """Submitted answers of a reference still open: the coordinator may approve or return them."""
    if engagement.answers_approved_at is not None:
        raise NotReviewable(
            f"These answers were approved on {engagement.answers_approved_at:%d %B %Y}: they can no "
            "longer be approved or sent back. Nothing was changed."
        )
    if engagement.status is not EngagementStatus.AWAITING_BOOKING:
        raise NotReviewable(
            f"This reference is {engagement.status.value.replace('_', ' ')}: its answers can no longer "
            "be approved or sent back. Nothing was changed."
        )
    if engagement.answers_submitted_at is None:
        raise NotReviewable(
            "The advocate has not submitted their answers yet"
            + (" since you sent them back" if engagement.answers_returned_note else "")
            + ": there is nothing to approve or send back. Nothing was changed."
        )


def check_return_note(note: str | None) -> str:
    """What the advocate should change: required, and not a novel."""
    note = (note or "").replace("\r\n", "\n").strip()
    if not note:
        raise errors.Invalid("Tell the advocate what to change: the note is what they will read.", "note")
    if len(note) > RETURN_NOTE_MAX_LENGTH:
        raise errors.Invalid(f"Keep the note to {RETURN_NOTE_MAX_LENGTH} characters or fewer.", "note")
    return note


def questions_of(engagement: Engagement) -> list[str]:
    """The request's questions; the answered ones kept if the request is gone."""
    if engagement.request is not None:
        return [str(q) for q in engagement.request.questions or []]
    return [a.question for a in engagement.answers]


# --- reading ---------------------------------------------------------------------------------


def advocate_written(engagement_id: int, advocate_id: int, *, fresh: bool = False) -> Engagement:
    """One of the advocate's own written engagements, with its request and answers.
    ``fresh``: re-read even what the session already holds (after taking the lock)."""
    engagement = db.session.scalars(
        select(Engagement)
        .where(
            Engagement.id == engagement_id,
            Engagement.advocate_id == advocate_id,
            Engagement.format_code == WRITTEN_FORMAT,
        )
        .options(
            joinedload(Engagement.request).options(
                joinedload(ReferenceRequest.industry), joinedload(ReferenceRequest.region)
            ),
            selectinload(Engagement.answers),
        )
        .execution_options(populate_existing=fresh)
    ).unique().one_or_none()
    if engagement is None:
        raise NotFound("There is no such written reference among yours.")
    return engagement


# --- the changes -----------------------------------------------------------------------------


def save_draft(engagement_id: int, advocate_id: int, answers: Sequence[str]) -> Engagement:
    """Keep the answers as they are (empty ones too); may be done any number of times."""
    with _change(engagement_id, advocate_id) as (engagement, questions):
        answers = _fit(answers, questions)
        check_lengths(answers)
        _store(engagement, questions, answers)
    return engagement


def submit_answers(
    engagement_id: int, advocate_id: int, answers: Sequence[str], *, now: datetime | None = None
) -> Engagement:
    """Every question answered: the answers are stored and become read-only; the coordinator
    who asked is told they are ready for approval."""
    now = now or utcnow()
    with _change(engagement_id, advocate_id) as (engagement, questions):
        answers = _fit(answers, questions)
        check_lengths(answers)
        check_complete(answers)
        _store(engagement, questions, answers)
        engagement.answers_submitted_at = now
        advocate_account = engagement.advocate.account
        if engagement.request_id is not None:
            record(engagement.request_id, "answers_submitted", advocate_account, now,
                   advocate_id=advocate_id)
        _notify_asker(engagement, advocate_account, _rounds_returned(engagement.request_id))
    return engagement


def approve_answers(request_id: int, *, by: Account, now: datetime | None = None) -> Engagement:
    """The coordinator approves the submitted answers: the reference and the request complete,
    the advocate earns ``POINTS_WRITTEN_REFERENCE`` (once: the ledger's source is the
    engagement) and is thanked, and the prospect contact, the seller in copy, gets the link to
    read the answers. ``NotReviewable`` when they are not waiting for approval."""
    now = now or utcnow()
    with _review(request_id, by) as (engagement, request, advocate):
        move_engagement(engagement, EngagementStatus.COMPLETED, now)
        engagement.answers_approved_at = now
        requests.move_request(request, RequestStatus.COMPLETED, now)
        earned = settings.value("POINTS_WRITTEN_REFERENCE")
        entry = points.award(advocate.id, earned, PointsReason.WRITTEN_REFERENCE,
                             source_type="engagement", source_id=engagement.id,
                             note=f"Written reference for {request.prospect_company}"[:200], by_id=by.id)
        record(request.id, "answers_approved", by, now, advocate_id=advocate.id,
               engagement_id=engagement.id)
        add_event("written.approved", actor=by, subject=f"request:{request.id}",
                  engagement_id=engagement.id)
        if _send_answers(engagement, request, advocate):
            record(request.id, "answers_sent", None, now, engagement_id=engagement.id,
                   until=read_closes(engagement).isoformat())
        _thank(engagement, request, advocate, earned if entry is not None else 0, now)
        outcome_links.ask_seller_step(request)
    return engagement


def return_answers(request_id: int, note: str, *, by: Account, now: datetime | None = None) -> Engagement:
    """The coordinator sends the submitted answers back with a note: they are editable again,
    the advocate is e-mailed the note and the link to their written page, and submitting again
    tells the coordinator again. ``NotReviewable`` when they are not waiting for approval."""
    now = now or utcnow()
    note = check_return_note(note)
    with _review(request_id, by) as (engagement, request, advocate):
        rounds = _rounds_returned(request.id)
        engagement.answers_submitted_at = None
        engagement.answers_returned_note = note
        record(request.id, "answers_returned", by, now, advocate_id=advocate.id,
               engagement_id=engagement.id)
        add_event("written.returned", actor=by, subject=f"request:{request.id}",
                  engagement_id=engagement.id)
        account = advocate.account
        if account.active:
            enqueue(
                template="written_returned",
                to=[account.email],
                context={
                    "name": account.name,
                    "coordinator": by.name,
                    "company": request.prospect_company,
                    "note": note,
                    "link": external_url("portal.written", engagement_id=engagement.id),
                },
                idempotency_key=f"written-returned:{engagement.id}:{rounds}",
            )
    return engagement


# --- what each person sees -------------------------------------------------------------------


@dataclass(frozen=True)
class WrittenView:
    """A written reference as one viewer of its request may see it."""

    engagement: Engagement
    state: str  # answering, returned, submitted, approved, cancelled
    # (question, answer) pairs, empty when the viewer may not read them (yet): staff read the
    # submitted answers, the seller only once they are approved.
    answers: list[tuple[str, str]]
    returned_note: str | None  # staff only: the note the answers were last sent back with
    reviewable: bool  # staff may approve or send back now
    read_until: datetime | None
    sent_to: str | None  # the address the reading link went to, once approved


def written_view(engagement: Engagement | None, viewer: Account) -> WrittenView | None:
    """None for a request that has no written engagement."""
    if engagement is None or engagement.format_code != WRITTEN_FORMAT:
        return None
    staff = sight_of(viewer).match_details
    approved = engagement.answers_approved_at is not None
    if engagement.status is EngagementStatus.CANCELLED:
        state = "cancelled"
    elif approved:
        state = "approved"
    elif engagement.answers_submitted_at is not None:
        state = "submitted"
    elif engagement.answers_returned_note:
        state = "returned"
    else:
        state = "answering"
    readable = approved or (staff and state == "submitted")
    request = engagement.request
    sent_to = _reader_addresses(engagement, request)[0] if approved and request is not None else None
    return WrittenView(
        engagement=engagement,
        state=state,
        answers=[(a.question, a.answer) for a in engagement.answers] if readable else [],
        returned_note=(engagement.answers_returned_note or None) if staff else None,
        reviewable=staff and state == "submitted",
        read_until=read_closes(engagement),
        sent_to=sent_to,
    )


@dataclass(frozen=True)
class Reading:
    """What the prospect reads through the link: the questions, the answers, and who wrote them
    (name, title and company; never their e-mail address)."""

    advocate: dict
    company: str
    answers: list[tuple[str, str]]
    until: datetime


def reading(token_text: str, *, now: datetime | None = None) -> Reading:
    """The answers a reading link opens; ``LinkRefused`` when it cannot be used (tampered, for
    another purpose, past its days, or the answers withdrawn)."""
    engagement, _payload = read(token_text, Purpose.READ_ANSWERS, now=now)
    check_readable(engagement)
    request = engagement.request
    rows = db.session.scalars(
        select(WrittenAnswer).where(WrittenAnswer.engagement_id == engagement.id)
        .order_by(WrittenAnswer.position)
    ).all()
    if not rows:
        raise LinkRefused("These answers are no longer available.")
    return Reading(
        advocate=public_profile(engagement.advocate),
        company=request.prospect_company if request is not None else "",
        answers=[(row.question, row.answer) for row in rows],
        until=read_closes(engagement),
    )


# --- helpers ---------------------------------------------------------------------------------


@contextmanager
def _review(request_id: int, by: Account) -> Iterator[tuple[Engagement, ReferenceRequest, Advocate]]:
    """The advocate's lock, then the request's (lock order), the written engagement re-read and
    checked: its answers wait for approval. ``requests.RequestNotFound`` for a request ``by``
    may not see."""
    advocate_id = db.session.scalar(
        select(Engagement.advocate_id).where(
            Engagement.request_id == request_id,
            Engagement.format_code == WRITTEN_FORMAT,
            Engagement.status != EngagementStatus.CANCELLED,
        )
    )
    with transaction(lock=[advocate_id] if advocate_id is not None else None) as locked:
        request = requests.lock_request(request_id, visible_to=by)
        engagement = db.session.scalars(
            select(Engagement)
            .where(Engagement.request_id == request.id, Engagement.format_code == WRITTEN_FORMAT,
                   Engagement.status != EngagementStatus.CANCELLED)
            .options(selectinload(Engagement.answers))
            .execution_options(populate_existing=True)
        ).one_or_none()
        if engagement is None or not locked or engagement.advocate_id != locked[0].id:
            raise NotReviewable("This request has no written answers waiting for approval. "
                                "Nothing was changed.")
        check_reviewable(engagement)
        yield engagement, request, locked[0]


@contextmanager
def _change(engagement_id: int, advocate_id: int) -> Iterator[tuple[Engagement, list[str]]]:
    """The advocate's lock, then the engagement re-read (what another tab committed meanwhile is
    seen) and checked: still answerable."""
    with transaction(lock=advocate_id):
        engagement = advocate_written(engagement_id, advocate_id, fresh=True)
        questions = questions_of(engagement)
        check_answerable(engagement, questions)
        yield engagement, questions


def _fit(answers: Sequence[str], questions: Sequence[str]) -> list[str]:
    """One answer per question: missing ones empty, line endings as the browser sends them."""
    answers = [(a or "").replace("\r\n", "\n") for a in answers]
    return (answers + [""] * len(questions))[: len(questions)]


def _store(engagement: Engagement, questions: Sequence[str], answers: Sequence[str]) -> None:
    by_position = {a.position: a for a in engagement.answers}
    for position, (question, answer) in enumerate(zip(questions, answers, strict=True)):
        row = by_position.pop(position, None)
        if row is None:
            engagement.answers.append(WrittenAnswer(position=position, question=question, answer=answer))
        else:
            row.question, row.answer = question, answer
    for stale in by_position.values():  # questions the request no longer has
        engagement.answers.remove(stale)


def _rounds_returned(request_id: int | None) -> int:
    """How many times the answers were sent back: each round's e-mails are their own."""
    if request_id is None:
        return 0
    return db.session.scalar(
        select(func.count(RequestEvent.id))
        .where(RequestEvent.request_id == request_id, RequestEvent.kind == "answers_returned")
    )


def _notify_asker(engagement: Engagement, advocate_account: Account, rounds: int) -> None:
    ask = engagement.ask
    asker = db.session.get(Account, ask.asked_by_id) if ask is not None and ask.asked_by_id else None
    if asker is None or not asker.active or engagement.request is None:
        return
    enqueue(
        template="written_answers_submitted",
        to=[asker.email],
        context={
            "asker": asker,
            "advocate_name": advocate_account.name,
            "request": engagement.request,
            "count": len(engagement.answers),
            "again": rounds > 0,
            "link": external_url("admin.request", request_id=engagement.request_id) + "#written",
        },
        idempotency_key=f"written-answers-submitted:{engagement.id}"
        + (f":{rounds}" if rounds else ""),
    )


def _send_answers(engagement: Engagement, request: ReferenceRequest, advocate: Advocate) -> bool:
    """The reading link to the prospect contact, the seller in copy (to the seller alone when
    the request names no contact e-mail, to pass on); → False when there is nobody to send to."""
    seller = request.requested_by
    to, cc = _reader_addresses(engagement, request)
    if to is None:
        return False
    contact = bool(engagement.prospect_email or request.contact_email)
    enqueue(
        template="written_ready",
        to=[to],
        cc=cc,
        context={
            "prospect_name": (engagement.prospect_name or request.contact_name) if contact else None,
            "seller": seller,
            "for_seller": not contact,
            "advocate": public_profile(advocate),
            "company": request.prospect_company,
            "count": len(engagement.answers),
            "link": link(engagement, Purpose.READ_ANSWERS),
            "until": read_closes(engagement),
        },
        idempotency_key=f"written-ready:{engagement.id}",
    )
    return True


def _reader_addresses(engagement: Engagement, request: ReferenceRequest) -> tuple[str | None, list[str]]:
    """(to, cc) of the reading link: the prospect contact with the seller in copy; the seller
    alone when the request names no contact e-mail; (None, []) when neither can be e-mailed."""
    seller = request.requested_by
    seller_email = seller.email if seller is not None and seller.active else None
    contact = engagement.prospect_email or request.contact_email
    if contact:
        return contact, [seller_email] if seller_email else []
    return seller_email, []


def _thank(engagement: Engagement, request: ReferenceRequest, advocate: Advocate, earned: int,
           now: datetime) -> None:
    """The thank-you: the points this reference earned, the balance, the way to the next tier."""
    account = advocate.account
    if not account.active:
        return
    enqueue(
        template="written_thank_you",
        to=[account.email],
        context={
            "name": account.name,
            "company": request.prospect_company,
            "earned": earned,
            "balance": points.balance(advocate.id),
            "progress": points.tier_progress(advocate, now),
            "link": external_url("portal.home") + "#tier",
        },
        idempotency_key=f"written-thank-you:{engagement.id}",
    )
