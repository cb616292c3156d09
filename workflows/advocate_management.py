"""A coordinator runs an advocate's place in the program: pause, resume or retire them (DESIGN.md
§4: active ⇄ paused → retired), award points for a case study, an event or a review, keep
internal notes, read one timeline of everything that happened, and do some of it for many
advocates at once from the pool.

Pausing takes back the asks waiting for the advocate's answer (a paused advocate is not eligible,
so they should not accept one either); calls already arranged stay, since they were promised.
Retiring also calls off the calls not yet held, through the booking workflow's step, and the
request goes back to the coordinator's queue, as when an advocate leaves the program. Each change
is audited (subject ``advocate:<id>``) and the advocate is told by e-mail, in the same
transaction. Why a coordinator paused or retired someone is for staff: it is kept on the advocate
(``status_reason``) and in the audit log, never in the e-mail.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import joinedload

from mail.outbox import enqueue
from models import (
    Account,
    Advocate,
    AdvocateNote,
    AdvocateStatus,
    Ask,
    AskStatus,
    AuditEvent,
    Engagement,
    EngagementStatus,
    Feedback,
    PointsEntry,
    PointsReason,
    Tier,
    db,
)
from models.types import utcnow
from workflows import errors, nudges, points, requests, settings, submissions, tiers, unsubscribe
from workflows.audit import add_event
from workflows.bookings import cancel_call_step
from workflows.links import external_url
from workflows.submissions import Once
from workflows.transaction import transaction

REASON_MAX_LENGTH = tiers.TIER_REASON_MAX_LENGTH  # Advocate.status_reason's length
NOTE_MAX_LENGTH = 2000
POINTS_NOTE_MAX_LENGTH = 200  # PointsEntry.note's length
BULK_MAX = 200
TIMELINE_SHOWN = 40
RETIRED_CANCEL_REASON = "The advocate is no longer available for reference calls."

# What a coordinator may change a status to, from which (DESIGN.md §4).
STATUS_TRANSITIONS: dict[AdvocateStatus, frozenset[AdvocateStatus]] = {
    AdvocateStatus.CANDIDATE: frozenset(),
    AdvocateStatus.INVITED: frozenset(),
    AdvocateStatus.ACTIVE: frozenset({AdvocateStatus.PAUSED, AdvocateStatus.RETIRED}),
    AdvocateStatus.PAUSED: frozenset({AdvocateStatus.ACTIVE, AdvocateStatus.RETIRED}),
    AdvocateStatus.RETIRED: frozenset(),
}
# The points a coordinator awards, by reason: (words, the setting that gives the amount).
AWARDS: dict[PointsReason, tuple[str, str]] = {
    PointsReason.CASE_STUDY: ("A published case study", "POINTS_CASE_STUDY_OR_EVENT"),
    PointsReason.EVENT: ("A talk or panel at an event", "POINTS_CASE_STUDY_OR_EVENT"),
    PointsReason.REVIEW: ("A public review", "POINTS_REVIEW"),
}


class NotFound(errors.NotFound):
    """No such advocate."""


class StatusConflict(errors.Conflict):
    """The advocate's status does not allow this change."""


# --- the rules -------------------------------------------------------------------------------


def why_not(advocate: Advocate, wanted: AdvocateStatus) -> str | None:
    """Why the advocate's status cannot become ``wanted``, in words; None when it can."""
    if wanted in STATUS_TRANSITIONS[advocate.status]:
        return None
    if advocate.status is wanted:
        return {AdvocateStatus.ACTIVE: "already in the program", AdvocateStatus.PAUSED: "already paused",
                AdvocateStatus.RETIRED: "already retired"}[wanted]
    if advocate.status is AdvocateStatus.RETIRED:
        return "retired: their profile is closed"
    return "not in the program yet"


