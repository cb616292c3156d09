"""The advocate's availability page: windows, time zone, blackouts, snooze, limits, preview."""

from __future__ import annotations

import re
import threading
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from sqlalchemy import select

from models import (
    Advocate,
    AuditEvent,
    Blackout,
    Engagement,
    EngagementStatus,
    WeeklyWindow,
    db,
    quarter_of,
)
from tests.conftest import csrf_token
from workflows import availability as flow

PAGE = "/portal/availability"
MON, TUE, FRI = 0, 1, 4


# --- helpers ---------------------------------------------------------------------------------


@pytest.fixture()
def advocate(make_advocate, sign_in):
    """An Active-tier advocate in Berlin, signed in on ``client``."""
    advocate = make_advocate(timezone="Europe/Berlin")
    sign_in(advocate.account)
    return advocate


def post(client, url: str, data: dict | None = None, follow: bool = False):
    token = csrf_token(client.get(PAGE).get_data(as_text=True))
    return client.post(url, data={"csrf_token": token, **(data or {})}, follow_redirects=follow)


def state(app, advocate_id: int) -> dict:
    """Everything the page can change, to show a refused change changed nothing."""
    with app.app_context():
        advocate = db.session.get(Advocate, advocate_id)
        snapshot = {
            "windows": sorted((w.id, w.weekday, w.starts, w.ends) for w in advocate.windows),
            "blackouts": sorted((b.id, b.starts_on, b.ends_on, b.reason) for b in advocate.blackouts),
            "timezone": advocate.account.timezone,
            "snoozed_until": advocate.snoozed_until,
            "limits": (advocate.quarterly_cap, advocate.min_days_between_calls, advocate.max_calls_per_day),
        }
        db.session.remove()
    return snapshot


def add_rows(app, advocate_id: int, *rows) -> list[int]:
    with app.app_context():
        for row in rows:
            row.advocate_id = advocate_id
            db.session.add(row)
        db.session.commit()
        ids = [row.id for row in rows]
        db.session.remove()
    return ids


def booked_call(starts_at: datetime, minutes: int = 30) -> Engagement:
    return Engagement(
        format_code="call", status=EngagementStatus.BOOKED, starts_at=starts_at,
        ends_at=starts_at + timedelta(minutes=minutes), quarter=quarter_of(starts_at),
    )


def slot_times(html: str) -> list[tuple[str, str]]:
    """The preview's slots as (UTC ISO start, local label)."""
    return re.findall(r'<time datetime="([^"]+)">([^<]+)</time>', html)


def refused(response, message: str) -> str:
    html = response.get_data(as_text=True)
    assert response.status_code == 400, html
    assert message in html
    assert "Nothing was changed." in html
    return html


# --- the page --------------------------------------------------------------------------------


def test_signed_out_visitors_are_sent_to_sign_in(client):
    response = client.get(PAGE)
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/sign-in")


def test_staff_may_not_open_it(client, make_account, sign_in):
    sign_in(make_account(role="coordinator"))
    assert client.get(PAGE).status_code == 403


def test_page_is_linked_from_the_navigation_and_starts_empty(client, advocate):
    html = client.get("/portal").get_data(as_text=True)
    assert f'href="{PAGE}"' in html
    html = client.get(PAGE).get_data(as_text=True)
    assert "Europe/Berlin" in html
    assert "You have no weekly windows yet" in html
    assert slot_times(html) == []
    # Every input has its label.
    for input_id in re.findall(r'<(?:input|select)[^>]* id="([^"]+)"', html):
        assert f'<label for="{input_id}">' in html, input_id


def test_an_advocate_account_without_a_profile_gets_404(client, make_account, sign_in):
    sign_in(make_account(role="advocate"))
    assert client.get(PAGE).status_code == 404


def test_a_paused_profile_is_told_why_nobody_books(client, app, make_advocate, sign_in):
    paused = make_advocate(status="paused")
    sign_in(paused.account)
    add_rows(app, paused.id, WeeklyWindow(weekday=MON, starts=time(9), ends=time(17)))
    assert "Your profile is paused: prospects cannot book you" in client.get(PAGE).get_data(as_text=True)


def test_changes_need_the_csrf_token(client, app, advocate):
    before = state(app, advocate.id)
    response = client.post(f"{PAGE}/windows", data={"weekday": "0", "starts": "09:00", "ends": "10:00"})
    assert response.status_code == 400
    assert state(app, advocate.id) == before


