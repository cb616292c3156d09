"""The outbox as an admin sees it (``/admin/outbox``): every message with its status, filtered and
paginated in a fixed number of queries; a dead message sent again, or any message not sent yet
given up on (DESIGN.md §6: "marks a message dead after the last try, visible in the admin area
with its error").

What an admin never sees of a message is a credential: the body of a sensitive message (a
sign-in link) is not shown at all, and in every other body each link is replaced by "[link]" —
prospect and feedback links are bearer credentials too (DESIGN.md §7.9).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import String, cast, func, or_, select
from sqlalchemy.orm import defer

from mail.outbox import ERASED_BODY, LIST_UNSUBSCRIBE_POST
from models import Account, OutboxMessage, OutboxStatus, db
from models.types import ID_MAX, utcnow
from workflows import errors, unsubscribe
from workflows.audit import add_event
from workflows.transaction import transaction

PAGE_SIZE = 50
PAGES_MAX = ID_MAX // PAGE_SIZE  # so that the OFFSET stays an integer the database takes
SEARCH_MAX = 254
LINK = re.compile(r"https?://\S+")
# What the worker leaves of a sensitive body once it is sent or given up on (mail.sender.WIPED).
WIPED_BODY = "[removed: it held a one-time link]"

STATUS_WORDS = {
    OutboxStatus.QUEUED: "Queued",
    OutboxStatus.SENT: "Sent",
    OutboxStatus.DEAD: "Dead",
    OutboxStatus.EXPIRED: "Expired",
    OutboxStatus.DISCARDED: "Discarded",
}


class NotFound(errors.NotFound):
    pass


class CannotRequeue(errors.Conflict):
    pass


class CannotDiscard(errors.Conflict):
    pass


# --- the list --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Filters:
    status: OutboxStatus | None = None
    template: str = ""
    recipient: str = ""

    @property
    def any(self) -> bool:
        return bool(self.status or self.template or self.recipient)


def parse_filters(status: str | None, template: str | None, recipient: str | None) -> Filters:
    """The list's filters from the query string; ``Invalid`` naming the one at fault."""
    status, template, recipient = (status or "").strip(), (template or "").strip(), (recipient or "").strip()
    if status and status not in {s.value for s in OutboxStatus}:
        raise errors.Invalid(f"“{status[:20]}” is not a status: choose one of "
                             f"{', '.join(s.value for s in OutboxStatus)}.", "status")
    if len(template) > 64:
        raise errors.Invalid("A template name has at most 64 characters.", "template")
    if len(recipient) > SEARCH_MAX:
        raise errors.Invalid(f"Search for an address of at most {SEARCH_MAX} characters.", "recipient")
    return Filters(OutboxStatus(status) if status else None, template, recipient)


@dataclass(frozen=True)
class Row:
    message: OutboxMessage
    body: str | None  # the text with its links hidden; None for a sensitive message
    can_requeue: bool
    can_discard: bool

    @property
    def recipients(self) -> list[str]:
        return [*self.message.to, *(self.message.cc or [])]


@dataclass(frozen=True)
class Listing:
    rows: list[Row]
    total: int
    page: int
    pages: int
    counts: dict[OutboxStatus, int]  # every message, by status, whatever the filters


