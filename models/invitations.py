"""Invitations to the reference program (outreach to candidates, DESIGN.md §1 and §6)."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import CheckConstraint, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from models import db
from models.types import UTCDateTime

if TYPE_CHECKING:
    from models.accounts import Account
    from models.advocates import Advocate
    from models.companies import Company


class Invitation(db.Model):
    """One program invitation e-mailed to one person, and what became of it.

    Usually the person is a candidate advocate (a customer's contact from the CRM import):
    ``advocate_id``, and the address is their account's. Someone who is not in Vouch (someone
    who left the program and whose address was erased, say) is invited by address: ``email``,
    ``name`` and ``company_id`` say whom, and nobody is created until they accept; then
    ``advocate_id`` names the advocate they became and ``email`` is cleared, so that their
    address lives only on their account (and is erased with it should they leave again).

    ``message_key`` is the outbox idempotency key of the latest e-mail about it (the invitation,
    then its reminder): the candidates screen reads from the outbox whether it was delivered.
    An invitation is answered once: joined or declined, never both.
    """

    __tablename__ = "invitations"
    __table_args__ = (
        CheckConstraint("joined_at IS NULL OR declined_at IS NULL", name="one_answer"),
        Index("ix_invitations_email", "email"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    advocate_id: Mapped[int | None] = mapped_column(
        ForeignKey("advocates.id", ondelete="CASCADE"), index=True
    )
    email: Mapped[str | None] = mapped_column(String(254))
    name: Mapped[str] = mapped_column(String(120), default="", server_default="")
    company_id: Mapped[int | None] = mapped_column(ForeignKey("companies.id", ondelete="SET NULL"))
    by_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id", ondelete="SET NULL"))
    message_key: Mapped[str] = mapped_column(String(200), default="", server_default="")
    sent_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    reminded_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    opened_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    joined_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    declined_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    advocate: Mapped[Advocate | None] = relationship()
    company: Mapped[Company | None] = relationship()
    by: Mapped[Account | None] = relationship()

    @property
    def answered(self) -> bool:
        return self.joined_at is not None or self.declined_at is not None

    @property
    def last_mailed_at(self) -> datetime:
        """When its latest e-mail went: the reminder's link is signed then, the invitation's before."""
        return self.reminded_at or self.sent_at

    def __repr__(self) -> str:
        return f"<Invitation {self.id}>"
