"""Sending what the outbox holds, at least once, each message under its outbox id.

A sender claims a batch of due messages for a lease (``claimed_by``, ``claimed_until``) in one
short transaction: ``SELECT … FOR UPDATE SKIP LOCKED`` on PostgreSQL, so that several workers
take different messages; the write lock (``BEGIN IMMEDIATE``) on SQLite, which has one writer.
The claim reads the messages whole; the sender sends them over one SMTP connection, holding no
transaction open meanwhile, and records each result in a transaction of its own: one
conditional ``UPDATE`` (still queued, and still this sender's unless it was sent). A message
erased while claimed (``mail.outbox.forget_recipient``) keeps its erasure; if its turn in the
batch comes after the erasure, the copy read at the claim still goes out, as it would have a
moment earlier. A worker killed in between leaves its claims to run out: the messages are
claimed again after the lease and go out. That is at least once, never lost; the outbox id is
the ``Message-ID``, so that a message sent twice is recognisable as one.

A temporary failure (no connection, a time-out, a 4xx reply) is retried with exponential backoff
and jitter; a permanent one (a 5xx reply, a message that cannot be built) and the last attempt
mark the message dead with the error. One bad message never stops the batch.
"""

from __future__ import annotations

import logging
import os
import random
import secrets
import smtplib
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urlsplit

import flask_mail
from flask import current_app
from flask_mail import Message, sanitize_address, sanitize_addresses
from sqlalchemy import func, or_, select, update

from models import OutboxMessage, OutboxStatus, db
from models.locking import begin_write
from models.types import utcnow

log = logging.getLogger(__name__)
WIPED = "[removed after sending: it held a one-time link]"


@dataclass
class DrainResult:
    sent: int = 0
    failed: int = 0  # not sent this time: to be retried, or given up on (``dead``)
    expired: int = 0
    dead: int = 0  # of the failed, those marked dead

    @property
    def handled(self) -> int:
        return self.sent + self.failed + self.expired

    def add(self, other: DrainResult) -> None:
        self.sent += other.sent
        self.failed += other.failed
        self.expired += other.expired
        self.dead += other.dead

    def describe(self) -> str:
        return f"sent {self.sent}, failed {self.failed}, expired {self.expired}"


def message_id(message: OutboxMessage) -> str:
    host = urlsplit(current_app.config["BASE_URL"]).hostname or "vouch.local"
    return f"<outbox-{message.id}@{host}>"


def _due(now: datetime, worker: str | None = None):
    """Queued messages due for an attempt, and those past their expiry even while they wait
    out a retry, so that an expired sign-in link leaves the database as soon as possible;
    none that another worker holds under a lease still running (``worker``'s own claims left
    over from a round that failed are its to take again)."""
    free = or_(OutboxMessage.claimed_until.is_(None), OutboxMessage.claimed_until <= now)
    if worker is not None:
        free = or_(free, OutboxMessage.claimed_by == worker)
    return (
        OutboxMessage.status == OutboxStatus.QUEUED,
        or_(OutboxMessage.next_attempt_at <= now, OutboxMessage.expires_at <= now),
        free,
    )


def due_count(now: datetime | None = None) -> int:
    count = db.session.scalar(select(func.count()).select_from(OutboxMessage).where(*_due(now or utcnow())))
    db.session.rollback()
    return count


def retry_delay(attempts: int) -> timedelta:
    """The wait after the ``attempts``-th failure: doubling from MAIL_RETRY_BASE_SECONDS up to
    MAIL_RETRY_MAX_SECONDS, then up to MAIL_RETRY_JITTER of itself more, at random."""
    config = current_app.config
    delay = min(config["MAIL_RETRY_MAX_SECONDS"], config["MAIL_RETRY_BASE_SECONDS"] * 2 ** (attempts - 1))
    return timedelta(seconds=delay * (1 + config["MAIL_RETRY_JITTER"] * random.random()))


def _build(message: OutboxMessage) -> Message:
    for name, value in (message.headers or {}).items():
        # Flask-Mail checks the subject and the addresses for line breaks, not extra headers:
        # a line break in one would start a header of its own (a Bcc, say).
        if any(c in f"{name}{value}" for c in "\r\n"):
            raise flask_mail.BadHeaderError(f"the {name!r} header holds a line break")
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


@dataclass(frozen=True)
class Outcome:
    """What one attempt came to, before it is recorded."""

    kind: str  # "sent", "failed" or "expired"
    error: str | None = None  # the failure, or the recipients refused while others took it
    permanent: bool = False
    retry_recipients: list[str] | None = None  # refused for now while the others took it