def check_status_change(advocate: Advocate, wanted: AdvocateStatus) -> None:
    why = why_not(advocate, wanted)
    if why is not None:
        raise StatusConflict(f"{advocate.account.name} is {why}. Nothing was changed.")


def check_text(text: str, *, limit: int, what: str, required: bool, field_name: str) -> str:
    text = (text or "").strip()
    if required and not text:
        raise errors.Invalid(f"Write {what}. Nothing was changed.", field_name)
    if len(text) > limit:
        raise errors.Invalid(f"Keep {what} to {limit} characters or fewer. Nothing was changed.", field_name)
    return text


def optional_reason(reason: str) -> str:
    return check_text(reason, limit=REASON_MAX_LENGTH, what="the reason", required=False, field_name="reason")


def award_amount(reason: PointsReason) -> int:
    """What the program gives for ``reason`` (a program setting)."""
    return int(settings.value(AWARDS[reason][1]))


def award_reason(raw: str | None) -> PointsReason:
    try:
        reason = PointsReason(raw or "")
    except ValueError:
        reason = None
    if reason not in AWARDS:
        raise errors.Invalid("Pick what the points are for from the list. Nothing was changed.", "reason")
    return reason


# --- what a status change affects ------------------------------------------------------------


@dataclass(frozen=True)
class Commitments:
    """What the advocate has going on: asks waiting for their answer, calls arranged."""

    pending_asks: int
    calls_kept: int  # awaiting booking, or booked and not begun


def commitments(advocate_id: int, now: datetime | None = None) -> Commitments:
    """What a pause or a retirement would touch, in one query."""
    now = now or utcnow()
    asks = (select(func.count()).select_from(Ask)
            .where(Ask.advocate_id == advocate_id, Ask.status == AskStatus.PENDING).scalar_subquery())
    calls = select(func.count()).select_from(Engagement).where(*_upcoming(advocate_id, now)).scalar_subquery()
    found = db.session.execute(select(asks, calls)).one()
    return Commitments(int(found[0] or 0), int(found[1] or 0))


def _upcoming(advocate_id: int, now: datetime) -> tuple:
    return (
        Engagement.advocate_id == advocate_id,
        (Engagement.status == EngagementStatus.AWAITING_BOOKING)
        | ((Engagement.status == EngagementStatus.BOOKED) & (Engagement.starts_at > now)),
    )


def _withdraw_pending_asks(advocate: Advocate, now: datetime, *, by: Account | None, reason: str) -> int:
    """The advocate's pending asks taken back (``requests.withdraw_step``), each request locked
    after the advocate (the lock order)."""
    pending = db.session.execute(
        select(Ask.id, Ask.request_id)
        .where(Ask.advocate_id == advocate.id, Ask.status == AskStatus.PENDING)
        .order_by(Ask.request_id)
    ).all()
    for ask_id, request_id in pending:
        request = requests.lock_request(request_id)
        ask = next(a for a in request.asks if a.id == ask_id)
        requests.withdraw_step(ask, request, now, by=by, reason=reason)
    return len(pending)


def _cancel_upcoming_calls(advocate: Advocate, now: datetime, *, by: Account | None) -> int:
    """Calls not yet held cancelled through the booking workflow's step: the place given back,
    the request reopened, a booked call's cancellation sent to both sides."""
    engagements = db.session.scalars(
        select(Engagement).where(*_upcoming(advocate.id, now)).order_by(Engagement.request_id, Engagement.id)
    ).all()
    for engagement in engagements:
        cancel_call_step(engagement, advocate, side="coordinator", reason=RETIRED_CANCEL_REASON, now=now,
                         by=by)
    return len(engagements)


# --- the status changes ----------------------------------------------------------------------


@dataclass(frozen=True)
class StatusChange:
    name: str
    status: AdvocateStatus
    asks_withdrawn: int = 0
    calls_cancelled: int = 0
    calls_kept: int = 0
    told: bool = False  # the advocate was e-mailed


