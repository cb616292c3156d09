"""Bookable slots from an advocate's weekly windows (DESIGN.md §5 "Slots").

Windows are wall-clock times in the advocate's zone; everything is computed in UTC, so a
window of 09:00–12:00 stays 09:00–12:00 local across daylight-saving changes.
"""

from __future__ import annotations

from bisect import bisect_right
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo


@dataclass(frozen=True, slots=True)
class Window:
    """A weekly window: weekday 0 = Monday, start < end, local wall-clock times."""

    weekday: int
    start: time
    end: time


@dataclass(frozen=True, slots=True)
class DateRange:
    """Dates in the advocate's zone, both ends included (a blackout)."""

    first: date
    last: date

    def __contains__(self, day: date) -> bool:
        return self.first <= day <= self.last


@dataclass(frozen=True, slots=True)
class Interval:
    """A span of time in UTC, end excluded."""

    start: datetime
    end: datetime


@dataclass(frozen=True, slots=True)
class SlotRules:
    duration_minutes: int = 30
    step_minutes: int | None = None  # defaults to the duration
    buffer_minutes: int = 15
    notice: timedelta = timedelta(hours=24)
    horizon_days: int = 21
    max_per_day: int = 1


def free_slots(
    windows: Iterable[Window],
    *,
    zone: str,
    now: datetime,
    blackouts: Iterable[DateRange] = (),
    busy: Iterable[Interval] = (),
    rules: SlotRules = SlotRules(),
    until: datetime | None = None,
) -> list[Interval]:
    """Every slot a prospect could book, earliest first, as UTC intervals.

    ``busy`` are the advocate's booked calls; ``until`` cuts the horizon short (a needed-by date).
    """
    tz = ZoneInfo(zone)
    now = now.astimezone(UTC)
    earliest = now + rules.notice
    latest = now + timedelta(days=rules.horizon_days)
    if until is not None:
        latest = min(latest, until.astimezone(UTC))
    duration = timedelta(minutes=rules.duration_minutes)
    step = timedelta(minutes=rules.step_minutes or rules.duration_minutes)
    buffer = timedelta(minutes=rules.buffer_minutes)

    by_weekday: dict[int, list[Window]] = {}
    for window in windows:
        by_weekday.setdefault(window.weekday, []).append(window)
    blackouts = tuple(blackouts)
    booked = sorted(busy, key=lambda b: b.start)
    # Calls already on a local day count against the advocate's daily limit.
    calls_per_day = Counter(b.start.astimezone(tz).date() for b in booked)
    # Calls never overlap, so sorted by start they are sorted by end too.
    booked_ends = [b.end + buffer for b in booked]

    slots: list[Interval] = []
    day = earliest.astimezone(tz).date()
    last_day = latest.astimezone(tz).date()
    while day <= last_day:
        todays = by_weekday.get(day.weekday())
        if todays and calls_per_day[day] < rules.max_per_day and not _blacked_out(day, blackouts):
            # Overlapping windows would offer a slot twice: keep each once, in order.
            day_slots = {
                slot
                for window in todays
                for slot in _window_slots(
                    day, window, tz, earliest, latest, duration, step, buffer, booked, booked_ends
                )
            }
            slots.extend(sorted(day_slots, key=lambda slot: slot.start))
        day += timedelta(days=1)
    return slots


def _blacked_out(day: date, blackouts: Sequence[DateRange]) -> bool:
    return any(day in blackout for blackout in blackouts)


def _window_slots(day, window, tz, earliest, latest, duration, step, buffer, booked, booked_ends):
    start = datetime.combine(day, window.start, tzinfo=tz).astimezone(UTC)
    window_end = datetime.combine(day, window.end, tzinfo=tz).astimezone(UTC)
    if start < earliest:
        # Move to the first step on or after the notice limit, keeping the window's rhythm.
        skipped = -(-(earliest - start) // step)
        start += skipped * step
    while start + duration <= window_end and start + duration <= latest:
        end = start + duration
        if not _conflicts(start, end, buffer, booked, booked_ends):
            yield Interval(start, end)
        start += step


def _conflicts(start, end, buffer, booked, booked_ends) -> bool:
    """Does [start, end) come within ``buffer`` of a booked call, on either side?"""
    index = bisect_right(booked_ends, start)  # calls ending (with buffer) by ``start`` are clear
    return index < len(booked) and booked[index].start - buffer < end


def has_free_slot(windows: Iterable[Window], **kwargs) -> bool:
    return bool(free_slots(windows, **kwargs))
