"""Perks: the tier's standing benefits, the catalogue, and redeeming points for a perk; and,
for staff, the queue of redemptions to fulfil or reject (a rejection refunds the points).

Redeeming checks and debits under the advocate's row lock, in one transaction: the redemption,
its negative ledger row, the audit event and the coordinators' e-mail commit together, or
nothing does. Two tabs redeeming at once queue on the lock, so the second one sees the first
one's debit and cannot overspend; the same form sent twice (its submission key) redeems once.
The rules are plain functions raising ``RedemptionError``.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import joinedload

from mail.outbox import enqueue
from models import (
    Account,
    Advocate,
    Perk,
    PerkKind,
    PointsReason,
    Redemption,
    RedemptionStatus,
    Role,
    Tier,
    db,
)
from models.types import utcnow
from workflows import errors, points, submissions
from workflows.audit import add_event
from workflows.links import external_url
from workflows.submissions import Once
from workflows.transaction import transaction

NOTE_MAX_LENGTH = 500
# Redemptions the perks page lists, newest first.
REDEMPTIONS_SHOWN = 50
# The staff queue: requested redemptions, oldest first, and the latest decided ones.
QUEUE_SHOWN = 200
DECIDED_SHOWN = 50


class RedemptionError(errors.Invalid):
    """A redemption (or a decision on one) refused by a rule; the message says why."""


class NotEnoughPoints(RedemptionError):
    pass


class AlreadyDecided(errors.Conflict):
    """The redemption was fulfilled or rejected already."""


class NotFound(errors.NotFound):
    """No such advocate, perk or redemption."""


# --- the rules -------------------------------------------------------------------------------


def unlocked(perk: Perk, tier: Tier | None) -> bool:
    """Rank 1 is the top tier: an advocate of rank r may use perks whose tier rank is r or more."""
    return tier is not None and perk.min_tier.rank >= tier.rank


def check_note(note: str) -> None:
    if len(note) > NOTE_MAX_LENGTH:
        raise RedemptionError(f"Keep the note to {NOTE_MAX_LENGTH} characters or fewer.")


def check_redeemable(perk: Perk, tier: Tier | None, balance: int) -> None:
    """The perk is offered, costs points, is unlocked by the tier, and the balance covers it."""
    if not perk.active:
        raise RedemptionError(f"“{perk.name}” is no longer offered.")
    if perk.kind != PerkKind.REDEEMABLE or not perk.points_cost:
        raise RedemptionError(
            f"“{perk.name}” is a standing benefit of the {perk.min_tier.name} tier: "
            "there is nothing to redeem."
        )
    if not unlocked(perk, tier):
        yours = f"you are in the {tier.name} tier" if tier else "you have no tier yet"
        raise RedemptionError(
            f"“{perk.name}” is for the {perk.min_tier.name} tier and above; {yours}."
        )
    if balance < perk.points_cost:
        raise NotEnoughPoints(
            f"“{perk.name}” costs {perk.points_cost} points and you have {balance}: "
            f"{perk.points_cost - balance} more to go."
        )


def check_undecided(redemption: Redemption) -> None:
    if redemption.status != RedemptionStatus.REQUESTED:
        raise AlreadyDecided(f"This redemption is already {redemption.status.value}. Nothing was changed.")


# --- the changes -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Redeemed:
    redemption_id: int
    perk_name: str
    points_spent: int
    balance: int  # what is left after the debit


def redeem(advocate_id: int, perk_id: int, note: str = "", *, once: Once | None = None) -> Redeemed:
    """Spend points on a perk: a requested redemption and its debit, or ``RedemptionError``.

    ``once``: the form's submission key; the same key again raises
    ``submissions.AlreadySubmitted`` naming the redemption it made, and spends nothing more."""
    note = note.strip()
    with transaction(lock=advocate_id) as advocate:  # first: everything below reads the state after it
        claimed = submissions.claim(advocate.account_id, once.scope, once.key) if once else None
        perk = _perk(perk_id)
        check_note(note)
        balance = points.balance(advocate_id)
        check_redeemable(perk, advocate.tier, balance)
        cost = perk.points_cost
        redemption = Redemption(
            perk=perk, advocate_id=advocate_id, status=RedemptionStatus.REQUESTED,
            points_spent=cost, note=note,
        )
        db.session.add(redemption)
        db.session.flush()  # the ledger row points at the redemption's id
        if claimed is not None:
            submissions.done(claimed, redemption.id)
        points.award(
            advocate_id, -cost, PointsReason.REDEMPTION,
            source_type="redemption", source_id=redemption.id, note=perk.name[:200],
            by_id=advocate.account_id,
        )
        add_event(
            "perk.redeemed", actor=advocate.account, subject=f"redemption:{redemption.id}",
            perk=perk.name, points=cost,
        )
        _tell_coordinators(advocate, perk, redemption)
        result = Redeemed(redemption.id, perk.name, cost, balance - cost)
    return result


def fulfil(redemption_id: int, *, by: Account, note: str = "") -> Redemption:
    """Staff: the perk was given. The points stay spent."""
    return _decide(redemption_id, RedemptionStatus.FULFILLED, by=by, note=note)


def reject(redemption_id: int, *, by: Account, note: str = "") -> Redemption:
    """Staff: the perk cannot be given; the points spent come back through the ledger."""
    return _decide(redemption_id, RedemptionStatus.REJECTED, by=by, note=note)


def _decide(redemption_id: int, status: RedemptionStatus, *, by: Account, note: str) -> Redemption:
    """The decision, the advocate's e-mail (with the note, which their perks page shows too), a
    refund for a rejection, and the audit event: one commit. ``AlreadyDecided`` (409) when it
    was decided before, ``NotFound`` when there is no such redemption."""
    note = note.strip()
    advocate_id = db.session.scalar(select(Redemption.advocate_id).where(Redemption.id == redemption_id))
    if advocate_id is None:
        raise NotFound("There is no such redemption.")
    with transaction(lock=advocate_id):
        redemption = db.session.scalars(
            select(Redemption)
            .where(Redemption.id == redemption_id)
            .options(joinedload(Redemption.perk))
            .execution_options(populate_existing=True)
        ).one()
        check_undecided(redemption)
        check_note(note)
        redemption.status = status
        redemption.decided_at = utcnow()
        redemption.decided_by_id = by.id
        redemption.decision_note = note
        if status == RedemptionStatus.REJECTED and redemption.points_spent > 0:
            points.award(
                advocate_id, redemption.points_spent, PointsReason.REFUND,
                source_type="redemption", source_id=redemption.id,
                note=redemption.perk.name[:200], by_id=by.id,
            )
        account = redemption.advocate.account
        enqueue(
            template="redemption_decided",
            to=[account.email],
            context={
                "name": account.name,
                "perk_name": redemption.perk.name,
                "fulfilled": status == RedemptionStatus.FULFILLED,
                "points": redemption.points_spent,
                "note": note,
                "perks_link": external_url("portal.perks") + f"#redemption-{redemption.id}",
            },
            idempotency_key=f"redemption-decided:{redemption.id}",
        )
        add_event(
            f"perk.redemption_{status.value}", actor=by, subject=f"redemption:{redemption.id}",
            advocate_id=advocate_id, perk=redemption.perk.name, points=redemption.points_spent,
        )
    return redemption


def _perk(perk_id: int) -> Perk:
    perk = db.session.scalars(
        select(Perk).where(Perk.id == perk_id).options(joinedload(Perk.min_tier))
    ).one_or_none()
    if perk is None:
        raise NotFound("There is no such perk.")
    return perk


def _tell_coordinators(advocate: Advocate, perk: Perk, redemption: Redemption) -> None:
    """One e-mail to the program's coordinators, who fulfil the perk; none if there are none."""
    to = list(
        db.session.scalars(
            select(Account.email)
            .where(Account.role == Role.COORDINATOR, Account.active.is_(True))
            .order_by(Account.id)
        )
    )
    if not to:
        return
    enqueue(
        template="redemption_requested",
        to=to,
        context={
            "advocate": advocate,
            "perk": perk,
            "redemption": redemption,
            "link": queue_link(redemption.id),
        },
        idempotency_key=f"redemption-requested:{redemption.id}",
    )


