"""Perks: the tier's standing benefits, the catalogue, and redeeming points for a perk; and,
for staff, the queue of redemptions to fulfil or reject (a rejection refunds the points).

Redeeming checks and debits under the advocate's row lock, in one transaction: the redemption,
its negative ledger row, the audit event and the coordinators' e-mail commit together, or
nothing does. Two tabs redeeming at once queue on the lock, so the second one sees the first
one's debit and cannot overspend; the same form sent twice (its submission key) redeems once.
The rules are plain functions raising ``RedemptionError``.

Stock: a perk may have a limited number of units on offer (``Perk.stock``). What is left is
derived, never stored: the stock minus the redemptions that were not rejected, so a rejection
gives its unit back by itself. Two advocates redeeming the last unit at once hold two different
advocate locks, so redeeming also locks the perk's row (``lock_perk``: ``SELECT … FOR UPDATE``
on PostgreSQL; SQLite's write transaction serialises every writer already), after the
advocate's, and counts what was claimed under it.

For admins, the catalogue itself: create, edit and retire perks (``parse_perk``,
``create_perk``, ``edit_perk``, ``retire_perk``), each change audited. A retired perk is no
longer offered but stays in the history: its redemptions keep naming it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import contains_eager, joinedload

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
from workflows.text import one_line, unstorable, whole_number
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


class OutOfStock(RedemptionError):
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


def units_left(perk: Perk, claimed: int) -> int | None:
    """Units of the perk still on offer, given how many were claimed (redemptions not rejected);
    None when its stock is unlimited."""
    if perk.stock is None:
        return None
    return max(0, perk.stock - claimed)


def check_redeemable(perk: Perk, tier: Tier | None, balance: int, claimed: int = 0) -> None:
    """The perk is offered, costs points, is unlocked by the tier, has a unit left (``claimed``:
    its redemptions not rejected), and the balance covers it."""
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
    if units_left(perk, claimed) == 0:
        raise OutOfStock(
            f"“{perk.name}” is out of stock: all {perk.stock} have been claimed. "
            "A unit comes back if a redemption of it is rejected."
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
        perk = lock_perk(perk_id)  # after the advocate's: the lock order
        check_note(note)
        balance = points.balance(advocate_id)
        units_claimed = claimed_units(perk.id) if perk.stock is not None else 0
        check_redeemable(perk, advocate.tier, balance, units_claimed)
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


def lock_perk(perk_id: int) -> Perk:
    """The perk's row, locked until the transaction ends and freshly read (a step; after any
    advocate's lock). ``NotFound`` when there is no such perk."""
    perk = db.session.scalars(
        select(Perk).where(Perk.id == perk_id)
        .with_for_update(of=Perk)  # PostgreSQL; SQLite's write transaction serialises
        .options(joinedload(Perk.min_tier))
        .execution_options(populate_existing=True)
    ).one_or_none()
    if perk is None:
        raise NotFound("There is no such perk.")
    return perk


def claimed_units(perk_id: int) -> int:
    """The perk's redemptions that hold a unit of its stock: every one not rejected."""
    return db.session.scalar(
        select(func.count()).select_from(Redemption)
        .where(Redemption.perk_id == perk_id, Redemption.status != RedemptionStatus.REJECTED)
    )


def _claimed_column():
    """``claimed_units`` as a column of a query of perks: the catalogue reads it in one query."""
    return (
        select(func.count()).select_from(Redemption)
        .where(Redemption.perk_id == Perk.id, Redemption.status != RedemptionStatus.REJECTED)
        .correlate(Perk)
        .scalar_subquery()
    )


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
    left: int | None = None  # units still on offer; None: unlimited


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


def _offer(perk: Perk, tier: Tier | None, balance: int, claimed: int) -> Offer:
    left = units_left(perk, claimed)
    try:
        check_redeemable(perk, tier, balance, claimed)
    except RedemptionError as refusal:
        return Offer(perk, str(refusal), max(0, (perk.points_cost or 0) - balance), left)
    return Offer(perk, None, 0, left)


def overview(advocate_id: int) -> PerksPage:
    advocate = _advocate(advocate_id)
    tier = advocate.tier
    balance = points.balance(advocate_id)
    rows_read = db.session.execute(
        select(Perk, _claimed_column()).where(Perk.active.is_(True)).options(joinedload(Perk.min_tier))
    ).all()
    catalogue = [perk for perk, _claimed in rows_read]
    claimed = {perk.id: n for perk, n in rows_read}
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
            _offer(p, tier, balance, claimed[p.id])
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


# --- the catalogue (admin) -------------------------------------------------------------------

