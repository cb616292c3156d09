"""Privacy (DESIGN.md §7.13): what Vouch keeps about an advocate, all of it as JSON,
and leaving the program — personal data erased, activity counts kept anonymously.

``export_data`` reads everything in a fixed number of queries, whatever the data size.
``leave_program`` owns its transaction: it takes the advocate's row lock, changes everything,
enqueues the confirmation e-mail (to the address as it was before erasure) and commits once;
a refusal (``PrivacyError``) or any error leaves nothing behind.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import joinedload, selectinload

from mail.outbox import enqueue, forget_recipient
from models import (
    Advocate,
    AdvocateCompetitor,
    AdvocateNote,
    AdvocateStatus,
    AdvocateTopic,
    Ask,
    AskStatus,
    AuditEvent,
    Blackout,
    Company,
    Engagement,
    EngagementStatus,
    Feedback,
    FeedbackSide,
    LoginToken,
    PointsEntry,
    Redemption,
    RedemptionStatus,
    ReferenceRequest,
    WeeklyWindow,
    WrittenAnswer,
    db,
    size_band,
)
from models.advocates import WEEKDAYS, advocate_formats, advocate_products, advocate_use_cases
from models.types import utcnow, zone_or_utc
from workflows import errors, requests, unsubscribe
from workflows.audit import add_event
from workflows.bookings import cancel_call_step
from workflows.request_view import LEFT_PROGRAM
from workflows.suppression import suppress
from workflows.transaction import transaction

EXPORT_FORMAT = "vouch-personal-data/1"
LEAVE_WORD = "LEAVE"
CONFIRM_MESSAGE = f"Type {LEAVE_WORD} in the box to confirm that you want to leave the program."
FORMER_ADVOCATE = "Former advocate"
CANCEL_REASON = "The advocate left the reference program."
WITHDRAWN_NOTE = "Withdrawn: the advocate left the reference program."


class PrivacyError(errors.Invalid):
    """A privacy change refused by a rule; the message says why. ``field`` names the input."""


class NotFound(errors.NotFound):
    """No such advocate."""


# --- the rules -------------------------------------------------------------------------------


def check_confirmation(typed: str | None) -> None:
    """Leaving is for good: the advocate types LEAVE (any case, spaces around ignored)."""
    if (typed or "").strip().upper() != LEAVE_WORD:
        raise PrivacyError(CONFIRM_MESSAGE, "confirmation")


def erased_email(account_id: int) -> str:
    """The address an erased account keeps: unique, lower-case, never deliverable (RFC 6761)."""
    return f"erased-{account_id}@invalid"


# --- the page --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Summary:
    """What the privacy page shows: the consent, and how much Vouch keeps of each kind."""

    advocate: Advocate
    zone: str
    consent_local: datetime | None  # the consent's moment in the advocate's zone
    counts: dict[str, int]


def summary(advocate_id: int) -> Summary:
    """The advocate and counts of what is kept about them, in two queries."""
    advocate = db.session.scalars(
        select(Advocate)
        .where(Advocate.id == advocate_id)
        .options(joinedload(Advocate.account), joinedload(Advocate.company), joinedload(Advocate.tier))
    ).one_or_none()
    if advocate is None:
        raise NotFound(f"advocate {advocate_id}")

    def count(model, *where) -> Any:
        return select(func.count()).select_from(model).where(*where).scalar_subquery()

    engagement_ids = select(Engagement.id).where(Engagement.advocate_id == advocate_id)
    row = db.session.execute(
        select(
            count(WeeklyWindow, WeeklyWindow.advocate_id == advocate_id).label("windows"),
            count(Blackout, Blackout.advocate_id == advocate_id).label("blackouts"),
            count(Ask, Ask.advocate_id == advocate_id).label("asks"),
            count(Engagement, Engagement.advocate_id == advocate_id).label("engagements"),
            count(
                Feedback,
                Feedback.engagement_id.in_(engagement_ids),
                Feedback.side == FeedbackSide.ADVOCATE,
            ).label("feedback_given"),
            count(
                Feedback,
                Feedback.engagement_id.in_(engagement_ids),
                Feedback.side == FeedbackSide.PROSPECT,
                Feedback.shared_with_advocate.is_(True),
            ).label("feedback_received"),
            count(PointsEntry, PointsEntry.advocate_id == advocate_id).label("points_entries"),
            count(Redemption, Redemption.advocate_id == advocate_id).label("redemptions"),
            count(AuditEvent, AuditEvent.actor_id == advocate.account_id).label("security_events"),
        )
    ).one()
    zone = advocate.account.timezone
    consent = advocate.consent_at.astimezone(zone_or_utc(zone)) if advocate.consent_at else None
    return Summary(advocate=advocate, zone=zone, consent_local=consent, counts=dict(row._mapping))


# --- the export ------------------------------------------------------------------------------


def _iso(value: datetime | date | time | None) -> str | None:
    if value is None:
        return None
    if isinstance(value, time):
        return value.strftime("%H:%M")
    return value.isoformat()


def export_filename(zone: str, now: datetime | None = None) -> str:
    """``vouch-my-data-YYYY-MM-DD.json``, dated in the advocate's own zone."""
    day = (now or utcnow()).astimezone(zone_or_utc(zone)).date()
    return f"vouch-my-data-{day.isoformat()}.json"


