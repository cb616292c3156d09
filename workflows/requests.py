"""Reference requests and the asks sent for them: their state changes (DESIGN.md §2, §4).

M2 answers asks (``accept_ask``, ``decline_ask``); M3 adds ``submit_request``, ``ask``,
``withdraw_ask``, ``expire_overdue_asks``, ``cancel_request`` and ``record_outcome`` here, on the
same transition tables and helpers, and ``request_for``: who may see which request, in one place
(staff every request, sales their own, nobody else any).

Every public change owns its transaction: it takes the locks first (the advocate's row, then
the request's row: always in that order), re-reads what it decides on, checks the rules, makes
the change with its timeline events and e-mails, and commits once. A refusal raises a
``RequestFlowError`` (a ``ValueError``) or ``quota.QuotaExceeded`` and leaves nothing behind,
except where it says otherwise (an ask found expired is recorded as expired before refusing).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any

from flask import current_app
from sqlalchemy import Select, false, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import joinedload, selectinload

from mail.outbox import enqueue
from matching.engine import RULE_TEXT
from models import (
    Account,
    Advocate,
    Ask,
    AskStatus,
    Competitor,
    Engagement,
    EngagementStatus,
    ReferenceRequest,
    RequestEvent,
    RequestOutcome,
    RequestStatus,
    Role,
    Topic,
    UseCase,
    db,
    quarter_of,
    size_band,
)
from models._columns import name_key
from models.locking import begin_write, lock_advocate
from models.types import utcnow, zone_or_utc
from workflows import errors, quota
from workflows.audit import add_event
from workflows.links import external_url
from workflows.matching import rank
from workflows.request_input import RequestInput

# --- the state machines, written once --------------------------------------------------------

ASK_TRANSITIONS: dict[AskStatus, frozenset[AskStatus]] = {
    AskStatus.PENDING: frozenset(
        {AskStatus.ACCEPTED, AskStatus.DECLINED, AskStatus.EXPIRED, AskStatus.WITHDRAWN}
    ),
    AskStatus.ACCEPTED: frozenset(),
    AskStatus.DECLINED: frozenset(),
    AskStatus.EXPIRED: frozenset(),
    AskStatus.WITHDRAWN: frozenset(),
}

REQUEST_TRANSITIONS: dict[RequestStatus, frozenset[RequestStatus]] = {
    # An ask may be accepted while the request still reads "new" (an ask made outside the
    # asking workflow); it matches all the same.
    RequestStatus.NEW: frozenset({RequestStatus.ASKING, RequestStatus.MATCHED, RequestStatus.CANCELLED}),
    # Back to "new" when the last pending ask is declined or expires: it needs a next candidate.
    RequestStatus.ASKING: frozenset({RequestStatus.NEW, RequestStatus.MATCHED, RequestStatus.CANCELLED}),
    # Written references go from matched to completed; live ones are scheduled first.
    RequestStatus.MATCHED: frozenset(
        {RequestStatus.SCHEDULED, RequestStatus.COMPLETED, RequestStatus.CANCELLED}
    ),
    RequestStatus.SCHEDULED: frozenset({RequestStatus.COMPLETED, RequestStatus.CANCELLED}),
    RequestStatus.COMPLETED: frozenset(),
    RequestStatus.CANCELLED: frozenset(),
}

# The timestamp a status stamps when a request or an ask enters it.
REQUEST_STAMPS: dict[RequestStatus, str] = {
    RequestStatus.MATCHED: "matched_at",
    RequestStatus.SCHEDULED: "scheduled_at",
    RequestStatus.COMPLETED: "completed_at",
    RequestStatus.CANCELLED: "cancelled_at",
}
ASK_STAMPS: dict[AskStatus, str] = {
    AskStatus.ACCEPTED: "responded_at",
    AskStatus.DECLINED: "responded_at",
}

# Why an advocate declines: code stored on the ask → what the advocate and coordinator read.
DECLINE_REASONS: dict[str, str] = {
    "busy": "Too busy right now",
    "topic": "The topics are not a good fit for me",
    "company": "I would prefer not to speak with this company",
    "other": "Other reason",
}
DECLINE_NOTE_MAX_LENGTH = 500

# How an ask that can no longer change reads to the advocate.
_ASK_STATE_TEXT: dict[AskStatus, str] = {
    AskStatus.ACCEPTED: "You have already accepted this ask.",
    AskStatus.DECLINED: "You declined this ask.",
    AskStatus.EXPIRED: "This ask has expired: it was not answered in time, so the coordinator has moved on.",
    AskStatus.WITHDRAWN: "This ask was withdrawn: the request was filled by someone else or called off.",
}
_VERBS: dict[AskStatus, str] = {
    AskStatus.ACCEPTED: "accepted",
    AskStatus.DECLINED: "declined",
    AskStatus.EXPIRED: "expired",
    AskStatus.WITHDRAWN: "withdrawn",
}


# --- refusals --------------------------------------------------------------------------------


class RequestFlowError(ValueError):
    """A change refused by a rule; the message says why. ``field`` names the input at fault."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class IllegalTransition(RequestFlowError):
    """The ask or request is not in a state that allows this change (HTTP 409)."""