def _describe(exc: BaseException) -> str:
    """The error as recorded on the message: an SMTP reply as the server gave it."""
    if isinstance(exc, ServerUnreachable):
        exc = exc.cause
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return f"{type(exc).__name__}: {_refusals(exc.recipients)}"
    if isinstance(exc, smtplib.SMTPResponseException):
        return f"{type(exc).__name__}: {exc.smtp_code} {_reply_text(exc.smtp_error)}"
    return f"{type(exc).__name__}: {exc}"


def _reply_text(reply: bytes | str) -> str:
    return reply.decode("utf-8", "replace") if isinstance(reply, bytes) else str(reply)


def _refusals(refused: dict) -> str:
    return "; ".join(f"{address}: {code} {_reply_text(text)}" for address, (code, text) in refused.items())


def is_permanent(exc: BaseException) -> bool:
    """A 5xx reply about the message, or a message that cannot be sent at all. Everything about
    reaching the server (refused connection, time-out, a greeting or login refused, a dropped
    session) is temporary: it is no fault of the message."""
    if isinstance(exc, ServerUnreachable):
        return False
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return all(code >= 500 for code, _text in exc.recipients.values())
    if isinstance(exc, smtplib.SMTPResponseException):
        return exc.smtp_code >= 500
    return not isinstance(exc, OSError | smtplib.SMTPException)


def prepare(message: OutboxMessage, now: datetime) -> tuple[Message, list[str] | None] | Outcome:
    """The e-mail to send and its envelope recipients (its ``retry_recipients`` alone, when some
    are left from an attempt that reached the others), or the outcome when there is nothing to
    send: expired, or a message that cannot be built."""
    if message.expires_at is not None and message.expires_at <= now:
        return Outcome("expired")
    try:
        return _build(message), list(message.retry_recipients or []) or None
    except Exception as exc:  # bad data in the row: no attempt would ever do better
        return Outcome("failed", _describe(exc)[:2000], permanent=True)


def transmit(mail_message: Message, envelope_to: list[str] | None, connection: SMTPConnection) -> Outcome:
    """Send one e-mail; any SMTP, network or message failure is returned, never raised."""
    try:
        refused = connection.send(mail_message, envelope_to=envelope_to)
    except Exception as exc:
        return Outcome("failed", _describe(exc)[:2000], permanent=is_permanent(exc))
    if not refused:
        return Outcome("sent")
    # The server took the message for some recipients and refused others.
    error = f"refused by some recipients: {_refusals(refused)}"[:2000]
    later = sorted(address for address, (code, _text) in refused.items() if code < 500)
    if later:
        return Outcome("failed", error, retry_recipients=later)
    return Outcome("sent", error)


def changes(message: OutboxMessage, outcome: Outcome, now: datetime) -> tuple[str, dict]:
    """What an attempt's outcome writes on the message, as read when it was claimed → its kind
    ("sent", "failed", "dead" or "expired") and the column values."""
    values: dict = {"claimed_by": None, "claimed_until": None}
    wiped = {"body_text": WIPED, "body_html": None} if message.sensitive else {}
    if outcome.kind == "expired":
        return "expired", {**values, "status": OutboxStatus.EXPIRED, **wiped}
    attempts = message.attempts + 1
    values["last_error"] = outcome.error
    if outcome.kind == "sent":
        # Counted in the database: another worker that took the message over may have tried too.
        return "sent", {**values, "status": OutboxStatus.SENT, "sent_at": now, "retry_recipients": None,
                        "attempts": OutboxMessage.attempts + 1, **wiped}
    values["attempts"] = attempts
    if outcome.permanent or attempts >= current_app.config["MAIL_MAX_ATTEMPTS"]:
        return "dead", {**values, "status": OutboxStatus.DEAD, "retry_recipients": None, **wiped}
    if outcome.retry_recipients is not None:
        values["retry_recipients"] = outcome.retry_recipients
    values["next_attempt_at"] = now + retry_delay(attempts)
    return "failed", values


def _log(message: OutboxMessage, kind: str, values: dict) -> None:
    if kind == "dead":
        log.error("outbox message %s is dead after %s attempt(s): %s", message.id, values["attempts"],
                  values["last_error"])
    elif kind == "failed":
        log.warning("outbox message %s not sent (attempt %s), retried at %s: %s", message.id,
                    values["attempts"], values["next_attempt_at"].isoformat(timespec="seconds"),
                    values["last_error"])
    elif kind == "sent" and values["last_error"]:
        log.warning("outbox message %s sent, but %s", message.id, values["last_error"])


def worker_name() -> str:
    """Who holds a claim: host, process and a random part (a restarted process is a new worker)."""
    return f"{socket.gethostname()[:50]}:{os.getpid()}:{secrets.token_hex(4)}"


