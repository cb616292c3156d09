"""The slot function alone: no app, no database."""

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from matching.slots import DateRange, Interval, SlotRules, Window, free_slots

MON, TUE, WED, SUN = 0, 1, 2, 6


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


def local_starts(slots, zone):
    return [s.start.astimezone(ZoneInfo(zone)).strftime("%a %m-%d %H:%M") for s in slots]


def test_window_becomes_slots_in_steps_of_the_duration():
    # Sunday 2026-06-07 08:00 UTC; notice 24 h → first possible Monday 08:00 UTC (04:00 New York).
    slots = free_slots(
        [Window(MON, time(9), time(11))], zone="America/New_York", now=utc(2026, 6, 7, 8),
        rules=SlotRules(horizon_days=7),
    )
    assert local_starts(slots, "America/New_York") == [
        "Mon 06-08 09:00", "Mon 06-08 09:30", "Mon 06-08 10:00", "Mon 06-08 10:30",
    ]
    assert all(s.end - s.start == timedelta(minutes=30) for s in slots)


def test_45_minute_calls_fit_whole_inside_the_window():
    slots = free_slots(
        [Window(MON, time(9), time(11))], zone="Europe/Berlin", now=utc(2026, 6, 7, 0),
        rules=SlotRules(duration_minutes=45, horizon_days=7),
    )
    assert local_starts(slots, "Europe/Berlin") == ["Mon 06-08 09:00", "Mon 06-08 09:45"]


def test_minimum_notice_cuts_the_first_slots():
    # Monday 2026-06-08 13:10 UTC = 09:10 New York; 24 h notice → Tuesday 09:10 local at the earliest.
    slots = free_slots(
        [Window(TUE, time(9), time(10, 30))], zone="America/New_York", now=utc(2026, 6, 8, 13, 10),
        rules=SlotRules(horizon_days=3),
    )
    assert local_starts(slots, "America/New_York") == ["Tue 06-09 09:30", "Tue 06-09 10:00"]


def test_horizon_and_until_end_the_search():
    windows = [Window(d, time(9), time(10)) for d in range(7)]
    now = utc(2026, 6, 1, 0)
    assert len(free_slots(windows, zone="UTC", now=now, rules=SlotRules(horizon_days=21))) == 20 * 2
    until = utc(2026, 6, 5, 0)
    slots = free_slots(windows, zone="UTC", now=now, until=until)
    assert slots[-1].end <= until
    assert len(slots) == 3 * 2  # 2, 3 and 4 June


def test_blackout_days_have_no_slots():
    windows = [Window(d, time(9), time(10)) for d in range(7)]
    slots = free_slots(
        windows, zone="Europe/Berlin", now=utc(2026, 6, 1, 0),
        blackouts=[DateRange(date(2026, 6, 3), date(2026, 6, 4))], rules=SlotRules(horizon_days=6),
    )
    days = {s.start.astimezone(ZoneInfo("Europe/Berlin")).date() for s in slots}
    assert date(2026, 6, 3) not in days and date(2026, 6, 4) not in days
    assert date(2026, 6, 2) in days and date(2026, 6, 5) in days


def test_booked_call_blocks_its_time_and_the_buffer_on_both_sides():
    windows = [Window(MON, time(9), time(13))]
    booked = Interval(utc(2026, 6, 8, 10, 30), utc(2026, 6, 8, 11))
    slots = free_slots(
        windows, zone="UTC", now=utc(2026, 6, 1), busy=[booked],
        rules=SlotRules(horizon_days=10, max_per_day=5),
    )
    starts = [s.start.strftime("%H:%M") for s in slots]
    # 10:00 ends at 10:30, inside the 15-minute buffer before the call; 11:00 starts inside the one after.
    assert starts == ["09:00", "09:30", "11:30", "12:00", "12:30"]


def test_one_call_a_day_unless_the_advocate_allows_more():
    windows = [Window(MON, time(9), time(12))]
    booked = [Interval(utc(2026, 6, 8, 9), utc(2026, 6, 8, 9, 30))]
    now = utc(2026, 6, 1)
    assert free_slots(windows, zone="UTC", now=now, busy=booked, rules=SlotRules(horizon_days=10)) == []
    two_a_day = free_slots(
        windows, zone="UTC", now=now, busy=booked, rules=SlotRules(horizon_days=10, max_per_day=2)
    )
    assert [s.start.strftime("%H:%M") for s in two_a_day][:2] == ["10:00", "10:30"]