class AskExpired(IllegalTransition):
    """The ask was past its answer-by time (it is now recorded as expired)."""


class AlreadyTaken(IllegalTransition):
    """Another advocate accepted the request first, or it was called off."""


class AskNotFound(LookupError):
    """No such ask among the advocate's own."""


class RequestNotFound(errors.NotFound):
    """No such request among those the account may see (HTTP 404): a sales account asking for
    another seller's request gets the same answer as for an id that never existed."""


class AlreadyAsked(RequestFlowError):
    """The advocate was asked for this request before (whatever became of that ask)."""


class NotEligible(RequestFlowError):
    """The advocate is not eligible for the request right now; ``rule`` is the matching engine's
    code of the rule that excluded them (``matching.engine.RULES``)."""

    def __init__(self, message: str, rule: str) -> None:
        super().__init__(message, "advocate_id")
        self.rule = rule


# --- the rules -------------------------------------------------------------------------------


def check_ask_transition(current: AskStatus, wanted: AskStatus) -> None:
    if wanted not in ASK_TRANSITIONS[current]:
        state = _ASK_STATE_TEXT.get(current, f"This ask is {current.value}.")
        raise IllegalTransition(f"{state} It can no longer be {_VERBS[wanted]}. Nothing was changed.")


def check_request_transition(current: RequestStatus, wanted: RequestStatus) -> None:
    if wanted not in REQUEST_TRANSITIONS[current]:
        raise IllegalTransition(
            f"This request is {current.value} and cannot become {wanted.value}. Nothing was changed."
        )


def is_overdue(ask: Ask, now: datetime) -> bool:
    """A pending ask past its answer-by time: it expires (DESIGN.md §2 step 3)."""
    return ask.status is AskStatus.PENDING and ask.expires_at <= now


def check_decline(reason: str, note: str) -> None:
    if reason not in DECLINE_REASONS:
        raise RequestFlowError("Pick a reason from the list.", "reason")
    if len(note) > DECLINE_NOTE_MAX_LENGTH:
        raise RequestFlowError(
            f"Keep the note to {DECLINE_NOTE_MAX_LENGTH} characters or fewer.", "note"
        )


# --- the changes -----------------------------------------------------------------------------


def accept_ask(ask_id: int, advocate_id: int, *, now: datetime | None = None) -> Engagement:
    """The advocate takes the request on: the ask is accepted, an engagement awaits booking
    (counted in the quarter of the acceptance until booked), the request is matched and its
    other pending asks are withdrawn. Checked under the advocate's row lock: the ask must be
    pending and not expired, the request not taken by another advocate, a place left in the
    quarter (``quota.QuotaExceeded`` otherwise)."""
    now = now or utcnow()
    with _change(advocate_id) as advocate:
        ask, request = _locked_ask(ask_id, advocate_id)
        _refuse_if_overdue(ask, request, now, "accepted")
        with _taken_if_duplicate():
            engagement = _accept(advocate, ask, request, now)
    return engagement


def _accept(advocate: Advocate, ask: Ask, request: ReferenceRequest, now: datetime) -> Engagement:
    """accept_ask's checks and changes, under the locks it took."""
    check_ask_transition(ask.status, AskStatus.ACCEPTED)
    _check_still_open(request, ask)
    quota.claim_place(advocate.id, quarter_of(now))

    _move_ask(ask, AskStatus.ACCEPTED, now)
    engagement = Engagement(
        request_id=request.id,
        ask_id=ask.id,
        advocate_id=advocate.id,
        format_code=request.format_code,
        status=EngagementStatus.AWAITING_BOOKING,
        quarter=quarter_of(now),  # of the acceptance while unbooked (DESIGN.md §5)
        prospect_name=request.contact_name,
        prospect_email=request.contact_email,
        created_at=now,
    )
    db.session.add(engagement)
    _move_request(request, RequestStatus.MATCHED, now)
    _event(request, "accepted", advocate.account, now, advocate_id=advocate.id,
           advocate=advocate.account.name)
    for other in request.asks:
        if other is not ask and other.status is AskStatus.PENDING:
            _move_ask(other, AskStatus.WITHDRAWN, now)
            _event(request, "withdrawn", None, now, advocate_id=other.advocate_id,
                   reason="another advocate accepted")
    _notify_asker(ask, request, advocate, "accepted")
    db.session.flush()  # the unique indexes have their say inside _taken_if_duplicate
    return engagement