def test_only_posts_change_anything(client, advocate):
    assert client.get(f"{PAGE}/snooze/clear").status_code == 405
    assert client.get(f"{PAGE}/limits").status_code == 405


# --- weekly windows --------------------------------------------------------------------------


def test_add_change_and_remove_a_window(client, app, advocate):
    response = post(client, f"{PAGE}/windows", {"weekday": "0", "starts": "09:00", "ends": "12:00"})
    assert response.status_code == 302
    assert response.headers["Location"] == PAGE
    html = client.get(PAGE).get_data(as_text=True)
    assert "Window added: Monday 09:00–12:00." in html
    [(window_id, weekday, starts, ends)] = state(app, advocate.id)["windows"]
    assert (weekday, starts, ends) == (MON, time(9), time(12))

    edit = client.get(f"{PAGE}/windows/{window_id}")
    assert edit.status_code == 200
    assert 'value="09:00"' in edit.get_data(as_text=True)
    response = post(
        client, f"{PAGE}/windows/{window_id}",
        {"edit-weekday": "2", "edit-starts": "14:00", "edit-ends": "17:30"}, follow=True,
    )
    assert "Window changed to Wednesday 14:00–17:30." in response.get_data(as_text=True)
    assert state(app, advocate.id)["windows"] == [(window_id, 2, time(14), time(17, 30))]

    response = post(client, f"{PAGE}/windows/{window_id}/remove", follow=True)
    assert "Window removed." in response.get_data(as_text=True)
    assert state(app, advocate.id)["windows"] == []


def test_windows_may_touch_without_overlapping(client, app, advocate):
    post(client, f"{PAGE}/windows", {"weekday": "0", "starts": "09:00", "ends": "12:00"})
    response = post(client, f"{PAGE}/windows", {"weekday": "0", "starts": "12:00", "ends": "13:00"})
    assert response.status_code == 302
    assert len(state(app, advocate.id)["windows"]) == 2


@pytest.mark.parametrize(
    ("starts", "ends", "message"),
    [
        ("12:00", "09:00", "The end must be after the start"),
        ("09:00", "09:00", "The end must be after the start"),
        ("22:00", "00:00", "cannot run past midnight"),
        ("09:00", "09:15", "at least 30 minutes long"),
        ("10:00", "11:00", "This overlaps your Monday window 09:00–12:00"),
        ("08:00", "13:00", "This overlaps your Monday window 09:00–12:00"),
        ("11:30", "12:30", "This overlaps your Monday window 09:00–12:00"),
        ("23:00", "24:00", "24:00 is not a time of the day"),
        ("25:30", "26:00", "25:30 is not a time of the day"),
        ("09:75", "10:00", "09:75 is not a time of the day"),
        ("9.30", "10:00", "Enter a time like 09:30."),
        ("", "10:00", "Enter a start time"),
        ("9" * 5000, "10:00", "Enter a time like 09:30."),
    ],
)
def test_bad_windows_are_refused_and_change_nothing(client, app, advocate, starts, ends, message):
    post(client, f"{PAGE}/windows", {"weekday": "0", "starts": "09:00", "ends": "12:00"})
    before = state(app, advocate.id)
    response = post(client, f"{PAGE}/windows", {"weekday": "0", "starts": starts, "ends": ends})
    html = refused(response, message)
    assert 'aria-invalid="true"' in html
    assert state(app, advocate.id) == before


@pytest.mark.parametrize("weekday", ["7", "-1", "monday", ""])
def test_a_weekday_outside_the_week_is_refused(client, app, advocate, weekday):
    before = state(app, advocate.id)
    response = post(client, f"{PAGE}/windows", {"weekday": weekday, "starts": "09:00", "ends": "10:00"})
    refused(response, "Pick a weekday")
    assert state(app, advocate.id) == before


def test_a_change_that_would_overlap_another_window_is_refused(client, app, advocate):
    post(client, f"{PAGE}/windows", {"weekday": "0", "starts": "09:00", "ends": "10:00"})
    post(client, f"{PAGE}/windows", {"weekday": "0", "starts": "11:00", "ends": "12:00"})
    before = state(app, advocate.id)
    first_id = before["windows"][0][0]
    response = post(
        client, f"{PAGE}/windows/{first_id}",
        {"edit-weekday": "0", "edit-starts": "09:00", "edit-ends": "11:30"},
    )
    html = refused(response, "This overlaps your Monday window 11:00–12:00")
    assert f'action="/portal/availability/windows/{first_id}"' in html  # the edit form again
    assert state(app, advocate.id) == before
    # Moving a window within its own old span is not an overlap with itself.
    response = post(
        client, f"{PAGE}/windows/{first_id}",
        {"edit-weekday": "0", "edit-starts": "09:30", "edit-ends": "10:30"},
    )
    assert response.status_code == 302


