"""Sending what the outbox holds, at least once, each message under its outbox id."""

from __future__ import annotations

import logging
import smtplib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import urlsplit

import flask_mail
from flask import current_app
from flask_mail import Message
from sqlalchemy import or_, select

from models import OutboxMessage, OutboxStatus, db
from models.locking import begin_write
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
    """Queued messages due for an attempt, and those past their expiry even while they wait
    out a retry, so that an expired sign-in link leaves the database as soon as possible."""
    now = utcnow()
    return (
        select(OutboxMessage.id)
        .where(
            OutboxMessage.status == OutboxStatus.QUEUED,
            or_(OutboxMessage.next_attempt_at <= now, OutboxMessage.expires_at <= now),
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
        data = attachment["data"]
        mail_message.attach(
            filename=attachment["filename"],
            content_type=attachment["content_type"],
            data=data.encode("utf-8") if isinstance(data, str) else data,
        )
    return mail_message


def _claim(message_id_: int) -> OutboxMessage | None:
    """Lock one due message for this worker; another worker skips it (PostgreSQL) or waits
    (SQLite, whose write lock also keeps the result from failing to commit after the send)."""
    query = select(OutboxMessage).where(
        OutboxMessage.id == message_id_, OutboxMessage.status == OutboxStatus.QUEUED
    )
    if db.session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    else:
        begin_write()
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
        self._connection: TimedConnection | None = None

    def send(self, message: Message) -> None:
        if self._connection is None:
            self._connection = TimedConnection.open()
        try:
            self._connection.send(message)
        except Exception:
            self.close()
            raise

    def close(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            connection.close()


class TimedConnection(flask_mail.Connection):
    """Flask-Mail's connection, with ``MAIL_TIMEOUT_SECONDS`` on the socket: Flask-Mail opens
    SMTP without a timeout, and a server that accepts but never answers would hang the worker."""

    @classmethod
    def open(cls) -> TimedConnection:
        connection = cls(current_app.extensions["mail"])
        connection.__enter__()
        return connection

    def configure_host(self) -> smtplib.SMTP:
        settings = self.mail
        smtp_class = smtplib.SMTP_SSL if settings.use_ssl else smtplib.SMTP
        host = smtp_class(
            settings.server, settings.port, timeout=float(current_app.config["MAIL_TIMEOUT_SECONDS"])
        )
        try:
            host.set_debuglevel(int(settings.debug))
            if settings.use_tls:
                host.starttls()
            if settings.username and settings.password:
                host.login(settings.username, settings.password)
        except Exception:
            host.close()
            raise
        return host

    def close(self) -> None:
        host, self.host = self.host, None
        if host is None:
            return
        try:
            host.quit()
        except Exception:  # the session is gone either way
            log.debug("closing the SMTP session failed", exc_info=True)
            host.close()