NAME_MAX_LENGTH = Perk.__table__.c.name.type.length
DESCRIPTION_MAX_LENGTH = 1000
POINTS_COST_MAX = 1_000_000
STOCK_MAX = 1_000_000
KIND_WORDS = {
    PerkKind.BENEFIT: "Standing benefit of the tier",
    PerkKind.REDEEMABLE: "Redeemable with points",
}
# What the audit log and the edit compare: a perk's fields as the form gives them.
PERK_FIELDS = ("name", "description", "min_tier_id", "kind", "points_cost", "stock")
_LONG_AGO = datetime(1970, 1, 1, tzinfo=UTC)  # a perk retired before retired_at was recorded


class PerkInvalid(errors.Invalid):
    """The perk as typed breaks a rule; ``errors`` says which field and why."""


class PerkRetired(errors.Conflict):
    """The perk is retired: it can no longer be changed, nor retired again."""


@dataclass(frozen=True)
class PerkInput:
    """A perk as an admin typed it, checked: every rule holds."""

    name: str
    description: str
    min_tier_id: int
    kind: PerkKind
    points_cost: int | None  # None for a standing benefit
    stock: int | None  # None: unlimited


def _text(raw: Mapping[str, Any], field: str) -> str:
    value = raw.get(field)
    return value if isinstance(value, str) else ""


def parse_perk(raw: Mapping[str, Any]) -> PerkInput:
    """The perk form's text (``name``, ``description``, ``min_tier`` (a tier's id), ``kind``,
    ``points_cost``, ``stock``), checked at once: a ``PerkInput``, or ``PerkInvalid`` naming
    every field at fault. Reads the tiers (one query); changes nothing."""
    problems: dict[str, str] = {}
    for field in ("name", "description", "min_tier", "kind", "points_cost", "stock"):
        problem = unstorable(_text(raw, field))
        if problem:
            problems[field] = f"This field {problem}."

    name = one_line(_text(raw, "name"))
    if not name:
        problems.setdefault("name", "Give the perk a name, such as “Branded hoodie”.")
    elif len(name) > NAME_MAX_LENGTH:
        problems.setdefault("name", f"Keep the name to {NAME_MAX_LENGTH} characters or fewer.")

    description = _text(raw, "description").strip()
    if len(description) > DESCRIPTION_MAX_LENGTH:
        problems.setdefault("description",
                            f"Keep the description to {DESCRIPTION_MAX_LENGTH} characters or fewer.")

    tier_id = whole_number(_text(raw, "min_tier").strip())
    if tier_id is None or db.session.get(Tier, tier_id) is None:
        problems.setdefault("min_tier", "Pick the lowest tier that gets the perk, from the list.")

    kind_text = _text(raw, "kind").strip()
    kind = PerkKind(kind_text) if kind_text in {k.value for k in PerkKind} else None
    if kind is None:
        problems.setdefault("kind", "Choose whether the perk is a standing benefit of the tier or "
                                    "redeemable with points.")

    cost_text = _text(raw, "points_cost").strip()
    cost = whole_number(cost_text, 1, POINTS_COST_MAX)
    if kind == PerkKind.REDEEMABLE and cost is None:
        problems.setdefault("points_cost", f"A redeemable perk costs points: a whole number from 1 to "
                                           f"{POINTS_COST_MAX:,}.")
    elif kind == PerkKind.BENEFIT and cost_text:
        problems.setdefault("points_cost", "A standing benefit costs no points: leave the cost empty, "
                                           "or make the perk redeemable.")

    stock_text = _text(raw, "stock").strip()
    stock = whole_number(stock_text, 0, STOCK_MAX) if stock_text else None
    if stock_text and stock is None:
        problems.setdefault("stock", f"The stock is a whole number from 0 to {STOCK_MAX:,}, or empty "
                                     "when the perk is not limited.")
    elif kind == PerkKind.BENEFIT and stock_text:
        problems.setdefault("stock", "A standing benefit is not redeemed, so it has no stock: leave it "
                                     "empty, or make the perk redeemable.")

    if problems:
        first = next(iter(problems.values()))
        raise PerkInvalid(first if len(problems) == 1 else "Some fields need another look.",
                          errors=problems)
    return PerkInput(
        name=name, description=description, min_tier_id=tier_id, kind=kind,
        points_cost=cost if kind == PerkKind.REDEEMABLE else None,
        stock=stock if kind == PerkKind.REDEEMABLE else None,
    )


def _fields(perk: Perk) -> dict[str, Any]:
    return {
        "name": perk.name, "description": perk.description, "min_tier_id": perk.min_tier_id,
        "kind": PerkKind(perk.kind).value, "points_cost": perk.points_cost, "stock": perk.stock,
    }


def _input_fields(data: PerkInput) -> dict[str, Any]:
    return {
        "name": data.name, "description": data.description, "min_tier_id": data.min_tier_id,
        "kind": data.kind.value, "points_cost": data.points_cost, "stock": data.stock,
    }