# --- time zone -------------------------------------------------------------------------------


def test_time_zone_is_chosen_from_the_iana_list(client, app, advocate):
    html = client.get(PAGE).get_data(as_text=True)
    assert 'list="time-zones"' in html
    assert '<option value="America/New_York">' in html
    response = post(client, f"{PAGE}/time-zone", {"timezone": " America/New_York "}, follow=True)
    assert "Time zone set to America/New_York." in response.get_data(as_text=True)
    assert state(app, advocate.id)["timezone"] == "America/New_York"


@pytest.mark.parametrize(
    ("zone", "message"),
    [
        ("Mars/Olympus_Mons", "is not a time zone we know"),
        ("Atlantis", "is not a time zone we know. Type your city, like Berlin or New York"),
        ("", "Pick your time zone."),
        ("Europe/" + "x" * 60, "A time zone name has at most 64 characters."),
    ],
)
def test_unknown_time_zones_are_refused(client, app, advocate, zone, message):
    before = state(app, advocate.id)
    refused(post(client, f"{PAGE}/time-zone", {"timezone": zone}), message)
    assert state(app, advocate.id) == before


@pytest.mark.parametrize(
    ("typed", "zone"),
    [("berlin", "Europe/Berlin"), ("Berlin", "Europe/Berlin"), ("europe/berlin", "Europe/Berlin"),
     ("new york", "America/New_York"), ("  New   York ", "America/New_York"),
     ("NEW_YORK", "America/New_York"), ("Europe/Berlin", "Europe/Berlin")],
)
def test_a_city_or_zone_name_in_any_case_finds_the_zone(client, app, advocate, typed, zone):
    response = post(client, f"{PAGE}/time-zone", {"timezone": typed}, follow=True)
    assert f"Time zone set to {zone}." in response.get_data(as_text=True)
    assert state(app, advocate.id)["timezone"] == zone


def test_the_time_zone_hint_names_examples_that_work(client, app, advocate):
    html = client.get(PAGE).get_data(as_text=True)
    hint = re.search(r'id="timezone-hint"[^>]*>([^<]*)<', html)
    assert hint, "the time-zone field has a hint"
    for example in re.findall(r"“([^”]+)”", hint.group(1)):
        assert flow.resolve_time_zone(example), example


# --- blackouts -------------------------------------------------------------------------------


def test_add_and_remove_blackout_dates(client, app, advocate):
    first = date.today() + timedelta(days=10)
    last = first + timedelta(days=4)
    response = post(
        client, f"{PAGE}/blackouts",
        {"starts_on": first.isoformat(), "ends_on": last.isoformat(), "reason": "Family holiday"},
        follow=True,
    )
    html = response.get_data(as_text=True)
    assert f"No calls from {first:%d %B} to {last:%d %B %Y}." in html
    assert "Family holiday" in html
    [(blackout_id, *values)] = state(app, advocate.id)["blackouts"]
    assert values == [first, last, "Family holiday"]

    response = post(client, f"{PAGE}/blackouts/{blackout_id}/remove", follow=True)
    assert "Blackout removed." in response.get_data(as_text=True)
    assert state(app, advocate.id)["blackouts"] == []


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"starts_on": "2030-05-10", "ends_on": "2030-05-09"}, "The last day cannot be before the first"),
        ({"starts_on": "2030-05-10", "ends_on": ""}, "Enter the last day."),
        ({"starts_on": "10/05/2030", "ends_on": "2030-05-11"}, "Enter a date like 2026-05-31."),
        (
            {"starts_on": "2030-05-10", "ends_on": "2030-05-11", "reason": "x" * 201},
            "Keep the reason to 200 characters or fewer.",
        ),
        ({"starts_on": "2020-03-01", "ends_on": "2020-03-05"},
         "05 March 2020 is in the past: a blackout must end"),
    ],
)
def test_bad_blackouts_are_refused(client, app, advocate, data, message):
    before = state(app, advocate.id)
    refused(post(client, f"{PAGE}/blackouts", data), message)
    assert state(app, advocate.id) == before


