"""Tiers of the program, the perks they unlock and perk redemptions."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING

from sqlalchemy import JSON, Boolean, CheckConstraint, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from models import db
from models._columns import created_at_column, enum_column
from models.types import UTCDateTime

if TYPE_CHECKING:
    from models.accounts import Account
    from models.advocates import Advocate


class Tier(db.Model):
    __tablename__ = "tiers"
    __table_args__ = (
        CheckConstraint("quarterly_quota >= 0", name="quota_not_negative"),
        CheckConstraint("points_threshold >= 0", name="threshold_not_negative"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # 1 is the top tier.
    rank: Mapped[int] = mapped_column(Integer, unique=True)
    name: Mapped[str] = mapped_column(String(60), unique=True)
    quarterly_quota: Mapped[int] = mapped_column(Integer)
    points_threshold: Mapped[int] = mapped_column(Integer, default=0)
    description: Mapped[str] = mapped_column(Text, default="")
    benefits: Mapped[list[str]] = mapped_column(JSON, default=list)

    def __repr__(self) -> str:
        return f"<Tier {self.name}>"


class PerkKind(StrEnum):
    BENEFIT = "benefit"  # standing benefit of the tier, nothing to redeem
    REDEEMABLE = "redeemable"  # costs points


class Perk(db.Model):
    __tablename__ = "perks"
    __table_args__ = (
        CheckConstraint(
            "(kind = 'benefit' AND points_cost IS NULL) OR "
            "(kind = 'redeemable' AND points_cost IS NOT NULL AND points_cost > 0)",
            name="cost_matches_kind",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    description: Mapped[str] = mapped_column(Text, default="")
    min_tier_id: Mapped[int] = mapped_column(ForeignKey("tiers.id"), index=True)
    kind: Mapped[PerkKind] = enum_column(PerkKind)
    points_cost: Mapped[int | None] = mapped_column(Integer)
    # Units on offer in all, where they are limited (None: unlimited). What is left is derived:
    # this minus the redemptions not rejected.
    stock: Mapped[int | None] = mapped_column(Integer)
    # False once retired: no longer offered, still named in the redemptions that used it.
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    retired_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    min_tier: Mapped[Tier] = relationship()


class RedemptionStatus(StrEnum):
    REQUESTED = "requested"
    FULFILLED = "fulfilled"
    REJECTED = "rejected"


class Redemption(db.Model):
    __tablename__ = "redemptions"
    __table_args__ = (CheckConstraint("points_spent >= 0", name="points_not_negative"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    perk_id: Mapped[int] = mapped_column(ForeignKey("perks.id"), index=True)
    advocate_id: Mapped[int] = mapped_column(
        ForeignKey("advocates.id", ondelete="CASCADE"), index=True
    )
    status: Mapped[RedemptionStatus] = enum_column(RedemptionStatus, default=RedemptionStatus.REQUESTED)
    points_spent: Mapped[int] = mapped_column(Integer, default=0)
    note: Mapped[str] = mapped_column(Text, default="")  # the advocate's, when redeeming
    requested_at: Mapped[datetime] = created_at_column()
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id", ondelete="SET NULL"))
    # The coordinator's, when fulfilling or rejecting: the advocate reads it on their perks page.
    decision_note: Mapped[str] = mapped_column(Text, default="", server_default="")

    perk: Mapped[Perk] = relationship()
    advocate: Mapped[Advocate] = relationship()
    decided_by: Mapped[Account | None] = relationship()


class TierSuggestionStatus(StrEnum):
    PENDING = "pending"  # waiting for a coordinator
    APPROVED = "approved"  # the tier was changed (by a coordinator, or automatically)
    DISMISSED = "dismissed"  # a coordinator kept the tier
    SUPERSEDED = "superseded"  # a later run suggested otherwise, or the tier changed meanwhile


class TierSuggestion(db.Model):
    """A promotion or demotion the nightly job suggests from points over the last 12 months."""

    __tablename__ = "tier_suggestions"

    id: Mapped[int] = mapped_column(primary_key=True)
    advocate_id: Mapped[int] = mapped_column(
        ForeignKey("advocates.id", ondelete="CASCADE"), index=True
    )
    from_tier_id: Mapped[int | None] = mapped_column(ForeignKey("tiers.id", ondelete="SET NULL"))
    to_tier_id: Mapped[int] = mapped_column(ForeignKey("tiers.id", ondelete="CASCADE"))
    points: Mapped[int] = mapped_column(Integer)  # earned over the 12 months before created_at
    status: Mapped[TierSuggestionStatus] = enum_column(
        TierSuggestionStatus, default=TierSuggestionStatus.PENDING
    )
    created_at: Mapped[datetime] = created_at_column()
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id", ondelete="SET NULL"))

    advocate: Mapped[Advocate] = relationship()
    from_tier: Mapped[Tier | None] = relationship(foreign_keys=[from_tier_id])
    to_tier: Mapped[Tier] = relationship(foreign_keys=[to_tier_id])
    decided_by: Mapped[Account | None] = relationship()
