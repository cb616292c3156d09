"""Reference requests and the asks sent for them: their state changes (DESIGN.md §2, §4), and
``request_for``: who may see which request, in one place (staff every request, sales their
own, nobody else any).

Each public change is one ``transaction``: it takes the locks first (the advocate's row, then
the request's row: always in that order), re-reads what it decides on, and calls the steps
below, which check the state machines and only flush. Other workflows (leaving the program,
the booking workflows) call the same steps inside their own transaction. A refusal raises a
``workflows.errors`` refusal and leaves nothing behind, except where it says otherwise (an ask
found overdue is recorded as expired before the answer is refused). The e-mails the changes
cause are written in ``workflows.request_mail``, queued in the same transaction. A request
arrives and is edited in ``workflows.request_submission``; an advocate reads their asks through
``workflows.ask_inbox``.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta
from functools import cache

from sqlalchemy import Select, bindparam, false, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import joinedload, selectinload
from sqlalchemy.orm.attributes import set_committed_value

from matching.engine import RULE_TEXT, Candidate
from models import (
    Account,
    Advocate,
    Ask,
    AskStatus,
    Engagement,
    EngagementStatus,
    ReferenceRequest,
    RequestEvent,
    RequestOutcome,
    RequestStatus,
    Role,
    db,
    quarter_of,
)
from models.engagements import LIVE_STATUSES
from models.types import utcnow
from workflows import errors, quota, request_mail, settings
from workflows.audit import add_event
from workflows.engagements import cancel_engagement_step
from workflows.introductions import introduce_step
from workflows.matching import rank, standing
from workflows.request_view import (
    DECLINE_REASONS,
    decline_reason_text,
)
from workflows.timeline import record
from workflows.transaction import transaction

__all__ = ["DECLINE_REASONS", "decline_reason_text"]

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
    # Written references go from matched to completed; live ones are scheduled first. Back to
    # "new" (reopened) when the engagement is called off before it happened.
    RequestStatus.MATCHED: frozenset(
        {RequestStatus.NEW, RequestStatus.SCHEDULED, RequestStatus.COMPLETED, RequestStatus.CANCELLED}
    ),
    RequestStatus.SCHEDULED: frozenset(
        {RequestStatus.NEW, RequestStatus.MATCHED, RequestStatus.COMPLETED, RequestStatus.CANCELLED}
    ),
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
OUTCOME_CHOICES = (RequestOutcome.WON, RequestOutcome.LOST)
CANCEL_REASON_MAX_LENGTH = 500
# A request in one of these states can still be asked for (and edited by its seller); later
# ones are taken or closed.
ASKABLE = frozenset({RequestStatus.NEW, RequestStatus.ASKING})


# --- refusals --------------------------------------------------------------------------------


class RequestFlowError(errors.Invalid):
    """A change refused by a rule on its input; ``field`` names the input at fault."""


class IllegalTransition(errors.Conflict):
    """The ask or request is not in a state that allows this change (HTTP 409)."""


class AskExpired(IllegalTransition):
    """The ask was past its answer-by time: it is recorded as expired, then the answer refused."""

    keeps_changes = True


class AlreadyTaken(IllegalTransition):
    """Another advocate accepted the request first, or it was called off."""


class AskNotFound(errors.NotFound):
    """No such ask among the advocate's own."""


class RequestNotFound(errors.NotFound):
    """No such request among those the account may see (HTTP 404): a sales account asking for
    another seller's request gets the same answer as for an id that never existed."""


class AlreadyAsked(errors.Conflict):
    """The advocate was asked for this request before (whatever became of that ask)."""


class NotEligible(errors.Invalid):
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


def check_cancel_reason(reason: str) -> str:
    reason = " ".join((reason or "").split())
    if len(reason) > CANCEL_REASON_MAX_LENGTH:
        raise RequestFlowError(
            f"Keep the reason to {CANCEL_REASON_MAX_LENGTH} characters or fewer.", "reason"
        )
    return reason