def decline_ask(
    ask_id: int, advocate_id: int, reason: str, note: str = "", *, now: datetime | None = None
) -> Ask:
    """The advocate says no, with a reason and an optional note for the coordinator. When no
    other ask of the request is pending any more, the request goes back to "new" so the
    coordinator sees it needs a next candidate."""
    now = now or utcnow()
    note = (note or "").strip()
    check_decline(reason, note)
    with _change(advocate_id) as advocate:
        ask, request = _locked_ask(ask_id, advocate_id)
        _refuse_if_overdue(ask, request, now, "declined")
        check_ask_transition(ask.status, AskStatus.DECLINED)

        _move_ask(ask, AskStatus.DECLINED, now)
        ask.decline_reason, ask.decline_note = reason, note
        detail: dict[str, Any] = {"advocate_id": advocate_id, "advocate": advocate.account.name,
                                  "reason": reason}
        if note:
            detail["note"] = note
        _event(request, "declined", advocate.account, now, **detail)
        _back_to_new_if_nobody_left(request, now)
        _notify_asker(ask, request, advocate, "declined")
    return ask


# --- M3: the coordinator's and the seller's changes ---------------------------------------------

OUTCOME_CHOICES = (RequestOutcome.WON, RequestOutcome.LOST)
CANCEL_REASON_MAX_LENGTH = 500
# A request in one of these states can still be asked for; later ones are taken or closed.
ASKABLE = frozenset({RequestStatus.NEW, RequestStatus.ASKING})


def submit_request(data: RequestInput, *, by: Account, now: datetime | None = None) -> ReferenceRequest:
    """Save a request checked by ``request_input.parse_request``, as ``by``'s: status "new",
    use cases and competitors reused when known (compared case-insensitively) and created when
    first used, "submitted" on the timeline, the audit log. One commit."""
    now = now or utcnow()
    # Read what the input holds before the write lock (on SQLite it starts a new transaction,
    # which expires what the session holds).
    industry_id = data.industry.id if data.industry is not None else None
    region_id = data.region.id if data.region is not None else None
    format_code = data.format.code
    topic_ids = list(dict.fromkeys(topic.id for topic in data.topics))
    try:
        begin_write()
        topics_by_id = (
            {t.id: t for t in db.session.scalars(select(Topic).where(Topic.id.in_(topic_ids)))}
            if topic_ids else {}
        )
        request = ReferenceRequest(
            requested_by_id=by.id,
            opportunity_id=data.opportunity_id,
            opportunity_name=data.opportunity_name,
            amount=data.amount,
            prospect_company=data.prospect_company,
            industry_id=industry_id,
            employees=data.employees,
            region_id=region_id,
            contact_name=data.contact_name,
            contact_email=data.contact_email,
            format_code=format_code,
            needed_by=data.needed_by,
            questions=list(data.questions),
            notes=data.notes,
            status=RequestStatus.NEW,
            outcome=RequestOutcome.OPEN,
            use_cases=_tags(UseCase, data.use_cases),
            topics=[topics_by_id[i] for i in topic_ids],
            competitors=_tags(Competitor, data.competitors),
            created_at=now,
            updated_at=now,
        )
        db.session.add(request)
        db.session.flush()
        _event(request, "submitted", by, now, format=format_code)
        add_event("request.submitted", actor=by, subject=f"request:{request.id}", format=format_code)
        db.session.commit()
    except BaseException:
        db.session.rollback()
        raise
    return request