# --- snooze ----------------------------------------------------------------------------------


def test_a_blackout_that_started_earlier_but_ends_today_is_accepted(client, app, advocate):
    today = berlin_today()
    response = post(client, f"{PAGE}/blackouts", {"starts_on": (today - timedelta(days=3)).isoformat(),
                                                  "ends_on": today.isoformat()})
    assert response.status_code == 302
    assert len(state(app, advocate.id)["blackouts"]) == 1


def berlin_today() -> date:
    return datetime.now(ZoneInfo("Europe/Berlin")).date()


def test_snooze_and_clear_it(client, app, advocate):
    until = berlin_today() + timedelta(days=30)
    response = post(client, f"{PAGE}/snooze", {"until": until.isoformat()}, follow=True)
    html = response.get_data(as_text=True)
    assert f"Snoozed until {until:%A %d %B %Y}" in html
    assert "You are snoozed until" in html
    assert state(app, advocate.id)["snoozed_until"] == until

    response = post(client, f"{PAGE}/snooze/clear", follow=True)
    assert "Snooze cleared" in response.get_data(as_text=True)
    assert state(app, advocate.id)["snoozed_until"] is None


def test_snoozing_until_today_is_allowed(client, app, advocate):
    assert post(client, f"{PAGE}/snooze", {"until": berlin_today().isoformat()}).status_code == 302


@pytest.mark.parametrize(
    ("until", "message"),
    [
        (lambda: berlin_today() - timedelta(days=1), "is in the past: pick today or a later date."),
        (lambda: "", "Enter the last day of your snooze."),
        (lambda: "next week", "Enter a date like 2026-05-31."),
    ],
)
def test_bad_snooze_dates_are_refused(client, app, advocate, until, message):
    before = state(app, advocate.id)
    value = until()
    refused(post(client, f"{PAGE}/snooze", {"until": str(value)}), message)
    assert state(app, advocate.id) == before


# --- limits ----------------------------------------------------------------------------------


def limits(cap="2", gap="14", per_day="2") -> dict:
    return {"quarterly_cap": cap, "min_days_between_calls": gap, "max_calls_per_day": per_day}


def test_save_limits(client, app, advocate):
    response = post(client, f"{PAGE}/limits", limits(), follow=True)
    assert "Limits saved: 2 of 2 calls left in Q" in response.get_data(as_text=True)
    assert state(app, advocate.id)["limits"] == (2, 14, 2)
    # The edges are allowed; an empty cap means "as many as the tier allows".
    assert post(client, f"{PAGE}/limits", limits("4", "90", "5")).status_code == 302
    assert state(app, advocate.id)["limits"] == (4, 90, 5)
    assert post(client, f"{PAGE}/limits", limits("", "0", "1")).status_code == 302
    assert state(app, advocate.id)["limits"] == (None, 0, 1)
    assert post(client, f"{PAGE}/limits", limits("0", "0", "1")).status_code == 302
    assert state(app, advocate.id)["limits"] == (0, 0, 1)


def test_a_cap_below_the_calls_already_had_is_saved_and_says_no_more_asks_this_quarter(client, app, advocate):
    now = datetime.now(UTC)
    calls = [booked_call(now + timedelta(days=1)), booked_call(now + timedelta(days=1, hours=2))]
    for call in calls:
        call.quarter = quarter_of(now)  # counted in this quarter, whatever day it is
    add_rows(app, advocate.id, *calls)
    html = post(client, f"{PAGE}/limits", limits(cap="1"), follow=True).get_data(as_text=True)
    assert state(app, advocate.id)["limits"] == (1, 14, 2)
    assert "You have had 2 calls in Q" in html
    assert "as many as your limit of 1 allows: no new asks until next quarter." in html


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (limits(cap="5"), "Pick 0 to 4 calls a quarter: your tier allows 4."),
        (limits(cap="-1"), "Pick 0 to 4 calls a quarter"),
        (limits(gap="91"), "Pick 0 to 90 days between calls."),
        (limits(gap="-1"), "Pick 0 to 90 days between calls."),
        (limits(per_day="0"), "Pick 1 to 5 calls a day."),
        (limits(per_day="6"), "Pick 1 to 5 calls a day."),
        (limits(per_day="two"), "Enter a whole number, like 2."),
        (limits(gap=""), "Enter a number of days"),
    ],
)
def test_bad_limits_are_refused(client, app, advocate, data, message):
    before = state(app, advocate.id)
    refused(post(client, f"{PAGE}/limits", data), message)
    assert state(app, advocate.id) == before


