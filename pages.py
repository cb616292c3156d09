"""Small helpers shared by the views of portal/ and admin/."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, time
from zoneinfo import ZoneInfo

from flask_login import current_user
from flask_wtf import FlaskForm

from models import AdvocateStatus, Tier
from models.types import zone_or_utc

ADVOCATE_STATUS_WORDS = {
    AdvocateStatus.CANDIDATE: "Candidate",
    AdvocateStatus.INVITED: "Invited",
    AdvocateStatus.ACTIVE: "In the program",
    AdvocateStatus.PAUSED: "Paused",
    AdvocateStatus.RETIRED: "Retired",
}
"""An advocate's status in words. Never the bare value: "active" would read like the tier named
Active when both are on one line."""


def viewer_zone() -> ZoneInfo:
    """The signed-in person's time zone (UTC when theirs is unknown)."""
    return zone_or_utc(getattr(current_user, "timezone", None))


def local_time() -> Callable[[datetime], datetime]:
    """``local(moment)`` for templates: an aware UTC moment in the viewer's own zone."""
    zone = viewer_zone()
    return lambda moment: moment.astimezone(zone)


CLOCK = "%H:%M"
"""The one way a time of day is shown, in lists, e-mails and inputs alike: 24-hour, like 17:30."""
DATE_AND_TIME = "%a %d %b %Y, " + CLOCK


def clock(value: time | datetime | None) -> str:
    """``17:30``: the time of day of a time or a moment, as given (convert a moment to the
    reader's zone first). The ``clock`` template filter."""
    return value.strftime(CLOCK) if value is not None else ""


def date_and_time(moment: datetime | None) -> str:
    """``Mon 04 May 2026, 17:30``: a moment as given (convert it to the reader's zone first).
    The ``date_time`` template filter."""
    return moment.strftime(DATE_AND_TIME) if moment is not None else ""


def advocate_status(status: AdvocateStatus | str) -> str:
    """The ``advocate_status`` template filter: ``active`` → "In the program"."""
    return ADVOCATE_STATUS_WORDS[AdvocateStatus(status)]


def tier_name(tier: Tier | None, none: str = "No tier") -> str:
    """The ``tier_name`` template filter: "Active tier", so the tier named Active never reads
    like the status; ``none`` when there is no tier."""
    return f"{tier.name} tier" if tier is not None else none


def first_error(*forms: FlaskForm) -> str:
    """The first message of the first form with errors, for a flash."""
    for form in forms:
        for messages in form.errors.values():
            return messages[0]
    return ""