def test_new_york_spring_forward_keeps_local_wall_clock():
    # DST starts Sunday 2026-03-08 in New York: 09:00 local is 14:00 UTC before, 13:00 UTC after.
    windows = [Window(d, time(9), time(9, 30)) for d in range(7)]
    slots = free_slots(windows, zone="America/New_York", now=utc(2026, 3, 5), rules=SlotRules(horizon_days=5))
    by_day = {s.start.date(): s.start.hour for s in slots}
    assert by_day[date(2026, 3, 7)] == 14
    assert by_day[date(2026, 3, 9)] == 13
    assert local_starts(slots, "America/New_York")[-1].endswith("09:00")


def test_berlin_fall_back_keeps_local_wall_clock():
    # DST ends Sunday 2026-10-25 in Berlin: 09:00 local is 07:00 UTC before, 08:00 UTC after.
    windows = [Window(d, time(9), time(9, 30)) for d in range(7)]
    slots = free_slots(windows, zone="Europe/Berlin", now=utc(2026, 10, 22), rules=SlotRules(horizon_days=5))
    by_day = {s.start.date(): s.start.hour for s in slots}
    assert by_day[date(2026, 10, 24)] == 7
    assert by_day[date(2026, 10, 26)] == 8


def test_window_across_the_night_of_the_change_is_still_whole():
    # A Sunday 01:00–04:00 window in New York on 2026-11-01 (clocks go back at 02:00) lasts 4 hours.
    slots = free_slots(
        [Window(SUN, time(1), time(4))], zone="America/New_York", now=utc(2026, 10, 30),
        rules=SlotRules(horizon_days=3, max_per_day=10),
    )
    assert slots[0].start == utc(2026, 11, 1, 5)
    assert slots[-1].end == utc(2026, 11, 1, 9)


def test_a_window_ending_in_the_skipped_hour_offers_no_slot_past_its_end():
    # New York springs forward at 02:00 on Sunday 2026-03-08: 02:00–02:59 never happens. A window
    # 00:00–02:59 that day ends at 01:59 EST in real time, so no slot runs into 03:00 EDT.
    slots = free_slots(
        [Window(SUN, time(0), time(2, 59))], zone="America/New_York", now=utc(2026, 3, 6),
        rules=SlotRules(horizon_days=3, max_per_day=10),
    )
    assert local_starts(slots, "America/New_York") == [
        "Sun 03-08 00:00", "Sun 03-08 00:30", "Sun 03-08 01:00",
    ]
    assert slots[-1].end == utc(2026, 3, 8, 6, 30)


def test_slots_are_shown_in_the_viewers_zone_without_changing_the_instant():
    slots = free_slots(
        [Window(WED, time(17), time(17, 30))], zone="America/Los_Angeles", now=utc(2026, 6, 1),
        rules=SlotRules(horizon_days=7),
    )
    assert slots[0].start.astimezone(ZoneInfo("Asia/Singapore")).strftime("%a %H:%M") == "Thu 08:00"


windows_strategy = st.lists(
    st.builds(
        lambda day, start, length: Window(day, time(start), time(min(23, start + length), 59)),
        st.integers(0, 6), st.integers(0, 20), st.integers(1, 3),
    ),
    max_size=6,
)


@settings(max_examples=60, deadline=None)
@given(
    windows=windows_strategy,
    zone=st.sampled_from(["UTC", "America/New_York", "Europe/Berlin", "Asia/Kolkata", "Australia/Sydney"]),
    offset_hours=st.integers(0, 24 * 60),
    booked_offsets=st.lists(st.integers(25, 24 * 20), max_size=4, unique=True),
)
def test_no_slot_breaks_a_rule(windows, zone, offset_hours, booked_offsets):
    now = utc(2026, 1, 1) + timedelta(hours=offset_hours)
    busy = sorted(
        (Interval(now + timedelta(hours=h), now + timedelta(hours=h, minutes=30)) for h in booked_offsets),
        key=lambda b: b.start,
    )
    rules = SlotRules(max_per_day=3)
    slots = free_slots(windows, zone=zone, now=now, busy=busy, rules=rules)
    tz = ZoneInfo(zone)
    buffer = timedelta(minutes=rules.buffer_minutes)
    for slot in slots:
        assert slot.start >= now + rules.notice
        assert slot.end <= now + timedelta(days=rules.horizon_days)
        local = slot.start.astimezone(tz)
        local_end = slot.end.astimezone(tz).time()
        assert any(
            w.weekday == local.weekday() and w.start <= local.time() and local_end <= w.end for w in windows
        )
        assert all(slot.end + buffer <= b.start or b.end + buffer <= slot.start for b in busy)
    assert slots == sorted(slots, key=lambda s: s.start)
