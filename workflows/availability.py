"""The advocate's availability: weekly windows, time zone, blackout dates, snooze
and limits, and the preview of the slots a prospect could book in the next 14 days.

Each change owns its transaction: it takes the advocate's row lock, checks every rule, then
commits once; a refused change raises ``AvailabilityError`` and leaves nothing behind.
Adding a window or a blackout claims the form's submission key first, so the same form sent
twice adds one. The rules are plain functions, so forms, imports and tests can use them alone.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta
from functools import cache
from typing import Protocol
from zoneinfo import ZoneInfo, available_timezones

from sqlalchemy import select
from sqlalchemy.orm import joinedload

from matching.slots import DateRange, Interval, Window, free_slots
from models import Advocate, AdvocateStatus, Blackout, Engagement, Submission, WeeklyWindow, db
from models.advocates import WEEKDAYS
from models.engagements import CALENDAR_STATUSES
from models.types import zone_or_utc
from workflows import errors, quota, settings, submissions
from workflows.slots import booking_rules
from workflows.submissions import Once
from workflows.transaction import transaction

PREVIEW_DAYS = 14
MIN_DAYS_BETWEEN_CALLS = (0, 90)
MAX_CALLS_PER_DAY = (1, 5)
REASON_MAX_LENGTH = 200


class AvailabilityError(errors.Invalid):
    """A change refused by a rule; the message says why. ``field`` names the input at fault."""


class NotFound(errors.NotFound):
    """No such advocate, or no such window or blackout among the advocate's own."""


# --- the rules -------------------------------------------------------------------------------


class _Span(Protocol):
    weekday: int
    starts: time
    ends: time


_CLOCK = re.compile(r"(\d{1,2}):(\d{2})(?::(\d{2}))?")


def parse_time_of_day(text: str) -> time:
    """``"09:30"`` → 09:30. Refuses what is not a time of the day (``24:00``, ``9.30``)."""
    text = text.strip()
    found = _CLOCK.fullmatch(text)
    if not found:
        raise AvailabilityError("Enter a time like 09:30.")
    hours, minutes, seconds = int(found[1]), int(found[2]), int(found[3] or 0)
    if hours > 23 or minutes > 59 or seconds > 59:
        raise AvailabilityError(f"{text} is not a time of the day: use 00:00 to 23:59.")
    return time(hours, minutes)


def check_window(weekday: int, starts: time, ends: time, others: Iterable[_Span] = (), *,
                 call_minutes: int) -> None:
    """A window is one weekday, starts before it ends, fits a call (``call_minutes``: the
    ``CALL_MINUTES`` setting) and overlaps no other."""
    if weekday not in range(7):
        raise AvailabilityError("Pick a weekday from Monday to Sunday.", "weekday")
    if ends <= starts:
        raise AvailabilityError(
            "The end must be after the start, on the same day (a window cannot run past midnight).",
            "ends",
        )
    call = timedelta(minutes=call_minutes)
    if datetime.combine(date.min, ends) - datetime.combine(date.min, starts) < call:
        raise AvailabilityError(
            f"Make the window at least {call_minutes} minutes long: "
            "a call takes that long.",
            "ends",
        )
    for other in others:
        if other.weekday == weekday and starts < other.ends and other.starts < ends:
            raise AvailabilityError(
                f"This overlaps your {WEEKDAYS[weekday]} window "
                f"{other.starts:%H:%M}–{other.ends:%H:%M}. Change that one, or pick other times.",
                "starts",
            )


@cache
def known_time_zones() -> tuple[str, ...]:
    """The IANA zones this machine knows, sorted (what the time-zone field offers)."""
    return tuple(sorted(available_timezones()))


@cache
def _known_time_zone_set() -> frozenset[str]:
    return frozenset(known_time_zones())


def is_known_time_zone(name: str) -> bool:
    """``name`` is exactly one of ``known_time_zones``."""
    return name in _known_time_zone_set()


@cache
def _zones_by_spelling() -> dict[str, tuple[str, ...]]:
    """Each zone under its full name and its city, case-folded, spaces for underscores:
    ``"europe/berlin"`` and ``"berlin"`` → Europe/Berlin; ``"new york"`` → America/New_York."""
    spellings: dict[str, list[str]] = {}
    for zone in known_time_zones():
        names = {zone, zone.rsplit("/", 1)[-1]}
        for name in names:
            key = " ".join(name.replace("_", " ").split()).casefold()
            spellings.setdefault(key, []).append(zone)
    return {key: tuple(sorted(set(zones))) for key, zones in spellings.items()}