def export_data(advocate_id: int, *, now: datetime | None = None) -> dict[str, Any]:
    """Everything Vouch keeps about the advocate, as JSON-ready data (dates in ISO 8601, UTC).

    Other people's personal data stays out: an ask shows the request as the advocate saw it,
    the prospect company appears only where the advocate accepted, prospect contacts never.
    """
    now = now or utcnow()
    advocate = db.session.scalars(
        select(Advocate)
        .where(Advocate.id == advocate_id)
        .options(
            joinedload(Advocate.account),
            joinedload(Advocate.company).joinedload(Company.industry),
            joinedload(Advocate.company).joinedload(Company.region),
            joinedload(Advocate.tier),
            joinedload(Advocate.job_level),
            selectinload(Advocate.products),
            selectinload(Advocate.use_cases),
            selectinload(Advocate.formats),
            selectinload(Advocate.topics).joinedload(AdvocateTopic.topic),
            selectinload(Advocate.competitors).joinedload(AdvocateCompetitor.competitor),
            selectinload(Advocate.windows),
            selectinload(Advocate.blackouts),
        )
    ).one_or_none()
    if advocate is None:
        raise NotFound(f"advocate {advocate_id}")
    account = advocate.account

    asks = db.session.scalars(
        select(Ask)
        .where(Ask.advocate_id == advocate_id)
        .order_by(Ask.created_at, Ask.id)
        .options(
            selectinload(Ask.request).options(
                joinedload(ReferenceRequest.industry),
                joinedload(ReferenceRequest.region),
                joinedload(ReferenceRequest.format),
                selectinload(ReferenceRequest.topics),
                selectinload(ReferenceRequest.use_cases),
            )
        )
    ).all()
    engagements = db.session.scalars(
        select(Engagement)
        .where(Engagement.advocate_id == advocate_id)
        .order_by(Engagement.created_at, Engagement.id)
        .options(
            joinedload(Engagement.format),
            selectinload(Engagement.request).joinedload(ReferenceRequest.industry),
            selectinload(Engagement.feedback),
            selectinload(Engagement.answers),
        )
    ).all()
    ledger = db.session.scalars(
        select(PointsEntry)
        .where(PointsEntry.advocate_id == advocate_id)
        .order_by(PointsEntry.created_at, PointsEntry.id)
    ).all()
    redemptions = db.session.scalars(
        select(Redemption)
        .where(Redemption.advocate_id == advocate_id)
        .order_by(Redemption.requested_at, Redemption.id)
        .options(joinedload(Redemption.perk))
    ).all()
    security_log = db.session.scalars(
        select(AuditEvent)
        .where(AuditEvent.actor_id == account.id)
        .order_by(AuditEvent.at, AuditEvent.id)
    ).all()

    return {
        "format": EXPORT_FORMAT,
        "exported_at": _iso(now),
        "account": {
            "email": account.email,
            "name": account.name,
            "role": account.role.value,
            "timezone": account.timezone,
            "active": account.active,
            "created_at": _iso(account.created_at),
            "last_sign_in_at": _iso(account.last_sign_in_at),
        },
        "profile": _profile(advocate),
        "availability": {
            "timezone": account.timezone,
            "weekly_windows": [
                {"weekday": WEEKDAYS[w.weekday], "starts": _iso(w.starts), "ends": _iso(w.ends)}
                for w in advocate.windows
            ],
            "blackouts": [
                {"starts_on": _iso(b.starts_on), "ends_on": _iso(b.ends_on), "reason": b.reason}
                for b in advocate.blackouts
            ],
            "snoozed_until": _iso(advocate.snoozed_until),
            "quarterly_cap": advocate.quarterly_cap,
            "min_days_between_calls": advocate.min_days_between_calls,
            "max_calls_per_day": advocate.max_calls_per_day,
        },
        "asks": [_ask(ask) for ask in asks],
        "engagements": [_engagement(engagement) for engagement in engagements],
        "points": {
            "balance": sum(entry.delta for entry in ledger),
            "ledger": [
                {
                    "at": _iso(entry.created_at),
                    "delta": entry.delta,
                    "reason": entry.reason,
                    "note": entry.note,
                }
                for entry in ledger
            ],
        },
        "redemptions": [
            {
                "perk": redemption.perk.name,
                "points_spent": redemption.points_spent,
                "status": redemption.status.value,
                "requested_at": _iso(redemption.requested_at),
                "decided_at": _iso(redemption.decided_at),
                "note": redemption.note,
                "coordinator_note": redemption.decision_note,
            }
            for redemption in redemptions
        ],
        "security_log": [
            {"at": _iso(event.at), "event": event.kind, "client_ip": event.client_ip}
            for event in security_log
        ],
        # Only a keyed hash of the address is stored; this is what it says of theirs.
        "mail": {"program_mail": "unsubscribed" if unsubscribe.unsubscribed([account.email])
                 else "subscribed"},
    }