def create_perk(data: PerkInput, *, by: Account, once: Once | None = None) -> Perk:
    """A new perk on offer, audited. ``once``: the form's submission key; the same key again
    raises ``submissions.AlreadySubmitted`` naming the perk it made."""
    with transaction():
        claimed = submissions.claim(by.id, once.scope, once.key) if once else None
        perk = Perk(
            name=data.name, description=data.description, min_tier_id=data.min_tier_id, kind=data.kind,
            points_cost=data.points_cost, stock=data.stock, active=True,
        )
        db.session.add(perk)
        db.session.flush()
        if claimed is not None:
            submissions.done(claimed, perk.id)
        add_event("perk.created", actor=by, subject=f"perk:{perk.id}", perk=_fields(perk))
        db.session.refresh(perk, ["min_tier"])
    return perk


@dataclass(frozen=True)
class PerkChanged:
    perk: Perk
    changes: dict[str, list[Any]]  # field → [before, after]; empty when nothing changed


def edit_perk(perk_id: int, data: PerkInput, *, by: Account) -> PerkChanged:
    """Change a perk on offer, under its row lock; the fields that changed go in the audit log.

    Refused: a retired perk (``PerkRetired``, 409); a stock below the units already claimed,
    and a redeemable perk with redemptions made a benefit (``PerkInvalid``, 422, with the
    field). Redemptions made keep the points they spent; a new cost applies from now on."""
    with transaction():
        perk = lock_perk(perk_id)
        if not perk.active:
            raise PerkRetired(f"“{perk.name}” is retired: it can no longer be changed.")
        claimed = claimed_units(perk.id)
        if data.stock is not None and data.stock < claimed:
            raise PerkInvalid(
                f"{claimed} of “{perk.name}” have been claimed already: the stock cannot be less "
                f"than {claimed}.", "stock",
            )
        if perk.kind == PerkKind.REDEEMABLE and data.kind == PerkKind.BENEFIT and _any_redemption(perk.id):
            raise PerkInvalid(
                f"“{perk.name}” has been redeemed, so it stays redeemable: retire it and add the "
                "standing benefit as a new perk.", "kind",
            )
        before = _fields(perk)
        after = _input_fields(data)
        changes = {name: [before[name], after[name]] for name in PERK_FIELDS if before[name] != after[name]}
        if changes:
            for name in PERK_FIELDS:
                setattr(perk, name, data.kind if name == "kind" else after[name])
            db.session.flush()
            add_event("perk.changed", actor=by, subject=f"perk:{perk.id}", name=perk.name,
                      changes=changes)
            db.session.refresh(perk, ["min_tier"])
    return PerkChanged(perk, changes)


def retire_perk(perk_id: int, *, by: Account) -> Perk:
    """No longer on offer: not listed for advocates, not redeemable. Its redemptions keep naming
    it, and those waiting are still fulfilled or rejected. Retiring twice is ``PerkRetired``."""
    with transaction():
        perk = lock_perk(perk_id)
        if not perk.active:
            raise PerkRetired(f"“{perk.name}” was retired already. Nothing was changed.")
        perk.active = False
        perk.retired_at = utcnow()
        add_event("perk.retired", actor=by, subject=f"perk:{perk.id}", name=perk.name)
    return perk


def _any_redemption(perk_id: int) -> bool:
    return db.session.scalar(select(Redemption.id).where(Redemption.perk_id == perk_id).limit(1)) is not None


@dataclass(frozen=True)
class CatalogueRow:
    perk: Perk
    claimed: int  # redemptions not rejected

    @property
    def left(self) -> int | None:
        return units_left(self.perk, self.claimed)


@dataclass(frozen=True)
class Catalogue:
    """The admin's list, read in one query."""

    offered: list[CatalogueRow]  # by tier (top tier first), then name
    retired: list[CatalogueRow]  # latest retired first


def catalogue() -> Catalogue:
    rows = db.session.execute(
        select(Perk, _claimed_column()).join(Perk.min_tier)
        .options(contains_eager(Perk.min_tier))
        .order_by(Tier.rank, Perk.name, Perk.id)
    ).all()
    offered = [CatalogueRow(perk, n) for perk, n in rows if perk.active]
    retired = sorted(
        (CatalogueRow(perk, n) for perk, n in rows if not perk.active),
        key=lambda row: (row.perk.retired_at or _LONG_AGO, row.perk.id), reverse=True,
    )
    return Catalogue(offered=offered, retired=retired)


def perk_for_edit(perk_id: int) -> CatalogueRow:
    """One perk with its claimed units, for its edit form; ``NotFound`` when there is none."""
    row = db.session.execute(
        select(Perk, _claimed_column()).where(Perk.id == perk_id).options(joinedload(Perk.min_tier))
    ).one_or_none()
    if row is None:
        raise NotFound("There is no such perk.")
    return CatalogueRow(row[0], row[1])