class Sender:
    """One worker's side of the outbox: claim due messages under a lease, send, record.

    Sending a claimed message costs one statement: the conditional ``UPDATE`` that records it.
    A message sent after its lease was taken over is recorded all the same, so that the worker
    that took it over finds it sent and does not send a second copy."""

    def __init__(self, name: str | None = None, batch_size: int | None = None) -> None:
        self.name = name or worker_name()
        self.batch_size = batch_size or current_app.config["MAIL_BATCH_SIZE"]
        self.lease = timedelta(seconds=current_app.config["MAIL_LEASE_SECONDS"])
        self.lease_until: datetime | None = None
        self._claimed: dict[int, OutboxMessage] = {}  # detached, as read when claimed

    def _on_postgresql(self) -> bool:
        return db.session.get_bind().dialect.name == "postgresql"

    def claim(self, limit: int | None = None, now: datetime | None = None) -> list[int]:
        """Claim up to ``limit`` (the batch size) due messages → their ids, oldest first."""
        now = now or utcnow()
        db.session.rollback()
        query = select(OutboxMessage).where(*_due(now, self.name)).order_by(OutboxMessage.id)
        query = query.limit(limit or self.batch_size).execution_options(populate_existing=True)
        if self._on_postgresql():
            query = query.with_for_update(skip_locked=True)
        else:
            begin_write()
        messages = list(db.session.scalars(query))
        ids = [message.id for message in messages]
        if ids:
            self._set_lease(ids, now + self.lease)
        for message in messages:
            db.session.expunge(message)  # kept as read, for sending without reading again
        db.session.commit()
        self._claimed.update((message.id, message) for message in messages)
        self.lease_until = now + self.lease
        return ids

    def _set_lease(self, ids: list[int], until: datetime | None, *, only_mine: bool = False) -> None:
        statement = update(OutboxMessage).where(
            OutboxMessage.id.in_(ids), OutboxMessage.status == OutboxStatus.QUEUED
        )
        if only_mine:
            statement = statement.where(OutboxMessage.claimed_by == self.name)
        db.session.execute(
            statement.values(claimed_by=self.name if until else None, claimed_until=until),
            execution_options={"synchronize_session": False},
        )

    def _renew_if_needed(self, ids: list[int], now: datetime) -> None:
        """Extend the lease on the messages still to send once half of it has gone (while it
        still runs, so that nobody can have taken them over)."""
        if self.lease_until is None or now < self.lease_until - self.lease / 2 or now >= self.lease_until:
            return
        db.session.rollback()
        begin_write()
        self._set_lease(ids, now + self.lease, only_mine=True)
        db.session.commit()
        self.lease_until = now + self.lease

    def release(self, ids: list[int]) -> None:
        """Give back claims not used (stopping mid-batch), for any worker to take at once."""
        for outbox_id in ids:
            self._claimed.pop(outbox_id, None)
        if not ids:
            return
        db.session.rollback()
        begin_write()
        self._set_lease(ids, None, only_mine=True)
        db.session.commit()

    def send_one(self, outbox_id: int, connection: SMTPConnection) -> str | None:
        """Send one message this sender claimed and record the outcome → its kind, or None when
        it holds no claim on it (any more: the lease ran out, another worker may have it) or the
        message changed meanwhile (erased, sent by a worker that took it over)."""
        message = self._claimed.pop(outbox_id, None)
        now = utcnow()
        if message is None or self.lease_until is None or now >= self.lease_until:
            return None
        prepared = prepare(message, now)
        if isinstance(prepared, Outcome):
            return self._record(message, prepared, now)
        return self._record(message, transmit(*prepared, connection), utcnow())

    def _record(self, message: OutboxMessage, outcome: Outcome, now: datetime) -> str | None:
        kind, values = changes(message, outcome, now)
        statement = update(OutboxMessage).where(
            OutboxMessage.id == message.id, OutboxMessage.status == OutboxStatus.QUEUED
        )
        if kind != "sent":
            statement = statement.where(OutboxMessage.claimed_by == self.name)
        db.session.rollback()
        begin_write()
        written = db.session.execute(
            statement.values(**values), execution_options={"synchronize_session": False}
        )
        db.session.commit()
        if not written.rowcount:
            return None
        _log(message, kind, values)
        return kind

    def send_batch(
        self,
        ids: list[int],
        connection: SMTPConnection,
        result: DrainResult,
        should_stop: Callable[[], bool] = lambda: False,
        on_progress: Callable[[int], None] | None = None,
    ) -> list[int]:
        """Send claimed messages in order until done or told to stop → the ids left unsent."""
        for position, outbox_id in enumerate(ids):
            if should_stop():
                return ids[position:]
            self._renew_if_needed(ids[position:], utcnow())
            kind = self.send_one(outbox_id, connection)
            if kind is None:
                continue
            if kind == "dead":
                result.dead += 1
                kind = "failed"
            setattr(result, kind, getattr(result, kind) + 1)
            if on_progress:
                on_progress(1)
        return []

    def drain(
        self,
        limit: int | None = None,
        should_stop: Callable[[], bool] = lambda: False,
        on_progress: Callable[[int], None] | None = None,
    ) -> DrainResult:
        """Send every message due now (or ``limit`` of them), a batch at a time over one SMTP
        connection; claims not used when told to stop are given back."""
        result = DrainResult()
        seen: set[int] = set()
        connection = SMTPConnection()
        try:
            while not should_stop():
                size = self.batch_size if limit is None else min(self.batch_size, limit - result.handled)
                if size <= 0:
                    break
                ids = self.claim(size)
                if not ids:
                    break
                if seen.intersection(ids):
                    # Due again already (no wait configured between attempts): next run.
                    self.release(ids)
                    break
                seen.update(ids)
                left = self.send_batch(ids, connection, result, should_stop, on_progress)
                if left:
                    self.release(left)
                    break
        finally:
            connection.close()
            db.session.rollback()
        return result