def ask(request_id: int, advocate_id: int, *, by: Account, now: datetime | None = None) -> Ask:
    """Ask an advocate to give the reference: checked under the advocate's row lock, then the
    request's. The request must still need an advocate ("new" or "asking", else
    ``IllegalTransition``), the advocate must not have been asked for it before
    (``AlreadyAsked``) and must be eligible right now, by the matching engine's rules
    (``NotEligible``, naming the rule). The ask keeps the score and reasons of this moment,
    expires after ``ASK_EXPIRY_HOURS``; the request is "asking"; the timeline says "asked"; the
    advocate's e-mail (the prospect's context, never who the prospect is) is queued in the same
    transaction."""
    now = now or utcnow()
    try:
        advocate = lock_advocate(advocate_id)
        if advocate is None:
            raise RequestFlowError(f"There is no advocate with id {advocate_id}.", "advocate_id")
        request = _lock_request(request_id)
        _check_askable(request)
        name = advocate.account.name
        earlier = next((a for a in request.asks if a.advocate_id == advocate.id), None)
        if earlier is not None:
            raise _already_asked(name, earlier)
        candidate = _candidate(request, advocate, name, now)

        new = Ask(
            request_id=request.id,
            advocate_id=advocate.id,
            asked_by_id=by.id,
            score=candidate.score,
            explanation=[{"label": r.label, "points": r.points} for r in candidate.reasons],
            status=AskStatus.PENDING,
            created_at=now,
            expires_at=now + timedelta(hours=current_app.config["ASK_EXPIRY_HOURS"]),
        )
        db.session.add(new)
        try:
            db.session.flush()  # uq_asks_request_advocate has the last word
        except IntegrityError:
            raise AlreadyAsked(
                f"{name} was asked for this request a moment ago. Nothing was changed.", "advocate_id"
            ) from None
        if request.first_asked_at is None:
            request.first_asked_at = now
        if request.status is RequestStatus.NEW:
            _move_request(request, RequestStatus.ASKING, now)
        else:
            request.updated_at = now
        _event(request, "asked", by, now, advocate_id=advocate.id, advocate=name, score=new.score,
               ask_id=new.id)
        add_event("request.asked", actor=by, subject=f"request:{request.id}", advocate_id=advocate.id,
                  ask_id=new.id, score=new.score)
        _send_ask(new, request, advocate)
        db.session.commit()
    except BaseException:
        db.session.rollback()
        raise
    return new


def withdraw_ask(ask_id: int, *, by: Account, now: datetime | None = None) -> Ask:
    """Take back a pending ask (only a pending one: ``IllegalTransition`` otherwise). When no
    other ask of the request is pending, the request goes back to "new"."""
    now = now or utcnow()
    try:
        found = db.session.execute(
            select(Ask.advocate_id, Ask.request_id).where(Ask.id == ask_id)
        ).one_or_none()
        if found is None:
            raise AskNotFound(f"ask {ask_id}")
        lock_advocate(found.advocate_id)
        request = _lock_request(found.request_id)
        the_ask = next((a for a in request.asks if a.id == ask_id), None)
        if the_ask is None:  # deleted while we waited for the locks
            raise AskNotFound(f"ask {ask_id}")
        if the_ask.status is not AskStatus.PENDING:
            raise IllegalTransition(
                f"This ask is already {the_ask.status.value}: only a pending ask can be withdrawn. "
                "Nothing was changed."
            )
        name = the_ask.advocate.account.name
        _move_ask(the_ask, AskStatus.WITHDRAWN, now)
        _event(request, "withdrawn", by, now, advocate_id=the_ask.advocate_id, advocate=name,
               ask_id=the_ask.id, reason="withdrawn by the coordinator")
        _back_to_new_if_nobody_left(request, now)
        add_event("request.ask_withdrawn", actor=by, subject=f"request:{request.id}",
                  advocate_id=the_ask.advocate_id, ask_id=the_ask.id)
        db.session.commit()
    except BaseException:
        db.session.rollback()
        raise
    return the_ask


def expire_overdue_asks(now: datetime | None = None) -> int:
    """Expire every pending ask past its answer-by time; returns how many it expired.

    One transaction per request, under the row locks of the asked advocates (in id order) and
    then the request's; each ask is re-read under the locks, so runs that overlap, or repeat,
    expire each ask once (idempotent). A request left with no pending ask goes back to "new"
    (the coordinator asks the next candidate); each advocate gets a short notice."""
    now = now or utcnow()
    due: dict[int, set[int]] = defaultdict(set)
    for request_id, advocate_id in db.session.execute(
        select(Ask.request_id, Ask.advocate_id)
        .where(Ask.status == AskStatus.PENDING, Ask.expires_at <= now)
        .order_by(Ask.request_id, Ask.advocate_id)
    ):
        due[request_id].add(advocate_id)
    db.session.rollback()  # end the read: each request gets its own transaction below

    expired = 0
    for request_id, advocate_ids in due.items():
        try:
            for advocate_id in sorted(advocate_ids):
                lock_advocate(advocate_id)
            try:
                request = _lock_request(request_id)
            except RequestNotFound:  # deleted meanwhile: nothing left to expire
                db.session.rollback()
                continue
            for overdue in [a for a in request.asks if a.advocate_id in advocate_ids and is_overdue(a, now)]:
                _expire(overdue, request, now)
                _send_expired(overdue, request)
                expired += 1
            db.session.commit()
        except BaseException:
            db.session.rollback()
            raise
    return expired