def test_the_cap_follows_the_tier_quota(client, app, make_advocate, sign_in):
    premier = make_advocate(tier="Premier")
    sign_in(premier.account)
    assert post(client, f"{PAGE}/limits", limits(cap="6")).status_code == 302
    refused(post(client, f"{PAGE}/limits", limits(cap="7")), "Pick 0 to 6 calls a quarter")
    assert state(app, premier.id)["limits"][0] == 6


# --- the preview -----------------------------------------------------------------------------


def test_preview_changes_as_windows_are_added(client, advocate):
    assert slot_times(client.get(PAGE).get_data(as_text=True)) == []
    post(client, f"{PAGE}/windows", {"weekday": "0", "starts": "09:00", "ends": "10:00"})
    after_one = slot_times(client.get(PAGE).get_data(as_text=True))
    # 14 days hold two Mondays, minus at most one lost to the 24 hours' notice.
    assert 2 <= len(after_one) <= 4
    assert {label for _utc, label in after_one} <= {"09:00", "09:30"}
    post(client, f"{PAGE}/windows", {"weekday": "3", "starts": "14:00", "ends": "15:30"})
    after_two = slot_times(client.get(PAGE).get_data(as_text=True))
    assert set(after_one) < set(after_two)
    assert {"14:00", "14:30", "15:00"} <= {label for _utc, label in after_two}


def test_preview_leaves_out_blackouts_calls_and_snoozed_days(client, app, make_advocate, sign_in):
    monday = datetime(2026, 6, 1, 6, 0, tzinfo=UTC)  # 08:00 in Berlin
    with time_machine.travel(monday, tick=False):  # signed in at that time: sessions are dated
        advocate = make_advocate(timezone="Europe/Berlin")
        sign_in(advocate.account)
        add_rows(app, advocate.id, WeeklyWindow(weekday=TUE, starts=time(9), ends=time(11)))
        slots = slot_times(client.get(PAGE).get_data(as_text=True))
        # Tuesdays 2 and 9 June, 09:00–11:00 CEST = 07:00–09:00 UTC.
        assert [utc for utc, _label in slots] == [
            f"2026-06-{day:02d}T{hour}+00:00"
            for day in (2, 9) for hour in ("07:00:00", "07:30:00", "08:00:00", "08:30:00")
        ]

        add_rows(app, advocate.id, booked_call(datetime(2026, 6, 2, 7, 30, tzinfo=UTC)))
        slots = slot_times(client.get(PAGE).get_data(as_text=True))
        assert not any(utc.startswith("2026-06-02") for utc, _ in slots)  # one call a day
        post(client, f"{PAGE}/limits", limits(gap="0", per_day="2"))
        slots = slot_times(client.get(PAGE).get_data(as_text=True))
        # 15 minutes of buffer on both sides of the 09:30 call leave only 10:30 that Tuesday.
        assert [label for utc, label in slots if utc.startswith("2026-06-02")] == ["10:30"]

        post(client, f"{PAGE}/blackouts", {"starts_on": "2026-06-09", "ends_on": "2026-06-09"})
        slots = slot_times(client.get(PAGE).get_data(as_text=True))
        assert [label for _utc, label in slots] == ["10:30"]

        post(client, f"{PAGE}/snooze", {"until": "2026-06-05"})
        html = client.get(PAGE).get_data(as_text=True)
        assert slot_times(html) == []
        assert "You are snoozed until Friday 05 June 2026: slots start after that." in html
        post(client, f"{PAGE}/snooze/clear")
        post(client, f"{PAGE}/blackouts", {"starts_on": "2026-06-02", "ends_on": "2026-06-02"})
        html = client.get(PAGE).get_data(as_text=True)
        assert slot_times(html) == []
        assert "No free slot in the next 14 days" in html

        post(client, f"{PAGE}/snooze", {"until": "2026-07-31"})
        html = client.get(PAGE).get_data(as_text=True)
        assert "You are snoozed until Friday 31 July 2026: no slots are offered before then." in html