def _set_status(advocate: Advocate, wanted: AdvocateStatus, reason: str, now: datetime) -> None:
    advocate.status = wanted
    advocate.status_reason = reason
    advocate.status_changed_at = now


def _tell(advocate: Advocate, template: str, context: dict[str, Any], event: AuditEvent) -> bool:
    account = advocate.account
    if not account.active:
        return False
    db.session.flush()  # the event's id names the e-mail
    enqueue(template=template, to=[account.email], context={"name": account.name, **context},
            idempotency_key=f"{template}:{advocate.id}:{event.id}")
    return True


def pause_step(advocate: Advocate, *, by: Account | None, reason: str, now: datetime) -> StatusChange:
    """Flush-only: the locked advocate paused; their pending asks withdrawn; calls arranged kept."""
    check_status_change(advocate, AdvocateStatus.PAUSED)
    _set_status(advocate, AdvocateStatus.PAUSED, reason, now)
    withdrawn = _withdraw_pending_asks(advocate, now, by=by, reason="the advocate was paused")
    kept = int(db.session.scalar(select(func.count()).select_from(Engagement)
                                 .where(*_upcoming(advocate.id, now))) or 0)
    event = add_event("advocate.paused", actor=by, subject=f"advocate:{advocate.id}", advocate_id=advocate.id,
                      reason=reason, asks_withdrawn=withdrawn, calls_kept=kept)
    told = _tell(advocate, "advocate_paused",
                 {"asks_withdrawn": withdrawn, "calls_kept": kept,
                  "portal_link": external_url("portal.home")}, event)
    return StatusChange(advocate.account.name, advocate.status, asks_withdrawn=withdrawn, calls_kept=kept,
                        told=told)


def pause(advocate_id: int, *, by: Account, reason: str = "", now: datetime | None = None) -> StatusChange:
    """A coordinator pauses an active advocate: nobody asks them until they are resumed."""
    reason = optional_reason(reason)
    with transaction(lock=advocate_id) as advocate:
        change = pause_step(advocate, by=by, reason=reason, now=now or utcnow())
    return change


def resume(advocate_id: int, *, by: Account, now: datetime | None = None) -> StatusChange:
    """A coordinator takes a paused advocate back into the program: they can be asked again."""
    now = now or utcnow()
    with transaction(lock=advocate_id) as advocate:
        check_status_change(advocate, AdvocateStatus.ACTIVE)
        _set_status(advocate, AdvocateStatus.ACTIVE, "", now)
        event = add_event("advocate.resumed", actor=by, subject=f"advocate:{advocate.id}",
                          advocate_id=advocate.id)
        told = _tell(advocate, "advocate_resumed",
                     {"availability_link": external_url("portal.availability"),
                      "quarterly_limit": advocate.quarterly_limit}, event)
        change = StatusChange(advocate.account.name, advocate.status, told=told)
    return change


def retire(advocate_id: int, *, by: Account, reason: str, now: datetime | None = None) -> StatusChange:
    """A coordinator retires an advocate (active or paused) for good, saying why: pending asks
    withdrawn, calls not yet held cancelled, pending tier suggestions superseded; the advocate
    thanked by e-mail. Their history, points and data stay theirs to see and export."""
    now = now or utcnow()
    reason = check_text(reason, limit=REASON_MAX_LENGTH, what="why they retire", required=True,
                        field_name="reason")
    with transaction(lock=advocate_id) as advocate:
        check_status_change(advocate, AdvocateStatus.RETIRED)
        _set_status(advocate, AdvocateStatus.RETIRED, reason, now)
        withdrawn = _withdraw_pending_asks(advocate, now, by=by, reason="the advocate retired")
        cancelled = _cancel_upcoming_calls(advocate, now, by=by)
        tiers.supersede_pending_step(advocate.id, now)
        event = add_event("advocate.retired", actor=by, subject=f"advocate:{advocate.id}",
                          advocate_id=advocate.id, reason=reason, asks_withdrawn=withdrawn,
                          calls_cancelled=cancelled)
        told = _tell(advocate, "advocate_retired",
                     {"asks_withdrawn": withdrawn, "calls_cancelled": cancelled,
                      "portal_link": external_url("portal.home")}, event)
        change = StatusChange(advocate.account.name, advocate.status, asks_withdrawn=withdrawn,
                              calls_cancelled=cancelled, told=told)
    return change


