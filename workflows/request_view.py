"""What each person may see of a request, decided here once: the request's page, the JSON API
and the e-mails about it are all built from ``view_request`` / ``ask_view``.

Staff (coordinators, admins) see everything. Sales see their request, who was asked and how it
stands, but never the match scores and reasons (choosing advocates is the coordinator's job)
nor why an advocate declined or their note (written for the coordinator only).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from models import Account, Ask, AskStatus, Engagement, ReferenceRequest, RequestEvent, Role
from models.types import zone_or_utc

# Why an advocate declines: code stored on the ask → what the advocate and coordinator read.
DECLINE_REASONS: dict[str, str] = {
    "busy": "Too busy right now",
    "topic": "The topics are not a good fit for me",
    "company": "I would prefer not to speak with this company",
    "other": "Other reason",
}
# Reasons Vouch records itself (not offered to the advocate).
LEFT_PROGRAM = "left_program"
REASON_TEXT: dict[str, str] = {
    **DECLINE_REASONS,
    LEFT_PROGRAM: "Left the reference program",
    "cancelled_by_prospect": "Cancelled by the prospect",
    "cancelled_by_advocate": "Cancelled by the advocate",
    "cancelled_by_coordinator": "Cancelled by the program coordinator",
}

# Timeline details anybody who may see the request may read; staff also read STAFF_DETAIL.
PUBLIC_DETAIL = frozenset({"advocate_id", "ask_id", "engagement_id", "format", "outcome", "starts_at",
                           "ends_at", "changed", "side", "call_happened", "how", "until"})
STAFF_DETAIL = frozenset({"score", "reason", "rating", "helped_decision"})


@dataclass(frozen=True)
class Sight:
    """What a viewer may see of a request."""

    match_details: bool  # scores, reasons, the ranked and the excluded advocates
    decline_details: bool  # why an advocate declined, and their note


def sight_of(viewer: Account | Role) -> Sight:
    role = viewer if isinstance(viewer, Role) else viewer.role
    staff = role.is_staff
    return Sight(match_details=staff, decline_details=staff)


def decline_reason_text(code: str | None) -> str:
    return REASON_TEXT.get(code or "", code or "")


@dataclass(frozen=True)
class AskView:
    id: int
    request_id: int
    advocate_id: int
    name: str
    company: str | None
    status: AskStatus
    asked_at: datetime
    expires_at: datetime
    responded_at: datetime | None
    score: int | None  # None: not the viewer's to see
    reasons: tuple[dict[str, Any], ...]
    decline_reason: str | None
    decline_reason_text: str | None
    decline_note: str | None

    @property
    def pending(self) -> bool:
        return self.status is AskStatus.PENDING


def ask_view(ask: Ask, sight: Sight) -> AskView:
    advocate = ask.advocate
    declined = ask.status is AskStatus.DECLINED and sight.decline_details
    return AskView(
        id=ask.id,
        request_id=ask.request_id,
        advocate_id=ask.advocate_id,
        name=advocate.account.name if advocate is not None else "An advocate",
        company=advocate.company.name if advocate is not None and advocate.company else None,
        status=ask.status,
        asked_at=ask.created_at,
        expires_at=ask.expires_at,
        responded_at=ask.responded_at,
        score=ask.score if sight.match_details else None,
        reasons=tuple({"label": r["label"], "points": r["points"]} for r in ask.explanation or [])
        if sight.match_details else (),
        decline_reason=ask.decline_reason if declined else None,
        decline_reason_text=decline_reason_text(ask.decline_reason) if declined and ask.decline_reason
        else None,
        decline_note=(ask.decline_note or None) if declined else None,
    )


@dataclass(frozen=True)
class TimelineEntry:
    at: datetime
    kind: str
    who: str
    text: str
    detail: dict[str, Any]


@dataclass(frozen=True)
class RequestView:
    request: ReferenceRequest
    sight: Sight
    asks: list[AskView]
    timeline: list[TimelineEntry]
    engagement: Engagement | None


@dataclass(frozen=True)
class ProspectView:
    """What the advocate of an engagement knows of the prospect. Before accepting they read the
    request without the prospect's identity (``portal/asks``); once they accepted, they talk to
    them: the company and the contact's name and address. Never the seller's deal (opportunity,
    amount) nor the notes for the coordinator."""

    company: str
    contact_name: str
    contact_email: str


def prospect_view(engagement: Engagement) -> ProspectView:
    request = engagement.request
    return ProspectView(
        company=request.prospect_company if request is not None else "",
        contact_name=engagement.prospect_name or (request.contact_name if request is not None else ""),
        contact_email=engagement.prospect_email or (request.contact_email if request is not None else ""),
    )


def view_request(request: ReferenceRequest, viewer: Account, engagement: Engagement | None) -> RequestView:
    """The request as ``viewer`` may see it. ``request`` comes from ``requests.request_for``,
    which loaded its asks with their advocates and its timeline with its actors."""
    sight = sight_of(viewer)
    zone = zone_or_utc(viewer.timezone)
    asks = [ask_view(ask, sight) for ask in request.asks]
    by_advocate = {ask.advocate_id: ask for ask in asks}
    return RequestView(
        request=request,
        sight=sight,
        asks=asks,
        timeline=timeline(request.events, by_advocate, sight, zone),
        engagement=engagement,
    )


def timeline(events: Iterable[RequestEvent], asks: dict[int, AskView], sight: Sight,
             zone: ZoneInfo) -> list[TimelineEntry]:
    allowed = PUBLIC_DETAIL | (STAFF_DETAIL if sight.match_details else frozenset())
    return [
        TimelineEntry(
            at=event.at,
            kind=event.kind,
            who=_who(event, asks),
            text=event_text(event, asks, sight, zone),
            detail={key: value for key, value in (event.detail or {}).items() if key in allowed},
        )
        for event in events
    ]


# What the advocate does themselves: without a recorded actor, the advocate is still the one.
ADVOCATE_EVENTS = frozenset({"accepted", "declined", "answers_submitted"})


def _advocate_name(detail: dict[str, Any], asks: dict[int, AskView]) -> str | None:
    ask = asks.get(detail.get("advocate_id"))
    return ask.name if ask is not None else None


def _who(event: RequestEvent, asks: dict[int, AskView]) -> str:
    if event.actor is not None:
        return event.actor.name
    if event.kind == "feedback":  # given through a link, by one side of the call
        if (event.detail or {}).get("side") == "prospect":
            return "The prospect"
        return _advocate_name(event.detail or {}, asks) or "The advocate"
    if event.kind in ADVOCATE_EVENTS:
        return _advocate_name(event.detail or {}, asks) or "The advocate"
    return "Vouch"


def event_text(event: RequestEvent, asks: dict[int, AskView], sight: Sight, zone: ZoneInfo) -> str:
    """What happened, in words, after who did it."""
    detail: dict[str, Any] = event.detail or {}
    advocate = _advocate_name(detail, asks) or "an advocate"
    reason = detail.get("reason") or ""
    match event.kind:
        case "submitted":
            return "Submitted the request"
        case "edited":
            changed = ", ".join(str(name).replace("_", " ") for name in detail.get("changed") or [])
            return "Changed the request" + (f": {changed}" if changed else "")
        case "asked":
            score = detail.get("score")
            shown = sight.match_details and score is not None
            return f"Asked {advocate}" + (f" (match score {score})" if shown else "")
        case "accepted":
            return "Accepted the ask"
        case "declined":
            text = "Declined the ask"
            if sight.decline_details:
                if reason:
                    text += f": {decline_reason_text(reason)}"
                ask = asks.get(detail.get("advocate_id"))
                if ask is not None and ask.decline_note:
                    text += f" — “{ask.decline_note}”"
            return text
        case "expired":
            return f"The ask to {advocate} expired unanswered"
        case "withdrawn":
            text = (f"Withdrew the ask to {advocate}" if event.actor is not None
                    else f"The ask to {advocate} was withdrawn")
            return text + (f" ({reason})" if reason else "")
        case "needs_candidate":
            return ("Nobody left to answer: the request needs a next candidate" if sight.match_details
                    else "Looking for another advocate")
        case "reopened":
            return (f"The engagement with {advocate} was called off: the request needs a next candidate"
                    if sight.match_details else "Looking for another advocate")
        case "engagement_cancelled":
            text = f"The reference with {advocate} was cancelled"
            return text + (f": {decline_reason_text(reason)}" if reason and sight.decline_details else "")
        case "introduced":
            if detail.get("resend"):
                return "Sent the prospect the introduction again, with a link to book the call"
            return "Introduced the advocate to the prospect, with a link to book the call"
        case "booked":
            starts = _moment(detail.get("starts_at"))
            if starts is None:
                return "Call booked"
            return f"Call booked for {starts.astimezone(zone):%a %d %b %Y, %H:%M}"
        case "rescheduled":
            starts = _moment(detail.get("starts_at"))
            if starts is None:
                return "Moved the call"
            return f"Moved the call to {starts.astimezone(zone):%a %d %b %Y, %H:%M}"
        case "reminded":
            return "Reminded both sides of the call"
        case "feedback_requested":
            return "Asked both sides for their feedback"
        case "feedback":
            return _feedback_text(detail, sight)
        case "possible_no_show":
            side = "prospect" if detail.get("side") == "prospect" else "advocate"
            if sight.match_details:
                return (f"Possible no-show: the {side} says the call did not take place. Mark it a "
                        "no-show, or complete it if it did")
            return f"The {side} says the call did not take place: the coordinator is looking into it"
        case "completed":
            return "The reference took place" + {
                "both_sides": " (both sides said so)",
                "by_itself": " (nobody said otherwise in time)",
            }.get(detail.get("how"), "")
        case "no_show":
            return "Marked the call a no-show: it did not take place"
        case "answers_submitted":
            return "Submitted the written answers"
        case "answers_returned":
            return "Sent the written answers back to the advocate, with a note"
        case "answers_approved":
            return "Approved the written answers"
        case "answers_sent":
            until = _moment(detail.get("until"))
            return "Sent the prospect the link to read the answers" + (
                f", open until {until.astimezone(zone):%d %b %Y}" if until else "")
        case "cancelled":
            return "Cancelled the request" + (f": {reason}" if reason else "")
        case "outcome":
            outcome = detail.get("outcome")
            return f"Recorded the outcome: deal {outcome}" if outcome else "Recorded the outcome"
        case _:
            return event.kind.replace("_", " ").capitalize()


def _feedback_text(detail: dict[str, Any], sight: Sight) -> str:
    """A side's feedback in words; the rating and the prospect's "did it help" for staff only,
    the comment never (it is read where the feedback is shown)."""
    if detail.get("call_happened") is False:
        return "Gave feedback: the call did not take place"
    text = "Gave feedback"
    if sight.match_details and detail.get("rating"):
        text += f": rated the call {detail['rating']} out of 5"
        helped = detail.get("helped_decision")
        if helped is not None:
            text += ", it helped the decision" if helped else ", it did not help the decision"
    return text


def _moment(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value
    try:
        return datetime.fromisoformat(value) if value else None
    except (TypeError, ValueError):
        return None