# --- the steps: they check the state machines and flush, inside the caller's transaction ----


def move_ask(ask: Ask, wanted: AskStatus, now: datetime) -> None:
    check_ask_transition(ask.status, wanted)
    ask.status = wanted
    if wanted in ASK_STAMPS:
        setattr(ask, ASK_STAMPS[wanted], now)


def move_request(request: ReferenceRequest, wanted: RequestStatus, now: datetime) -> None:
    check_request_transition(request.status, wanted)
    request.status = wanted
    if wanted in REQUEST_STAMPS:
        setattr(request, REQUEST_STAMPS[wanted], now)
    request.updated_at = now


def lock_request(request_id: int, *, visible_to: Account | None = None) -> ReferenceRequest:
    """The request's row, locked (after any advocate's: lock order) and freshly read with all its
    asks; ``visible_to`` limits it to the requests that account may see."""
    query = select(ReferenceRequest).where(ReferenceRequest.id == request_id)
    if visible_to is not None:
        query = _visible(query, visible_to)
    request = db.session.scalars(
        query.with_for_update(of=ReferenceRequest)  # PostgreSQL; SQLite's write transaction serialises
        .options(selectinload(ReferenceRequest.asks))
        .execution_options(populate_existing=True)
    ).one_or_none()
    if request is None:
        raise RequestNotFound("There is no such request among those you may see.")
    return request


def expire_step(ask: Ask, request: ReferenceRequest, now: datetime) -> None:
    """The ask went unanswered past its time: expired, the advocate told, the request back to
    "new" when nobody else is asked."""
    move_ask(ask, AskStatus.EXPIRED, now)
    record(request.id, "expired", None, now, advocate_id=ask.advocate_id, ask_id=ask.id)
    _back_to_new_if_nobody_left(request, now)
    request_mail.send_expired(ask, request)


def withdraw_step(ask: Ask, request: ReferenceRequest, now: datetime, *, by: Account | None,
                  reason: str) -> None:
    """The ask is taken back; the request goes back to "new" when nobody else is asked."""
    move_ask(ask, AskStatus.WITHDRAWN, now)
    record(request.id, "withdrawn", by, now, advocate_id=ask.advocate_id, ask_id=ask.id, reason=reason)
    _back_to_new_if_nobody_left(request, now)


def decline_step(ask: Ask, request: ReferenceRequest, advocate: Advocate, now: datetime, *,
                 reason: str, note: str = "", notify: bool = True) -> None:
    """The advocate says no: the ask is declined with its reason (and note, for the coordinator);
    the request goes back to "new" when nobody else is asked; who asked and the seller are told."""
    move_ask(ask, AskStatus.DECLINED, now)
    ask.decline_reason, ask.decline_note = reason, note
    record(request.id, "declined", advocate.account, now, advocate_id=advocate.id, ask_id=ask.id,
           reason=reason)
    _back_to_new_if_nobody_left(request, now)
    if notify:
        request_mail.notify_answer(ask, request, advocate, "declined")


def reopen_step(request: ReferenceRequest, engagement: Engagement, now: datetime, *,
                by: Account | None, reason: str) -> None:
    """The request's engagement was called off before it happened (the advocate left, or the
    call was cancelled): the request needs a next candidate again."""
    record(request.id, "engagement_cancelled", by, now, advocate_id=engagement.advocate_id,
           engagement_id=engagement.id, reason=reason)
    if request.status in (RequestStatus.MATCHED, RequestStatus.SCHEDULED):
        if any(a.status is AskStatus.PENDING for a in request.asks):
            move_request(request, RequestStatus.ASKING, now)
        else:
            move_request(request, RequestStatus.NEW, now)
        record(request.id, "reopened", None, now, advocate_id=engagement.advocate_id)


