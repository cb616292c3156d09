"""Unsubscribing from program mail: outreach and the quarterly nudges (DESIGN.md §6).

Mail sent with ``enqueue_program_mail`` carries a one-click link here and
the ``List-Unsubscribe`` headers (RFC 8058). The link's token is signed (``Purpose.UNSUBSCRIBE``)
over a keyed hash of the address, never the address itself, so the link names nobody to whoever
reads it in a log. It carries no time: an old e-mail's link still works, and all it can do is
stop mail.

What is kept of an unsubscribed address is that keyed hash (HMAC-SHA256 with
``SUPPRESSION_KEY``, like the list of people who left, so that rotating ``SECRET_KEY`` does not
bring their mail back), on ``UnsubscribedAddress``: the list answers "is this address
unsubscribed?" when shown the address, and tells nobody which addresses it holds
(DESIGN.md §7.14). Transactional mail — sign-in links, asks, bookings — never reads it.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable
from typing import Any

from flask import current_app
from sqlalchemy import String, cast, select
from sqlalchemy.dialects import postgresql, sqlite

from mail.outbox import enqueue
from models import OutboxMessage, OutboxStatus, UnsubscribedAddress, db
from models.accounts import normalize_email
from workflows.audit import add_event
from workflows.links import InvalidToken, Purpose, external_url, load, sign
from workflows.prospect_links import LinkRefused
from workflows.transaction import transaction

DIGEST_LENGTH = 64  # hex SHA-256


def address_digest(email: str) -> str:
    """The keyed hash the list keeps of ``email`` (its own, not the erased-address list's)."""
    key = (current_app.config.get("SUPPRESSION_KEY") or current_app.config["SECRET_KEY"]).encode()
    message = b"unsubscribe\0" + normalize_email(email).encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def token(email: str) -> str:
    return sign(Purpose.UNSUBSCRIBE, {"d": address_digest(email)})


def link(email: str) -> str:
    """The absolute one-click unsubscribe link of ``email``, on BASE_URL (the same each time)."""
    return external_url("portal.unsubscribe", token_text=token(email))


def enqueue_program_mail(*, to: str, **message: Any) -> OutboxMessage | None:
    """Program mail (outreach, nudges — DESIGN.md §6) to ``to``, with its one-click unsubscribe
    link and headers; None, and nothing written, when the address unsubscribed. Transactional
    mail goes through ``mail.outbox.enqueue`` and never reads the list."""
    if unsubscribed([to]):
        return None
    return enqueue(to=[to], unsubscribe_link=link(to), **message)


def unsubscribed(emails: Iterable[str]) -> set[str]:
    """Which of ``emails`` unsubscribed (one query)."""
    by_digest = {address_digest(email): email for email in emails}
    if not by_digest:
        return set()
    found = db.session.scalars(
        select(UnsubscribedAddress.digest).where(UnsubscribedAddress.digest.in_(list(by_digest)))
    )
    return {by_digest[digest] for digest in found}


def read(token_text: str) -> str:
    """The address hash a link names; ``LinkRefused`` (400) for a tampered or foreign token."""
    try:
        payload = load(Purpose.UNSUBSCRIBE, token_text, None)
    except InvalidToken:
        raise LinkRefused("This unsubscribe link is not valid: it may have been copied incompletely. "
                          "Reply to the e-mail instead, and the program team will take you off the list.",
                          status=400) from None
    digest = payload.get("d") if isinstance(payload, dict) else None
    if not isinstance(digest, str) or len(digest) != DIGEST_LENGTH:
        raise LinkRefused("This unsubscribe link is not valid.", status=400)
    return digest


def is_unsubscribed(digest: str) -> bool:
    return db.session.get(UnsubscribedAddress, digest) is not None


def unsubscribe(token_text: str, *, one_click: bool = False) -> bool:
    """Stop program mail to the link's address → whether it was subscribed until now
    (unsubscribing twice is harmless). Program mail to it still waiting in the outbox is not
    sent either. Audited without the address: the list cannot say whose it is, and neither may
    the log."""
    digest = read(token_text)
    with transaction():
        if is_unsubscribed(digest):
            return False
        _insert(digest)
        stopped = _stop_queued(digest)
        add_event("mail.unsubscribed", one_click=one_click, stopped=stopped)
    return True


def _stop_queued(digest: str) -> int:
    """Program mail to the address that is still queued expires unsent → how many messages."""
    queued = db.session.scalars(
        select(OutboxMessage).where(
            OutboxMessage.status == OutboxStatus.QUEUED,
            cast(OutboxMessage.headers, String).contains("List-Unsubscribe-Post"),
        ).with_for_update()
    ).all()
    stopped = 0
    for message in queued:
        if [address_digest(address) for address in message.to] == [digest]:
            message.status = OutboxStatus.EXPIRED
            message.last_error = "Not sent: the recipient unsubscribed from program mail."
            stopped += 1
    return stopped


def _insert(digest: str) -> None:
    """Add the digest; a concurrent unsubscribe of the same address (a mail client's one-click
    POST racing the person's button) inserts it once."""
    dialect = db.session.get_bind().dialect.name
    insert = {"postgresql": postgresql.insert, "sqlite": sqlite.insert}.get(dialect)
    if insert is None:  # pragma: no cover - PostgreSQL and SQLite are the databases we run on
        db.session.add(UnsubscribedAddress(digest=digest))
        return
    db.session.execute(insert(UnsubscribedAddress).values(digest=digest).on_conflict_do_nothing())
