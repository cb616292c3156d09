"""The outbox: every e-mail is a row written in the transaction of the change that causes it."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Boolean, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from models import db
from models._columns import created_at_column, enum_column
from models.types import UTCDateTime, utcnow


class OutboxStatus(StrEnum):
    QUEUED = "queued"
    SENT = "sent"
    DEAD = "dead"  # gave up after the last attempt
    EXPIRED = "expired"  # no longer worth sending (a sign-in link past its life)
    DISCARDED = "discarded"  # an admin gave up on it (``workflows.outbox.discard``)


class OutboxMessage(db.Model):
    __tablename__ = "outbox_messages"
    __table_args__ = (Index("ix_outbox_due", "status", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    # A retried change enqueues with the same key and is recognised: never sent twice.
    idempotency_key: Mapped[str] = mapped_column(String(200), unique=True)
    template: Mapped[str] = mapped_column(String(64))
    to: Mapped[list[str]] = mapped_column(JSON)
    cc: Mapped[list[str]] = mapped_column(JSON, default=list)
    subject: Mapped[str] = mapped_column(String(300))
    body_text: Mapped[str] = mapped_column(Text)
    body_html: Mapped[str | None] = mapped_column(Text)
    headers: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    # [{"filename", "content_type", "data"}] — text attachments such as .ics invitations.
    attachments: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    # Bodies holding a credential (a sign-in link) are wiped once sent or expired.
    sensitive: Mapped[bool] = mapped_column(Boolean, default=False)
    status: Mapped[OutboxStatus] = enum_column(OutboxStatus, default=OutboxStatus.QUEUED)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = created_at_column()
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The lease of the worker sending it (mail.sender): while ``claimed_until`` is ahead, no other
    # worker takes the message; a worker killed mid-batch leaves it to be claimed again after it.
    claimed_by: Mapped[str | None] = mapped_column(String(80))
    claimed_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Addresses a server refused for the time being (4xx) while it took the others: the next
    # attempt goes to these alone, so that nobody who had the message gets it twice.
    retry_recipients: Mapped[list[str] | None] = mapped_column(JSON)