def cancel_request(request_id: int, *, by: Account, reason: str = "",
                   now: datetime | None = None) -> ReferenceRequest:
    """Call the request off: its pending asks are withdrawn, an engagement still awaiting
    booking is cancelled (giving its place in the quarter back), the request is "cancelled".

    Refused with ``IllegalTransition`` when the request is completed or already cancelled, and
    while its call is booked: calling off a booked call tells the prospect and the advocate,
    which is the booking workflow's job — cancel the call there first. ``RequestNotFound`` when
    ``by`` may not see the request (sales: not theirs)."""
    now = now or utcnow()
    reason = " ".join((reason or "").split())
    if len(reason) > CANCEL_REASON_MAX_LENGTH:
        raise RequestFlowError(
            f"Keep the reason to {CANCEL_REASON_MAX_LENGTH} characters or fewer.", "reason"
        )
    try:
        # The engagement's advocate first (lock order), if the request has one yet.
        engaged = db.session.scalar(select(Engagement.advocate_id).where(Engagement.request_id == request_id))
        if engaged is not None:
            lock_advocate(engaged)
        request = _lock_request(request_id, visible_to=by)
        engagement = db.session.scalars(
            select(Engagement)
            .where(Engagement.request_id == request.id)
            .execution_options(populate_existing=True)
        ).one_or_none()
        if request.status in (RequestStatus.COMPLETED, RequestStatus.CANCELLED):
            raise IllegalTransition(
                f"This request is already {request.status.value}: it cannot be cancelled. "
                "Nothing was changed."
            )
        if engagement is not None and engagement.status is EngagementStatus.BOOKED:
            raise IllegalTransition(
                f"This request's call is booked for {engagement.starts_at:%d %B %Y at %H:%M} UTC: "
                "cancel the call first, so the prospect and the advocate are told. Nothing was changed."
            )
        for pending in [a for a in request.asks if a.status is AskStatus.PENDING]:
            _move_ask(pending, AskStatus.WITHDRAWN, now)
            _event(request, "withdrawn", by, now, advocate_id=pending.advocate_id, ask_id=pending.id,
                   reason="request cancelled")
        if engagement is not None and engagement.status is EngagementStatus.AWAITING_BOOKING:
            engagement.status = EngagementStatus.CANCELLED
            engagement.cancelled_at = now
            engagement.cancel_reason = reason or "The request was cancelled."
        _move_request(request, RequestStatus.CANCELLED, now)
        _event(request, "cancelled", by, now, reason=reason)
        add_event("request.cancelled", actor=by, subject=f"request:{request.id}", reason=reason)
        db.session.commit()
    except BaseException:
        db.session.rollback()
        raise
    return request


def record_outcome(request_id: int, outcome: RequestOutcome | str, *, by: Account,
                   now: datetime | None = None) -> ReferenceRequest:
    """The deal's outcome: won or lost, whatever the request's state; ``outcome_at`` stamped,
    "outcome" on the timeline.

    Recording the outcome already recorded changes nothing (a retried PATCH is harmless); a
    different one is refused with ``IllegalTransition`` (409): an outcome is final once
    recorded, the reports count it. ``RequestFlowError`` (field ``outcome``) for anything but
    won or lost; ``RequestNotFound`` when ``by`` may not see the request (sales: not theirs)."""
    now = now or utcnow()
    try:
        wanted = RequestOutcome(outcome)
    except ValueError:
        wanted = None
    if wanted not in OUTCOME_CHOICES:
        raise RequestFlowError(
            f"unknown outcome '{outcome}': use one of {', '.join(o.value for o in OUTCOME_CHOICES)}",
            "outcome",
        )
    try:
        request = _lock_request(request_id, visible_to=by)
        if request.outcome is wanted:
            db.session.commit()  # nothing to change: only end the transaction (and its lock)
            return request
        if request.outcome is not RequestOutcome.OPEN:
            recorded = f" on {request.outcome_at:%d %B %Y}" if request.outcome_at else ""
            raise IllegalTransition(
                f"The outcome was already recorded as {request.outcome.value}{recorded}; "
                f"it cannot become {wanted.value}. Nothing was changed."
            )
        request.outcome = wanted
        request.outcome_at = now
        request.updated_at = now
        _event(request, "outcome", by, now, outcome=wanted.value)
        add_event("request.outcome", actor=by, subject=f"request:{request.id}", outcome=wanted.value)
        db.session.commit()
    except BaseException:
        db.session.rollback()
        raise
    return request