def test_preview_keeps_the_days_between_calls_around_booked_and_past_calls(
    client, app, make_advocate, sign_in
):
    monday = datetime(2026, 6, 1, 6, 0, tzinfo=UTC)  # 08:00 in Berlin; the preview runs to 15 June
    with time_machine.travel(monday, tick=False):
        advocate = make_advocate(timezone="Europe/Berlin")
        sign_in(advocate.account)
        weekdays = (WeeklyWindow(weekday=d, starts=time(9), ends=time(9, 30)) for d in range(5))
        add_rows(app, advocate.id, *weekdays)
        post(client, f"{PAGE}/limits", limits(gap="7", per_day="1"))

        def days() -> list[int]:
            return [int(utc[8:10]) for utc, _label in slot_times(client.get(PAGE).get_data(as_text=True))]

        assert days() == [2, 3, 4, 5, 8, 9, 10, 11, 12]
        # Completed 5 days ago, at 09:00 Berlin: nothing until 09:00 on 3 June, 7 days after it.
        past = booked_call(datetime(2026, 5, 27, 7, 0, tzinfo=UTC))
        past.status = EngagementStatus.COMPLETED
        add_rows(app, advocate.id, past)
        assert days() == [3, 4, 5, 8, 9, 10, 11, 12]
        # Booked for Wednesday 3 June: not 2 days after it (5 June), nor before 10 June.
        add_rows(app, advocate.id, booked_call(datetime(2026, 6, 3, 7, 0, tzinfo=UTC)))
        assert days() == [10, 11, 12]
        # A call beyond the preview keeps its gap inside it: 12 June is 6 days before 18 June.
        add_rows(app, advocate.id, booked_call(datetime(2026, 6, 18, 7, 0, tzinfo=UTC)))
        assert days() == [10, 11]
        add_rows(app, advocate.id, booked_call(datetime(2026, 6, 11, 7, 0, tzinfo=UTC)))
        html = client.get(PAGE).get_data(as_text=True)
        assert slot_times(html) == []
        assert "less than 7 days from another call (your minimum between calls)" in html


@pytest.mark.parametrize(
    ("zone", "now", "expected"),
    [
        # Berlin moves to summer time on 29 March 2026: 09:00 is 08:00 UTC, then 07:00 UTC.
        (
            "Europe/Berlin", datetime(2026, 3, 20, 12, tzinfo=UTC),
            [("2026-03-27T08:00:00+00:00", "CET"), ("2026-04-03T07:00:00+00:00", "CEST")],
        ),
        # New York moves on 8 March 2026: 09:00 is 14:00 UTC, then 13:00 UTC.
        (
            "America/New_York", datetime(2026, 3, 2, 12, tzinfo=UTC),
            [("2026-03-06T14:00:00+00:00", "EST"), ("2026-03-13T13:00:00+00:00", "EDT")],
        ),
    ],
)
def test_preview_keeps_local_times_across_daylight_saving_changes(
    client, app, make_advocate, sign_in, zone, now, expected
):
    with time_machine.travel(now, tick=False):
        advocate = make_advocate(timezone=zone)
        sign_in(advocate.account)
        add_rows(app, advocate.id, WeeklyWindow(weekday=FRI, starts=time(9), ends=time(9, 30)))
        html = client.get(PAGE).get_data(as_text=True)
    assert slot_times(html) == [(utc, "09:00") for utc, _abbreviation in expected]
    for _utc, abbreviation in expected:
        assert f"<small>{abbreviation}</small>" in html


# --- ownership -------------------------------------------------------------------------------


def test_another_advocates_ids_give_404_and_leave_their_data_alone(client, app, make_advocate, advocate):
    other = make_advocate(timezone="Asia/Tokyo")
    [window_id, blackout_id] = add_rows(
        app, other.id,
        WeeklyWindow(weekday=MON, starts=time(7, 15), ends=time(8, 45)),
        Blackout(starts_on=date(2030, 1, 1), ends_on=date(2030, 1, 2), reason="Their secret trip"),
    )
    theirs = state(app, other.id)
    mine = state(app, advocate.id)

    responses = [
        client.get(f"{PAGE}/windows/{window_id}"),
        post(client, f"{PAGE}/windows/{window_id}",
             {"edit-weekday": "1", "edit-starts": "10:00", "edit-ends": "11:00"}),
        post(client, f"{PAGE}/windows/{window_id}", {"edit-weekday": "1"}),  # invalid too
        post(client, f"{PAGE}/windows/{window_id}/remove"),
        post(client, f"{PAGE}/blackouts/{blackout_id}/remove"),
        post(client, f"{PAGE}/windows/999999/remove"),
    ]
    for response in responses:
        html = response.get_data(as_text=True)
        assert response.status_code == 404, html
        assert "07:15" not in html
        assert "Their secret trip" not in html
    assert state(app, other.id) == theirs
    assert state(app, advocate.id) == mine
    assert "Their secret trip" not in client.get(PAGE).get_data(as_text=True)
    with app.app_context():
        denied = db.session.scalars(select(AuditEvent).where(AuditEvent.kind == "access.denied")).all()
        assert len(denied) == len(responses)
        assert {event.actor_id for event in denied} == {advocate.account.id}


