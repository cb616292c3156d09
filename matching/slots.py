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
    # No slot starts less than this many days (of wall-clock time in the advocate's zone)
    # before or after the start of another call.
    min_days_between_calls: int = 0


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

    ``busy`` are the advocate's calls, booked and past: each takes its time plus the buffer on
    both sides, counts against the daily limit of its local day and keeps slots
    ``min_days_between_calls`` away, so pass the past ones from at least that many days back.
    ``until`` cuts the horizon short (a needed-by date).
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
    notice, horizon, duration, step, buffer, gap = _spans(rules)
    if now.tzinfo is not UTC:
        now = now.astimezone(UTC)
    earliest = now + notice
    latest = now + horizon
    if until is not None and until < latest:
        latest = until.astimezone(UTC)
    blackouts = tuple(blackouts)
    if busy:
        booked = _Booked(busy, zone, duration, buffer, gap)
        calls_per_day = booked.calls_per_day
    else:
        booked, calls_per_day = None, {}

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
                yield from _window_slots(day, todays[0], zone, earliest, latest, duration, step, booked)
            else:
                # Overlapping windows would offer a slot twice: keep each once, in order.
                day_slots = {
                    slot
                    for window in todays
                    for slot in _window_slots(day, window, zone, earliest, latest, duration, step, booked)
                }
                yield from sorted(day_slots, key=lambda slot: slot.start)
        day += one_day


@lru_cache(maxsize=256)
def _spans(rules: SlotRules) -> tuple[timedelta, timedelta, timedelta, timedelta, timedelta, timedelta]:
    return (
        rules.notice,
        timedelta(days=rules.horizon_days),
        timedelta(minutes=rules.duration_minutes),
        timedelta(minutes=rules.step_minutes or rules.duration_minutes),
        timedelta(minutes=rules.buffer_minutes),
        timedelta(days=rules.min_days_between_calls),
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


def _window_slots(day, window, zone, earliest, latest, duration, step, booked):
    start = _utc(day, window.start, zone)
    window_end = _utc(day, window.end, zone, True)
    if start < earliest:
        # Move to the first step on or after the notice limit, keeping the window's rhythm.
        start += -(-(earliest - start) // step) * step
    while start + duration <= window_end and start + duration <= latest:
        if booked is not None:
            clear_from = booked.clear_from(start)
            if clear_from is not None:
                # Every start before ``clear_from`` is taken too: skip them, keeping the rhythm.
                start += -(-(clear_from - start) // step) * step
                continue
        yield Interval(start, start + duration)
        start += step


class _Booked:
    """The advocate's calls, arranged to answer "may a slot start here?" by bisection."""

    __slots__ = ("starts_before", "ends_after", "calls_per_day", "duration", "gap_from", "gap_until")

    def __init__(self, busy, zone, duration, buffer, gap) -> None:
        calls = sorted(busy, key=lambda b: b.start)
        # Calls never overlap, so sorted by start they are sorted by end too.
        self.starts_before = [b.start - buffer for b in calls]
        self.ends_after = [b.end + buffer for b in calls]
        tz = ZoneInfo(zone)
        local_starts = [b.start.astimezone(tz) for b in calls]
        # Calls already on a local day count against the advocate's daily limit.
        self.calls_per_day = Counter(start.date() for start in local_starts)
        self.duration = duration
        self.gap_from, self.gap_until = _gap_spans(local_starts, gap, tz) if gap else ((), ())

    def clear_from(self, start: datetime) -> datetime | None:
        """None when a slot may start at ``start``; else a moment before which none may."""
        if self.gap_from:
            index = bisect_right(self.gap_from, start) - 1
            if index >= 0 and self.gap_from[index] < start < self.gap_until[index]:
                return self.gap_until[index]
        # The first call whose buffer reaches past ``start``: the slot must end before its buffer.
        index = bisect_right(self.ends_after, start)
        if index < len(self.ends_after) and self.starts_before[index] < start + self.duration:
            return self.ends_after[index]
        return None


def _gap_spans(local_starts, gap, tz) -> tuple[list[datetime], list[datetime]]:
    """The open spans (in UTC) where no slot may start: less than ``gap`` of wall-clock time
    before or after the local start of a call, so a call at 10:00 leaves 10:00 a week later free
    for a 7-day gap even across a daylight-saving change. Overlapping spans are merged."""
    froms: list[datetime] = []
    untils: list[datetime] = []
    for local in local_starts:
        wall = local.replace(tzinfo=None)
        low = (wall - gap).replace(tzinfo=tz).astimezone(UTC)
        high = (wall + gap).replace(tzinfo=tz).astimezone(UTC)
        if untils and low < untils[-1]:
            froms[-1] = min(froms[-1], low)
            untils[-1] = max(untils[-1], high)
        else:
            froms.append(low)
            untils.append(high)
    return froms, untils


def has_free_slot(windows: Iterable[Window], **kwargs) -> bool:
    return bool(free_slots(windows, **kwargs))
