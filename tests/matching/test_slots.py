"""The slot function alone: no app, no database."""

from collections import Counter
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from matching.slots import DateRange, Interval, SlotRules, Window, first_free_slot, free_slots

MON, TUE, WED, THU, FRI, SUN = 0, 1, 2, 3, 4, 6
EVERY_DAY_9_TO_930 = [Window(d, time(9), time(9, 30)) for d in range(7)]


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


def test_the_daily_limit_counts_the_calls_already_on_that_day():
    windows = [Window(MON, time(9), time(12))]
    now = utc(2026, 6, 1)
    rules = SlotRules(horizon_days=10, max_per_day=2)
    one = [Interval(utc(2026, 6, 8, 9), utc(2026, 6, 8, 9, 30))]
    slots = free_slots(windows, zone="UTC", now=now, busy=one, rules=rules)
    assert [s.start.strftime("%H:%M") for s in slots] == ["10:00", "10:30", "11:00", "11:30"]
    two = one + [Interval(utc(2026, 6, 8, 11), utc(2026, 6, 8, 11, 30))]
    assert free_slots(windows, zone="UTC", now=now, busy=two, rules=rules) == []
    # A call counts on its local day: 22:30 UTC on Sunday is 00:30 on Monday in Berlin.
    late = [Interval(utc(2026, 6, 7, 22, 30), utc(2026, 6, 7, 23))]
    one_a_day = SlotRules(horizon_days=10)
    assert free_slots(windows, zone="Europe/Berlin", now=now, busy=late, rules=one_a_day) == []
    assert free_slots(windows, zone="UTC", now=now, busy=late, rules=one_a_day)


def days_with_slots(slots, zone="UTC") -> list[int]:
    return [s.start.astimezone(ZoneInfo(zone)).day for s in slots]


def test_no_slot_starts_within_the_gap_of_a_call_on_either_side():
    call = Interval(utc(2026, 6, 10, 9), utc(2026, 6, 10, 9, 30))
    slots = free_slots(
        EVERY_DAY_9_TO_930, zone="UTC", now=utc(2026, 6, 1), busy=[call],
        rules=SlotRules(min_days_between_calls=3, max_per_day=5),
    )
    # Exactly 3 days before (7 June) and after (13 June) is allowed; 8 to 12 June are not.
    assert days_with_slots(slots) == [2, 3, 4, 5, 6, 7, 13, 14, 15, 16, 17, 18, 19, 20, 21]
    blocked = [s for s in free_slots(
        [Window(d, time(0), time(23, 30)) for d in range(7)], zone="UTC", now=utc(2026, 6, 1), busy=[call],
        rules=SlotRules(min_days_between_calls=3, max_per_day=5),
    ) if abs(s.start - call.start) < timedelta(days=3)]
    assert blocked == []


def test_the_gaps_of_calls_close_together_run_into_one():
    calls = [Interval(utc(2026, 6, d, 9), utc(2026, 6, d, 9, 30)) for d in (6, 10)]
    slots = free_slots(
        EVERY_DAY_9_TO_930, zone="UTC", now=utc(2026, 6, 1), busy=calls,
        rules=SlotRules(min_days_between_calls=3),
    )
    # 3 June is 3 days before the first call, 13 June 3 days after the second; between, nothing.
    assert days_with_slots(slots) == [2, 3, 13, 14, 15, 16, 17, 18, 19, 20, 21]


def test_a_booked_call_keeps_the_days_after_it_free_for_the_gap():
    # A call on Wednesday 3 June and a 7-day gap: nothing 2 days after it (nor the day before), the
    # first slot a week on.
    call = Interval(utc(2026, 6, 3, 9), utc(2026, 6, 3, 9, 30))
    rules = SlotRules(min_days_between_calls=7)
    slots = free_slots(EVERY_DAY_9_TO_930, zone="UTC", now=utc(2026, 6, 1), busy=[call], rules=rules)
    assert utc(2026, 6, 5, 9) not in [s.start for s in slots]
    assert days_with_slots(slots) == list(range(10, 22))
    assert first_free_slot(
        EVERY_DAY_9_TO_930, zone="UTC", now=utc(2026, 6, 4), busy=[call], rules=rules
    ).start == utc(2026, 6, 10, 9)