def _back_to_new_if_nobody_left(request: ReferenceRequest, now: datetime) -> None:
    if request.status is RequestStatus.ASKING and not any(
        a.status is AskStatus.PENDING for a in request.asks
    ):
        move_request(request, RequestStatus.NEW, now)
        record(request.id, "needs_candidate", None, now)


# --- the advocate's answers ------------------------------------------------------------------


def accept_ask(ask_id: int, advocate_id: int, *, now: datetime | None = None) -> Engagement:
    """The advocate takes the request on: the ask is accepted, an engagement awaits booking
    (counted in the quarter of the acceptance until booked), the request is matched and its
    other pending asks are withdrawn. Checked under the advocate's row lock: the ask must be
    pending and not expired, the request not taken by another advocate, a place left in the
    quarter (``quota.QuotaExceeded`` otherwise)."""
    now = now or utcnow()
    try:
        with transaction(lock=advocate_id) as advocate:
            ask, request = _locked_ask(ask_id, advocate_id)
            _refuse_if_overdue(ask, request, now, "accepted")
            check_ask_transition(ask.status, AskStatus.ACCEPTED)
            _check_still_open(request)
            quota.claim_place(advocate.id, quarter_of(now))

            move_ask(ask, AskStatus.ACCEPTED, now)
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
            move_request(request, RequestStatus.MATCHED, now)
            record(request.id, "accepted", advocate.account, now, advocate_id=advocate.id, ask_id=ask.id)
            for other in request.asks:
                if other is not ask and other.status is AskStatus.PENDING:
                    withdraw_step(other, request, now, by=None, reason="another advocate accepted")
            request_mail.notify_answer(ask, request, advocate, "accepted")
            db.session.flush()  # the one-live-engagement index has the last word
            if request.format.is_live:
                introduce_step(engagement, request, advocate, now)
    except IntegrityError:
        raise AlreadyTaken(
            "Another advocate accepted this request a moment ago, so it no longer needs you. "
            "Nothing was changed."
        ) from None
    except AskExpired:
        ask_automatically(_request_of(ask_id), now=now)
        raise
    return engagement


def decline_ask(
    ask_id: int, advocate_id: int, reason: str, note: str = "", *, now: datetime | None = None
) -> Ask:
    """The advocate says no, with a reason and an optional note for the coordinator. When no
    other ask of the request is pending any more, the request goes back to "new" so the
    coordinator sees it needs a next candidate (or, where the program asks by itself, the next
    candidate is asked: ``ask_automatically``)."""
    now = now or utcnow()
    note = (note or "").strip()
    check_decline(reason, note)
    try:
        with transaction(lock=advocate_id) as advocate:
            ask, request = _locked_ask(ask_id, advocate_id)
            _refuse_if_overdue(ask, request, now, "declined")
            decline_step(ask, request, advocate, now, reason=reason, note=note)
    except AskExpired:
        ask_automatically(_request_of(ask_id), now=now)
        raise
    ask_automatically(ask.request_id, now=now)
    return ask


# --- the coordinator's and the seller's changes ----------------------------------------------


