"""A seller's request arriving (the form or the JSON API) and its later edits: each one
transaction, written on the timeline and in the audit log. What happens to it next, the asks
and answers, is ``workflows.requests``'."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select

from models import Account, Competitor, ReferenceRequest, RequestOutcome, RequestStatus, Topic, UseCase, db
from models.types import utcnow
from workflows import request_mail, submissions
from workflows.audit import add_event
from workflows.request_input import RequestEdit, RequestInput
from workflows.requests import ASKABLE, IllegalTransition, ask_automatically, lock_request
from workflows.submissions import Once
from workflows.tags import tag_list
from workflows.timeline import record
from workflows.transaction import transaction


def submit_request(data: RequestInput, *, by: Account, now: datetime | None = None,
                   once: Once | None = None) -> ReferenceRequest:
    """Save a request checked by ``request_input.parse_request``, as ``by``'s: status "new",
    use cases and competitors reused when known (compared case-insensitively) and created when
    first used, "submitted" on the timeline, the audit log, and an e-mail to each coordinator who
    wants one. One commit; then, where the program asks by itself, the best eligible advocate is
    asked (``ask_automatically``, a transaction of its own).

    ``once``: the form's submission key or the API's ``Idempotency-Key``; the same key again
    raises ``submissions.AlreadySubmitted`` naming the request it created."""
    now = now or utcnow()
    # Read what the input holds before the transaction (on SQLite its write lock starts a new
    # transaction, which expires what the session holds).
    industry_id = data.industry.id if data.industry is not None else None
    region_id = data.region.id if data.region is not None else None
    format_code = data.format.code
    topic_ids = list(dict.fromkeys(topic.id for topic in data.topics))
    with transaction():
        claimed = submissions.claim(by.id, once.scope, once.key, content=once.content) if once else None
        request = ReferenceRequest(
            requested_by_id=by.id,
            opportunity_id=data.opportunity_id,
            opportunity_name=data.opportunity_name,
            amount=data.amount,
            prospect_company=data.prospect_company,
            industry_id=industry_id,
            employees=data.employees,
            region_id=region_id,
            contact_name=data.contact_name,
            contact_email=data.contact_email,
            format_code=format_code,
            needed_by=data.needed_by,
            questions=list(data.questions),
            notes=data.notes,
            status=RequestStatus.NEW,
            outcome=RequestOutcome.OPEN,
            use_cases=tag_list(UseCase, data.use_cases),
            topics=_topics(topic_ids),
            competitors=tag_list(Competitor, data.competitors),
            created_at=now,
            updated_at=now,
        )
        db.session.add(request)
        db.session.flush()
        if claimed is not None:
            submissions.done(claimed, request.id)
        record(request.id, "submitted", by, now, format=format_code)
        add_event("request.submitted", actor=by, subject=f"request:{request.id}", format=format_code)
        request_mail.tell_coordinators(request, by)
    ask_automatically(request.id, now=now)
    return request


def edit_request(request_id: int, changes: RequestEdit, *, by: Account,
                 now: datetime | None = None) -> list[str]:
    """Change the needed-by date, notes, topics or contact of a request nobody has accepted yet
    (``IllegalTransition`` after that: the advocate agreed to what they read). → the fields that
    changed, named on the timeline as "edited"."""
    now = now or utcnow()
    topic_ids = list(dict.fromkeys(topic.id for topic in changes.topics))
    with transaction():
        request = lock_request(request_id, visible_to=by)
        if request.status not in ASKABLE:
            raise IllegalTransition(
                f"This request is {request.status.value}: an advocate has taken it on, so it can no "
                "longer be changed. Nothing was changed."
            )
        before = _editable(request)
        request.needed_by = changes.needed_by
        request.notes = changes.notes
        request.contact_name = changes.contact_name
        request.contact_email = changes.contact_email
        request.topics = _topics(topic_ids)
        changed = [name for name, value in _editable(request).items() if before[name] != value]
        if changed:
            request.updated_at = now
            record(request.id, "edited", by, now, changed=changed)
            add_event("request.edited", actor=by, subject=f"request:{request.id}", changed=changed)
    return changed


def _editable(request: ReferenceRequest) -> dict[str, Any]:
    return {
        "needed_by": request.needed_by,
        "notes": request.notes,
        "topics": sorted(t.id for t in request.topics),
        "contact_name": request.contact_name,
        "contact_email": request.contact_email,
    }


def _topics(topic_ids: list[int]) -> list[Topic]:
    if not topic_ids:
        return []
    by_id = {t.id: t for t in db.session.scalars(select(Topic).where(Topic.id.in_(topic_ids)))}
    return [by_id[i] for i in topic_ids if i in by_id]