def _profile(advocate: Advocate) -> dict[str, Any]:
    company = advocate.company
    return {
        "company": None if company is None else {
            "name": company.name,
            "industry": company.industry.name if company.industry else None,
            "region": company.region.name if company.region else None,
            "size": company.size_band,
        },
        "job_title": advocate.job_title,
        "job_level": advocate.job_level.name if advocate.job_level else None,
        "tier": advocate.tier.name if advocate.tier else None,
        "status": advocate.status.value,
        "products": sorted(p.name for p in advocate.products),
        "use_cases": sorted(u.name for u in advocate.use_cases),
        "topics": sorted(
            ({"topic": t.topic.name, "stance": t.stance.value} for t in advocate.topics),
            key=lambda t: t["topic"],
        ),
        "formats": [f.name for f in sorted(advocate.formats, key=lambda f: f.position)],
        "competitors": sorted(
            (
                {"competitor": c.competitor.name, "relation": c.relation.value}
                for c in advocate.competitors
            ),
            key=lambda c: c["competitor"],
        ),
        "success_metrics": advocate.success_metrics,
        "talking_points": advocate.talking_points,
        "languages": list(advocate.languages or []),
        "refused_companies": list(advocate.refused_companies or []),
        "consent": {"given_at": _iso(advocate.consent_at), "source": advocate.consent_source},
        "last_reviewed_at": _iso(advocate.last_reviewed_at),
        "created_at": _iso(advocate.created_at),
    }