def listing(filters: Filters, page: int = 1) -> Listing:
    """One page of messages, newest first: three queries, whatever the outbox holds."""
    conditions = []
    if filters.status:
        conditions.append(OutboxMessage.status == filters.status)
    if filters.template:
        conditions.append(OutboxMessage.template == filters.template)
    if filters.recipient:
        needle = filters.recipient.casefold()
        conditions.append(or_(
            func.lower(cast(OutboxMessage.to, String)).contains(needle, autoescape=True),
            func.lower(cast(OutboxMessage.cc, String)).contains(needle, autoescape=True),
        ))
    messages = db.session.scalars(
        select(OutboxMessage)
        .where(*conditions)
        .options(defer(OutboxMessage.body_html), defer(OutboxMessage.attachments))
        .order_by(OutboxMessage.id.desc())
        .limit(PAGE_SIZE)
        .offset((page - 1) * PAGE_SIZE)
    ).all()
    total = db.session.scalar(select(func.count(OutboxMessage.id)).where(*conditions)) or 0
    counts = dict.fromkeys(OutboxStatus, 0)
    counts.update((status, n) for status, n in db.session.execute(
        select(OutboxMessage.status, func.count(OutboxMessage.id)).group_by(OutboxMessage.status)
    ))
    rows = [Row(m, shown_body(m), requeue_refusal(m) is None, discard_refusal(m) is None) for m in messages]
    return Listing(rows, total, page, max(1, -(-total // PAGE_SIZE)), counts)


def shown_body(message: OutboxMessage) -> str | None:
    """What an admin may read of a body: nothing of a sensitive one, and no link of any."""
    if message.sensitive:
        return None
    return LINK.sub("[link]", message.body_text)


# --- the actions -----------------------------------------------------------------------------


def requeue_refusal(message: OutboxMessage) -> str | None:
    """Why ``message`` cannot be sent again, or None: only a dead message can, and only one
    that still holds what it was to send."""
    if message.status is not OutboxStatus.DEAD:
        return f"Only a dead message can be sent again: this one is {message.status.value}."
    if message.sensitive:
        return ("This message held a one-time sign-in link, which is removed and would be too old by now: "
                "the person asks for a new link instead.")
    if message.body_text == ERASED_BODY:
        return "The recipient left the program: their message is erased and cannot be sent."
    return None


def discard_refusal(message: OutboxMessage) -> str | None:
    if message.status not in (OutboxStatus.DEAD, OutboxStatus.QUEUED):
        return f"Only a dead or queued message can be discarded: this one is {message.status.value}."
    return None


def requeue(message_id: int, *, by: Account, now: datetime | None = None) -> OutboxMessage:
    """Send a dead message again: queued, its attempts counted from nought, due now. Its last
    error stays until the worker sends it."""
    now = now or utcnow()
    with transaction():
        message = _locked(message_id)
        refusal = requeue_refusal(message)
        if refusal is None and _unsubscribable(message) and unsubscribe.unsubscribed(message.to):
            refusal = "The recipient unsubscribed from program mail since: it cannot be sent."
        if refusal:
            raise CannotRequeue(refusal)
        attempts = message.attempts
        message.status = OutboxStatus.QUEUED
        message.attempts = 0
        message.next_attempt_at = now
        add_event("outbox.requeued", actor=by, subject=f"outbox:{message.id}", template=message.template,
                  attempts=attempts)
    return message


def discard(message_id: int, *, by: Account) -> OutboxMessage:
    """Give up on a message that is dead or still queued: it is never sent. A sensitive body
    is wiped, as the worker wipes it when it gives up."""
    with transaction():
        message = _locked(message_id)
        refusal = discard_refusal(message)
        if refusal:
            raise CannotDiscard(refusal)
        was = message.status
        message.status = OutboxStatus.DISCARDED
        if message.sensitive:
            message.body_text = WIPED_BODY
            message.body_html = None
        add_event("outbox.discarded", actor=by, subject=f"outbox:{message.id}", template=message.template,
                  status=was.value)
    return message


def _locked(message_id: int) -> OutboxMessage:
    """The message, locked against a worker sending it meanwhile (PostgreSQL: the row; SQLite:
    the transaction's write lock)."""
    message = db.session.scalars(
        select(OutboxMessage).where(OutboxMessage.id == message_id)
        .with_for_update().execution_options(populate_existing=True)
    ).one_or_none()
    if message is None:
        raise NotFound(f"There is no outbox message {message_id}.")
    return message


def _unsubscribable(message: OutboxMessage) -> bool:
    return (message.headers or {}).get("List-Unsubscribe-Post") == LIST_UNSUBSCRIBE_POST
