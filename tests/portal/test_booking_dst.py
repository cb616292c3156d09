"""Booking across the weeks when Europe and the United States change their clocks on different
Sundays: the advocate in Europe/Berlin, the prospect in America/Los_Angeles.

In 2026 the United States springs forward on 8 March and falls back on 1 November; Europe on
29 March and 25 October. Between those Sundays Berlin is 8 hours ahead of Los Angeles instead of
9, so the advocate's 17:00 is 09:00 for the prospect, not 08:00. The expected times here come
from those dates, not from the zone database the code uses: the page must show each time in the
prospect's zone on its own day, and the time the prospect picks must be stored, and sent in
both invitations, as the same instant in UTC.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta

import pytest
import time_machine
from sqlalchemy import select

from models import Account, Engagement, db
from tests.conftest import csrf_token, text_body
from tests.helpers import fit, flashed
from tests.portal.test_booking import event_of, path_of
from workflows import requests as flow

PROSPECT = "pat@prospect.example"
ADVOCATE = "dana@northwind.example"
LOS_ANGELES = "America/Los_Angeles"

EU_SUMMER = (date(2026, 3, 29), date(2026, 10, 25))  # last Sundays of March and October
US_SUMMER = (date(2026, 3, 8), date(2026, 11, 1))  # second Sunday of March, first of November


def offsets(day: date) -> tuple[int, int]:
    """(Berlin, Los Angeles) hours from UTC in the afternoon of ``day``, by the rules above."""
    berlin = 2 if EU_SUMMER[0] <= day < EU_SUMMER[1] else 1
    los_angeles = -7 if US_SUMMER[0] <= day < US_SUMMER[1] else -8
    return berlin, los_angeles


def berlin_five_pm(day: date, minute: int = 0) -> datetime:
    """The advocate's 17:00 (or 17:30) on ``day``, in UTC."""
    berlin, _ = offsets(day)
    return datetime(day.year, day.month, day.day, 17 - berlin, minute, tzinfo=UTC)


def shown_in_los_angeles(moment: datetime) -> str:
    _, los_angeles = offsets(moment.date())
    return f"{moment + timedelta(hours=los_angeles):%H:%M}"


def offered(html: str) -> list[tuple[date, str, datetime]]:
    """(the day heading, the time shown, the instant posted) of each time on a page."""
    times = []
    for legend, body in re.findall(r"<legend>(.*?)</legend>(.*?)</fieldset>", html, re.S):
        day = datetime.strptime(legend.strip(), "%A %d %B %Y").date()
        for value, shown in re.findall(r'name="slot" value="([^"]+)" required>\s*([^<]+?)\s*</label>', body):
            times.append((day, shown, datetime.fromisoformat(value)))
    return times


def pick(html: str, day: date, shown_start: str) -> str:
    """The value of the time the prospect sees as ``shown_start`` on ``day``."""
    [value] = [moment.isoformat() for d, shown, moment in offered(html)
               if d == day and shown.startswith(f"{shown_start}–")]
    return value


@pytest.fixture()
def introduce(app, make_account, make_advocate, make_request, smtp, deliver):
    """``introduce()`` → the booking link's path, from the introduction e-mail: Dana, in Berlin
    with a window of 17:00–18:00 every day, accepted a call for Pat. Call it inside a travel."""

    def run() -> str:
        coordinator = make_account(role="coordinator", email="cora@vouch.example")
        dana = make_advocate(name="Dana Whitfield", email=ADVOCATE, timezone="Europe/Berlin",
                             join_url="https://meet.example/dana")
        fit(app, dana.id, formats=("call",), hours=(17, 18))
        request = make_request(format="call", contact_name="Pat Prospect", contact_email=PROSPECT,
                               prospect_company="Globex Corp", needed_by=date.today() + timedelta(days=21))
        with app.app_context():
            ask = flow.ask(request.id, dana.id, by=db.session.get(Account, coordinator.id))
            flow.accept_ask(ask.id, dana.id)
            db.session.remove()
        deliver()
        [intro] = smtp.to(PROSPECT)
        smtp.clear()
        return path_of(re.search(r"https?://\S+/book/\S+", text_body(intro)).group(0))

    return run


# When the page is opened; its 21 days run across one change or both.
SPRING_US = datetime(2026, 3, 4, 12, tzinfo=UTC)
SPRING_EU = datetime(2026, 3, 25, 12, tzinfo=UTC)
AUTUMN = datetime(2026, 10, 20, 12, tzinfo=UTC)


@pytest.mark.parametrize("now", [SPRING_US, SPRING_EU, AUTUMN], ids=["march-us", "march-eu", "autumn"])
def test_every_time_is_shown_on_its_day_in_the_prospects_zone(client, introduce, now):
    with time_machine.travel(now, tick=False):
        path = introduce()
        html = client.get(f"{path}?tz={LOS_ANGELES}").get_data(as_text=True)

    assert f'<option value="{LOS_ANGELES}" selected>' in html
    times = offered(html)
    first_day = (now + timedelta(days=1)).date()  # the day's notice
    days = [first_day + timedelta(days=n) for n in range(21)]
    # Two times a day, 17:00 and 17:30 in Berlin, on every day of the horizon it reaches.
    expected = [
        (day, f"{shown_in_los_angeles(start)}–{shown_in_los_angeles(start + timedelta(minutes=30))}", start)
        for day in days
        for start in (berlin_five_pm(day), berlin_five_pm(day, 30))
        if now + timedelta(hours=24) <= start and start + timedelta(minutes=30) <= now + timedelta(days=21)
    ]
    assert times == expected
    # Both sides of a change are on the page: 08:00 where the gap is 9 hours, 09:00 where it is 8.
    starts = {shown[:5] for _day, shown, _moment in times}
    assert starts == {"08:00", "08:30", "09:00", "09:30"}


