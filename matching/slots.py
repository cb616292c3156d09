"""Bookable slots from an advocate's weekly windows (DESIGN.md §5 "Slots").

Windows are wall-clock times in the advocate's zone; everything is computed in UTC, so a
window of 09:00–12:00 stays 09:00–12:00 local across daylight-saving changes.
"""

from __future__ import annotations

from bisect import bisect_right
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
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
    return list(_slots(windows, zone, now, blackouts, busy, rules, until))


def first_free_slot(
    windows: Iterable[Window],
    *,
    zone: str,
    now: datetime,
    blackouts: Iterable[DateRange] = (),
    busy: Iterable[Interval] = (),
    rules: SlotRules = SlotRules(),
    until: datetime | None = None,
) -> Interval | None:
    """The earliest slot ``free_slots`` would give, found without computing the others."""
    return next(_slots(windows, zone, now, blackouts, busy, rules, until), None)


def _slots(windows, zone, now, blackouts, busy, rules, until) -> Iterator[Interval]:
    if not windows:
        return
    notice, horizon, duration, step, buffer = _spans(rules)
    if now.tzinfo is not UTC:
        now = now.astimezone(UTC)
    earliest = now + notice
    latest = now + horizon
    if until is not None and until < latest:
        latest = until.astimezone(UTC)
    blackouts = tuple(blackouts)
    if busy:
        booked = sorted(busy, key=lambda b: b.start)
        # Calls already on a local day count against the advocate's daily limit.
        tz = ZoneInfo(zone)
        calls_per_day = Counter(b.start.astimezone(tz).date() for b in booked)
        # Calls never overlap, so sorted by start they are sorted by end too.
        booked_ends = [b.end + buffer for b in booked]
    else:
        booked, booked_ends, calls_per_day = (), (), {}

    day = _local_date(earliest, zone)
    last_day = _local_date(latest, zone)
    one_day = timedelta(days=1)
    while day <= last_day:
        weekday = day.weekday()
        todays = [w for w in windows if w.weekday == weekday]
        if todays and calls_per_day.get(day, 0) < rules.max_per_day and not (
            blackouts and _blacked_out(day, blackouts)
        ):
            if len(todays) == 1:
                yield from _window_slots(
                    day, todays[0], zone, earliest, latest, duration, step, buffer, booked, booked_ends
                )
            else:
                # Overlapping windows would offer a slot twice: keep each once, in order.
                day_slots = {
                    slot
                    for window in todays
                    for slot in _window_slots(
                        day, window, zone, earliest, latest, duration, step, buffer, booked, booked_ends
                    )
                }
                yield from sorted(day_slots, key=lambda slot: slot.start)
        day += one_day


@lru_cache(maxsize=64)
def _spans(rules: SlotRules) -> tuple[timedelta, timedelta, timedelta, timedelta, timedelta]:
    return (
        rules.notice,
        timedelta(days=rules.horizon_days),
        timedelta(minutes=rules.duration_minutes),
        timedelta(minutes=rules.step_minutes or rules.duration_minutes),
        timedelta(minutes=rules.buffer_minutes),
    )


def _local_date(moment: datetime, zone: str) -> date:
    return moment.astimezone(ZoneInfo(zone)).date()


@lru_cache(maxsize=65536)
def _utc(day: date, clock: time, zone: str, end: bool = False) -> datetime:
    """A wall-clock time on a local day, in UTC. Cached: many advocates share zones and hours.

    A time the clocks skip (02:30 on the night they spring forward) has two readings: the
    earlier instant for a window's end and the later one for its start keep every slot inside
    the window's wall-clock hours.
    """
    local = datetime.combine(day, clock, tzinfo=ZoneInfo(zone))
    moment = local.astimezone(UTC)
    if end and moment.astimezone(local.tzinfo).replace(tzinfo=None) != local.replace(tzinfo=None):
        return local.replace(fold=1).astimezone(UTC)
    return moment


def _blacked_out(day: date, blackouts: Sequence[DateRange]) -> bool:
    return any(day in blackout for blackout in blackouts)


def _window_slots(day, window, zone, earliest, latest, duration, step, buffer, booked, booked_ends):
    start = _utc(day, window.start, zone)
    window_end = _utc(day, window.end, zone, True)
    if start < earliest:
        # Move to the first step on or after the notice limit, keeping the window's rhythm.
        skipped = -(-(earliest - start) // step)
        start += skipped * step
    while start + duration <= window_end and start + duration <= latest:
        end = start + duration
        if not booked or not _conflicts(start, end, buffer, booked, booked_ends):
            yield Interval(start, end)
        start += step


def _conflicts(start, end, buffer, booked, booked_ends) -> bool:
    """Does [start, end) come within ``buffer`` of a booked call, on either side?"""
    index = bisect_right(booked_ends, start)  # calls ending (with buffer) by ``start`` are clear
    return index < len(booked) and booked[index].start - buffer < end


def has_free_slot(windows: Iterable[Window], **kwargs) -> bool:
    return bool(free_slots(windows, **kwargs))