# --- points and notes ------------------------------------------------------------------------


@dataclass(frozen=True)
class Awarded:
    name: str
    points: int
    reason: PointsReason
    balance: int


def award_points(advocate_id: int, reason: str | PointsReason, note: str, *, by: Account,
                 once: Once | None = None) -> Awarded:
    """Points for a case study, an event or a review, as the program's settings value them: a row
    in the ledger (``points.award``), never a balance edited. ``once``: the form's submission
    key; sent again, ``submissions.AlreadySubmitted`` and nothing more is awarded."""
    reason = award_reason(reason)
    note = check_text(note, limit=POINTS_NOTE_MAX_LENGTH, what="what the points are for", required=True,
                      field_name="note")
    with transaction(lock=advocate_id) as advocate:
        claimed = submissions.claim(by.id, once.scope, once.key) if once else None
        if not advocate.account.active:
            raise StatusConflict(f"{advocate.account.name}'s account is closed: no points can be awarded. "
                                 "Nothing was changed.")
        amount = award_amount(reason)
        entry = points.award(advocate.id, amount, reason, note=note, by_id=by.id)
        db.session.flush()
        if claimed is not None:
            submissions.done(claimed, entry.id)
        add_event("advocate.points_awarded", actor=by, subject=f"advocate:{advocate.id}",
                  advocate_id=advocate.id, points=amount, reason=reason.value, entry_id=entry.id)
        result = Awarded(advocate.account.name, amount, reason, points.balance(advocate.id))
    return result


def add_note(advocate_id: int, body: str, *, by: Account, once: Once | None = None) -> AdvocateNote:
    """An internal note on the advocate, for staff only: never in the portal, the e-mails or the
    advocate's data export; erased when they leave the program."""
    body = check_text(body, limit=NOTE_MAX_LENGTH, what="the note", required=True, field_name="body")
    with transaction(lock=advocate_id) as advocate:
        claimed = submissions.claim(by.id, once.scope, once.key) if once else None
        note = AdvocateNote(advocate_id=advocate.id, author_id=by.id, body=body)
        db.session.add(note)
        db.session.flush()
        if claimed is not None:
            submissions.done(claimed, note.id)
        add_event("advocate.note_added", actor=by, subject=f"advocate:{advocate.id}", advocate_id=advocate.id,
                  note_id=note.id)
    return note


# --- the timeline ----------------------------------------------------------------------------

# Audit events the timeline shows, in words.
EVENT_WORDS = {
    "advocate.tier_changed": "Tier changed",
    "advocate.paused": "Paused",
    "advocate.resumed": "Back in the program",
    "advocate.retired": "Retired",
    "advocate.tier_suggestion_dismissed": "Tier suggestion dismissed",
}


@dataclass(frozen=True)
class Moment:
    """One line of the timeline."""

    at: datetime
    kind: str  # ask, engagement, feedback, points, status, note
    record: Any  # the Ask, Engagement, Feedback, PointsEntry, AuditEvent or AdvocateNote
    order: int = field(default=0)  # ties broken by the record's id

    @property
    def words(self) -> str:
        return EVENT_WORDS.get(self.record.kind, self.record.kind) if self.kind == "status" else ""