def test_a_past_call_keeps_the_gap_too():
    # The call was 5 days ago; with a 7-day gap the first slot is 7 days after it, not tomorrow.
    now = utc(2026, 6, 6, 8)
    past = Interval(utc(2026, 6, 1, 9), utc(2026, 6, 1, 9, 30))
    rules = SlotRules(min_days_between_calls=7)
    assert first_free_slot(EVERY_DAY_9_TO_930, zone="UTC", now=now, rules=rules).start == utc(2026, 6, 7, 9)
    assert first_free_slot(
        EVERY_DAY_9_TO_930, zone="UTC", now=now, busy=[past], rules=rules
    ).start == utc(2026, 6, 8, 9)


def test_the_gap_is_counted_in_the_advocates_wall_clock_across_a_daylight_saving_change():
    # New York springs forward on 8 March 2026: a call on Friday 6 March at 09:00 EST and a 7-day
    # gap leave Friday 13 March 09:00 EDT free, although only 6 days 23 hours pass in UTC.
    call = Interval(utc(2026, 3, 6, 14), utc(2026, 3, 6, 14, 30))
    slots = free_slots(
        [Window(THU, time(9), time(9, 30)), Window(FRI, time(9), time(9, 30))], zone="America/New_York",
        now=utc(2026, 3, 2), busy=[call], rules=SlotRules(min_days_between_calls=7),
    )
    # Thursday 5 March is a day before the call, Thursday 12 March six days after it.
    assert local_starts(slots, "America/New_York") == [
        "Fri 03-13 09:00", "Thu 03-19 09:00", "Fri 03-20 09:00",
    ]
    assert slots[0].start == utc(2026, 3, 13, 13)


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
    # Past calls as well as booked ones, in whole hours so that none overlap.
    booked_offsets=st.lists(st.integers(-24 * 12, 24 * 20), max_size=5, unique=True),
    per_day=st.integers(1, 3),
    gap_days=st.sampled_from([0, 0, 1, 2, 7]),
)
def test_no_slot_breaks_a_rule(windows, zone, offset_hours, booked_offsets, per_day, gap_days):
    now = utc(2026, 1, 1) + timedelta(hours=offset_hours)
    busy = [Interval(now + timedelta(hours=h), now + timedelta(hours=h, minutes=30)) for h in booked_offsets]
    rules = SlotRules(max_per_day=per_day, min_days_between_calls=gap_days)
    slots = free_slots(windows, zone=zone, now=now, busy=busy, rules=rules)
    tz = ZoneInfo(zone)
    buffer = timedelta(minutes=rules.buffer_minutes)
    calls_per_day = Counter(b.start.astimezone(tz).date() for b in busy)
    for slot in slots:
        assert slot.start >= now + rules.notice
        assert slot.end <= now + timedelta(days=rules.horizon_days)
        local = slot.start.astimezone(tz)
        local_end = slot.end.astimezone(tz).time()
        assert any(
            w.weekday == local.weekday() and w.start <= local.time() and local_end <= w.end for w in windows
        )
        assert all(slot.end + buffer <= b.start or b.end + buffer <= slot.start for b in busy)
        assert calls_per_day[local.date()] < per_day
        # The gap is wall-clock days in the advocate's zone (a day may have 23 or 25 hours).
        wall = local.replace(tzinfo=None)
        assert all(
            abs(wall - b.start.astimezone(tz).replace(tzinfo=None)) >= timedelta(days=gap_days) for b in busy
        )
    assert slots == sorted(slots, key=lambda s: s.start)
    first = first_free_slot(windows, zone=zone, now=now, busy=busy, rules=rules)
    assert first == (slots[0] if slots else None)
