"""The advocate's calendar feed: a private address on the availability page, served as
text/calendar to any calendar app, listing their booked calls (upcoming and recent) with the
UIDs their invitations carry and their times in UTC; rotating the address retires the old one."""

from __future__ import annotations

import html as html_lib
import re
from datetime import timedelta

import pytest
from icalendar import Calendar

from models import Account, Advocate, Engagement, db
from models.types import utcnow
from tests.conftest import csrf_token
from tests.helpers import flashed, section
from workflows import bookings, privacy
from workflows import calendar_feed as flow
from workflows.links import Purpose, sign


def path_of(link: str) -> str:
    return "/" + link.split("://", 1)[1].split("/", 1)[1]


def feed_address(http, page: str | None = None) -> str:
    page = page or http.get("/portal/availability").get_data(as_text=True)
    found = re.search(r'<input type="text" id="calendar-url" value="([^"]+)"', section(page, "calendar"))
    assert found, section(page, "calendar")
    return html_lib.unescape(found.group(1))


def events_of(response) -> dict[str, object]:
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.mimetype == "text/calendar"
    calendar = Calendar.from_ical(response.get_data())
    assert str(calendar["method"]) == "PUBLISH"
    return {str(event["uid"]): event for event in calendar.walk("VEVENT")}


@pytest.fixture()
def dana(make_advocate, signed_in):
    advocate = make_advocate(name="Dana Whitfield", email="dana@northwind.example", timezone="Europe/Berlin")
    http, _account = signed_in(account=advocate.account)
    return advocate, http


@pytest.fixture()
def calls(app, dana, make_advocate, make_request, make_engagement):
    """Dana's engagements in every state, and another advocate's call: → {name: engagement id}."""
    advocate, _http = dana
    now = utcnow().replace(second=0, microsecond=0)

    def call(status: str, days: float, owner=advocate, **fields):
        request = make_request(format="call", prospect_company=f"Prospect {status} {days}")
        return make_engagement(owner, status=status, starts_at=now + timedelta(days=days) if days is not None
                               else None, request_id=request.id, prospect_name="Pat Prospect",
                               join_url="https://meet.example/dana", **fields).id

    return {
        "upcoming": call("booked", 3, ics_sequence=2),
        "later": call("booked", 10),
        "recent": call("completed", -5),
        "old": call("completed", -45),
        "cancelled": call("cancelled", 4),
        "unbooked": call("awaiting_booking", None),
        "theirs": call("booked", 6, owner=make_advocate(name="Other Advocate")),
    }


def uid_of(engagement_id: int) -> str:
    return f"engagement-{engagement_id}@vouch.test"


def test_the_feed_lists_the_booked_calls_with_their_invitations_uids_in_utc(app, dana, calls):
    advocate, http = dana
    address = feed_address(http)
    assert address.startswith("http://vouch.test/calendar/") and address.endswith(".ics")
    assert feed_address(http) == address  # the same address each time the page is shown

    response = app.test_client().get(path_of(address))  # a calendar app: no session

    assert response.headers["Cache-Control"] == "no-store"
    events = events_of(response)
    assert set(events) == {uid_of(calls[name]) for name in ("upcoming", "later", "recent")}
    with app.app_context():
        for name in ("upcoming", "later", "recent"):
            engagement = db.session.get(Engagement, calls[name])
            event = events[uid_of(engagement.id)]
            start, end = event.decoded("dtstart"), event.decoded("dtend")
            assert event["dtstart"].to_ical().endswith(b"Z") and event["dtend"].to_ical().endswith(b"Z")
            assert start.utcoffset() == end.utcoffset() == timedelta(0)
            assert (start, end) == (engagement.starts_at, engagement.ends_at)
            assert int(event["sequence"]) == engagement.ics_sequence
            assert "Pat Prospect" in str(event["summary"])
            assert str(event["location"]) == "https://meet.example/dana"
            # The same UID as the invitation the call's e-mails carry.
            invitation = Calendar.from_ical(bookings.invitation_text(
                engagement, db.session.get(Advocate, advocate.id), "REQUEST", utcnow()))
            [invited] = invitation.walk("VEVENT")
            assert str(invited["uid"]) == uid_of(engagement.id)
        db.session.remove()


def test_another_advocates_calls_are_never_in_the_feed(app, dana, calls, make_advocate):
    _advocate, http = dana
    mine = events_of(app.test_client().get(path_of(feed_address(http))))
    assert uid_of(calls["theirs"]) not in mine
    with app.app_context():
        other = db.session.get(Engagement, calls["theirs"]).advocate
        theirs = events_of(app.test_client().get(path_of(flow.address(other))))
        db.session.remove()
    assert set(theirs) == {uid_of(calls["theirs"])}
    # Nor can an address be made up for them: the payload is signed.
    with app.app_context():
        forged = sign(Purpose.CALENDAR, {"a": other.id, "v": 1}).split(".")[0] + "." + \
            flow.token(db.session.get(Advocate, dana[0].id)).split(".")[1]
        db.session.remove()
    assert app.test_client().get(f"/calendar/{forged}.ics").status_code == 404


