"""A staff account's second factor: an authenticator app (TOTP) and its recovery codes."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from models import db
from models._columns import created_at_column
from models.types import UTCDateTime


class SecondFactor(db.Model):
    """The authenticator app of one account. The TOTP secret is kept sealed with a key derived
    from ``SECRET_KEY`` (``workflows.second_factor``): a dump of the database alone does not
    give it away."""

    __tablename__ = "second_factors"

    account_id: Mapped[int] = mapped_column(
        ForeignKey("accounts.id", ondelete="CASCADE"), primary_key=True, autoincrement=False
    )
    sealed_secret: Mapped[str] = mapped_column(String(255))
    # Shared by the account's recovery codes: one scrypt per attempt, whichever code it is.
    recovery_salt: Mapped[str] = mapped_column(String(32))
    enrolled_at: Mapped[datetime] = created_at_column()
    # The TOTP time step of the last code accepted: a code of that step or before is a replay.
    last_used_step: Mapped[int] = mapped_column(Integer, default=0)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Wrong codes in a row; enough of them lock the factor until ``locked_until``.
    failures: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime)


class RecoveryCode(db.Model):
    """One of an account's one-time recovery codes: only its scrypt hash is kept."""

    __tablename__ = "recovery_codes"

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), index=True)
    code_hash: Mapped[str] = mapped_column(String(64))
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
