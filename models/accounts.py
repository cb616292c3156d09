"""Accounts of every role, their sign-in links and their API tokens."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING

from sqlalchemy import Boolean, CheckConstraint, ForeignKey, Index, Integer, String, func, text, true
from sqlalchemy.orm import Mapped, mapped_column, relationship

from models import db
from models._columns import created_at_column, enum_column
from models.types import UTCDateTime

if TYPE_CHECKING:
    from models.advocates import Advocate


class Role(StrEnum):
    ADVOCATE = "advocate"
    SALES = "sales"
    COORDINATOR = "coordinator"
    ADMIN = "admin"

    @property
    def is_staff(self) -> bool:
        return self in (Role.COORDINATOR, Role.ADMIN)


def normalize_email(email: str) -> str:
    return email.strip().casefold()


class Account(db.Model):
    __tablename__ = "accounts"
    __table_args__ = (
        CheckConstraint("email = lower(email)", name="email_casefolded"),
        # The queue's "Requested by" choices read the sales accounts among thousands of advocates.
        Index("ix_accounts_role", "role"),
        # The pool and the accounts list page through people by name: walked in this order, a
        # page is read without sorting everyone.
        Index("ix_accounts_name_order", func.lower(text("name")), "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    role: Mapped[Role] = enum_column(Role)
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    # Part of the session cookie: bumping it ends every session and sign-in link of the account.
    session_version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = created_at_column()
    last_sign_in_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Staff: an e-mail for every new request (a setting of their own).
    notify_new_requests: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())

    advocate: Mapped[Advocate | None] = relationship(back_populates="account", uselist=False)

    # Flask-Login's user protocol.
    is_authenticated = True
    is_anonymous = False

    @property
    def is_active(self) -> bool:
        return self.active

    def get_id(self) -> str:
        return f"{self.id}:{self.session_version}"

    @property
    def is_staff(self) -> bool:
        return self.role.is_staff

    def end_sessions(self) -> None:
        self.session_version += 1

    def deactivate(self) -> None:
        """No more sign-in; every session and outstanding link ends, even if reactivated later."""
        self.active = False
        self.end_sessions()

    def __repr__(self) -> str:
        return f"<Account {self.id} {self.role}>"


class LoginToken(db.Model):
    """Server-side state of one e-mailed sign-in link: only its hash is kept."""

    __tablename__ = "login_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    purpose: Mapped[str] = mapped_column(String(32))
    next_path: Mapped[str | None] = mapped_column(String(500))
    client_ip: Mapped[str | None] = mapped_column(String(45))
    created_at: Mapped[datetime] = created_at_column()
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    account: Mapped[Account] = relationship()


class ApiToken(db.Model):
    """A personal token for the JSON API (a CRM acting for its owner); only its hash is kept."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(120), default="API token")
    prefix: Mapped[str] = mapped_column(String(12))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = created_at_column()
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    account: Mapped[Account] = relationship()


class SuppressedAddress(db.Model):
    """An address erased when its owner left the program, kept only as a keyed hash
    (``workflows.suppression``) so that an old spreadsheet cannot bring them back."""

    __tablename__ = "suppressed_addresses"

    digest: Mapped[str] = mapped_column(String(64), primary_key=True)
    created_at: Mapped[datetime] = created_at_column()