def test_rotating_the_address_retires_the_old_one(app, dana, calls):
    _advocate, http = dana
    old = feed_address(http)
    page = http.get("/portal/availability").get_data(as_text=True)
    rotate = section(page, "rotate-calendar")
    assert "Get a new address…" in rotate and "stops working at once" in rotate

    response = http.post("/portal/availability/calendar/rotate", data={"csrf_token": csrf_token(page)})

    assert response.status_code == 302
    assert response.headers["Location"].endswith("/portal/availability#calendar")
    page = http.get("/portal/availability").get_data(as_text=True)
    assert "the old one no longer works" in flashed(page)[0]
    new = feed_address(http, page)
    assert new != old
    refused = app.test_client().get(path_of(old))
    assert refused.status_code == 410
    assert refused.mimetype == "text/plain"
    assert "replaced by a new one" in refused.get_data(as_text=True)
    assert len(events_of(app.test_client().get(path_of(new)))) == 3

    page = http.get("/portal/availability").get_data(as_text=True)
    http.post("/portal/availability/calendar/rotate", data={"csrf_token": csrf_token(page)})
    assert app.test_client().get(path_of(new)).status_code == 410
    assert app.test_client().get(path_of(old)).status_code == 410


def test_rotating_needs_the_csrf_token(app, dana):
    _advocate, http = dana
    old = feed_address(http)
    assert http.post("/portal/availability/calendar/rotate").status_code == 400
    assert feed_address(http) == old


@pytest.mark.parametrize("bad", ["x", "a.b", "eyJhIjoxLCJ2IjoxfQ.AAAA", "%00", "é"])
def test_a_made_up_address_is_not_found(app, dana, bad):
    response = app.test_client().get(f"/calendar/{bad}.ics")
    assert response.status_code == 404
    assert response.mimetype == "text/plain"


def test_an_address_of_another_purpose_or_shape_is_not_found(app, dana):
    advocate, _http = dana
    with app.app_context():
        for purpose, payload in [(Purpose.SIGN_IN, {"a": advocate.id, "v": 1}),
                                 (Purpose.CALENDAR, {"a": advocate.id}),
                                 (Purpose.CALENDAR, {"a": str(advocate.id), "v": 1}),
                                 (Purpose.CALENDAR, {"a": 2**63, "v": 1}),
                                 (Purpose.CALENDAR, [advocate.id, 1])]:
            made = sign(purpose, payload)
            assert app.test_client().get(f"/calendar/{made}.ics").status_code == 404, (purpose, payload)
        db.session.remove()


def test_the_address_of_an_advocate_who_left_is_refused(app, dana):
    advocate, http = dana
    address = feed_address(http)
    with app.app_context():
        privacy.leave_program(advocate.id, confirmation=privacy.LEAVE_WORD)
        db.session.remove()
    assert app.test_client().get(path_of(address)).status_code == 410


def test_the_feed_issues_the_same_number_of_queries_however_many_calls(app, dana, make_engagement,
                                                                       count_queries):
    advocate, http = dana
    path = path_of(feed_address(http))
    client = app.test_client()

    def measure() -> int:
        with count_queries() as queries:
            events_of(client.get(path))
        return len(queries)

    make_engagement(advocate, status="booked", starts_at=utcnow() + timedelta(days=1))
    one = measure()
    for day in range(2, 12):
        make_engagement(advocate, status="booked", starts_at=utcnow() + timedelta(days=day))
    assert measure() == one <= 3


def test_the_availability_page_labels_the_address(dana):
    _advocate, http = dana
    calendar = section(http.get("/portal/availability").get_data(as_text=True), "calendar")
    assert '<label for="calendar-url">Your calendar address</label>' in calendar
    assert 'href="webcal://vouch.test/calendar/' in calendar


def test_the_rotation_is_audited(app, dana):
    from sqlalchemy import select

    from models import AuditEvent

    advocate, http = dana
    page = http.get("/portal/availability").get_data(as_text=True)
    http.post("/portal/availability/calendar/rotate", data={"csrf_token": csrf_token(page)})
    with app.app_context():
        [event] = db.session.scalars(select(AuditEvent).where(AuditEvent.kind == "calendar.rotated")).all()
        assert event.actor_id == db.session.get(Account, advocate.account_id).id
        assert "calendar/" not in str(event.detail)  # never the address itself
        db.session.remove()


def test_only_untimed_purposes_load_without_a_max_age(app):
    from workflows.links import load

    with app.app_context():
        calendar = sign(Purpose.CALENDAR, {"a": 1, "v": 1})
        assert calendar == sign(Purpose.CALENDAR, {"a": 1, "v": 1})  # no time inside
        assert load(Purpose.CALENDAR, calendar, None) == {"a": 1, "v": 1}
        with pytest.raises(ValueError):
            load(Purpose.CALENDAR, calendar, 60)
        with pytest.raises(ValueError):
            load(Purpose.SIGN_IN, sign(Purpose.SIGN_IN, {"a": 1}), None)
