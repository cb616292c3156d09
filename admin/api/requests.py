"""Reference requests over the API (DESIGN.md §9): submit, read (with timeline, asks and
engagement), the ranked matches, ask an advocate, record the deal's outcome.

Who may do what:
- sales submit requests, read their own and record their outcome; another seller's request
  answers 404, like one that does not exist;
- coordinators and admins do all of that for every request, and also see the matches and ask.
  Sales do not see the matches: which advocates there are, how they rank and why others are
  left out is the coordinator's to share. Sales do see who was asked for their own request.

What each of them sees of a request is ``workflows.request_view``'s to decide, as on the pages.

Each view parses its input, calls one workflow function and answers; a refusal of the workflow
becomes its status (404 not found or not theirs, 409 illegal state change or already asked,
422 invalid input) with the workflow's own message, in the blueprint's one error handler.
``POST /requests`` honours an ``Idempotency-Key`` header: the same key again answers with the
request the first call created, and creates nothing.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from flask import jsonify, request, url_for
from sqlalchemy import select
from sqlalchemy.orm import joinedload

from access import STAFF
from admin.api import SELLERS_AND_STAFF, ApiError, allow, bp, current_account, json_body, read_body
from admin.api import schemas as out
from admin.api.schemas import MATCH_LIMIT_DEFAULT, MATCH_LIMIT_MAX, AskBody, OutcomeBody
from models import Account, Advocate, Ask, Engagement, ReferenceRequest, db
from models.types import ID_MAX
from pages import int_arg
from workflows import errors, request_input, request_submission
from workflows import requests as flow
from workflows.engagements import current_engagement
from workflows.matching import cached_rank
from workflows.request_view import AskView, ask_view, sight_of, view_request
from workflows.submissions import AlreadySubmitted, Once, check_key

__all__ = ["MATCH_LIMIT_DEFAULT", "MATCH_LIMIT_MAX"]


# --- the views --------------------------------------------------------------------------------


@bp.post("/requests")
@allow(SELLERS_AND_STAFF)
def create_request():
    raw = json_body()
    once = _idempotency(raw)
    data = request_input.parse_request(raw)
    try:
        submitted = request_submission.submit_request(data, by=current_account(), once=once)
    except AlreadySubmitted as again:
        response = _request_response(again.submission.resource_id, again.submission.status_code or 201)
        response.headers["Idempotent-Replayed"] = "true"
        return response
    return _request_response(submitted.id, 201)


def _idempotency(body: dict[str, Any]) -> Once | None:
    key = request.headers.get("Idempotency-Key")
    if key is None:
        return None
    try:
        return Once("api:requests", check_key(key.strip(), "Idempotency-Key"), content=body)
    except errors.Invalid as invalid:
        raise ApiError(400, str(invalid), invalid.errors) from None


@bp.get("/requests/<int:request_id>")
@allow(SELLERS_AND_STAFF)
def get_request(request_id: int):
    viewer = current_account()
    return jsonify(request_json(flow.request_for(viewer, request_id), viewer).model_dump(mode="json"))


@bp.patch("/requests/<int:request_id>")
@allow(SELLERS_AND_STAFF)
def update_request(request_id: int):
    body = read_body(OutcomeBody, json_body(), {"outcome": "Give the deal's outcome: “won” or “lost”."},
                     unknown="Only the outcome can be changed here.")
    changed = flow.record_outcome(request_id, body.outcome, by=current_account())
    return _request_response(changed.id)


@bp.get("/requests/<int:request_id>/matches")
@allow(STAFF)
def matches(request_id: int):
    _only_query_parameters("limit")
    limit = int_arg(request.args, "limit", MATCH_LIMIT_DEFAULT, high=MATCH_LIMIT_MAX)
    found = flow.request_for(current_account(), request_id)
    result = cached_rank(found, named=limit)
    return jsonify(out.Matches(
        candidates=[
            out.Candidate(advocate_id=c.advocate_id, name=c.name, company=c.company, score=c.score,
                          reasons=[out.Reason(label=r.label, points=r.points) for r in c.reasons])
            for c in result.candidates[:limit]
        ],
        excluded=[
            out.Exclusion(advocate_id=e.advocate_id, name=e.name, rule=e.rule, text=e.text, detail=e.detail)
            for e in result.excluded[:limit]
        ],
        candidates_total=len(result.candidates),
        excluded_total=result.excluded_total,
    ).model_dump(mode="json"))


@bp.post("/requests/<int:request_id>/asks")
@allow(STAFF)
def create_ask(request_id: int):
    body = read_body(AskBody, json_body(), {
        "advocate_id": f"Give the id of the advocate to ask, as a whole number from 1 to {ID_MAX}.",
    }, unknown="Unknown field: send only advocate_id.")
    made = flow.ask(request_id, body.advocate_id, by=current_account())
    made = db.session.scalars(
        select(Ask).where(Ask.id == made.id).options(joinedload(Ask.advocate).joinedload(Advocate.account))
    ).one()
    response = jsonify(ask_json(ask_view(made, sight_of(current_account()))).model_dump(mode="json"))
    response.status_code = 201
    response.headers["Location"] = url_for("api.get_request", request_id=request_id)
    return response


def _only_query_parameters(*names: str) -> None:
    unknown = sorted(set(request.args) - set(names))
    if unknown:
        message = f"Unknown parameter: use {', '.join(names)}."
        raise ApiError(422, f"Some parameters are invalid: {', '.join(unknown)}.",
                       {name: [message] for name in unknown})


# --- writing the answer -----------------------------------------------------------------------


def _request_response(request_id: int, status: int = 200):
    """The request as ``GET /requests/{id}`` shows it (after a change: read again)."""
    viewer = current_account()
    response = jsonify(request_json(flow.request_for(viewer, request_id), viewer).model_dump(mode="json"))
    response.status_code = status
    if status == 201:
        response.headers["Location"] = url_for("api.get_request", request_id=request_id)
    return response


def request_json(found: ReferenceRequest, viewer: Account) -> out.Request:
    """The request with its timeline, asks and engagement, as ``viewer`` may see it. ``found``
    comes from ``workflows.requests.request_for`` (everything loaded); the engagement is one
    more query."""
    view = view_request(found, viewer, current_engagement(found.id))
    seller = found.requested_by
    return out.Request(
        id=found.id,
        status=found.status,
        outcome=found.outcome,
        opportunity_id=found.opportunity_id,
        opportunity_name=found.opportunity_name,
        amount=_number(found.amount),
        prospect_company=found.prospect_company,
        industry=found.industry.name if found.industry else None,
        employees=found.employees,
        region=found.region.name if found.region else None,
        contact_name=found.contact_name,
        contact_email=found.contact_email,
        use_cases=_names(found.use_cases),
        topics=_names(found.topics),
        competitors=_names(found.competitors),
        format=found.format_code,
        needed_by=found.needed_by,
        questions=list(found.questions or []),
        notes=found.notes,
        requested_by=out.Person(id=seller.id, name=seller.name, email=seller.email) if seller else None,
        created_at=found.created_at,
        updated_at=found.updated_at,
        first_asked_at=found.first_asked_at,
        matched_at=found.matched_at,
        scheduled_at=found.scheduled_at,
        completed_at=found.completed_at,
        cancelled_at=found.cancelled_at,
        outcome_at=found.outcome_at,
        timeline=[
            out.TimelineEvent(at=entry.at, kind=entry.kind, actor=entry.who, text=entry.text,
                              detail=entry.detail)
            for entry in view.timeline
        ],
        asks=[ask_json(ask) for ask in view.asks],
        engagement=engagement_json(view.engagement) if view.engagement else None,
    )


def ask_json(ask: AskView) -> out.Ask:
    """An ask as the API shows it; what the viewer may not see (scores and reasons for sales,
    why an advocate declined) is ``null`` or empty."""
    return out.Ask(
        id=ask.id,
        request_id=ask.request_id,
        advocate_id=ask.advocate_id,
        name=ask.name,
        status=ask.status,
        score=ask.score,
        reasons=[out.Reason(**reason) for reason in ask.reasons],
        asked_at=ask.asked_at,
        expires_at=ask.expires_at,
        responded_at=ask.responded_at,
        decline_reason=ask.decline_reason,
        decline_reason_text=ask.decline_reason_text,
        decline_note=ask.decline_note,
    )


def engagement_json(engagement: Engagement) -> out.Engagement:
    return out.Engagement(
        id=engagement.id,
        advocate_id=engagement.advocate_id,
        format=engagement.format_code,
        status=engagement.status,
        starts_at=engagement.starts_at,
        ends_at=engagement.ends_at,
        quarter=engagement.quarter,
        created_at=engagement.created_at,
        booked_at=engagement.booked_at,
        completed_at=engagement.completed_at,
        cancelled_at=engagement.cancelled_at,
    )


def _names(entries) -> list[str]:
    """Tags and topics in alphabetical order (the database keeps no order for them)."""
    return sorted((entry.name for entry in entries), key=str.casefold)


def _number(value: Decimal | None) -> int | float | None:
    if value is None:
        return None
    return int(value) if value == value.to_integral_value() else float(value)
