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
        calls_per_day, skips = booked.calls_per_day, booked.blocked_days
    else:
        booked, calls_per_day, skips = None, {}, ()

    day = _local_date(earliest, zone)
    last_day = _local_date(latest, zone)
    one_day = timedelta(days=1)
    skip = 0
    while day <= last_day:
        if skips:
            while skip < len(skips) and skips[skip][1] < day:
                skip += 1
            if skip < len(skips) and skips[skip][0] <= day:
                # The whole day lies within the gap around a call: go straight past it.
                day = skips[skip][1] + one_day
                continue
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
def _utc(day: date, clock: time, zone: str) -> datetime:
    """A wall-clock time on a local day, in UTC. Cached: many advocates share zones and hours.

    A time the clocks skip (02:30 on the night they spring forward) reads as the later of its
    two instants here, right for a window's start; ``_utc_end`` takes the earlier one, so
    every slot stays inside the window's wall-clock hours.
    """
    return datetime.combine(day, clock, tzinfo=ZoneInfo(zone)).astimezone(UTC)


@lru_cache(maxsize=65536)
def _utc_end(day: date, clock: time, zone: str) -> datetime:
    """``_utc`` for a window's end."""
    local = datetime.combine(day, clock, tzinfo=ZoneInfo(zone))
    moment = local.astimezone(UTC)
    if moment.astimezone(local.tzinfo).replace(tzinfo=None) != local.replace(tzinfo=None):
        return local.replace(fold=1).astimezone(UTC)
    return moment


def _blacked_out(day: date, blackouts: Sequence[DateRange]) -> bool:
    return any(day in blackout for blackout in blackouts)


def _window_slots(day, window, zone, earliest, latest, duration, step, booked):
    start = _utc(day, window.start, zone)
    window_end = _utc_end(day, window.end, zone)
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


_ONE_DAY = timedelta(days=1)


class _Booked:
    """The advocate's calls, arranged to answer "may a slot start here?" by bisection."""

    __slots__ = ("starts_before", "ends_after", "calls_per_day", "duration", "gap_from", "gap_until",
                 "blocked_days")

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
        if gap:
            self.gap_from, self.gap_until, self.blocked_days = _gap_spans(local_starts, gap, tz)
        else:
            self.gap_from = self.gap_until = self.blocked_days = ()

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


def _gap_spans(local_starts, gap, tz) -> tuple[list[datetime], list[datetime], list[tuple[date, date]]]:
    """The open spans (in UTC) where no slot may start: less than ``gap`` of wall-clock time
    before or after the local start of a call, so a call at 10:00 leaves 10:00 a week later free
    for a 7-day gap even across a daylight-saving change. Overlapping spans are merged.

    Also the (first, last) local days that lie wholly inside a span, which the search skips.
    """
    froms: list[datetime] = []
    untils: list[datetime] = []
    walls: list[list[datetime]] = []  # each span's ends in wall-clock time
    for local in local_starts:
        wall = local.replace(tzinfo=None)
        wall_low, wall_high = wall - gap, wall + gap
        low = wall_low.replace(tzinfo=tz).astimezone(UTC)
        high = wall_high.replace(tzinfo=tz).astimezone(UTC)
        if untils and low < untils[-1]:
            if low < froms[-1]:
                froms[-1], walls[-1][0] = low, wall_low
            if high > untils[-1]:
                untils[-1], walls[-1][1] = high, wall_high
        else:
            froms.append(low)
            untils.append(high)
            walls.append([wall_low, wall_high])
    blocked_days = [
        (low.date() + _ONE_DAY, high.date() - _ONE_DAY) for low, high in walls
        if (high.date() - low.date()).days >= 2
    ]
    return froms, untils, blocked_days


def has_free_slot(windows: Iterable[Window], **kwargs) -> bool:
    return bool(free_slots(windows, **kwargs))