def resolve_time_zone(typed: str) -> str:
    """The IANA zone the person means: its exact name, or its name or city in any case
    (``berlin``, ``new york``). Refuses what matches no zone, or several."""
    typed = typed.strip()
    if typed in _known_time_zone_set():
        return typed
    key = " ".join(typed.replace("_", " ").split()).casefold()
    found = _zones_by_spelling().get(key, ())
    if len(found) == 1:
        return found[0]
    shown = typed if len(typed) <= 64 else typed[:64] + "…"
    if len(found) > 1:
        raise AvailabilityError(
            f"“{shown}” could be {', '.join(found)}: pick the one you mean.", "timezone"
        )
    raise AvailabilityError(
        f"“{shown}” is not a time zone we know. Type your city, like Berlin or New York, "
        "or pick a zone from the list.",
        "timezone",
    )


def check_time_zone(name: str) -> None:
    resolve_time_zone(name)


def check_blackout(starts_on: date, ends_on: date, reason: str = "", *, today: date | None = None) -> None:
    if ends_on < starts_on:
        raise AvailabilityError("The last day cannot be before the first day.", "ends_on")
    if today is not None and ends_on < today:
        raise AvailabilityError(
            f"{ends_on:%d %B %Y} is in the past: a blackout must end today or later.", "ends_on"
        )
    if len(reason) > REASON_MAX_LENGTH:
        raise AvailabilityError(
            f"Keep the reason to {REASON_MAX_LENGTH} characters or fewer.", "reason"
        )


def check_snooze(until: date, today: date) -> None:
    if until < today:
        raise AvailabilityError(
            f"{until:%d %B %Y} is in the past: pick today or a later date.", "until"
        )


def check_limits(
    quarterly_cap: int | None, min_days_between_calls: int, max_calls_per_day: int, tier_quota: int
) -> None:
    """The personal cap is 0 to the tier quota (None: the quota itself)."""
    if quarterly_cap is not None and not 0 <= quarterly_cap <= tier_quota:
        raise AvailabilityError(
            f"Pick 0 to {tier_quota} calls a quarter: your tier allows {tier_quota}. "
            "Leave it empty to take as many as your tier allows.",
            "quarterly_cap",
        )
    low, high = MIN_DAYS_BETWEEN_CALLS
    if not low <= min_days_between_calls <= high:
        raise AvailabilityError(f"Pick {low} to {high} days between calls.", "min_days_between_calls")
    low, high = MAX_CALLS_PER_DAY
    if not low <= max_calls_per_day <= high:
        raise AvailabilityError(f"Pick {low} to {high} calls a day.", "max_calls_per_day")


# --- the changes -----------------------------------------------------------------------------


def _own(rows: Iterable[WeeklyWindow | Blackout], row_id: int):
    for row in rows:
        if row.id == row_id:
            return row
    raise NotFound(f"{row_id}")


def _claim(advocate: Advocate, once: Once | None) -> Submission | None:
    """The form's submission key, taken before any rule is checked: a second send of a form
    that worked is ``submissions.AlreadySubmitted``, not refused by the first one's row."""
    return submissions.claim(advocate.account_id, once.scope, once.key) if once else None


def _created(claimed: Submission | None, row: WeeklyWindow | Blackout) -> None:
    if claimed is not None:
        db.session.flush()
        submissions.done(claimed, row.id)


def add_window(advocate_id: int, weekday: int, starts: time, ends: time, *,
               once: Once | None = None) -> None:
    """``once``: the form's submission key; the same key again raises
    ``submissions.AlreadySubmitted`` and adds nothing."""
    with transaction(lock=advocate_id) as advocate:
        claimed = _claim(advocate, once)
        check_window(weekday, starts, ends, advocate.windows, call_minutes=settings.value("CALL_MINUTES"))
        window = WeeklyWindow(weekday=weekday, starts=starts, ends=ends)
        advocate.windows.append(window)
        _created(claimed, window)