@pytest.mark.parametrize(
    ("now", "day", "shown", "utc"),
    [
        # Berlin still in winter time, Los Angeles in summer time: 8 hours apart.
        (SPRING_US, date(2026, 3, 9), "09:00", datetime(2026, 3, 9, 16, tzinfo=UTC)),
        (SPRING_EU, date(2026, 3, 27), "09:00", datetime(2026, 3, 27, 16, tzinfo=UTC)),
        # Both in summer time: 9 hours apart again.
        (SPRING_EU, date(2026, 3, 30), "08:00", datetime(2026, 3, 30, 15, tzinfo=UTC)),
        # Berlin back in winter time, Los Angeles not yet.
        (AUTUMN, date(2026, 10, 27), "09:00", datetime(2026, 10, 27, 16, tzinfo=UTC)),
        # Both in winter time.
        (AUTUMN, date(2026, 11, 2), "08:00", datetime(2026, 11, 2, 16, tzinfo=UTC)),
    ],
    ids=["us-summer-eu-winter", "before-eu-change", "both-summer", "eu-winter-us-summer", "both-winter"],
)
def test_the_time_picked_is_stored_and_invited_as_the_same_instant(
    app, client, introduce, smtp, deliver, now, day, shown, utc
):
    with time_machine.travel(now, tick=False):
        path = introduce()
        page = client.get(f"{path}?tz={LOS_ANGELES}").get_data(as_text=True)
        slot = pick(page, day, shown)
        response = client.post(path, data={"csrf_token": csrf_token(page), "slot": slot, "tz": LOS_ANGELES})
        assert response.status_code == 302
        manage = client.get(response.headers["Location"]).get_data(as_text=True)
        deliver()

    assert datetime.fromisoformat(slot) == utc
    assert flashed(manage)[0].startswith(f"Booked: {day:%A %d %B %Y} at {shown} ({LOS_ANGELES})")
    with app.app_context():
        [booked] = db.session.scalars(select(Engagement).where(Engagement.starts_at.is_not(None))).all()
        assert (booked.starts_at, booked.ends_at) == (utc, utc + timedelta(minutes=30))
        assert booked.prospect_timezone == LOS_ANGELES
        db.session.remove()

    [to_prospect] = smtp.to(PROSPECT)
    [to_advocate] = smtp.to(ADVOCATE)
    for message in (to_prospect, to_advocate):
        method, event = event_of(message)
        assert method == "REQUEST"
        assert event.decoded("dtstart") == utc and event.decoded("dtstart").utcoffset() == timedelta(0)
        assert event.decoded("dtend") == utc + timedelta(minutes=30)
    # Each side reads it in their own zone: the advocate's 17:00 is the prospect's 08:00 or 09:00.
    assert to_prospect["Subject"].endswith(f"{day:%a %d %b %Y}, {shown} ({LOS_ANGELES})")
    assert to_advocate["Subject"].endswith(f"{day:%a %d %b %Y}, 17:00 (Europe/Berlin)")


def test_moving_the_call_across_both_autumn_changes_keeps_the_instant_right(
    app, client, introduce, smtp, deliver
):
    with time_machine.travel(AUTUMN, tick=False):
        path = introduce()
        page = client.get(f"{path}?tz={LOS_ANGELES}").get_data(as_text=True)
        booked = client.post(path, data={"csrf_token": csrf_token(page), "tz": LOS_ANGELES,
                                         "slot": pick(page, date(2026, 10, 23), "08:00")})
        manage_path = booked.headers["Location"]
        # The managing page shows the times in the zone the prospect booked in, with no ?tz=.
        manage = client.get(manage_path).get_data(as_text=True)
        assert "<strong>Friday 23 October 2026, 08:00</strong> (America/Los_Angeles)" in manage
        later = pick(manage, date(2026, 11, 3), "08:00")
        moved = client.post(f"{manage_path}/move", data={"csrf_token": csrf_token(manage), "slot": later,
                                                         "tz": LOS_ANGELES})
        assert moved.status_code == 302
        deliver()

    # 23 October: Berlin UTC+2, Los Angeles UTC-7; 3 November: UTC+1 and UTC-8.
    assert datetime.fromisoformat(later) == datetime(2026, 11, 3, 16, tzinfo=UTC)
    first, second = (event_of(m)[1] for m in smtp.to(PROSPECT))
    assert first.decoded("dtstart") == datetime(2026, 10, 23, 15, tzinfo=UTC)
    assert second.decoded("dtstart") == datetime(2026, 11, 3, 16, tzinfo=UTC)
    assert int(second["sequence"]) == 1 and str(second["uid"]) == str(first["uid"])
    assert smtp.to(ADVOCATE)[-1]["Subject"].endswith("Tue 03 Nov 2026, 17:00 (Europe/Berlin)")