def ask(request_id: int, advocate_id: int, *, by: Account | None, now: datetime | None = None) -> Ask:
    """Ask an advocate to give the reference: checked under the advocate's row lock, then the
    request's. The request must still need an advocate ("new" or "asking", else
    ``IllegalTransition``), the advocate must not have been asked for it before
    (``AlreadyAsked``) and must be eligible right now, by the matching engine's rules
    (``NotEligible``, naming the rule). The ask keeps the score and reasons of this moment,
    expires after ``ASK_EXPIRY_HOURS``; the request is "asking"; the timeline says "asked"; the
    advocate's e-mail (the prospect's context, never who the prospect is) is queued in the same
    transaction. ``by`` None: Vouch asked by itself (the next candidate after a cancellation)."""
    now = now or utcnow()
    if db.session.scalar(select(Advocate.id).where(Advocate.id == advocate_id)) is None:
        raise RequestFlowError(f"There is no advocate with id {advocate_id}.", "advocate_id")
    with transaction(lock=advocate_id) as advocate:
        request = lock_request(request_id)
        _check_askable(request)
        name = advocate.account.name
        earlier = next((a for a in request.asks if a.advocate_id == advocate.id), None)
        if earlier is not None:
            raise _already_asked(name, earlier)
        candidate = _candidate(request, advocate, name, now)

        new = Ask(
            request_id=request.id,
            advocate_id=advocate.id,
            asked_by_id=by.id if by is not None else None,
            score=candidate.score,
            explanation=[{"label": r.label, "points": r.points} for r in candidate.reasons],
            status=AskStatus.PENDING,
            created_at=now,
            expires_at=now + timedelta(hours=settings.value("ASK_EXPIRY_HOURS")),
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
            move_request(request, RequestStatus.ASKING, now)
        else:
            request.updated_at = now
        record(request.id, "asked", by, now, advocate_id=advocate.id, ask_id=new.id, score=new.score)
        add_event("request.asked", actor=by, subject=f"request:{request.id}", advocate_id=advocate.id,
                  ask_id=new.id, score=new.score)
        request_mail.send_ask(new, request, advocate)
    return new


def ask_next_candidate(request_id: int, *, now: datetime | None = None) -> Ask | None:
    """Ask the best eligible advocate for a request that needs one: "new", nobody asked and
    waiting (after a call was cancelled, where the program says so, or whenever it asks by
    itself: ``ask_automatically``); None when nobody is eligible, and the request stays in the
    coordinator's queue."""
    now = now or utcnow()
    request = db.session.get(ReferenceRequest, request_id, populate_existing=True)
    if request is None or request.status is not RequestStatus.NEW:
        return None
    candidates = rank(request, now=now).candidates
    db.session.rollback()  # end the read: asking is a transaction of its own
    for candidate in candidates[:3]:  # the best, unless someone took them meanwhile
        try:
            return ask(request_id, candidate.advocate_id, by=None, now=now)
        except (NotEligible, AlreadyAsked):
            continue
        except IllegalTransition:  # asked for, taken or called off meanwhile
            return None
    return None


def ask_automatically(request_id: int, *, now: datetime | None = None) -> Ask | None:
    """Where the program asks by itself (the ``AUTO_ASK`` setting, DESIGN.md §2 step 3): the best
    eligible advocate for a request that arrived, or whose last ask was declined or expired.
    None when the setting is off or nobody is eligible: the request waits for a coordinator."""
    if not settings.value("AUTO_ASK"):
        return None
    return ask_next_candidate(request_id, now=now)


def withdraw_ask(ask_id: int, *, by: Account, now: datetime | None = None) -> Ask:
    """Take back a pending ask (only a pending one: ``IllegalTransition`` otherwise). When no
    other ask of the request is pending, the request goes back to "new"."""
    now = now or utcnow()
    found = db.session.execute(
        select(Ask.advocate_id, Ask.request_id).where(Ask.id == ask_id)
    ).one_or_none()
    if found is None:
        raise AskNotFound("There is no such ask.")
    with transaction(lock=found.advocate_id):
        request = lock_request(found.request_id)
        the_ask = next((a for a in request.asks if a.id == ask_id), None)
        if the_ask is None:  # deleted while we waited for the locks
            raise AskNotFound("There is no such ask.")
        if the_ask.status is not AskStatus.PENDING:
            raise IllegalTransition(
                f"This ask is already {the_ask.status.value}: only a pending ask can be withdrawn. "
                "Nothing was changed."
            )
        withdraw_step(the_ask, request, now, by=by, reason="withdrawn by the coordinator")
        add_event("request.ask_withdrawn", actor=by, subject=f"request:{request.id}",
                  advocate_id=the_ask.advocate_id, ask_id=the_ask.id)
    return the_ask


def expire_overdue_asks(now: datetime | None = None) -> int:
    """Expire every pending ask past its answer-by time; returns how many it expired.

    One transaction per request, under the row locks of the asked advocates (in id order) and
    then the request's; each ask is re-read under the locks, so runs that overlap, or repeat,
    expire each ask once (idempotent). A request left with no pending ask goes back to "new"
    (the coordinator asks the next candidate, or the program does: ``ask_automatically``); each
    advocate gets a short notice."""
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
            with transaction(lock=advocate_ids):
                request = lock_request(request_id)
                for overdue in [a for a in request.asks
                                if a.advocate_id in advocate_ids and is_overdue(a, now)]:
                    expire_step(overdue, request, now)
                    expired += 1
        except errors.NotFound:  # the request or the advocate was deleted meanwhile
            continue
        ask_automatically(request_id, now=now)
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
    reason = check_cancel_reason(reason)
    # The engagement's advocate first (lock order), if the request has one yet.
    engaged = db.session.scalar(
        select(Engagement.advocate_id).where(Engagement.request_id == request_id,
                                             Engagement.status.in_(LIVE_STATUSES))
    )
    with transaction(lock=[engaged] if engaged is not None else None):
        request = lock_request(request_id, visible_to=by)
        engagement = db.session.scalars(
            select(Engagement)
            .where(Engagement.request_id == request.id, Engagement.status.in_(LIVE_STATUSES))
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
            move_ask(pending, AskStatus.WITHDRAWN, now)
            record(request.id, "withdrawn", by, now, advocate_id=pending.advocate_id, ask_id=pending.id,
                   reason="request cancelled")
        if engagement is not None and engagement.status is EngagementStatus.AWAITING_BOOKING:
            cancel_engagement_step(engagement, reason=reason or "The request was cancelled.", now=now)
        move_request(request, RequestStatus.CANCELLED, now)
        record(request.id, "cancelled", by, now, reason=reason)
        add_event("request.cancelled", actor=by, subject=f"request:{request.id}", reason=reason)
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
    with transaction():
        request = lock_request(request_id, visible_to=by)
        if request.outcome is wanted:
            return request  # nothing to change: the transaction only ends (and its lock)
        if request.outcome is not RequestOutcome.OPEN:
            recorded = f" on {request.outcome_at:%d %B %Y}" if request.outcome_at else ""
            raise IllegalTransition(
                f"The outcome was already recorded as {request.outcome.value}{recorded}; "
                f"it cannot become {wanted.value}. Nothing was changed."
            )
        request.outcome = wanted
        request.outcome_at = now
        request.updated_at = now
        record(request.id, "outcome", by, now, outcome=wanted.value)
        add_event("request.outcome", actor=by, subject=f"request:{request.id}", outcome=wanted.value)
    return request


# --- who may see which request --------------------------------------------------------------


@cache
def _request_queries(scope: str) -> tuple[Select, Select, Select]:
    """The request (as ``scope`` may see it) and its lists, built once with bound parameters:
    with loader options a query costs more to build than to run."""
    request = _visible_in(
        select(ReferenceRequest).where(ReferenceRequest.id == bindparam("request_id")), scope
    ).options(
        joinedload(ReferenceRequest.requested_by),
        joinedload(ReferenceRequest.industry),
        joinedload(ReferenceRequest.region),
        joinedload(ReferenceRequest.format),
    )
    asks = (select(Ask).where(Ask.request_id == bindparam("request_id")).order_by(Ask.created_at, Ask.id)
            .options(joinedload(Ask.advocate).options(joinedload(Advocate.account),
                                                      joinedload(Advocate.company))))
    events = (select(RequestEvent).where(RequestEvent.request_id == bindparam("request_id"))
              .order_by(RequestEvent.at, RequestEvent.id).options(joinedload(RequestEvent.actor)))
    return request, asks, events


def request_for(account: Account, request_id: int) -> ReferenceRequest:
    """The request, if ``account`` may see it (staff: any; sales: their own; others: none), with
    what its pages and the API show loaded in a fixed number of queries: catalogue entries and
    the seller with it, then the asks with their advocates, then the timeline with its actors
    (each a plain query put in place as the loaded list: for one request, half the cost of a
    ``selectinload``). Each list of tags is loaded when first read (the pages read only their
    names, all in one query: ``workflows.request_tags``).
    ``RequestNotFound`` otherwise, the same for someone else's request as for no request."""
    the_request, its_asks, its_events = _request_queries(_sight_scope(account))
    request = db.session.scalars(
        the_request, {"request_id": request_id, "viewer_id": account.id}).one_or_none()
    if request is None:
        raise RequestNotFound("There is no such request among those you may see.")
    parameters = {"request_id": request.id}
    set_committed_value(request, "asks", list(db.session.scalars(its_asks, parameters)))
    set_committed_value(request, "events", list(db.session.scalars(its_events, parameters)))
    return request


# --- helpers ---------------------------------------------------------------------------------


def _locked_ask(ask_id: int, advocate_id: int) -> tuple[Ask, ReferenceRequest]:
    """The advocate's ask and its request, the request's row locked and every ask of it re-read
    (what another transaction committed while we waited for the lock is seen)."""
    request_id = db.session.scalar(
        select(Ask.request_id).where(Ask.id == ask_id, Ask.advocate_id == advocate_id)
    )
    if request_id is None:
        raise AskNotFound("There is no such ask among yours.")
    request = lock_request(request_id)
    ask = next(a for a in request.asks if a.id == ask_id)
    return ask, request


def _request_of(ask_id: int) -> int:
    return db.session.scalar(select(Ask.request_id).where(Ask.id == ask_id))


def _refuse_if_overdue(ask: Ask, request: ReferenceRequest, now: datetime, wanted: str) -> None:
    """An ask past its time is recorded as expired (that much is committed), then refused."""
    if not is_overdue(ask, now):
        return
    expire_step(ask, request, now)
    raise AskExpired(
        f"This ask expired on {ask.expires_at:%d %B %Y at %H:%M} UTC, before it was {wanted}: "
        "the coordinator may ask someone else. Nothing else was changed."
    )


def _check_still_open(request: ReferenceRequest) -> None:
    if request.status is RequestStatus.CANCELLED:
        raise AlreadyTaken("This request was called off by the sales team. Nothing was changed.")
    live = db.session.scalar(
        select(Engagement.id).where(Engagement.request_id == request.id,
                                    Engagement.status.in_(LIVE_STATUSES))
    )
    if live is not None:
        raise AlreadyTaken(
            "Another advocate has already accepted this request, so it no longer needs you. "
            "Thank you all the same. Nothing was changed."
        )
    if RequestStatus.MATCHED not in REQUEST_TRANSITIONS[request.status]:
        raise AlreadyTaken(
            f"This request is already {request.status.value}: it no longer needs an advocate. "
            "Nothing was changed."
        )


def _visible(query: Select, account: Account) -> Select:
    """Ownership, decided here only: staff see every request, sales their own, others none."""
    return _visible_in(query, _sight_scope(account)).params(viewer_id=account.id)


def _sight_scope(account: Account) -> str:
    if account.is_staff:
        return "all"
    return "own" if account.role is Role.SALES else "none"


def _visible_in(query: Select, scope: str) -> Select:
    """``_visible`` with the viewer's id left a parameter (``viewer_id``), for a query built once."""
    if scope == "all":
        return query
    if scope == "own":
        return query.where(ReferenceRequest.requested_by_id == bindparam("viewer_id"))
    return query.where(false())


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
    found = standing(request, advocate.id, now=now)
    if isinstance(found, Candidate):
        return found
    excluded = found
    rule = excluded.rule if excluded is not None else "not_active"
    detail = f" ({excluded.detail})" if excluded is not None and excluded.detail else ""
    raise NotEligible(
        f"{name} cannot be asked for this request right now: {RULE_TEXT[rule]}{detail}. Nothing was changed.",
        rule,
    )
