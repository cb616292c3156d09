"""The e-mails of a request's life: the ask to an advocate, its expiry, the answer to the seller
and the coordinator who asked, and a new request to the coordinators. Each is queued in the
transaction of the change that causes it (``workflows.requests``)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from mail.outbox import enqueue
from models import Account, Advocate, Ask, ReferenceRequest, Role, db, size_band
from models.types import zone_or_utc
from workflows.links import external_url
from workflows.request_view import ask_view, sight_of


def request_link(request: ReferenceRequest) -> str:
    return external_url("admin.request", request_id=request.id)


def prospect_context(request: ReferenceRequest) -> dict[str, Any]:
    """What an advocate may know of the prospect before accepting: never the company, the
    contact, the opportunity or the seller's notes."""
    return {
        "industry": request.industry.name if request.industry else None,
        "size": size_band(request.employees),
        "region": request.region.name if request.region else None,
        "topics": [t.name for t in request.topics],
        "use_cases": [u.name for u in request.use_cases],
        "format_name": request.format.name,
        "written": request.format_code == "written",
        "question_count": len(request.questions or []),
        "needed_by": request.needed_by,
    }


def send_ask(new: Ask, request: ReferenceRequest, advocate: Advocate) -> None:
    """The ask e-mail to the advocate, queued in the asking transaction."""
    account = advocate.account
    enqueue(
        template="ask",
        to=[account.email],
        context={
            "name": account.name,
            **prospect_context(request),
            "reasons": new.explanation,
            "score": new.score,
            "answer_by": new.expires_at.astimezone(zone_or_utc(account.timezone)),
            "link": external_url("portal.ask", ask_id=new.id),
        },
        idempotency_key=f"ask:{new.id}",
    )


def send_expired(expired: Ask, request: ReferenceRequest) -> None:
    """A short notice that the ask expired: nothing to do, no harm done."""
    account = expired.advocate.account if expired.advocate is not None else None
    if account is None or not account.active:
        return
    enqueue(
        template="ask_expired",
        to=[account.email],
        context={
            "name": account.name,
            **prospect_context(request),
            "asked_at": expired.created_at.astimezone(zone_or_utc(account.timezone)),
            "link": external_url("portal.availability"),
        },
        idempotency_key=f"ask-expired:{expired.id}",
    )


def notify_answer(ask: Ask, request: ReferenceRequest, advocate: Advocate, answer: str) -> None:
    """Tell the coordinator who asked (they may need to ask the next candidate) and the seller
    whose request it is, each what ``request_view`` lets them see of the answer."""
    ask.advocate = advocate
    recipients: dict[int, Account] = {}
    for account_id in (ask.asked_by_id, request.requested_by_id):
        account = db.session.get(Account, account_id) if account_id else None
        if account is not None and account.active:
            recipients.setdefault(account.id, account)
    for recipient in recipients.values():
        enqueue(
            template="ask_answered",
            to=[recipient.email],
            context={
                "recipient": recipient,
                "ask": ask_view(ask, sight_of(recipient)),
                "request": request,
                "answer": answer,
                "link": request_link(request),
            },
            idempotency_key=f"ask-answered:{ask.id}:{recipient.id}",
        )


def tell_coordinators(request: ReferenceRequest, by: Account) -> None:
    """A new request: an e-mail to each active coordinator who wants one (not its author)."""
    coordinators = db.session.scalars(
        select(Account)
        .where(Account.role == Role.COORDINATOR, Account.active.is_(True),
               Account.notify_new_requests.is_(True), Account.id != by.id)
        .order_by(Account.id)
    ).all()
    for coordinator in coordinators:
        enqueue(
            template="request_submitted",
            to=[coordinator.email],
            context={"recipient": coordinator, "request": request, "seller": by,
                     "link": request_link(request),
                     "settings_link": external_url("admin.home") + "#notifications"},
            idempotency_key=f"request-submitted:{request.id}:{coordinator.id}",
        )