def timeline(advocate_id: int, limit: int = TIMELINE_SHOWN) -> list[Moment]:
    """The latest ``limit`` things that happened to the advocate, newest first: asks,
    engagements, feedback on them, points, status and tier changes, notes. One query per kind,
    each limited, whatever the history's length."""
    asks = db.session.scalars(
        select(Ask).where(Ask.advocate_id == advocate_id).options(joinedload(Ask.request))
        .order_by(Ask.created_at.desc(), Ask.id.desc()).limit(limit)
    ).all()
    engagements = db.session.scalars(
        select(Engagement).where(Engagement.advocate_id == advocate_id)
        .options(joinedload(Engagement.request), joinedload(Engagement.format))
        .order_by(Engagement.created_at.desc(), Engagement.id.desc()).limit(limit)
    ).all()
    feedback = db.session.scalars(
        select(Feedback).join(Engagement, Engagement.id == Feedback.engagement_id)
        .where(Engagement.advocate_id == advocate_id)
        .options(joinedload(Feedback.engagement).joinedload(Engagement.request))
        .order_by(Feedback.created_at.desc(), Feedback.id.desc()).limit(limit)
    ).all()
    ledger = db.session.scalars(
        select(PointsEntry).where(PointsEntry.advocate_id == advocate_id)
        .order_by(PointsEntry.created_at.desc(), PointsEntry.id.desc()).limit(limit)
    ).all()
    events = db.session.scalars(
        select(AuditEvent)
        .where(AuditEvent.subject == f"advocate:{advocate_id}", AuditEvent.kind.in_(EVENT_WORDS))
        .order_by(AuditEvent.at.desc(), AuditEvent.id.desc()).limit(limit)
    ).all()
    notes = db.session.scalars(
        select(AdvocateNote).where(AdvocateNote.advocate_id == advocate_id)
        .options(joinedload(AdvocateNote.author))
        .order_by(AdvocateNote.created_at.desc(), AdvocateNote.id.desc()).limit(limit)
    ).all()
    moments = (
        [Moment(a.responded_at or a.created_at, "ask", a, a.id) for a in asks]
        + [Moment(e.completed_at or e.cancelled_at or e.booked_at or e.created_at, "engagement", e, e.id)
           for e in engagements]
        + [Moment(f.created_at, "feedback", f, f.id) for f in feedback]
        + [Moment(p.created_at, "points", p, p.id) for p in ledger]
        + [Moment(e.at, "status", e, e.id) for e in events]
        + [Moment(n.created_at, "note", n, n.id) for n in notes]
    )
    moments.sort(key=lambda m: (m.at, m.order), reverse=True)
    return moments[:limit]


def actor_names(moments: Iterable[Moment]) -> dict[int, str]:
    """The names of the staff behind the status lines (one query)."""
    ids = {m.record.actor_id for m in moments if m.kind == "status" and m.record.actor_id}
    if not ids:
        return {}
    return dict(db.session.execute(select(Account.id, Account.name).where(Account.id.in_(ids))).all())


# --- many advocates at once (the pool) -------------------------------------------------------

BULK_ACTIONS = {"tier": "Change the tier", "pause": "Pause", "nudge": "Send the availability nudge"}


@dataclass(frozen=True)
class BulkItem:
    advocate: Advocate
    skip: str | None  # why the action leaves this advocate out; None: it applies


@dataclass(frozen=True)
class BulkPlan:
    action: str
    tier: Tier | None
    items: list[BulkItem]

    @property
    def applies(self) -> list[BulkItem]:
        return [i for i in self.items if i.skip is None]

    @property
    def skipped(self) -> list[BulkItem]:
        return [i for i in self.items if i.skip is not None]


@dataclass(frozen=True)
class BulkResult:
    action: str
    changed: list[str]  # the names of those it applied to
    skipped: list[tuple[str, str]]  # (name, why)


