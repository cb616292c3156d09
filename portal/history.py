"""The advocate's history (M2 item 7): past engagements with the feedback shared with them, and
the points ledger with its running balance.

Read only. Each list shows the latest ``SHOWN`` rows, read with eager loading, so the page
issues the same number of queries whatever the advocate's history holds. The prospect's company
and industry are shown (the advocate accepted the ask); the prospect's contact details are not.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from flask import abort, render_template
from flask_login import current_user
from sqlalchemy import func, or_, select
from sqlalchemy.orm import joinedload, selectinload

from models import (
    Engagement,
    EngagementStatus,
    Feedback,
    FeedbackSide,
    PointsEntry,
    PointsReason,
    ReferenceRequest,
    db,
)
from models.types import utcnow
from pages import viewer_zone
from portal import bp
from workflows import points

SHOWN = 100
PAST_STATUSES = (EngagementStatus.COMPLETED, EngagementStatus.NO_SHOW, EngagementStatus.CANCELLED)
STATUS_WORDS = {
    EngagementStatus.COMPLETED: "Completed",
    EngagementStatus.NO_SHOW: "No-show",
    EngagementStatus.CANCELLED: "Cancelled",
}
REASON_WORDS = {
    PointsReason.CALL_COMPLETED: "Reference call completed",
    PointsReason.WRITTEN_REFERENCE: "Written reference",
    PointsReason.PROSPECT_FEEDBACK: "Good prospect feedback",
    PointsReason.CASE_STUDY: "Case study",
    PointsReason.EVENT: "Event",
    PointsReason.REDEMPTION: "Perk redeemed",
    PointsReason.REFUND: "Redemption refunded",
}


# --- what the page shows ---------------------------------------------------------------------


@dataclass(frozen=True)
class PastEngagement:
    engagement: Engagement
    when: datetime  # the call's start; for what has no call time, when it ended
    timed: bool  # ``when`` is the call's start (show the time of day too)
    company: str | None
    industry: str | None
    prospect_feedback: Feedback | None  # only when shared with the advocate
    own_feedback: Feedback | None

    @property
    def status(self) -> str:
        return STATUS_WORDS.get(self.engagement.status, self.engagement.status.value)


@dataclass(frozen=True)
class LedgerLine:
    entry: PointsEntry
    reason: str  # in words
    balance: int  # after this entry


def past_engagements(advocate_id: int, now: datetime) -> tuple[list[PastEngagement], bool]:
    """The latest past engagements (completed, no-show, cancelled), newest first; and whether
    there are older ones not shown. Two queries: the engagements, then their feedback."""
    when = func.coalesce(
        Engagement.starts_at, Engagement.completed_at, Engagement.cancelled_at, Engagement.created_at
    )
    rows = list(
        db.session.scalars(
            select(Engagement)
            .where(
                Engagement.advocate_id == advocate_id,
                Engagement.status.in_(PAST_STATUSES),
                or_(Engagement.starts_at.is_(None), Engagement.starts_at < now),
            )
            .options(
                joinedload(Engagement.request).joinedload(ReferenceRequest.industry),
                joinedload(Engagement.format),
                selectinload(Engagement.feedback),
            )
            .order_by(when.desc(), Engagement.id.desc())
            .limit(SHOWN + 1)
        )
    )
    return [_past(e) for e in rows[:SHOWN]], len(rows) > SHOWN


def _past(engagement: Engagement) -> PastEngagement:
    sides = {f.side: f for f in engagement.feedback}
    prospect = sides.get(FeedbackSide.PROSPECT)
    request = engagement.request
    when = (
        engagement.starts_at or engagement.completed_at or engagement.cancelled_at or engagement.created_at
    )
    return PastEngagement(
        engagement=engagement,
        when=when,
        timed=engagement.starts_at is not None,
        company=request.prospect_company if request else None,
        industry=request.industry.name if request and request.industry else None,
        prospect_feedback=prospect if prospect is not None and prospect.shared_with_advocate else None,
        own_feedback=sides.get(FeedbackSide.ADVOCATE),
    )


def ledger(advocate_id: int) -> tuple[list[LedgerLine], int, bool]:
    """The latest ledger rows, newest first, each with the balance after it; the balance now;
    and whether older rows are not shown. Two queries, whatever the ledger's length."""
    total = points.balance(advocate_id)
    rows = list(
        db.session.scalars(
            select(PointsEntry)
            .where(PointsEntry.advocate_id == advocate_id)
            .order_by(PointsEntry.created_at.desc(), PointsEntry.id.desc())
            .limit(SHOWN + 1)
        )
    )
    lines, after = [], total
    for entry in rows[:SHOWN]:
        lines.append(LedgerLine(entry, reason_in_words(entry), after))
        after -= entry.delta
    return lines, total, len(rows) > SHOWN


def reason_in_words(entry: PointsEntry) -> str:
    try:
        words = REASON_WORDS[PointsReason(entry.reason)]
    except ValueError:
        words = entry.reason.replace("_", " ").capitalize()
    return f"{words}: {entry.note}" if entry.note else words


# --- the view --------------------------------------------------------------------------------


@bp.get("/portal/history")
def history():
    advocate = current_user.advocate
    if advocate is None:
        abort(404)  # an advocate account whose profile is not set up yet
    engagements, more_engagements = past_engagements(advocate.id, utcnow())
    lines, balance, more_lines = ledger(advocate.id)
    zone = viewer_zone()
    return render_template(
        "portal/history.html",
        engagements=engagements,
        more_engagements=more_engagements,
        lines=lines,
        balance=balance,
        more_lines=more_lines,
        shown=SHOWN,
        zone=zone,
    )
