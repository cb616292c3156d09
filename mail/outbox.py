"""Writing messages to the outbox."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from flask import current_app
from sqlalchemy import select

from models import OutboxMessage, OutboxStatus, db


def render(template: str, context: Mapping[str, Any]) -> tuple[str, str, str | None]:
    """(subject, text, html) of ``templates/mail/<template>.txt`` and ``.html``.

    The text template sets the subject with ``{% set subject = "…" %}``.
    """
    env = current_app.jinja_env
    context = {"base_url": current_app.config["BASE_URL"], **context}
    text_module = env.get_template(f"mail/{template}.txt").make_module(context)
    subject = " ".join(str(getattr(text_module, "subject", "")).split())
    if not subject:
        raise ValueError(f"mail/{template}.txt does not set a subject")
    html_name = f"mail/{template}.html"
    html = env.get_template(html_name).render(context) if _exists(html_name) else None
    return subject, str(text_module).strip() + "\n", html


def _exists(name: str) -> bool:
    return name in current_app.jinja_env.list_templates(filter_func=lambda n: n.startswith("mail/"))


def enqueue(
    *,
    template: str,
    to: Iterable[str],
    context: Mapping[str, Any],
    idempotency_key: str,
    cc: Iterable[str] = (),
    expires_at: datetime | None = None,
    sensitive: bool = False,
    headers: Mapping[str, str] | None = None,
    attachments: Iterable[Mapping[str, Any]] = (),
) -> OutboxMessage:
    """Add a message to the current transaction; it is sent only if that transaction commits.

    Enqueuing again with the same ``idempotency_key`` returns the message already there.
    """
    if isinstance(to, str) or isinstance(cc, str):
        raise TypeError("to and cc are lists of addresses, not a single string")
    existing = db.session.scalar(
        select(OutboxMessage).where(OutboxMessage.idempotency_key == idempotency_key)
    )
    if existing is not None:
        return existing
    subject, text, html = render(template, context)
    message = OutboxMessage(
        idempotency_key=idempotency_key,
        template=template,
        to=list(to),
        cc=list(cc),
        subject=subject,
        body_text=text,
        body_html=html,
        headers=dict(headers or {}),
        attachments=[dict(a) for a in attachments],
        sensitive=sensitive,
        expires_at=expires_at,
    )
    db.session.add(message)
    return message


ERASED_BODY = "[erased: the recipient left the program]"


def forget_recipient(email: str, *, keep: OutboxMessage | None = None) -> int:
    """Erase an address from the outbox, in the caller's transaction (someone left the program).

    Messages to it lose their addresses and bodies; those still queued are not sent. ``keep`` is
    the one message that must still go out (the confirmation of leaving); its body is wiped
    once it is sent, like any sensitive message.
    """
    from sqlalchemy import String, cast

    email = email.casefold()
    candidates = db.session.scalars(
        select(OutboxMessage).where(
            cast(OutboxMessage.to, String).contains(email) | cast(OutboxMessage.cc, String).contains(email)
        )
    ).all()
    forgotten = 0
    for message in candidates:
        if message is keep:
            message.sensitive = True
            continue
        addresses = [a for a in (*message.to, *(message.cc or ())) if a.casefold() == email]
        if not addresses:
            continue
        message.to = [a for a in message.to if a.casefold() != email] or ["erased@invalid"]
        message.cc = [a for a in (message.cc or []) if a.casefold() != email]
        message.subject = "[erased]"
        message.body_text = ERASED_BODY
        message.body_html = None
        message.attachments = []
        if message.status == OutboxStatus.QUEUED:
            message.status = OutboxStatus.EXPIRED
        forgotten += 1
    return forgotten