def _bulk_input(advocate_ids: Iterable[int], action: str,
                tier_id: int | None) -> tuple[list[int], Tier | None]:
    if action not in BULK_ACTIONS:
        raise errors.Invalid("Pick what to do with the advocates chosen. Nothing was changed.", "action")
    ids = sorted(set(advocate_ids))
    if not ids:
        raise errors.Invalid("Choose at least one advocate. Nothing was changed.", "advocate")
    if len(ids) > BULK_MAX:
        raise errors.Invalid(f"Choose at most {BULK_MAX} advocates at once. Nothing was changed.", "advocate")
    tier = tiers.tier_by_id(tier_id) if action == "tier" else None
    return ids, tier


@dataclass(frozen=True)
class _Mail:
    """For the nudge: who unsubscribed from program mail, who was nudged today (two queries)."""

    unsubscribed: set[str]
    nudged: set[int]


def _mail_state(advocates: list[Advocate], action: str, now: datetime) -> _Mail:
    if action != "nudge":
        return _Mail(set(), set())
    return _Mail(unsubscribe.unsubscribed([a.account.email for a in advocates]),
                 nudges.nudged_today([a.id for a in advocates], now))


def _skip(advocate: Advocate, action: str, tier: Tier | None, mail: _Mail, now: datetime) -> str | None:
    """Why ``action`` leaves ``advocate`` out (the rule the plan and the change share)."""
    if action == "tier":
        return tiers.why_not_movable(advocate, tier)
    if action == "pause":
        return why_not(advocate, AdvocateStatus.PAUSED)
    return nudges.why_not_nudged(advocate, now, unsubscribed=mail.unsubscribed, nudged=mail.nudged)


def _bulk_advocates(ids: list[int]) -> list[Advocate]:
    return list(db.session.scalars(
        select(Advocate).where(Advocate.id.in_(ids))
        .options(joinedload(Advocate.account), joinedload(Advocate.tier), joinedload(Advocate.company))
        .order_by(Advocate.id)
    ))


def plan_bulk(advocate_ids: Iterable[int], action: str, tier_id: int | None = None,
              now: datetime | None = None) -> BulkPlan:
    """What ``apply_bulk`` would do, read only: for the confirmation page."""
    now = now or utcnow()
    ids, tier = _bulk_input(advocate_ids, action, tier_id)
    advocates = _bulk_advocates(ids)
    if not advocates:
        raise NotFound("None of the advocates chosen exists.")
    mail = _mail_state(advocates, action, now)
    return BulkPlan(action, tier, [BulkItem(a, _skip(a, action, tier, mail, now)) for a in advocates])


def apply_bulk(advocate_ids: Iterable[int], action: str, *, by: Account, tier_id: int | None = None,
               reason: str = "", now: datetime | None = None) -> BulkResult:
    """Change the tier of, pause, or nudge the advocates chosen, in one transaction under all
    their locks (in id order); those the action does not fit are skipped and said why."""
    now = now or utcnow()
    ids, _tier = _bulk_input(advocate_ids, action, tier_id)
    reason = optional_reason(reason)
    existing = list(db.session.scalars(select(Advocate.id).where(Advocate.id.in_(ids))))
    if not existing:
        raise NotFound("None of the advocates chosen exists.")
    changed: list[str] = []
    skipped: list[tuple[str, str]] = []
    with transaction(lock=existing) as locked:
        tier = tiers.tier_by_id(tier_id) if action == "tier" else None
        mail = _mail_state(locked, action, now)
        for advocate in locked:
            why = _skip(advocate, action, tier, mail, now)
            if why is not None:
                skipped.append((advocate.account.name, why))
                continue
            if action == "tier":
                tiers.change_tier_step(advocate, tier, by=by, reason=reason, now=now)
            elif action == "pause":
                pause_step(advocate, by=by, reason=reason, now=now)
            else:
                nudges.nudge_now_step(advocate, now)
            changed.append(advocate.account.name)
        add_event("advocates.bulk_changed", actor=by, subject="advocates", action=action,
                  tier=tier.name if tier else None, changed=len(changed), skipped=len(skipped),
                  advocate_ids=existing)
    return BulkResult(action, changed, skipped)