def change_window(advocate_id: int, window_id: int, weekday: int, starts: time, ends: time) -> None:
    with transaction(lock=advocate_id) as advocate:
        window = _own(advocate.windows, window_id)
        check_window(weekday, starts, ends, [w for w in advocate.windows if w is not window],
                     call_minutes=settings.value("CALL_MINUTES"))
        window.weekday, window.starts, window.ends = weekday, starts, ends


def remove_window(advocate_id: int, window_id: int) -> None:
    with transaction(lock=advocate_id) as advocate:
        advocate.windows.remove(_own(advocate.windows, window_id))


def set_time_zone(advocate_id: int, typed: str) -> str:
    """Windows keep their wall-clock times: 09:00 stays 09:00 in the new zone. → the zone set
    (``berlin`` sets Europe/Berlin)."""
    zone = resolve_time_zone(typed)
    with transaction(lock=advocate_id) as advocate:
        advocate.account.timezone = zone
    return zone


def add_blackout(advocate_id: int, starts_on: date, ends_on: date, reason: str = "", *,
                 now: datetime, once: Once | None = None) -> None:
    """``once``: the form's submission key; the same key again raises
    ``submissions.AlreadySubmitted`` and adds nothing."""
    reason = reason.strip()
    with transaction(lock=advocate_id) as advocate:
        claimed = _claim(advocate, once)
        today = now.astimezone(zone_or_utc(advocate.account.timezone)).date()
        check_blackout(starts_on, ends_on, reason, today=today)
        blackout = Blackout(starts_on=starts_on, ends_on=ends_on, reason=reason)
        advocate.blackouts.append(blackout)
        _created(claimed, blackout)


def remove_blackout(advocate_id: int, blackout_id: int) -> None:
    with transaction(lock=advocate_id) as advocate:
        advocate.blackouts.remove(_own(advocate.blackouts, blackout_id))


def snooze(advocate_id: int, until: date, *, now: datetime) -> None:
    """No asks and no bookable slots up to and including ``until`` (a date in the advocate's zone)."""
    with transaction(lock=advocate_id) as advocate:
        check_snooze(until, now.astimezone(zone_or_utc(advocate.account.timezone)).date())
        advocate.snoozed_until = until


def clear_snooze(advocate_id: int) -> None:
    with transaction(lock=advocate_id) as advocate:
        advocate.snoozed_until = None


def set_limits(
    advocate_id: int, quarterly_cap: int | None, min_days_between_calls: int, max_calls_per_day: int
) -> None:
    with transaction(lock=advocate_id) as advocate:
        quota = advocate.tier.quarterly_quota if advocate.tier else 0
        check_limits(quarterly_cap, min_days_between_calls, max_calls_per_day, quota)
        advocate.quarterly_cap = quarterly_cap
        advocate.min_days_between_calls = min_days_between_calls
        advocate.max_calls_per_day = max_calls_per_day


def quarter_use(advocate_id: int) -> quota.QuarterUse:
    """The advocate's calls this quarter against their limit, as it is now."""
    return quota.quarter_use(db.session.get(Advocate, advocate_id))


# --- the page and its preview ----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class LocalSlot:
    """A bookable slot, in the advocate's zone (``utc`` for machines)."""

    start: datetime
    end: datetime
    utc: datetime


@dataclass(frozen=True, slots=True)
class PreviewDay:
    day: date
    slots: tuple[LocalSlot, ...]


@dataclass(frozen=True)
class Overview:
    """Everything the availability page shows, read in a fixed number of queries."""

    advocate: Advocate
    zone: str
    today: date
    tier_quota: int
    windows: list[WeeklyWindow]
    blackouts: list[Blackout]  # ending today or later
    preview: list[PreviewDay]
    # Why the preview is empty, or what holds it back; None when there is nothing to say.
    preview_note: str | None

    @property
    def snoozed(self) -> bool:
        return self.advocate.snoozed_until is not None and self.advocate.snoozed_until >= self.today

    def window(self, window_id: int) -> WeeklyWindow:
        return _own(self.windows, window_id)