# --- reading, for the portal -----------------------------------------------------------------


def _with_context(query):
    """The prospect context an ask page or list shows, eagerly loaded (a fixed number of queries)."""
    return query.options(
        joinedload(Ask.request).options(
            joinedload(ReferenceRequest.industry),
            joinedload(ReferenceRequest.region),
            joinedload(ReferenceRequest.format),
            selectinload(ReferenceRequest.topics),
            selectinload(ReferenceRequest.use_cases),
        )
    )


def pending_asks(advocate_id: int, now: datetime) -> list[Ask]:
    """The advocate's asks waiting for an answer (not past their time), soonest due first."""
    query = (
        select(Ask)
        .where(Ask.advocate_id == advocate_id, Ask.status == AskStatus.PENDING, Ask.expires_at > now)
        .order_by(Ask.expires_at, Ask.id)
    )
    return list(db.session.scalars(_with_context(query)).unique())


def advocate_ask(ask_id: int, advocate_id: int) -> tuple[Ask, Engagement | None]:
    """One of the advocate's own asks with its context, and the engagement if accepted."""
    ask = db.session.scalars(
        _with_context(select(Ask).where(Ask.id == ask_id, Ask.advocate_id == advocate_id))
    ).unique().one_or_none()
    if ask is None:
        raise AskNotFound(f"ask {ask_id}")
    engagement = None
    if ask.status is AskStatus.ACCEPTED:
        engagement = db.session.scalar(select(Engagement).where(Engagement.ask_id == ask.id))
    return ask, engagement


def request_for(account: Account, request_id: int) -> ReferenceRequest:
    """The request, if ``account`` may see it (staff: any; sales: their own; others: none), with
    what its pages and the API show loaded in a fixed number of queries: catalogue entries,
    tags, the seller, the asks with their advocates, the timeline with its actors.
    ``RequestNotFound`` otherwise, the same for someone else's request as for no request."""
    query = _visible(select(ReferenceRequest).where(ReferenceRequest.id == request_id), account)
    request = db.session.scalars(
        query.options(
            joinedload(ReferenceRequest.requested_by),
            joinedload(ReferenceRequest.industry),
            joinedload(ReferenceRequest.region),
            joinedload(ReferenceRequest.format),
            selectinload(ReferenceRequest.use_cases),
            selectinload(ReferenceRequest.topics),
            selectinload(ReferenceRequest.competitors),
            selectinload(ReferenceRequest.asks).options(
                joinedload(Ask.advocate).options(joinedload(Advocate.account), joinedload(Advocate.company))
            ),
            selectinload(ReferenceRequest.events).joinedload(RequestEvent.actor),
        )
    ).unique().one_or_none()
    if request is None:
        raise RequestNotFound(f"request {request_id}")
    return request


def decline_reason_text(code: str | None) -> str:
    return DECLINE_REASONS.get(code or "", code or "")


# --- helpers ---------------------------------------------------------------------------------


@contextmanager
def _change(advocate_id: int) -> Iterator[Advocate]:
    """The advocate's row, locked first thing; one commit at the end, a rollback on error."""
    try:
        advocate = lock_advocate(advocate_id)
        if advocate is None:
            raise AskNotFound(f"advocate {advocate_id}")
        yield advocate
        db.session.commit()
    except BaseException:
        db.session.rollback()
        raise


def _locked_ask(ask_id: int, advocate_id: int) -> tuple[Ask, ReferenceRequest]:
    """The advocate's ask and its request, the request's row locked and every ask of it re-read
    (what another transaction committed while we waited for the lock is seen)."""
    request_id = db.session.scalar(
        select(Ask.request_id).where(Ask.id == ask_id, Ask.advocate_id == advocate_id)
    )
    if request_id is None:
        raise AskNotFound(f"ask {ask_id}")
    request = db.session.scalars(
        select(ReferenceRequest)
        .where(ReferenceRequest.id == request_id)
        .with_for_update()  # PostgreSQL; SQLite's write transaction already serialises
        .options(selectinload(ReferenceRequest.asks))
        .execution_options(populate_existing=True)
    ).one()
    ask = next(a for a in request.asks if a.id == ask_id)
    return ask, request


