"""The advocate's calendar feed: a private iCalendar subscription address that lists their
booked calls, upcoming and of the last ``RECENT_DAYS`` days, so that any calendar app shows
them. Cancelled calls are left out, so a calendar that fetches the feed again drops them.

The address is a bearer credential: signed (``Purpose.CALENDAR``) over the advocate's id and
``calendar_version``, with no time in it, so it reads the same each time it is shown and has no
expiry. Rotating it bumps the version: the old address is refused from then on (410), and so is
every address of an advocate who left the program.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import joinedload

from mail import ics
from models import Advocate, Engagement, db
from models.engagements import CALENDAR_STATUSES
from models.types import ID_MAX, utcnow
from workflows import errors
from workflows.audit import add_event
from workflows.bookings import join_location, join_text, uid
from workflows.links import InvalidToken, Purpose, external_url, load, sign
from workflows.transaction import transaction

RECENT_DAYS = 30  # past calls still listed
REFRESH_MINUTES = 60  # how often calendar apps are asked to fetch the feed again


class FeedRefused(errors.NotFound):
    """Not a calendar address of ours (tampered, or for another purpose): 404."""


class FeedRetired(errors.WorkflowError):
    """An address that worked once: rotated since, or its advocate left the program (410)."""

    status = 410


def token(advocate: Advocate) -> str:
    return sign(Purpose.CALENDAR, {"a": advocate.id, "v": advocate.calendar_version})


def address(advocate: Advocate) -> str:
    """The subscription address, on BASE_URL."""
    return external_url("portal.calendar_feed", token_text=token(advocate))


def advocate_for(token_text: str) -> Advocate:
    """The advocate whose current address this is, with their account; ``FeedRefused`` or
    ``FeedRetired`` otherwise."""
    try:
        payload = load(Purpose.CALENDAR, token_text, None)
    except InvalidToken:
        raise FeedRefused("This is not a calendar address of Vouch.") from None
    advocate_id = payload.get("a") if isinstance(payload, dict) else None
    version = payload.get("v") if isinstance(payload, dict) else None
    if not all(isinstance(n, int) and 1 <= n <= ID_MAX for n in (advocate_id, version)):
        raise FeedRefused("This is not a calendar address of Vouch.")
    advocate = db.session.scalars(
        select(Advocate).where(Advocate.id == advocate_id).options(joinedload(Advocate.account))
    ).one_or_none()
    if advocate is None or not advocate.account.active:
        raise FeedRetired("This calendar address no longer works.")
    if advocate.calendar_version != version:
        raise FeedRetired("This calendar address was replaced by a new one: subscribe to the address "
                          "on your availability page in Vouch.")
    return advocate


def calls(advocate_id: int, now: datetime) -> list[Engagement]:
    """The advocate's booked calls, upcoming and recent, soonest first, in one query."""
    return list(db.session.scalars(
        select(Engagement)
        .where(
            Engagement.advocate_id == advocate_id,
            Engagement.status.in_(CALENDAR_STATUSES),
            Engagement.ends_at >= now - timedelta(days=RECENT_DAYS),
        )
        .options(joinedload(Engagement.request), joinedload(Engagement.format))
        .order_by(Engagement.starts_at, Engagement.id)
    ).unique())


def feed_text(token_text: str, *, now: datetime | None = None) -> str:
    """The iCalendar text an address serves."""
    now = now or utcnow()
    advocate = advocate_for(token_text)
    events = [_event(engagement, advocate) for engagement in calls(advocate.id, now)]
    return ics.feed(name="Vouch reference calls", events=events, stamp=now,
                    refresh_minutes=REFRESH_MINUTES)


def rotate(advocate_id: int) -> Advocate:
    """A new address: the old one is refused from now on."""
    with transaction(lock=advocate_id) as advocate:
        advocate.calendar_version += 1
        add_event("calendar.rotated", actor=advocate.account, subject=f"advocate:{advocate.id}")
    return advocate


def _event(engagement: Engagement, advocate: Advocate) -> ics.FeedEvent:
    request = engagement.request
    company = request.prospect_company if request is not None else ""
    who = ", ".join(part for part in (engagement.prospect_name, company) if part) or "a prospect"
    return ics.FeedEvent(
        uid=uid(engagement),
        sequence=engagement.ics_sequence,
        starts_at=engagement.starts_at,
        ends_at=engagement.ends_at,
        summary=f"Reference {engagement.format.name.lower()} with {who}",
        description=(f"{join_text(engagement, advocate)}\n\n"
                     f"This call in Vouch: {external_url('portal.call', engagement_id=engagement.id)}"),
        location=join_location(engagement, advocate),
    )
