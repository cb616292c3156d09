"""Sending what the outbox holds, at least once, each message under its outbox id."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import urlsplit

from flask import current_app
from flask_mail import Message
from sqlalchemy import select

from mail import mail
from models import OutboxMessage, OutboxStatus, db
from models.types import utcnow

log = logging.getLogger(__name__)
WIPED = "[removed after sending: it held a one-time link]"


@dataclass
class DrainResult:
    sent: int = 0
    failed: int = 0
    expired: int = 0

    @property
    def handled(self) -> int:
        return self.sent + self.failed + self.expired


def due_count() -> int:
    return len(db.session.scalars(_due_query()).all())


def _due_query():
    return (
        select(OutboxMessage.id)
        .where(
            OutboxMessage.status == OutboxStatus.QUEUED,
            OutboxMessage.next_attempt_at <= utcnow(),
        )
        .order_by(OutboxMessage.id)
    )


def message_id(message: OutboxMessage) -> str:
    host = urlsplit(current_app.config["BASE_URL"]).hostname or "vouch.local"
    return f"<outbox-{message.id}@{host}>"


def _build(message: OutboxMessage) -> Message:
    mail_message = Message(
        subject=message.subject,
        recipients=list(message.to),
        cc=list(message.cc or []),
        body=message.body_text,
        html=message.body_html,
        extra_headers=dict(message.headers or {}),
    )
    mail_message.msgId = message_id(message)
    for attachment in message.attachments or []:
        mail_message.attach(
            filename=attachment["filename"],
            content_type=attachment["content_type"],
            data=attachment["data"],
        )
    return mail_message


def _claim(message_id_: int) -> OutboxMessage | None:
    """Lock one due message for this worker; another worker skips it (PostgreSQL)."""
    query = select(OutboxMessage).where(
        OutboxMessage.id == message_id_, OutboxMessage.status == OutboxStatus.QUEUED
    )
    if db.session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    return db.session.scalars(query.execution_options(populate_existing=True)).one_or_none()


def _wipe(message: OutboxMessage) -> None:
    if message.sensitive:
        message.body_text = WIPED
        message.body_html = None


def send_one(message: OutboxMessage, connection) -> str:
    """Try to send one claimed message and record the result; returns the outcome."""
    now = utcnow()
    if message.expires_at is not None and message.expires_at <= now:
        message.status = OutboxStatus.EXPIRED
        _wipe(message)
        return "expired"
    message.attempts += 1
    try:
        connection.send(_build(message))
    except Exception as exc:  # any SMTP or network failure: keep the message, try later
        config = current_app.config
        message.last_error = f"{type(exc).__name__}: {exc}"[:2000]
        if message.attempts >= config["MAIL_MAX_ATTEMPTS"]:
            message.status = OutboxStatus.DEAD
            _wipe(message)
        else:
            delay = config["MAIL_RETRY_BASE_SECONDS"] * 2 ** (message.attempts - 1)
            message.next_attempt_at = now + timedelta(seconds=delay)
        log.warning("outbox message %s not sent: %s", message.id, message.last_error)
        return "failed"
    message.status = OutboxStatus.SENT
    message.sent_at = now
    message.last_error = None
    _wipe(message)
    return "sent"


def drain(limit: int | None = None, on_progress: Callable[[int], None] | None = None) -> DrainResult:
    """Send every message due now (or ``limit`` of them), one transaction per message."""
    result = DrainResult()
    due = db.session.scalars(_due_query().limit(limit)).all()
    db.session.rollback()
    if not due:
        return result
    connection = SMTPConnection()
    try:
        for outbox_id in due:
            message = _claim(outbox_id)
            if message is None:
                db.session.rollback()
                continue
            outcome = send_one(message, connection)
            db.session.commit()
            setattr(result, outcome, getattr(result, outcome) + 1)
            if on_progress:
                on_progress(1)
    finally:
        connection.close()
    return result


class SMTPConnection:
    """One SMTP session for a batch, opened at the first send and reopened after a failure,
    so that a server that is down fails each message (recorded) instead of the whole run."""

    def __init__(self) -> None:
        self._context = None
        self._connection = None

    def send(self, message: Message) -> None:
        if self._connection is None:
            context = mail.connect()
            self._connection = context.__enter__()
            self._context = context
        try:
            self._connection.send(message)
        except Exception:
            self.close()
            raise

    def close(self) -> None:
        context, self._context, self._connection = self._context, None, None
        if context is not None:
            try:
                context.__exit__(None, None, None)
            except Exception:  # the session is gone either way
                log.debug("closing the SMTP session failed", exc_info=True)