def _refuse_if_overdue(ask: Ask, request: ReferenceRequest, now: datetime, wanted: str) -> None:
    """An ask past its time is recorded as expired (that much is committed), then refused."""
    if not is_overdue(ask, now):
        return
    _expire(ask, request, now)
    db.session.commit()
    raise AskExpired(
        f"This ask expired on {ask.expires_at:%d %B %Y at %H:%M} UTC, before it was {wanted}: "
        "the coordinator may ask someone else. Nothing else was changed."
    )


def _expire(ask: Ask, request: ReferenceRequest, now: datetime) -> None:
    _move_ask(ask, AskStatus.EXPIRED, now)
    _event(request, "expired", None, now, advocate_id=ask.advocate_id)
    _back_to_new_if_nobody_left(request, now)


def _check_still_open(request: ReferenceRequest, ask: Ask) -> None:
    if any(other.status is AskStatus.ACCEPTED for other in request.asks if other is not ask):
        raise AlreadyTaken(
            "Another advocate has already accepted this request, so it no longer needs you. "
            "Thank you all the same. Nothing was changed."
        )
    if request.status is RequestStatus.CANCELLED:
        raise AlreadyTaken("This request was called off by the sales team. Nothing was changed.")
    if RequestStatus.MATCHED not in REQUEST_TRANSITIONS[request.status]:
        raise AlreadyTaken(
            f"This request is already {request.status.value}: it no longer needs an advocate. "
            "Nothing was changed."
        )


def _back_to_new_if_nobody_left(request: ReferenceRequest, now: datetime) -> None:
    if request.status is RequestStatus.ASKING and not any(
        a.status is AskStatus.PENDING for a in request.asks
    ):
        _move_request(request, RequestStatus.NEW, now)
        _event(request, "needs_candidate", None, now)


def _move_ask(ask: Ask, wanted: AskStatus, now: datetime) -> None:
    check_ask_transition(ask.status, wanted)
    ask.status = wanted
    if wanted in ASK_STAMPS:
        setattr(ask, ASK_STAMPS[wanted], now)


def _move_request(request: ReferenceRequest, wanted: RequestStatus, now: datetime) -> None:
    check_request_transition(request.status, wanted)
    request.status = wanted
    if wanted in REQUEST_STAMPS:
        setattr(request, REQUEST_STAMPS[wanted], now)
    request.updated_at = now


def _event(request: ReferenceRequest, kind: str, actor: Account | None, now: datetime,
           **detail: Any) -> None:
    # Added by id: appending to ``request.events`` would load the whole timeline first.
    db.session.add(RequestEvent(request_id=request.id, kind=kind, actor_id=actor.id if actor else None,
                                at=now, detail=detail))


@contextmanager
def _taken_if_duplicate() -> Iterator[None]:
    """The database has the last word: one accepted ask and one engagement per request
    (``uq_asks_one_accepted``, ``engagements.request_id`` unique)."""
    try:
        yield
    except IntegrityError:
        db.session.rollback()
        raise AlreadyTaken(
            "Another advocate accepted this request a moment ago, so it no longer needs you. "
            "Nothing was changed."
        ) from None


def _notify_asker(ask: Ask, request: ReferenceRequest, advocate: Advocate, answer: str) -> None:
    """Tell the coordinator who asked: they may need to ask the next candidate."""
    asker = db.session.get(Account, ask.asked_by_id) if ask.asked_by_id else None
    if asker is None or not asker.active:
        return
    enqueue(
        template="ask_answered",
        to=[asker.email],
        context={
            "asker": asker,
            "advocate_name": advocate.account.name,
            "request": request,
            "answer": answer,
            "reason": decline_reason_text(ask.decline_reason),
            "note": ask.decline_note,
            "link": external_url("admin.home"),
        },
        idempotency_key=f"ask-answered:{ask.id}",
    )


# --- helpers of M3's changes -----------------------------------------------------------------


def _visible(query: Select, account: Account) -> Select:
    """Ownership, decided here only: staff see every request, sales their own, others none."""
    if account.is_staff:
        return query
    if account.role is Role.SALES:
        return query.where(ReferenceRequest.requested_by_id == account.id)
    return query.where(false())


def _lock_request(request_id: int, *, visible_to: Account | None = None) -> ReferenceRequest:
    """The request's row, locked (after any advocate's: lock order) and freshly read with all its
    asks; ``visible_to`` limits it to the requests that account may see."""
    begin_write()  # SQLite: the write lock (kept if an advocate's lock already took it)
    query = select(ReferenceRequest).where(ReferenceRequest.id == request_id)
    if visible_to is not None:
        query = _visible(query, visible_to)
    request = db.session.scalars(
        query.with_for_update(of=ReferenceRequest)
        .options(selectinload(ReferenceRequest.asks))
        .execution_options(populate_existing=True)
    ).one_or_none()
    if request is None:
        raise RequestNotFound(f"request {request_id}")
    return request


