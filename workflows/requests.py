"""Reference requests and the asks sent for them: their state changes (DESIGN.md §2, §4).

M2 answers asks (``accept_ask``, ``decline_ask``); M3 adds submit, ask, withdraw and expire
here, on the same transition tables and helpers.

Every public change owns its transaction: it takes the locks first (the advocate's row, then
the request's row: always in that order), re-reads what it decides on, checks the rules, makes
the change with its timeline events and e-mails, and commits once. A refusal raises a
``RequestFlowError`` (a ``ValueError``) or ``quota.QuotaExceeded`` and leaves nothing behind,
except where it says otherwise (an ask found expired is recorded as expired before refusing).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import joinedload, selectinload

from mail.outbox import enqueue
from models import (
    Account,
    Advocate,
    Ask,
    AskStatus,
    Engagement,
    EngagementStatus,
    ReferenceRequest,
    RequestEvent,
    RequestStatus,
    db,
    quarter_of,
)
from models.locking import lock_advocate
from models.types import utcnow
from workflows import quota
from workflows.links import external_url

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