def overview(advocate_id: int, *, now: datetime) -> Overview:
    """The advocate's windows, upcoming blackouts and the next 14 days' bookable slots."""
    advocate = db.session.scalars(
        select(Advocate)
        .where(Advocate.id == advocate_id)
        .options(joinedload(Advocate.account), joinedload(Advocate.tier))
    ).one_or_none()
    if advocate is None:
        raise NotFound(f"advocate {advocate_id}")
    zone = advocate.account.timezone
    tz = zone_or_utc(zone)
    today = now.astimezone(tz).date()
    windows = list(
        db.session.scalars(
            select(WeeklyWindow)
            .where(WeeklyWindow.advocate_id == advocate_id)
            .order_by(WeeklyWindow.weekday, WeeklyWindow.starts)
        )
    )
    blackouts = list(
        db.session.scalars(
            select(Blackout)
            .where(Blackout.advocate_id == advocate_id, Blackout.ends_on >= today)
            .order_by(Blackout.starts_on, Blackout.id)
        )
    )
    gap = advocate.min_days_between_calls
    busy = _busy(advocate_id, now, gap)
    # The booking rules as the admin set them; only the horizon is shorter.
    rules = replace(booking_rules(), horizon_days=PREVIEW_DAYS, max_per_day=advocate.max_calls_per_day,
                    min_days_between_calls=gap)
    closed = [DateRange(b.starts_on, b.ends_on) for b in blackouts]
    if advocate.snoozed_until is not None and advocate.snoozed_until >= today:
        closed.append(DateRange(today, advocate.snoozed_until))
    slots = free_slots(
        [Window(w.weekday, w.starts, w.ends) for w in windows],
        zone=tz.key,
        now=now,
        blackouts=closed,
        busy=busy,
        rules=rules,
    )
    result = Overview(
        advocate=advocate,
        zone=zone,
        today=today,
        tier_quota=advocate.tier.quarterly_quota if advocate.tier else 0,
        windows=windows,
        blackouts=blackouts,
        preview=_by_day(slots, tz),
        preview_note=None,
    )
    return replace(result, preview_note=_preview_note(result, now))


def _busy(advocate_id: int, now: datetime, min_days_between_calls: int) -> list[Interval]:
    """Booked and completed calls that can touch the preview: those within the advocate's gap
    between calls of it, on either side, with a day's margin."""
    margin = timedelta(days=1 + min_days_between_calls)
    rows = db.session.execute(
        select(Engagement.starts_at, Engagement.ends_at).where(
            Engagement.advocate_id == advocate_id,
            Engagement.status.in_(CALENDAR_STATUSES),
            Engagement.starts_at.is_not(None),
            Engagement.ends_at > now - margin,
            Engagement.starts_at < now + timedelta(days=PREVIEW_DAYS) + margin,
        )
    )
    return [Interval(starts_at, ends_at) for starts_at, ends_at in rows]


def _by_day(slots: list[Interval], tz: ZoneInfo) -> list[PreviewDay]:
    days: dict[date, list[LocalSlot]] = {}
    for slot in slots:
        start = slot.start.astimezone(tz)
        days.setdefault(start.date(), []).append(LocalSlot(start, slot.end.astimezone(tz), slot.start))
    return [PreviewDay(day, tuple(day_slots)) for day, day_slots in days.items()]


def _preview_note(page: Overview, now: datetime) -> str | None:
    advocate = page.advocate
    last_day = (now + timedelta(days=PREVIEW_DAYS)).astimezone(zone_or_utc(page.zone)).date()
    if not page.windows:
        return "You have no weekly windows yet, so there is nothing to book. Add one above."
    if page.snoozed and advocate.snoozed_until >= last_day:
        return (
            f"You are snoozed until {advocate.snoozed_until:%A %d %B %Y}: "
            "no slots are offered before then."
        )
    if advocate.status != AdvocateStatus.ACTIVE:
        return (
            f"Your profile is {advocate.status.value}: prospects cannot book you until your "
            "program coordinator makes it active again."
        )
    if page.snoozed:
        return f"You are snoozed until {advocate.snoozed_until:%A %d %B %Y}: slots start after that."
    if not page.preview:
        gap = advocate.min_days_between_calls
        spacing = (
            f", less than {gap} day{'s' if gap != 1 else ''} from another call (your minimum between calls),"
            if gap else ""
        )
        return (
            "No free slot in the next 14 days: your windows fall on blackout dates, on days "
            f"already taken by calls{spacing} or within the 24 hours' notice prospects must give."
        )
    return None
