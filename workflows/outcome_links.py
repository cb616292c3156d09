"""The seller's one-click deal outcome: once the reference has taken place, the seller gets two
signed links, "won" and "lost", in an e-mail (``ask_seller_step``, from the call's completion in
``workflows.followup`` and the written answers' approval in ``workflows.written``).

A link is bound to one request, one outcome and the seller who asked for the reference. Opening
it changes nothing: the page names the request and the choice, and a button POSTs it
(``requests.record_outcome``). A tampered or foreign link, a seller no longer there, or an
outcome already recorded is refused with a page that says why, never a 500.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import joinedload

from mail.outbox import enqueue
from models import Account, ReferenceRequest, RequestOutcome, db
from models.types import ID_MAX
from workflows.links import InvalidToken, Purpose, external_url, load, sign
from workflows.prospect_links import LinkRefused
from workflows.requests import OUTCOME_CHOICES, record_outcome

# Deals close months after the call: the link lasts a year, the outcome once recorded is final.
MAX_AGE = timedelta(days=365)


@dataclass(frozen=True)
class OutcomeLink:
    request: ReferenceRequest
    outcome: RequestOutcome
    seller: Account


def link(request: ReferenceRequest, outcome: RequestOutcome) -> str:
    """The absolute link that records ``outcome`` for ``request``, on BASE_URL."""
    payload = {"r": request.id, "o": outcome.value, "a": request.requested_by_id}
    return external_url("portal.outcome", token_text=sign(Purpose.OUTCOME, payload))


def read(token_text: str) -> OutcomeLink:
    """What the link records, for whom; ``LinkRefused`` for a tampered, foreign or too old link,
    or one whose request or seller is gone."""
    try:
        payload = load(Purpose.OUTCOME, token_text, int(MAX_AGE.total_seconds()))
    except InvalidToken as refusal:
        if refusal.expired:
            raise LinkRefused("This link has expired: record the outcome on the request's page "
                              "instead.") from None
        raise LinkRefused("This link is not valid. It may have been copied incompletely.",
                          status=400) from None
    if not isinstance(payload, dict):
        raise LinkRefused("This link is not valid.", status=400)
    request_id, seller_id, outcome = payload.get("r"), payload.get("a"), payload.get("o")
    if not all(isinstance(value, int) and 1 <= value <= ID_MAX for value in (request_id, seller_id)) \
            or outcome not in {choice.value for choice in OUTCOME_CHOICES}:
        raise LinkRefused("This link is not valid.", status=400)
    request = db.session.scalars(
        select(ReferenceRequest).where(ReferenceRequest.id == request_id)
        .options(joinedload(ReferenceRequest.requested_by))
    ).unique().one_or_none()
    seller = request.requested_by if request is not None else None
    if seller is None or seller.id != seller_id or not seller.active:
        raise LinkRefused("This request no longer exists, or is no longer yours.")
    return OutcomeLink(request, RequestOutcome(outcome), seller)


def check_open(found: OutcomeLink) -> None:
    """The outcome is still to be recorded; ``LinkRefused`` (409) once it is."""
    request = found.request
    if request.outcome is not RequestOutcome.OPEN:
        on = f" on {request.outcome_at:%d %B %Y}" if request.outcome_at else ""
        raise LinkRefused(f"The outcome of this deal was already recorded{on}: it was "
                          f"{request.outcome.value}. Nothing more to do.", status=409)


def use(token_text: str) -> OutcomeLink:
    """Record the outcome the link names, as its seller."""
    found = read(token_text)
    check_open(found)
    record_outcome(found.request.id, found.outcome, by=found.seller)
    return found


def ask_seller_step(request: ReferenceRequest) -> None:
    """Once the reference has taken place (a call or approved written answers), the seller who
    asked for it gets the won/lost links; nothing when the outcome is recorded or they left."""
    seller = db.session.get(Account, request.requested_by_id) if request.requested_by_id else None
    if seller is None or not seller.active or request.outcome is not RequestOutcome.OPEN:
        return
    enqueue(
        template="outcome_request",
        to=[seller.email],
        context={
            "seller": seller,
            "request": request,
            "won": link(request, RequestOutcome.WON),
            "lost": link(request, RequestOutcome.LOST),
            "link": external_url("admin.request", request_id=request.id),
        },
        idempotency_key=f"outcome-request:{request.id}",
    )
