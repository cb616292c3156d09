"""The points ledger: append-only. Balances and tier progress are sums over it, never stored."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import ForeignKey, Integer, String, UniqueConstraint, func, select
from sqlalchemy.orm import Mapped, mapped_column

from models import db
from models._columns import created_at_column


class PointsReason(StrEnum):
    CALL_COMPLETED = "call_completed"
    WRITTEN_REFERENCE = "written_reference"
    PROSPECT_FEEDBACK = "prospect_feedback"  # the prospect rated the call 4 or 5
    CASE_STUDY = "case_study"
    EVENT = "event"
    REVIEW = "review"  # a public review the advocate wrote, recorded by a coordinator
    REDEMPTION = "redemption"  # a perk redeemed: a negative delta
    REFUND = "refund"  # a rejected redemption given back


class PointsEntry(db.Model):
    __tablename__ = "points_entries"
    __table_args__ = (
        # The same event never earns (or costs) points twice.
        UniqueConstraint("advocate_id", "source_type", "source_id", "reason", name="uq_points_once"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    advocate_id: Mapped[int] = mapped_column(
        ForeignKey("advocates.id", ondelete="CASCADE"), index=True
    )
    delta: Mapped[int] = mapped_column(Integer)
    reason: Mapped[str] = mapped_column(String(64))
    source_type: Mapped[str | None] = mapped_column(String(32))
    source_id: Mapped[int | None] = mapped_column(Integer)
    note: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = created_at_column()
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id", ondelete="SET NULL"))


def balance_query(advocate_id: int, since: datetime | None = None):
    query = select(func.coalesce(func.sum(PointsEntry.delta), 0)).where(
        PointsEntry.advocate_id == advocate_id
    )
    if since is not None:
        query = query.where(PointsEntry.created_at >= since)
    return query