# --- queries ---------------------------------------------------------------------------------


def test_the_page_issues_the_same_queries_whatever_the_data_size(
    client, app, advocate, count_queries
):
    soon = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) + timedelta(days=2)

    def fill(first: int, count: int):
        """Windows, blackouts and booked calls number ``first`` on, none overlapping another."""
        rows = []
        for n in range(first, first + count):
            day = date.today() + timedelta(days=30 + n)
            rows += [
                WeeklyWindow(weekday=n % 7, starts=time(6 + n // 7), ends=time(7 + n // 7)),
                Blackout(starts_on=day, ends_on=day),
                booked_call(soon + timedelta(hours=n)),
            ]
        add_rows(app, advocate.id, *rows)

    def measure() -> int:
        with count_queries() as queries:
            response = client.get(PAGE)
        assert response.status_code == 200
        return len(queries)

    fill(0, 1)
    with_one = measure()
    fill(1, 19)
    assert len(state(app, advocate.id)["windows"]) == 20
    with_twenty = measure()
    assert with_one == with_twenty
    assert with_twenty <= 8
    html = client.get(PAGE).get_data(as_text=True)
    assert html.count('id="window-') == html.count('id="blackout-') == 20


def test_a_change_commits_in_a_bounded_number_of_queries(client, app, advocate, count_queries):
    add_rows(app, advocate.id, *[WeeklyWindow(weekday=i, starts=time(9), ends=time(10)) for i in range(7)])
    token = csrf_token(client.get(PAGE).get_data(as_text=True))
    with count_queries() as queries:
        response = client.post(
            f"{PAGE}/windows", data={"csrf_token": token, "weekday": "0", "starts": "11:00", "ends": "12:00"}
        )
    assert response.status_code == 302
    # The change itself, then the advocate's match row recomputed in the same transaction
    # (a fixed number whatever the pool: workflows.match_rows.refresh_match_rows).
    assert len(queries) <= 8 + 14


def test_two_tabs_adding_overlapping_windows_at_once_save_one(app, make_advocate):
    advocate = make_advocate()
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def add(starts: time, ends: time) -> None:
        with app.app_context():
            barrier.wait()
            try:
                flow.add_window(advocate.id, MON, starts, ends)
                outcomes.append("saved")
            except flow.AvailabilityError:
                outcomes.append("refused")
            finally:
                db.session.remove()

    tabs = [threading.Thread(target=add, args=span) for span in [(time(9), time(11)), (time(10), time(12))]]
    for tab in tabs:
        tab.start()
    for tab in tabs:
        tab.join(30)
    assert sorted(outcomes) == ["refused", "saved"]
    assert len(state(app, advocate.id)["windows"]) == 1


# --- the rules alone -------------------------------------------------------------------------


def test_rules_as_plain_functions():
    monday_nine_to_twelve = WeeklyWindow(weekday=MON, starts=time(9), ends=time(12))
    flow.check_window(TUE, time(9), time(12), [monday_nine_to_twelve], call_minutes=30)
    with pytest.raises(flow.AvailabilityError) as refusal:
        flow.check_window(MON, time(11), time(13), [monday_nine_to_twelve], call_minutes=30)
    assert refusal.value.field == "starts"
    assert flow.parse_time_of_day("07:05") == time(7, 5)
    assert flow.parse_time_of_day("23:59:00") == time(23, 59)
    with pytest.raises(flow.AvailabilityError, match="not a time of the day"):
        flow.parse_time_of_day("24:00")
    with pytest.raises(flow.AvailabilityError, match="not a time zone we know"):
        flow.check_time_zone("UTC+2")
    flow.check_time_zone("Pacific/Chatham")
    with pytest.raises(flow.AvailabilityError, match="tier allows 0"):
        flow.check_limits(1, 0, 1, tier_quota=0)
