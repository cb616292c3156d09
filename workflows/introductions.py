"""The introduction: once an advocate accepts a live call, the prospect contact (the seller in
copy) learns who will talk to them and gets the link to book a time in the advocate's own
availability. It names the advocate, their title, company and the talking points they chose
to share; never their e-mail address."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from mail.outbox import enqueue
from models import Account, Advocate, Engagement, ReferenceRequest
from workflows import settings
from workflows.links import Purpose
from workflows.prospect_links import link
from workflows.timeline import record


def public_profile(advocate: Advocate) -> dict[str, Any]:
    """What a prospect may know of the advocate."""
    return {
        "name": advocate.account.name,
        "job_title": advocate.job_title,
        "company": advocate.company.name if advocate.company else "",
        "talking_points": advocate.talking_points,
    }


def introduce_step(engagement: Engagement, request: ReferenceRequest, advocate: Advocate,
                   now: datetime, *, by: Account | None = None, resend: int = 0) -> bool:
    """Queue the introduction to the prospect contact, the seller in copy, with the booking
    link (flushes nothing itself); → False when there is no contact e-mail to send it to."""
    to = engagement.prospect_email or request.contact_email
    if not to:
        return False
    seller = request.requested_by
    enqueue(
        template="introduction",
        to=[to],
        cc=[seller.email] if seller is not None and seller.active else [],
        context={
            "prospect_name": engagement.prospect_name or request.contact_name,
            "advocate": public_profile(advocate),
            "format_name": request.format.name,
            "seller": seller,
            "link": link(engagement, Purpose.BOOK),
            "minutes": settings.value("CALL_MINUTES"),
        },
        idempotency_key=f"introduction:{engagement.id}:{resend}",
    )
    engagement.introduced_at = now
    record(request.id, "introduced", by, now, engagement_id=engagement.id, resend=resend)
    return True