def queue_link(redemption_id: int) -> str:
    """The redemption in the staff queue, for an e-mail."""
    return external_url("admin.redemptions") + f"#redemption-{redemption_id}"


# --- the pages -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Queue:
    """The staff queue, read in a fixed number of queries."""

    requested: list[Redemption]  # oldest first, at most QUEUE_SHOWN
    waiting: int  # how many are requested in all
    decided: list[Redemption]  # latest decision first, at most DECIDED_SHOWN


def _with_people(query):
    return query.options(
        joinedload(Redemption.perk),
        joinedload(Redemption.advocate).options(joinedload(Advocate.account), joinedload(Advocate.company)),
        joinedload(Redemption.decided_by),
    )


def queue() -> Queue:
    """The redemptions waiting for a coordinator, oldest first, and the latest decided ones."""
    requested = db.session.scalars(
        _with_people(select(Redemption))
        .where(Redemption.status == RedemptionStatus.REQUESTED)
        .order_by(Redemption.requested_at, Redemption.id)
        .limit(QUEUE_SHOWN)
    ).all()
    waiting = len(requested)
    if waiting == QUEUE_SHOWN:
        waiting = db.session.scalar(
            select(func.count()).select_from(Redemption)
            .where(Redemption.status == RedemptionStatus.REQUESTED)
        )
    decided = db.session.scalars(
        _with_people(select(Redemption))
        .where(Redemption.status != RedemptionStatus.REQUESTED)
        .order_by(Redemption.decided_at.desc().nulls_last(), Redemption.id.desc())
        .limit(DECIDED_SHOWN)
    ).all()
    return Queue(requested=list(requested), waiting=waiting, decided=list(decided))



