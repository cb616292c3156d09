"""Writing messages to the outbox, and rendering the e-mail templates they are made of."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from flask import current_app
from jinja2 import StrictUndefined
from sqlalchemy import select

from models import OutboxMessage, OutboxStatus, db


def render(template: str, context: Mapping[str, Any], *, strict: bool = False) -> tuple[str, str, str | None]:
    """(subject, text, html) of ``templates/mail/<template>.txt`` and ``.html``.

    The text template sets the subject with ``{% set subject = "…" %}``; the HTML template
    extends ``mail/_base.html`` and gets the subject too. Both get ``base_url`` and
    ``program_name``. With an ``unsubscribe_link`` in the context the text ends with the
    unsubscribe footer (``mail/_unsubscribe.txt``), as the HTML layout's footer does.
    ``strict``: a variable the context lacks is an error instead of empty text (the admin's
    preview, whose sample data must give every template all it uses).
    """
    env = _strict_env() if strict else current_app.jinja_env
    config = current_app.config
    context = {"base_url": config["BASE_URL"], "program_name": config["PROGRAM_NAME"], **context}
    text_module = env.get_template(f"mail/{template}.txt").make_module(context)
    subject = " ".join(str(getattr(text_module, "subject", "")).split())
    if not subject:
        raise ValueError(f"mail/{template}.txt does not set a subject")
    text = str(text_module).strip() + "\n"
    if context.get("unsubscribe_link"):
        text += "\n" + env.get_template("mail/_unsubscribe.txt").render(context).strip() + "\n"
    html_name = f"mail/{template}.html"
    html = env.get_template(html_name).render({**context, "subject": subject}) if _exists(html_name) else None
    return subject, text, html


def catalogue() -> list[str]:
    """Every e-mail there is: the names of ``templates/mail/*.txt``, partials (``_…``) aside."""
    return sorted(
        name.removeprefix("mail/").removesuffix(".txt")
        for name in current_app.jinja_env.list_templates(
            filter_func=lambda n: n.startswith("mail/") and n.endswith(".txt")
        )
        if not name.removeprefix("mail/").startswith("_")
    )


def _strict_env():
    """The app's template environment, with undefined variables an error (cached per app)."""
    env = current_app.extensions.get("vouch.strict_mail_env")
    if env is None:
        env = current_app.jinja_env.overlay(undefined=StrictUndefined, cache_size=100)
        current_app.extensions["vouch.strict_mail_env"] = env
    return env


def _exists(name: str) -> bool:
    return name in current_app.jinja_env.list_templates(filter_func=lambda n: n.startswith("mail/"))


LIST_UNSUBSCRIBE_POST = "List-Unsubscribe=One-Click"


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
    unsubscribe_link: str | None = None,
) -> OutboxMessage:
    """Add a message to the current transaction; it is sent only if that transaction commits.

    Enqueuing again with the same ``idempotency_key`` returns the message already there.

    ``unsubscribe_link``: program mail the recipient may stop (outreach, nudges — DESIGN.md §6),
    to one address: the link is shown in the footer and given in the ``List-Unsubscribe`` and
    ``List-Unsubscribe-Post`` headers (RFC 8058). Whether the address still takes such mail is
    the caller's to check (``workflows.unsubscribe.enqueue_program_mail``).
    """
    if isinstance(to, str) or isinstance(cc, str):
        raise TypeError("to and cc are lists of addresses, not a single string")
    to, cc = list(to), list(cc)
    existing = db.session.scalar(
        select(OutboxMessage).where(OutboxMessage.idempotency_key == idempotency_key)
    )
    if existing is not None:
        return existing
    headers = dict(headers or {})
    reply_to = current_app.config.get("MAIL_REPLY_TO")
    if reply_to:
        headers.setdefault("Reply-To", reply_to)
    if unsubscribe_link is not None:
        if len(to) != 1 or cc:
            raise ValueError(
                "unsubscribable mail goes to one address: its unsubscribe link is that address's"
            )
        context = {**context, "unsubscribe_link": unsubscribe_link}
        headers["List-Unsubscribe"] = f"<{unsubscribe_link}>"
        headers["List-Unsubscribe-Post"] = LIST_UNSUBSCRIBE_POST
    subject, text, html = render(template, context)
    message = OutboxMessage(
        idempotency_key=idempotency_key,
        template=template,
        to=to,
        cc=cc,
        subject=subject,
        body_text=text,
        body_html=html,
        headers=headers,
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
