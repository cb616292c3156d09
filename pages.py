"""Small helpers shared by the views of portal/ and admin/."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from zoneinfo import ZoneInfo

from flask_login import current_user
from flask_wtf import FlaskForm

from models.types import zone_or_utc


def viewer_zone() -> ZoneInfo:
    """The signed-in person's time zone (UTC when theirs is unknown)."""
    return zone_or_utc(getattr(current_user, "timezone", None))


def local_time() -> Callable[[datetime], datetime]:
    """``local(moment)`` for templates: an aware UTC moment in the viewer's own zone."""
    zone = viewer_zone()
    return lambda moment: moment.astimezone(zone)


def first_error(*forms: FlaskForm) -> str:
    """The first message of the first form with errors, for a flash."""
    for form in forms:
        for messages in form.errors.values():
            return messages[0]
    return ""