@dataclass(frozen=True)
class Offer:
    """A perk as one advocate sees it: may they redeem it now, and if not, why not."""

    perk: Perk
    refusal: str | None  # None: redeemable now
    short_by: int  # points still missing (0 when the balance covers it)


@dataclass(frozen=True)
class PerksPage:
    """Everything the perks page shows, read in a fixed number of queries."""

    advocate: Advocate
    tier: Tier | None
    balance: int
    benefits: list[str]  # the tier's standing benefits, as the tier lists them
    benefit_perks: list[Perk]  # benefit perks of the catalogue their tier unlocks
    offers: list[Offer]  # redeemable perks their tier unlocks, cheapest first
    locked: list[Perk]  # perks of higher tiers, lowest tier needed first
    redemptions: list[Redemption]  # newest first, at most REDEMPTIONS_SHOWN
    more_redemptions: bool


def _advocate(advocate_id: int) -> Advocate:
    advocate = db.session.scalars(
        select(Advocate).where(Advocate.id == advocate_id).options(joinedload(Advocate.tier))
    ).one_or_none()
    if advocate is None:
        raise NotFound(f"There is no advocate with id {advocate_id}.")
    return advocate


def _offer(perk: Perk, tier: Tier | None, balance: int) -> Offer:
    try:
        check_redeemable(perk, tier, balance)
    except RedemptionError as refusal:
        return Offer(perk, str(refusal), max(0, (perk.points_cost or 0) - balance))
    return Offer(perk, None, 0)


def overview(advocate_id: int) -> PerksPage:
    advocate = _advocate(advocate_id)
    tier = advocate.tier
    balance = points.balance(advocate_id)
    catalogue = db.session.scalars(
        select(Perk).where(Perk.active.is_(True)).options(joinedload(Perk.min_tier))
    ).all()
    mine = [p for p in catalogue if unlocked(p, tier)]
    rows = list(
        db.session.scalars(
            select(Redemption)
            .where(Redemption.advocate_id == advocate_id)
            .options(joinedload(Redemption.perk))
            .order_by(Redemption.requested_at.desc(), Redemption.id.desc())
            .limit(REDEMPTIONS_SHOWN + 1)
        )
    )
    return PerksPage(
        advocate=advocate,
        tier=tier,
        balance=balance,
        benefits=list(tier.benefits or []) if tier else [],
        benefit_perks=sorted(
            (p for p in mine if p.kind == PerkKind.BENEFIT), key=lambda p: (p.min_tier.rank, p.name)
        ),
        offers=[
            _offer(p, tier, balance)
            for p in sorted(mine, key=lambda p: (p.points_cost or 0, p.name))
            if p.kind == PerkKind.REDEEMABLE
        ],
        locked=sorted(
            (p for p in catalogue if not unlocked(p, tier)),
            key=lambda p: (-p.min_tier.rank, p.points_cost or 0, p.name),
        ),
        redemptions=rows[:REDEMPTIONS_SHOWN],
        more_redemptions=len(rows) > REDEMPTIONS_SHOWN,
    )
