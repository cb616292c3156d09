"""Tiers: what each one is (names, quotas, thresholds, benefits, edited by an admin), and how an
advocate moves between them (a coordinator's change, or a suggestion from the points earned over
the last 12 months that the nightly job makes and a coordinator approves, or that applies itself
where the setting says so). Quotas are derived from the tier, so they follow a change at once.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import joinedload

from mail.outbox import enqueue
from models import (
    Account,
    Advocate,
    AdvocateStatus,
    AuditEvent,
    Tier,
    TierSuggestion,
    TierSuggestionStatus,
    db,
)
from models._columns import name_key
from models.types import utcnow
from workflows import errors, points, settings
from workflows.audit import add_event
from workflows.links import external_url
from workflows.text import one_line, unstorable, whole_number
from workflows.transaction import transaction

# --- moving advocates between tiers ----------------------------------------------------------

log = logging.getLogger(__name__)

TIER_REASON_MAX_LENGTH = 300
# Pending suggestions the queue shows at once, the most points first; bulk decisions at most.
QUEUE_SHOWN = 200
BULK_MAX = QUEUE_SHOWN
# The audit subject that marks a day's run of the suggestion job: it runs once a (UTC) day.
RUN_SUBJECT = "tier-suggestions:{day}"
# Who may be moved between tiers: not a retired advocate, whose profile is closed.
MOVABLE = frozenset({AdvocateStatus.CANDIDATE, AdvocateStatus.INVITED, AdvocateStatus.ACTIVE,
                     AdvocateStatus.PAUSED})
# Who hears of a change: advocates in the program, paused or not.
TOLD = frozenset({AdvocateStatus.ACTIVE, AdvocateStatus.PAUSED})


class TierNotFound(errors.NotFound):
    """No such tier, advocate or suggestion."""


class SuggestionDecided(errors.Conflict):
    """The suggestion was approved, dismissed or superseded already."""


@dataclass(frozen=True)
class TierChange:
    advocate_id: int
    before: Tier | None
    after: Tier
    cap_before: int | None  # the personal cap, when it was lowered to the new quota
    cap_after: int | None

    @property
    def cap_lowered(self) -> bool:
        return self.cap_before is not None and self.cap_before != self.cap_after

    @property
    def promoted(self) -> bool:
        return self.before is None or self.after.rank < self.before.rank


def check_reason(reason: str, *, required: bool = False, what: str = "the change") -> str:
    """A reason on one line, at most ``TIER_REASON_MAX_LENGTH`` characters (``Invalid``)."""
    reason = " ".join((reason or "").split())
    if required and not reason:
        raise errors.Invalid(f"Say why: the reason for {what} is kept for the program team. "
                             "Nothing was changed.", "reason")
    if len(reason) > TIER_REASON_MAX_LENGTH:
        raise errors.Invalid(f"Keep the reason to {TIER_REASON_MAX_LENGTH} characters or fewer. "
                             "Nothing was changed.", "reason")
    return reason


def tier_by_id(tier_id: int | None) -> Tier:
    tier = db.session.get(Tier, tier_id) if tier_id is not None else None
    if tier is None:
        raise errors.Invalid("Pick a tier from the list. Nothing was changed.", "tier")
    return tier


def why_not_movable(advocate: Advocate, tier: Tier) -> str | None:
    """Why ``advocate`` cannot be moved to ``tier``, in words; None when they can."""
    if advocate.status not in MOVABLE:
        return "retired: their profile is closed"
    if advocate.tier_id == tier.id:
        return f"already in the {tier.name} tier"
    return None


def change_tier_step(advocate: Advocate, tier: Tier, *, by: Account | None, reason: str,
                     suggestion: TierSuggestion | None = None, now: datetime | None = None) -> TierChange:
    """Move the locked ``advocate`` to ``tier`` (flushes only, in the caller's transaction).

    The quota follows the tier at once (it is derived); a personal cap above the new quota is
    lowered to it, and the advocate's e-mail says so. Pending suggestions made for the old tier
    are superseded (``suggestion``: the one being approved, decided by the caller first). The
    advocate, when in the program, gets the e-mail naming the new tier's benefits."""
    now = now or utcnow()
    before = advocate.tier
    cap_before = advocate.quarterly_cap
    cap_lowered = cap_before is not None and cap_before > tier.quarterly_quota
    advocate.tier = tier
    if cap_lowered:
        advocate.quarterly_cap = tier.quarterly_quota
    supersede_pending_step(advocate.id, now)
    change = TierChange(advocate.id, before, tier, cap_before if cap_lowered else None,
                        tier.quarterly_quota if cap_lowered else None)
    event = add_event(
        "advocate.tier_changed", actor=by, subject=f"advocate:{advocate.id}",
        advocate_id=advocate.id, from_tier=before.name if before else None, to_tier=tier.name,
        reason=reason, cap_lowered_from=change.cap_before, cap_lowered_to=change.cap_after,
        suggestion_id=suggestion.id if suggestion is not None else None,
    )
    db.session.flush()  # the event's id names the e-mail
    account = advocate.account
    if advocate.status in TOLD and account.active:
        enqueue(
            template="tier_changed",
            to=[account.email],
            context={
                "name": account.name,
                "tier_name": tier.name,
                "previous_tier": before.name if before else None,
                "promoted": change.promoted,
                "benefits": list(tier.benefits or []),
                "quarterly_quota": tier.quarterly_quota,
                "cap_before": change.cap_before,
                "cap_after": change.cap_after,
                "portal_link": external_url("portal.home"),
            },
            idempotency_key=f"tier-changed:{advocate.id}:{event.id}",
        )
    return change


def supersede_pending_step(advocate_id: int, now: datetime) -> int:
    """Flush-only: the advocate's pending suggestions no longer hold (their tier changed, or they
    retired) → how many."""
    pending = db.session.scalars(
        select(TierSuggestion).where(TierSuggestion.advocate_id == advocate_id,
                                     TierSuggestion.status == TierSuggestionStatus.PENDING)
    ).all()
    for old in pending:
        old.status, old.decided_at = TierSuggestionStatus.SUPERSEDED, now
    return len(pending)


def change_tier(advocate_id: int, tier_id: int | None, *, by: Account, reason: str = "",
                now: datetime | None = None) -> TierChange:
    """A coordinator moves an advocate to another tier (``Invalid`` for an unknown tier,
    ``Conflict`` for a retired advocate or the tier they are in already)."""
    reason = check_reason(reason)
    with transaction(lock=advocate_id) as advocate:
        tier = tier_by_id(tier_id)
        refusal = why_not_movable(advocate, tier)
        if refusal is not None:
            raise errors.Conflict(f"{advocate.account.name} is {refusal}. Nothing was changed.")
        change = change_tier_step(advocate, tier, by=by, reason=reason, now=now)
    return change


# --- suggestions: the nightly job and the coordinator's queue --------------------------------


def suggestion_for(points_earned: int, current: Tier | None, tiers: Iterable[Tier]) -> Tier | None:
    """The tier the points over the last 12 months call for, when it is not the current one."""
    suggested = points.suggested_tier(points_earned, list(tiers))
    if suggested is None or (current is not None and suggested.id == current.id):
        return None
    return suggested


def suggest_tiers(now: datetime | None = None) -> int:
    """The nightly job: compare each active advocate's points over the last 12 months with the
    tier thresholds, and suggest a promotion or demotion → how many suggestions it made.

    Once a day (a second run the same UTC day does nothing), and safe to run twice at once: each
    advocate's suggestion is decided under their row lock, where the pending one is read again.
    A demotion waits until the advocate has been a whole window (12 months) in the program and in
    their tier: the points of a shorter time say nothing against it. At most one suggestion is
    pending per advocate: a different one supersedes it, the same one leaves it be, and one the
    coordinator dismissed is made again only once the points moved further its way. Where
    ``TIER_CHANGES_AUTOMATIC`` is on, a suggestion is approved at once (and one still pending from
    before the setting was turned on, at the next run)."""
    now = now or utcnow()
    day = RUN_SUBJECT.format(day=now.date().isoformat())
    if db.session.scalar(select(AuditEvent.id).where(AuditEvent.kind == "tiers.suggested",
                                                     AuditEvent.subject == day).limit(1)) is not None:
        db.session.rollback()
        return 0
    tiers = list(db.session.scalars(select(Tier).order_by(Tier.rank)))
    by_id = {t.id: t for t in tiers}
    earned = points.earned_recently_by_advocate(Advocate.status == AdvocateStatus.ACTIVE, now=now)
    rows = db.session.execute(
        select(Advocate.id, Advocate.tier_id, Advocate.consent_at, Advocate.created_at)
        .where(Advocate.status == AdvocateStatus.ACTIVE)
    ).all()
    changed = _last_tier_changes()
    latest = _latest_suggestions()
    automatic = bool(settings.value("TIER_CHANGES_AUTOMATIC"))
    settled = now - points.TIER_WINDOW
    due: dict[int, tuple[int, int]] = {}  # advocate → (suggested tier, points)
    for advocate_id, tier_id, consent_at, created_at in rows:
        earned_points = earned.get(advocate_id, 0)
        wanted = suggestion_for(earned_points, by_id.get(tier_id), tiers)
        if wanted is not None and tier_id is not None and wanted.rank > by_id[tier_id].rank:
            since = max(filter(None, (consent_at or created_at, changed.get(advocate_id))))
            if since > settled:
                wanted = None  # a demotion waits for a whole window in the program and the tier
        last = latest.get(advocate_id)
        if wanted is None:
            if last is not None and last.status is TierSuggestionStatus.PENDING:
                due[advocate_id] = (0, earned_points)  # nothing to suggest any more: supersede
            continue
        if last is not None and (last.from_tier_id, last.to_tier_id) == (tier_id, wanted.id) and (
                (last.status is TierSuggestionStatus.PENDING and not automatic)
                or (last.status is TierSuggestionStatus.DISMISSED and not _further(last, earned_points))):
            continue  # (a pending one left from before the setting was on is applied below)
        due[advocate_id] = (wanted.id, earned_points)
    db.session.rollback()  # end the read: each advocate gets its own transaction below

    made = 0
    for advocate_id, (tier_id, earned_points) in due.items():
        try:
            with transaction(lock=advocate_id) as advocate:
                made += _suggest_step(advocate, by_id.get(tier_id), earned_points, automatic, now)
        except errors.WorkflowError as refusal:  # the advocate gone meanwhile
            log.warning("no tier suggestion for advocate %s: %s", advocate_id, refusal)
    with transaction():
        add_event("tiers.suggested", subject=day, ip=None, suggestions=made, automatic=automatic)
    return made


def _further(dismissed: TierSuggestion, earned_points: int) -> bool:
    """Whether the points moved on since ``dismissed`` was dismissed, the way it pointed: more for
    a promotion, fewer for a demotion (then the same suggestion is made again)."""
    before, after = dismissed.from_tier, dismissed.to_tier
    promotion = before is None or after.rank < before.rank
    return earned_points > dismissed.points if promotion else earned_points < dismissed.points


def _last_tier_changes() -> dict[int, datetime]:
    """When each advocate last changed tier, from the audit log (one grouped query)."""
    rows = db.session.execute(
        select(AuditEvent.subject, func.max(AuditEvent.at))
        .where(AuditEvent.kind == "advocate.tier_changed", AuditEvent.subject.like("advocate:%"))
        .group_by(AuditEvent.subject)
    ).all()
    return {int(subject.removeprefix("advocate:")): at for subject, at in rows}


def _latest_suggestions() -> dict[int, TierSuggestion]:
    """Each advocate's latest suggestion that was not superseded (one query)."""
    newest = (
        select(func.max(TierSuggestion.id))
        .where(TierSuggestion.status != TierSuggestionStatus.SUPERSEDED)
        .group_by(TierSuggestion.advocate_id)
    )
    return {s.advocate_id: s for s in db.session.scalars(
        select(TierSuggestion).where(TierSuggestion.id.in_(newest))
        .options(joinedload(TierSuggestion.from_tier), joinedload(TierSuggestion.to_tier)))}


def _suggest_step(advocate: Advocate, tier: Tier | None, earned_points: int, automatic: bool,
                  now: datetime) -> int:
    """Under the advocate's lock: supersede a pending suggestion that no longer holds, and make
    the new one (``tier`` None: none) → 1 when one was made."""
    if advocate.status is not AdvocateStatus.ACTIVE:
        return 0
    pending = db.session.scalars(
        select(TierSuggestion).where(TierSuggestion.advocate_id == advocate.id,
                                     TierSuggestion.status == TierSuggestionStatus.PENDING)
        .execution_options(populate_existing=True)
    ).all()
    same = next((p for p in pending if tier is not None
                 and (p.from_tier_id, p.to_tier_id) == (advocate.tier_id, tier.id)), None)
    if same is not None:  # made before, or meanwhile by another run
        if not automatic:
            return 0
        same.status, same.decided_at = TierSuggestionStatus.APPROVED, now
        change_tier_step(advocate, tier, by=None, reason="automatic, from the points of the last 12 months",
                         suggestion=same, now=now)
        return 1
    for old in pending:
        old.status, old.decided_at = TierSuggestionStatus.SUPERSEDED, now
    if tier is None or tier.id == advocate.tier_id:
        return 0
    suggestion = TierSuggestion(advocate_id=advocate.id, from_tier_id=advocate.tier_id, to_tier_id=tier.id,
                                points=earned_points, created_at=now)
    db.session.add(suggestion)
    db.session.flush()
    if automatic:
        suggestion.status, suggestion.decided_at = TierSuggestionStatus.APPROVED, now
        change_tier_step(advocate, tier, by=None, reason="automatic, from the points of the last 12 months",
                         suggestion=suggestion, now=now)
    return 1


@dataclass(frozen=True)
class Queue:
    pending: list[TierSuggestion]
    waiting: int  # pending in all (the list shows at most QUEUE_SHOWN)


def queue() -> Queue:
    """The pending suggestions, the most points first, with their advocates and tiers (two
    queries, whatever their number)."""
    pending = db.session.scalars(
        select(TierSuggestion)
        .where(TierSuggestion.status == TierSuggestionStatus.PENDING)
        .options(
            joinedload(TierSuggestion.advocate).joinedload(Advocate.account),
            joinedload(TierSuggestion.advocate).joinedload(Advocate.company),
            joinedload(TierSuggestion.from_tier),
            joinedload(TierSuggestion.to_tier),
        )
        .order_by(TierSuggestion.points.desc(), TierSuggestion.id)
        .limit(QUEUE_SHOWN)
    ).all()
    waiting = db.session.scalar(select(func.count()).select_from(TierSuggestion)
                                .where(TierSuggestion.status == TierSuggestionStatus.PENDING))
    return Queue(list(pending), int(waiting or 0))


def approve(suggestion_id: int, *, by: Account, now: datetime | None = None) -> TierChange:
    """A coordinator approves one suggestion: the tier changes (``change_tier_step``)."""
    decided = decide([suggestion_id], approve=True, by=by, now=now)
    if decided.skipped:
        raise SuggestionDecided(f"{decided.skipped[0][1]} Nothing was changed.")
    return decided.changes[0]


def dismiss(suggestion_id: int, *, by: Account, now: datetime | None = None) -> None:
    """A coordinator keeps the tier as it is."""
    decided = decide([suggestion_id], approve=False, by=by, now=now)
    if decided.skipped:
        raise SuggestionDecided(f"{decided.skipped[0][1]} Nothing was changed.")


@dataclass(frozen=True)
class Decided:
    approved: list[str]  # the advocates' names
    dismissed: list[str]
    skipped: list[tuple[str, str]]  # (the advocate's name, why)
    changes: list[TierChange]


def decide(suggestion_ids: Iterable[int], *, approve: bool, by: Account,
           now: datetime | None = None) -> Decided:
    """Approve or dismiss several suggestions in one transaction, under their advocates' locks;
    those decided meanwhile, or whose advocate moved tier or left the program, are skipped and
    said why. ``TierNotFound`` when none of the ids names a suggestion."""
    now = now or utcnow()
    ids = sorted(set(suggestion_ids))
    if len(ids) > BULK_MAX:
        raise errors.Invalid(f"Decide at most {BULK_MAX} suggestions at once. Nothing was changed.")
    owners = dict(db.session.execute(
        select(TierSuggestion.id, TierSuggestion.advocate_id).where(TierSuggestion.id.in_(ids))
    ).all()) if ids else {}
    if not owners:
        raise TierNotFound("There is no such tier suggestion.")
    approved: list[str] = []
    dismissed: list[str] = []
    skipped: list[tuple[str, str]] = []
    changes: list[TierChange] = []
    with transaction(lock=set(owners.values())):
        found = db.session.scalars(
            select(TierSuggestion).where(TierSuggestion.id.in_(owners))
            .options(joinedload(TierSuggestion.to_tier))
            .execution_options(populate_existing=True).order_by(TierSuggestion.id)
        ).all()
        for suggestion in found:
            advocate = suggestion.advocate
            name = advocate.account.name
            why = _why_undecidable(suggestion, advocate)
            if why is not None:
                skipped.append((name, why))
                continue
            suggestion.decided_at, suggestion.decided_by_id = now, by.id
            if approve:
                suggestion.status = TierSuggestionStatus.APPROVED
                changes.append(change_tier_step(advocate, suggestion.to_tier, by=by, suggestion=suggestion,
                                                reason="suggested from the points of the last 12 months",
                                                now=now))
                approved.append(name)
            else:
                suggestion.status = TierSuggestionStatus.DISMISSED
                add_event("advocate.tier_suggestion_dismissed", actor=by, subject=f"advocate:{advocate.id}",
                          advocate_id=advocate.id, suggestion_id=suggestion.id,
                          from_tier=suggestion.from_tier.name if suggestion.from_tier else None,
                          to_tier=suggestion.to_tier.name)
                dismissed.append(name)
    return Decided(approved, dismissed, skipped, changes)


def _why_undecidable(suggestion: TierSuggestion, advocate: Advocate) -> str | None:
    if suggestion.status is not TierSuggestionStatus.PENDING:
        return f"This suggestion for {advocate.account.name} was {suggestion.status.value} already."
    if advocate.tier_id != suggestion.from_tier_id:
        return f"{advocate.account.name} has changed tier since this was suggested."
    if advocate.status not in MOVABLE:
        return f"{advocate.account.name} is retired."
    return None


# --- the tiers themselves (admin) ------------------------------------------------------------

TIER_NAME_MAX_LENGTH = Tier.__table__.c.name.type.length
QUOTA_MAX = 50
THRESHOLD_MAX = 10_000_000
BENEFIT_MAX_LENGTH = 200
BENEFITS_MAX = 20
TIER_DESCRIPTION_MAX_LENGTH = 1000
TIER_FIELDS = ("name", "quarterly_quota", "points_threshold", "benefits", "description")


class TierInvalid(errors.Invalid):
    """The tier as typed breaks a rule; ``errors`` says which field and why."""


@dataclass(frozen=True)
class TierInput:
    """A tier as an admin typed it, each field checked on its own (``edit_tier`` checks it
    against the other tiers)."""

    name: str
    quarterly_quota: int
    points_threshold: int
    benefits: list[str]
    description: str


def _tier_text(raw: Mapping[str, Any], field: str) -> str:
    value = raw.get(field)
    return value if isinstance(value, str) else ""


def parse_tier(raw: Mapping[str, Any]) -> TierInput:
    """The tier form's text (``name``, ``quarterly_quota``, ``points_threshold``, ``benefits``
    one per line, ``description``): a ``TierInput`` or ``TierInvalid`` naming every field at
    fault. Changes nothing."""
    problems: dict[str, str] = {}
    for field in TIER_FIELDS:
        problem = unstorable(_tier_text(raw, field))
        if problem:
            problems[field] = f"This field {problem}."

    name = one_line(_tier_text(raw, "name"))
    if not name:
        problems.setdefault("name", "Give the tier a name, such as “Premier”.")
    elif len(name) > TIER_NAME_MAX_LENGTH:
        problems.setdefault("name", f"Keep the name to {TIER_NAME_MAX_LENGTH} characters or fewer.")

    quota = whole_number(_tier_text(raw, "quarterly_quota").strip(), 0, QUOTA_MAX)
    if quota is None:
        problems.setdefault("quarterly_quota", f"The quota is a whole number of calls from 0 to {QUOTA_MAX}.")

    threshold = whole_number(_tier_text(raw, "points_threshold").strip(), 0, THRESHOLD_MAX)
    if threshold is None:
        problems.setdefault("points_threshold",
                            f"The threshold is a whole number of points from 0 to {THRESHOLD_MAX:,}.")

    benefits = [one_line(line) for line in _tier_text(raw, "benefits").splitlines()]
    benefits = [line for line in benefits if line]
    if len(benefits) > BENEFITS_MAX:
        problems.setdefault("benefits", f"List at most {BENEFITS_MAX} benefits, one per line.")
    elif any(len(line) > BENEFIT_MAX_LENGTH for line in benefits):
        problems.setdefault("benefits", f"Keep each benefit to {BENEFIT_MAX_LENGTH} characters or fewer.")

    description = _tier_text(raw, "description").strip()
    if len(description) > TIER_DESCRIPTION_MAX_LENGTH:
        problems.setdefault("description",
                            f"Keep the description to {TIER_DESCRIPTION_MAX_LENGTH} characters or fewer.")

    if problems:
        first = next(iter(problems.values()))
        raise TierInvalid(first if len(problems) == 1 else "Some fields need another look.",
                          errors=problems)
    return TierInput(name=name, quarterly_quota=quota, points_threshold=threshold,
                     benefits=benefits, description=description)


def check_thresholds(tiers: Sequence[Tier], edited: Tier, threshold: int) -> None:
    """Thresholds rise with rank (rank 1 is the top tier): the edited tier's threshold is at
    least the one of the tier below it and at most the one of the tier above it."""
    ordered = sorted(tiers, key=lambda t: t.rank)
    above = [t for t in ordered if t.rank < edited.rank]
    below = [t for t in ordered if t.rank > edited.rank]
    if above and threshold > above[-1].points_threshold:
        higher = above[-1]
        raise TierInvalid(
            f"The {higher.name} tier above needs {higher.points_threshold} points: a lower tier "
            f"cannot need more. Raise the {higher.name} threshold first.", "points_threshold",
        )
    if below and threshold < below[0].points_threshold:
        lower = below[0]
        raise TierInvalid(
            f"The {lower.name} tier below needs {lower.points_threshold} points: a higher tier "
            f"cannot need fewer. Lower the {lower.name} threshold first.", "points_threshold",
        )


@dataclass(frozen=True)
class TierChanged:
    tier: Tier
    changes: dict[str, list[Any]]  # field → [before, after]; empty when nothing changed
    caps_above_quota: int  # advocates of the tier whose personal cap is above its quota


def edit_tier(tier_id: int, data: TierInput, *, by: Account) -> TierChanged:
    """Change a tier's name, quota, threshold, benefits or description, audited. Every tier's
    row is locked (in id order) first, so two admins editing neighbouring tiers cannot both
    break the rising thresholds. ``NotFound`` for no such tier; ``TierInvalid`` for a name
    another tier has or a threshold out of order.

    The quota is where every advocate's limit comes from (``Advocate.quarterly_limit``), so a
    new quota applies at once; a personal cap above a lowered quota stays as the advocate set
    it, and the lower of the two is their limit."""
    with transaction():
        tiers = list(db.session.scalars(
            select(Tier).order_by(Tier.id).with_for_update().execution_options(populate_existing=True)
        ))
        tier = next((t for t in tiers if t.id == tier_id), None)
        if tier is None:
            raise errors.NotFound("There is no such tier.")
        taken = next((t for t in tiers if t.id != tier.id and name_key(t.name) == name_key(data.name)), None)
        if taken is not None:
            raise TierInvalid(f"Another tier is called {taken.name}: give this one another name.", "name")
        check_thresholds(tiers, tier, data.points_threshold)
        before = {name: getattr(tier, name) for name in TIER_FIELDS}
        after = {
            "name": data.name, "quarterly_quota": data.quarterly_quota,
            "points_threshold": data.points_threshold, "benefits": list(data.benefits),
            "description": data.description,
        }
        changes = {name: [before[name], after[name]] for name in TIER_FIELDS if before[name] != after[name]}
        if changes:
            for name, value in after.items():
                setattr(tier, name, value)
            db.session.flush()
            add_event("tier.changed", actor=by, subject=f"tier:{tier.id}", name=tier.name, changes=changes)
        capped = db.session.scalar(
            select(func.count()).select_from(Advocate).where(
                Advocate.tier_id == tier.id, Advocate.quarterly_cap > tier.quarterly_quota
            )
        )
    return TierChanged(tier, changes, capped)


def tiers_page() -> list[Tier]:
    """Every tier, the top one (rank 1) first."""
    return list(db.session.scalars(select(Tier).order_by(Tier.rank)))