def _check_askable(request: ReferenceRequest) -> None:
    if request.status not in ASKABLE:
        raise IllegalTransition(
            f"This request is {request.status.value}: it no longer needs an advocate, so nobody "
            "can be asked for it. Nothing was changed."
        )


def _already_asked(name: str, earlier: Ask) -> AlreadyAsked:
    on = f"{earlier.created_at:%d %B %Y}"
    state = {
        AskStatus.PENDING: "the ask is waiting for an answer",
        AskStatus.ACCEPTED: "they accepted",
        AskStatus.DECLINED: "they declined",
        AskStatus.EXPIRED: "the ask expired unanswered",
        AskStatus.WITHDRAWN: "the ask was withdrawn",
    }[earlier.status]
    return AlreadyAsked(
        f"{name} was already asked for this request on {on} ({state}): an advocate is asked at "
        "most once per request. Nothing was changed.",
        "advocate_id",
    )


def _candidate(request: ReferenceRequest, advocate: Advocate, name: str, now: datetime):
    """The advocate as the matching engine ranks them right now, or ``NotEligible`` naming the
    rule that leaves them out (a retired advocate is not even in the pool)."""
    result = rank(request, now=now)
    for candidate in result.candidates:
        if candidate.advocate_id == advocate.id:
            return candidate
    rule = next((e.rule for e in result.excluded if e.advocate_id == advocate.id), "not_active")
    raise NotEligible(
        f"{name} cannot be asked for this request right now: {RULE_TEXT[rule]}. Nothing was changed.",
        rule,
    )


def _tags(model: type[UseCase] | type[Competitor], names: list[str]) -> list:
    """The tags for ``names``: existing ones reused (compared case-insensitively), the others
    created. A tag another transaction creates at the same moment is found, not duplicated."""
    wanted = list(dict.fromkeys(name_key(n) for n in names if n.strip()))
    spelled = {}
    for name in names:
        spelled.setdefault(name_key(name), name)
    known = {row.key: row for row in db.session.scalars(select(model).where(model.key.in_(wanted)))}
    rows = []
    for key in wanted:
        row = known.get(key)
        if row is None:
            row = _new_tag(model, spelled[key])
        rows.append(row)
    return rows


def _new_tag(model: type[UseCase] | type[Competitor], name: str):
    try:
        with db.session.begin_nested():
            row = model(name=name)
            db.session.add(row)
        return row
    except IntegrityError:  # created by a concurrent submission: use theirs
        return db.session.scalars(select(model).where(model.key == name_key(name))).one()


def _prospect_context(request: ReferenceRequest) -> dict[str, Any]:
    """What an advocate may know of the prospect before accepting: never the company, the
    contact, the opportunity or the seller's notes."""
    return {
        "industry": request.industry.name if request.industry else None,
        "size": size_band(request.employees),
        "region": request.region.name if request.region else None,
        "topics": [t.name for t in request.topics],
        "use_cases": [u.name for u in request.use_cases],
        "format_name": request.format.name,
        "written": request.format_code == "written",
        "question_count": len(request.questions or []),
        "needed_by": request.needed_by,
    }


def _send_ask(new: Ask, request: ReferenceRequest, advocate: Advocate) -> None:
    """The ask e-mail to the advocate, queued in the asking transaction."""
    account = advocate.account
    enqueue(
        template="ask",
        to=[account.email],
        context={
            "name": account.name,
            **_prospect_context(request),
            "reasons": new.explanation,
            "score": new.score,
            "answer_by": new.expires_at.astimezone(zone_or_utc(account.timezone)),
            "link": external_url("portal.ask", ask_id=new.id),
        },
        idempotency_key=f"ask:{new.id}",
    )


def _send_expired(expired: Ask, request: ReferenceRequest) -> None:
    """A short notice that the ask expired: nothing to do, no harm done."""
    account = expired.advocate.account if expired.advocate is not None else None
    if account is None or not account.active:
        return
    enqueue(
        template="ask_expired",
        to=[account.email],
        context={
            "name": account.name,
            **_prospect_context(request),
            "asked_at": expired.created_at.astimezone(zone_or_utc(account.timezone)),
            "link": external_url("portal.availability"),
        },
        idempotency_key=f"ask-expired:{expired.id}",
    )
