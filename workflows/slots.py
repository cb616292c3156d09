"""An advocate's bookable slots, read from the database into ``matching.slots`` (DESIGN.md §5
"Slots"): weekly windows minus blackouts and snooze, minus booked calls with their buffer, the
advocate's calls per day and days between calls around every call, past and future, no sooner
than the minimum notice, up to the horizon.

The availability preview, the prospect's booking page and the booking itself (checked again
under the advocate's row lock) all read slots here, so they cannot disagree.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from functools import cache
from zoneinfo import ZoneInfo

from sqlalchemy import bindparam, select

from matching.slots import DateRange, Interval, SlotRules, Window, free_slots
from models import Advocate, Blackout, Engagement, WeeklyWindow, db
from models.engagements import CALENDAR_STATUSES
from models.types import zone_or_utc
from workflows import settings


def booking_rules() -> SlotRules:
    """The program's slot rules, as the admin set them (``workflows.settings``)."""
    return SlotRules(
        duration_minutes=settings.value("CALL_MINUTES"),
        buffer_minutes=settings.value("BOOKING_BUFFER_MINUTES"),
        notice=timedelta(hours=settings.value("BOOKING_NOTICE_HOURS")),
        horizon_days=settings.value("BOOKING_HORIZON_DAYS"),
    )


def rules_for(advocate: Advocate, rules: SlotRules) -> SlotRules:
    """The program's rules with the advocate's own limits."""
    return replace(rules, max_per_day=advocate.max_calls_per_day,
                   min_days_between_calls=advocate.min_days_between_calls)


def open_slots(advocate: Advocate, *, now: datetime, rules: SlotRules,
               ignore_engagement: int | None = None) -> list[Interval]:
    """The advocate's free slots, earliest first, in UTC (four queries). ``ignore_engagement``:
    a call being moved, whose own time does not block its new one."""
    rules = rules_for(advocate, rules)
    tz = zone_or_utc(advocate.account.timezone)
    today = now.astimezone(tz).date()
    windows_query, blackouts_query, _ = _slot_queries()
    windows = db.session.execute(windows_query, {"advocate_id": advocate.id}).all()
    closed = [
        DateRange(first, last)
        for first, last in db.session.execute(blackouts_query, {"advocate_id": advocate.id, "today": today})
    ]
    if advocate.snoozed_until is not None and advocate.snoozed_until >= today:
        closed.append(DateRange(today, advocate.snoozed_until))
    return free_slots(
        [Window(weekday, starts, ends) for weekday, starts, ends in windows],
        zone=tz.key,
        now=now,
        blackouts=closed,
        busy=busy(advocate, now, rules, ignore_engagement=ignore_engagement),
        rules=rules,
    )


def busy(advocate: Advocate, now: datetime, rules: SlotRules, *,
         ignore_engagement: int | None = None) -> list[Interval]:
    """Booked and completed calls that can touch a slot of the horizon: within the advocate's
    gap between calls of it, on either side, with a day's margin."""
    margin = timedelta(days=1 + rules.min_days_between_calls)
    calls = _slot_queries()[2]
    return [Interval(starts_at, ends_at) for starts_at, ends_at in db.session.execute(calls, {
        "advocate_id": advocate.id,
        "after": now - margin,
        "before": now + timedelta(days=rules.horizon_days) + margin,
        "ignored": ignore_engagement or 0,  # ids start at 1
    })]


@cache
def _slot_queries():
    """The windows, the blackouts and the calls ``open_slots`` reads, built once."""
    advocate_id = bindparam("advocate_id")
    windows = (select(WeeklyWindow.weekday, WeeklyWindow.starts, WeeklyWindow.ends)
               .where(WeeklyWindow.advocate_id == advocate_id))
    blackouts = (select(Blackout.starts_on, Blackout.ends_on)
                 .where(Blackout.advocate_id == advocate_id, Blackout.ends_on >= bindparam("today")))
    calls = select(Engagement.starts_at, Engagement.ends_at).where(
        Engagement.advocate_id == advocate_id,
        Engagement.status.in_(CALENDAR_STATUSES),
        Engagement.starts_at.is_not(None),
        Engagement.ends_at > bindparam("after"),
        Engagement.starts_at < bindparam("before"),
        Engagement.id != bindparam("ignored"),
    )
    return windows, blackouts, calls


@dataclass(frozen=True, slots=True)
class LocalSlot:
    """A bookable slot in one zone (``utc`` for machines)."""

    start: datetime
    end: datetime
    utc: datetime


@dataclass(frozen=True, slots=True)
class SlotDay:
    day: date
    slots: tuple[LocalSlot, ...]


def by_day(slots: list[Interval], tz: ZoneInfo) -> list[SlotDay]:
    """Slots grouped by their day in ``tz``, in order."""
    days: dict[date, list[LocalSlot]] = {}
    for slot in slots:
        start = slot.start.astimezone(tz)
        days.setdefault(start.date(), []).append(LocalSlot(start, slot.end.astimezone(tz), slot.start))
    return [SlotDay(day, tuple(day_slots)) for day, day_slots in days.items()]