def drain(
    limit: int | None = None,
    on_progress: Callable[[int], None] | None = None,
    should_stop: Callable[[], bool] = lambda: False,
) -> DrainResult:
    """Send every message due now (or ``limit`` of them), each in its own transaction."""
    return Sender().drain(limit=limit, should_stop=should_stop, on_progress=on_progress)


class ServerUnreachable(Exception):
    """The SMTP session could not be opened (connection, greeting, TLS or login): no fault of the
    message, and the rest of the batch is not tried against the same server."""

    def __init__(self, cause: BaseException) -> None:
        super().__init__(str(cause))
        self.cause = cause


class SMTPConnection:
    """One SMTP session for a batch, opened at the first send and reopened after it broke.

    When the session cannot be opened, the message in hand fails with that error, and so does
    every other message of the batch without another try: a server that is down or never answers
    costs one connection attempt (at most one time-out) per batch, not one per message."""

    def __init__(self) -> None:
        self._connection: TimedConnection | None = None
        self._unreachable: BaseException | None = None
        self.opened = 0  # sessions opened, for tests and logs
        self._sent_on_connection = 0

    def _open(self) -> TimedConnection:
        if self._unreachable is not None:
            raise ServerUnreachable(self._unreachable)
        if self._connection is None:
            try:
                self._connection = TimedConnection.open()
            except Exception as exc:
                self._unreachable = exc
                log.warning("cannot reach the SMTP server: %s", _describe(exc))
                raise ServerUnreachable(exc) from exc
            self.opened += 1
            self._sent_on_connection = 0
        return self._connection

    def send(self, message: Message, envelope_to: list[str] | None = None) -> dict:
        """Send → the recipients refused while others took the message (smtplib's dict)."""
        connection = self._open()
        try:
            refused = connection.send(message, envelope_to)
        except (smtplib.SMTPServerDisconnected, ConnectionResetError, BrokenPipeError):
            self.close()
            if not self._sent_on_connection:
                raise
            # A session used before may have been dropped by the server meanwhile: one more try.
            refused = self._try_again(message, envelope_to)
        except smtplib.SMTPRecipientsRefused:
            raise  # smtplib has reset the session: it goes on
        except smtplib.SMTPResponseException as exc:
            if exc.smtp_code == 421:  # the server is closing the session
                self.close()
            raise
        except Exception:
            self.close()
            raise
        self._sent_on_connection += 1
        return refused

    def _try_again(self, message: Message, envelope_to: list[str] | None) -> dict:
        connection = self._open()
        try:
            return connection.send(message, envelope_to)
        except Exception:
            self.close()
            raise

    def close(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            connection.close()


class TimedConnection(flask_mail.Connection):
    """Flask-Mail's connection, with ``MAIL_TIMEOUT_SECONDS`` on the socket: Flask-Mail opens
    SMTP without a timeout, and a server that accepts but never answers would hang the worker.
    It also sends to given envelope recipients and says which ones the server refused."""

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

    def send(self, message: Message, envelope_to: list[str] | None = None) -> dict:  # type: ignore[override]
        if not message.send_to:
            raise ValueError("the message has no recipients")
        if message.has_bad_headers():
            raise flask_mail.BadHeaderError("a header holds a line break")
        if message.date is None:
            message.date = time.time()
        refused: dict = {}
        if self.host is not None:  # None when MAIL_SUPPRESS_SEND is on
            refused = self.host.sendmail(
                sanitize_address(message.sender),
                list(sanitize_addresses(envelope_to or message.send_to)),
                message.as_bytes(),
                message.mail_options,
                message.rcpt_options,
            )
        flask_mail.email_dispatched.send(current_app._get_current_object(), message=message)
        return refused

    def close(self) -> None:
        host, self.host = self.host, None
        if host is None:
            return
        try:
            host.quit()
        except Exception:  # the session is gone either way
            log.debug("closing the SMTP session failed", exc_info=True)
            host.close()
