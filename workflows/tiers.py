"""Tiers: what each one is (names, quotas, thresholds, benefits, edited by an admin), and how an
advocate moves between them (a coordinator's change, or a suggestion from the points earned over
the last 12 months that the nightly job makes and a coordinator approves, or that applies itself
where the setting says so). Quotas are derived from the tier, so they follow a change at once.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select

from models import Account, Advocate, Tier, db
from models._columns import name_key
from workflows import errors
from workflows.audit import add_event
from workflows.text import one_line, unstorable, whole_number
from workflows.transaction import transaction

# --- moving advocates between tiers ----------------------------------------------------------


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