def _ask(ask: Ask) -> dict[str, Any]:
    """The ask as the advocate saw it: the prospect's company only once they accepted."""
    request = ask.request
    return {
        "asked_at": _iso(ask.created_at),
        "expires_at": _iso(ask.expires_at),
        "responded_at": _iso(ask.responded_at),
        "status": ask.status.value,
        "decline_reason": ask.decline_reason,
        "decline_note": ask.decline_note,
        "match_score": ask.score,
        "match_reasons": list(ask.explanation or []),
        "request": {
            "prospect_company": request.prospect_company if ask.status is AskStatus.ACCEPTED else None,
            "industry": request.industry.name if request.industry else None,
            "size": size_band(request.employees),
            "region": request.region.name if request.region else None,
            "format": request.format.name,
            "needed_by": _iso(request.needed_by),
            "topics": sorted(t.name for t in request.topics),
            "use_cases": sorted(u.name for u in request.use_cases),
        },
    }


def _engagement(engagement: Engagement) -> dict[str, Any]:
    request = engagement.request
    given = [f for f in engagement.feedback if f.side is FeedbackSide.ADVOCATE]
    received = [
        f for f in engagement.feedback if f.side is FeedbackSide.PROSPECT and f.shared_with_advocate
    ]
    return {
        "format": engagement.format.name,
        "status": engagement.status.value,
        "starts_at": _iso(engagement.starts_at),
        "ends_at": _iso(engagement.ends_at),
        "quarter": engagement.quarter,
        "accepted_at": _iso(engagement.created_at),
        "booked_at": _iso(engagement.booked_at),
        "completed_at": _iso(engagement.completed_at),
        "cancelled_at": _iso(engagement.cancelled_at),
        "cancel_reason": engagement.cancel_reason,
        "prospect_company": request.prospect_company if request else None,
        "prospect_industry": request.industry.name if request and request.industry else None,
        "written_answers": [
            {"question": answer.question, "answer": answer.answer} for answer in engagement.answers
        ],
        "answers_submitted_at": _iso(engagement.answers_submitted_at),
        "feedback_given": [_feedback(f) for f in given],
        "feedback_received": [_feedback(f) for f in received],
    }


def _feedback(feedback: Feedback) -> dict[str, Any]:
    return {
        "at": _iso(feedback.created_at),
        "rating": feedback.rating,
        "comment": feedback.comment,
        "helped_decision": feedback.helped_decision,
    }


# --- leaving the program ---------------------------------------------------------------------


@dataclass(frozen=True)
class Departure:
    asks_declined: int
    engagements_cancelled: int


def leave_program(advocate_id: int, *, confirmation: str | None, now: datetime | None = None) -> Departure:
    """Leave for good (DESIGN.md §7.13), in one transaction.

    The account is deactivated (its sessions and links end) and its personal data erased; the
    address goes on the suppression list, so that an old spreadsheet cannot bring it back.
    Pending asks are declined and upcoming calls cancelled, through the same steps the asking
    and booking workflows use, so that the coordinator can find someone else; engagements,
    ratings and the points ledger stay, anonymous, so that program reports still count the
    activity.
    """
    check_confirmation(confirmation)
    now = now or utcnow()
    with transaction(lock=advocate_id) as advocate:
        account = advocate.account
        if account.email == erased_email(account.id):  # left already (a retried request)
            return Departure(asks_declined=0, engagements_cancelled=0)
        old_email = account.email
        confirmation_mail = enqueue(
            template="left_program",
            to=[old_email],
            context={"left_at": now},
            idempotency_key=f"left-program:{advocate.id}:{account.session_version}",
        )
        declined = _decline_pending_asks(advocate, now)
        cancelled = _cancel_upcoming(advocate, now)
        # After the cancellations: their copies to the advocate go too, the prospects' stay.
        forget_recipient(old_email, keep=confirmation_mail)
        db.session.flush()
        _erase(advocate, old_email, now)
        suppress(old_email)
        add_event(
            "advocate.left",
            actor=account,
            advocate_id=advocate.id,
            account_id=account.id,
            asks_declined=declined,
            engagements_cancelled=cancelled,
        ).client_ip = None  # nothing personal beyond the ids
    return Departure(asks_declined=declined, engagements_cancelled=cancelled)


