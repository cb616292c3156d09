"""The advocate's home page: what is asked of them now, their calls, this quarter's
use of their quota, their tier and points, and a nudge when the profile needs a look.

Read in a fixed number of queries whatever the number of asks and engagements.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from functools import cache

from flask import current_app, redirect, render_template, url_for
from flask_login import current_user
from sqlalchemy import bindparam, or_, select
from sqlalchemy.orm import joinedload

from access import EVERYONE_SIGNED_IN, allow
from models import (
    Advocate,
    AdvocateStatus,
    Ask,
    Engagement,
    EngagementStatus,
    ReferenceRequest,
    db,
    size_band,
)
from models.types import utcnow
from pages import viewer_zone
from portal import bp
from portal.auth import home_for
from workflows import ask_inbox, points, quota
from workflows.request_tags import RequestTags, request_tags


@bp.route("/")
@allow(EVERYONE_SIGNED_IN)
def index():
    return redirect(home_for(current_user))


@bp.route("/portal")
def home():
    now = utcnow()
    advocate = current_user.advocate  # read with the session's account, its company and tier too
    if advocate is None:  # an advocate account not set up yet
        return render_template("portal/home.html", page=None)
    use = quota.quarter_use(advocate, quota.current_quarter(now))
    return render_template("portal/home.html", page=_home_page(advocate, use, now), zone=viewer_zone())


# --- the page --------------------------------------------------------------------------------


@dataclass(frozen=True)
class HomePage:
    advocate: Advocate
    asks: list[Ask]
    tags: dict[int, RequestTags]  # of the asks' requests, by request id
    upcoming: list[Engagement]  # booked calls not over yet, soonest first
    in_progress: list[Engagement]  # accepted, waiting for a booking or for written answers
    use: quota.QuarterUse
    progress: points.TierProgress
    balance: int
    review_due: bool
    profile_url: str | None
    today: date  # in the advocate's zone

    def size(self, ask: Ask) -> str | None:
        return size_band(ask.request.employees)

    @property
    def snoozed_until(self) -> date | None:
        until = self.advocate.snoozed_until
        return until if until is not None and until >= self.today else None

    @property
    def resting(self) -> str | None:
        """Why nobody asks the advocate right now, in a word: snoozed, paused, retired or full;
        None when they can be asked."""
        if self.advocate.status is AdvocateStatus.RETIRED:
            return "retired"
        if self.advocate.status is not AdvocateStatus.ACTIVE:
            return "paused"
        if self.snoozed_until is not None:
            return "snoozed"
        if self.use.full:
            return "full"
        return None


def _home_page(advocate: Advocate, use: quota.QuarterUse, now: datetime) -> HomePage:
    engagements = _open_engagements(advocate.id, now)
    standing = points.standing(advocate, now)
    asks = ask_inbox.pending_asks(advocate.id, now)
    return HomePage(
        advocate=advocate,
        asks=asks,
        tags=request_tags(ask.request_id for ask in asks),
        upcoming=[e for e in engagements if e.status is EngagementStatus.BOOKED],
        in_progress=[e for e in engagements if e.status is EngagementStatus.AWAITING_BOOKING],
        use=use,
        progress=standing.progress,
        balance=standing.balance,
        review_due=advocate.review_due(now, current_app.config["PROFILE_REVIEW_DAYS"]),
        profile_url=url_for("portal.profile") if "portal.profile" in current_app.view_functions else None,
        today=now.astimezone(viewer_zone()).date(),
    )


@cache
def _open_engagements_query():
    return (
        select(Engagement)
        .where(
            Engagement.advocate_id == bindparam("advocate_id"),
            or_(
                Engagement.status == EngagementStatus.AWAITING_BOOKING,
                (Engagement.status == EngagementStatus.BOOKED) & (Engagement.ends_at >= bindparam("now")),
            ),
        )
        .options(
            joinedload(Engagement.format),
            joinedload(Engagement.request).joinedload(ReferenceRequest.industry),
        )
        .order_by(Engagement.starts_at, Engagement.created_at, Engagement.id)
    )


def _open_engagements(advocate_id: int, now: datetime) -> list[Engagement]:
    """Booked calls not over yet, and accepted engagements waiting for their booking/answers."""
    return list(db.session.scalars(
        _open_engagements_query(), {"advocate_id": advocate_id, "now": now}).unique())
