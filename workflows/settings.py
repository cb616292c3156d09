"""Program settings an admin changes at run time: points values, asking, booking and the default
quarterly cap. Config gives each one's default; a stored value (``models.Setting``) overrides it.

Every rule reads its setting here (``value("ASK_EXPIRY_HOURS")``), never ``current_app.config``
directly, so the admin's settings page is the one place they change. Values are read once per
app context: a request, a CLI command or one round of the worker's jobs sees one consistent set.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any

from flask import current_app, g
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from models import Account, Setting, db
from workflows import errors
from workflows.audit import add_event
from workflows.transaction import transaction

_CACHE = "vouch_program_settings"
_NO = ("", "0", "false", "off", "no", "n")


@dataclass(frozen=True)
class Definition:
    key: str  # the config name, which also gives the default
    label: str
    help: str
    group: str
    kind: type = int  # int or bool
    low: int | None = None
    high: int | None = None
    choices: tuple[int, ...] = ()
    optional: bool = False  # an int that may be left empty (None)
    unit: str = ""


_POINTS = {"group": "Points", "low": 0, "high": 10_000, "unit": "points"}
_BOOKING = {"group": "Booking"}

DEFINITIONS: tuple[Definition, ...] = (
    Definition("POINTS_CALL_COMPLETED", "A completed call",
               "Points an advocate earns for a call that happened.", **_POINTS),
    Definition("POINTS_WRITTEN_REFERENCE", "An approved written reference",
               "Points for written answers a coordinator approved.", **_POINTS),
    Definition("POINTS_GOOD_FEEDBACK", "A call the prospect rated 4 or 5",
               "A bonus on top of the call's points.", **_POINTS),
    Definition("POINTS_CASE_STUDY_OR_EVENT", "A case study or an event",
               "Points a coordinator awards for a published case study or a talk at an event.",
               **_POINTS),
    Definition("POINTS_REVIEW", "A public review",
               "Points a coordinator awards for a review on a public site.", **_POINTS),
    Definition("ASK_EXPIRY_HOURS", "Time to answer an ask",
               "An ask unanswered this long expires and the next candidate can be asked.",
               "Asking", low=1, high=720, unit="hours"),
    Definition("AUTO_ASK", "Ask automatically",
               "Ask the best eligible advocate as soon as a request arrives, and the next one when "
               "an ask is declined or expires, instead of waiting for a coordinator.",
               "Asking", kind=bool),
    Definition("TIER_CHANGES_AUTOMATIC", "Change tiers automatically",
               "Apply the nightly tier suggestions at once instead of queueing them for a "
               "coordinator.", "Tiers", kind=bool),
    Definition("COORDINATOR_SECOND_FACTOR", "Second factor for coordinators",
               "Coordinators also give a code from an authenticator app after the sign-in link, "
               "as admins always do. They set the app up at their next sign-in.", "Sign-in",
               kind=bool),
    Definition("BOOKING_HORIZON_DAYS", "Booking horizon", "How far ahead prospects may book.",
               low=1, high=180, unit="days", **_BOOKING),
    Definition("BOOKING_NOTICE_HOURS", "Minimum notice", "No call can be booked sooner than this.",
               low=0, high=720, unit="hours", **_BOOKING),
    Definition("BOOKING_BUFFER_MINUTES", "Buffer around calls",
               "Time kept free before and after every call.",
               low=0, high=240, unit="minutes", **_BOOKING),
    Definition("CALL_MINUTES", "Slot length", "How long a call is, and the step between slots.",
               choices=(30, 45, 60), unit="minutes", **_BOOKING),
    Definition("DEFAULT_QUARTERLY_CAP", "Default quarterly cap",
               "The personal cap a new advocate starts with (they can change it; it never exceeds "
               "the tier's quota). Empty: the tier's quota.",
               "Advocates", low=0, high=50, optional=True, unit="calls"),
)
BY_KEY: Mapping[str, Definition] = {d.key: d for d in DEFINITIONS}


class UnknownSetting(KeyError):
    pass


def _stored() -> dict[str, Any]:
    cached = g.get(_CACHE)
    if cached is None:
        rows = db.session.execute(_stored_query())
        cached = {key: stored for key, stored in rows}
        setattr(g, _CACHE, cached)
    return cached


@cache
def _stored_query():
    return select(Setting.key, Setting.value).where(Setting.key.in_(BY_KEY))


def value(key: str) -> Any:
    """The setting in force: the admin's stored value, else config's default."""
    if key not in BY_KEY:
        raise UnknownSetting(key)
    stored = _stored()
    return stored[key] if key in stored else current_app.config[key]


def default(key: str) -> Any:
    """The value config gives the setting, in force until an admin stores another."""
    if key not in BY_KEY:
        raise UnknownSetting(key)
    return current_app.config[key]


def groups() -> list[tuple[str, list[Definition]]]:
    """The definitions by group, groups and settings in the order of ``DEFINITIONS``."""
    found: dict[str, list[Definition]] = {}
    for definition in DEFINITIONS:
        found.setdefault(definition.group, []).append(definition)
    return list(found.items())


def values() -> dict[str, Any]:
    return {key: value(key) for key in BY_KEY}


def is_default(key: str) -> bool:
    return key not in _stored()


def forget_cached() -> None:
    """Read the settings again at the next ``value`` (after a change, or in a long-lived loop)."""
    g.pop(_CACHE, None)


def clean(definition: Definition, raw: Any) -> Any:
    """The value ``raw`` stands for, or ``errors.Invalid`` saying what is wrong with it."""
    if definition.kind is bool:
        if isinstance(raw, bool):
            return raw
        if isinstance(raw, str) and raw.strip().lower() in ("1", "true", "on", "yes", "y"):
            return True
        if raw is None or (isinstance(raw, str) and raw.strip().lower() in _NO):
            return False
        raise errors.Invalid(f"{definition.label}: choose yes or no.", definition.key)
    text = "" if raw is None else str(raw).strip()
    if text == "":
        if definition.optional:
            return None
        raise errors.Invalid(f"{definition.label}: enter a number.", definition.key)
    digits = text.removeprefix("-")
    # ASCII digits only: "²" and "٣" pass str.isdigit, yet int() refuses the first.
    if isinstance(raw, bool) or not (digits.isascii() and digits.isdigit()) or len(text) > 9:
        raise errors.Invalid(f"{definition.label}: enter a whole number.", definition.key)
    number = int(text)
    if definition.choices and number not in definition.choices:
        allowed = ", ".join(str(c) for c in definition.choices)
        raise errors.Invalid(f"{definition.label}: choose one of {allowed} {definition.unit}.",
                             definition.key)
    if (definition.low is not None and number < definition.low) or (
            definition.high is not None and number > definition.high):
        raise errors.Invalid(f"{definition.label}: enter a number from {definition.low} to "
                             f"{definition.high} {definition.unit}.", definition.key)
    return number


def update(changes: Mapping[str, Any], *, by: Account | None) -> list[str]:
    """Validate every change first, then store them all in one transaction (with one audit event)
    or none; a value equal to config's default is not stored (the setting follows config again).
    → the keys whose value changed. ``errors.Invalid`` holds a message per field."""
    problems: dict[str, str] = {}
    cleaned: dict[str, Any] = {}
    for key, raw in changes.items():
        definition = BY_KEY.get(key)
        if definition is None:
            problems[key] = f"There is no setting called {key}."
            continue
        try:
            cleaned[key] = clean(definition, raw)
        except errors.Invalid as refusal:
            problems[key] = refusal.message
    if problems:
        first = next(iter(problems.values()))
        raise errors.Invalid(first if len(problems) == 1 else "Some settings need another look.",
                             errors=problems)
    try:
        changed = _store(cleaned, by)
    except IntegrityError:  # another admin stored one of these keys first, a moment ago
        changed = _store(cleaned, by)
    forget_cached()
    return changed


def _store(cleaned: Mapping[str, Any], by: Account | None) -> list[str]:
    """The checked values in one transaction, with one audit event; → the keys that changed."""
    changed: list[str] = []
    with transaction():
        stored = {row.key: row for row in db.session.scalars(
            select(Setting).where(Setting.key.in_(cleaned)).with_for_update()
            .execution_options(populate_existing=True))}
        for key, new in cleaned.items():
            fallback = current_app.config[key]
            before = stored[key].value if key in stored else fallback
            if new == fallback:  # back to the default: config's, should it change later
                if key in stored:
                    db.session.delete(stored[key])
            elif key in stored:
                stored[key].value = new
            else:
                db.session.add(Setting(key=key, value=new))
            if new != before:
                changed.append(key)
        if changed:
            add_event("settings.changed", actor=by, subject="program settings",
                      changes={key: cleaned[key] for key in changed})
    return changed