def _decline_pending_asks(advocate: Advocate, now: datetime) -> int:
    pending = db.session.execute(
        select(Ask.id, Ask.request_id)
        .where(Ask.advocate_id == advocate.id, Ask.status == AskStatus.PENDING)
        .order_by(Ask.request_id)
    ).all()
    for ask_id, request_id in pending:
        request = requests.lock_request(request_id)
        ask = next(a for a in request.asks if a.id == ask_id)
        requests.decline_step(ask, request, advocate, now, reason=LEFT_PROGRAM, notify=False)
    return len(pending)


def _cancel_upcoming(advocate: Advocate, now: datetime) -> int:
    """Engagements not yet booked, or booked in the future: cancelled, their place given back,
    their request reopened for a next candidate. The accepted ask stays as it was answered."""
    engagements = db.session.scalars(
        select(Engagement)
        .where(
            Engagement.advocate_id == advocate.id,
            (Engagement.status == EngagementStatus.AWAITING_BOOKING)
            | ((Engagement.status == EngagementStatus.BOOKED) & (Engagement.starts_at > now)),
        )
        .order_by(Engagement.request_id, Engagement.id)
    ).all()
    for engagement in engagements:
        cancel_call_step(engagement, advocate, side="advocate", reason=CANCEL_REASON, now=now,
                         by=advocate.account, timeline_reason=LEFT_PROGRAM)
    return len(engagements)


def _erase(advocate: Advocate, old_email: str, now: datetime) -> None:
    """Personal data out; what counts activity (engagements, ratings, ledger) stays."""
    account = advocate.account
    placeholder = erased_email(account.id)
    account.email = placeholder
    account.name = FORMER_ADVOCATE
    account.timezone = "UTC"
    account.deactivate()

    advocate.status = AdvocateStatus.RETIRED
    advocate.status_reason = ""
    advocate.status_changed_at = now
    advocate.job_title = ""
    advocate.job_level_code = None
    advocate.success_metrics = ""
    advocate.talking_points = ""
    advocate.languages = []
    advocate.refused_companies = []
    advocate.snoozed_until = None
    advocate.quarterly_cap = None
    advocate.min_days_between_calls = 0
    advocate.max_calls_per_day = 1

    mine = advocate.id
    engagement_ids = select(Engagement.id).where(Engagement.advocate_id == mine).scalar_subquery()
    statements = [
        # Staff's notes are about the person: they go too (the advocate row stays, so no cascade).
        delete(AdvocateNote).where(AdvocateNote.advocate_id == mine),
        delete(AdvocateTopic).where(AdvocateTopic.advocate_id == mine),
        delete(AdvocateCompetitor).where(AdvocateCompetitor.advocate_id == mine),
        delete(WeeklyWindow).where(WeeklyWindow.advocate_id == mine),
        delete(Blackout).where(Blackout.advocate_id == mine),
        delete(advocate_products).where(advocate_products.c.advocate_id == mine),
        delete(advocate_use_cases).where(advocate_use_cases.c.advocate_id == mine),
        delete(advocate_formats).where(advocate_formats.c.advocate_id == mine),
        delete(LoginToken).where(LoginToken.account_id == account.id),
        update(Engagement)
        .where(Engagement.advocate_id == mine)
        .values(prospect_name="", prospect_email="", prospect_timezone=None),
        update(Feedback).where(Feedback.engagement_id.in_(engagement_ids)).values(comment=""),
        update(WrittenAnswer).where(WrittenAnswer.engagement_id.in_(engagement_ids)).values(answer=""),
        update(Ask).where(Ask.advocate_id == mine).values(decline_note=""),
        update(Redemption).where(Redemption.advocate_id == mine).values(note="", decision_note=""),
        # A perk not yet sent goes nowhere now; the ledger keeps its row (no refund to anyone).
        update(Redemption)
        .where(Redemption.advocate_id == mine, Redemption.status == RedemptionStatus.REQUESTED)
        .values(status=RedemptionStatus.REJECTED, decided_at=now, decision_note=WITHDRAWN_NOTE),
        update(AuditEvent).where(AuditEvent.subject == old_email).values(subject=placeholder),
    ]
    for statement in statements:
        db.session.execute(statement.execution_options(synchronize_session=False))
