"""The prospect books the call from the introduction's link, moves it and cancels it: real
e-mails read back from the SMTP server, their links followed, their .ics parsed back."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from icalendar import Calendar

from models import Engagement, EngagementStatus, RequestStatus, db, quarter_of
from models.types import utcnow
from tests.conftest import csrf_token, text_body
from tests.helpers import fit, flashed, text
from workflows import quota
from workflows import requests as flow

PROSPECT = "pat@prospect.example"
SELLER = "sam@vouch.example"


def calendar_of(message) -> Calendar:
    [part] = [p for p in message.iter_attachments() if p.get_content_type() == "text/calendar"]
    return part.get_param("method"), Calendar.from_ical(part.get_content())


def event_of(message):
    method, calendar = calendar_of(message)
    [event] = calendar.walk("VEVENT")
    return method, event


def path_of(link: str) -> str:
    return "/" + link.split("://", 1)[1].split("/", 1)[1]


@pytest.fixture()
def accepted(app, make_account, make_advocate, make_request, smtp, deliver):
    """Dana accepted a call for Pat's company; returns (engagement id, booking link path)."""
    seller = make_account(role="sales", email=SELLER, name="Sam Seller")
    coordinator = make_account(role="coordinator", email="cora@vouch.example")
    dana = make_advocate(name="Dana Whitfield", email="dana@northwind.example", job_title="VP Operations",
                         talking_points="Rollout in six weeks.", join_url="https://meet.example/dana")
    fit(app, dana.id, formats=("call",))
    request = make_request(format="call", requested_by=seller, contact_name="Pat Prospect",
                           contact_email=PROSPECT, prospect_company="Globex Corp")
    with app.app_context():
        the_ask = flow.ask(request.id, dana.id, by=db.session.get(type(coordinator), coordinator.id))
        engagement = flow.accept_ask(the_ask.id, dana.id)
        engagement_id = engagement.id
        db.session.remove()
    deliver()
    [intro] = smtp.to(PROSPECT)
    return engagement_id, path_of(re.search(r"https?://\S+/book/\S+", text_body(intro)).group(0)), intro


def first_slot(html: str) -> str:
    return re.search(r'name="slot" value="([^"]+)"', html).group(1)


def book(client, path: str, slot: str | None = None, tz: str = "America/Los_Angeles"):
    page = client.get(f"{path}?tz={tz}").get_data(as_text=True)
    slot = slot or first_slot(page)
    return client.post(path, data={"csrf_token": csrf_token(page), "slot": slot, "tz": tz}), slot


def engagement(app, engagement_id: int) -> Engagement:
    with app.app_context():
        row = db.session.get(Engagement, engagement_id)
        row.request  # noqa: B018
        db.session.expunge_all()
    return row


def test_the_introduction_names_the_advocate_never_their_address_and_copies_the_seller(accepted):
    _engagement_id, path, intro = accepted
    body = text_body(intro)
    assert intro["Subject"] == "Meet Dana Whitfield, Customer 1 Inc: book your reference phone call"
    assert intro["Cc"] == SELLER
    assert "Dana Whitfield, VP Operations at Customer 1 Inc" in body
    assert "Rollout in six weeks." in body
    assert "dana@northwind.example" not in intro.as_string()
    assert path.startswith("/book/")


def test_the_booking_page_shows_free_times_in_the_prospects_zone(client, accepted):
    _engagement_id, path, _intro = accepted
    response = client.get(f"{path}?tz=America/Los_Angeles")
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert response.headers["Referrer-Policy"] == "same-origin"
    assert response.headers["Cache-Control"] == "no-store"
    assert "Book your phone call with Dana Whitfield" in text(html)
    assert '<option value="America/Los_Angeles" selected>America/Los Angeles</option>' in html
    assert html.count(" selected>") == 1 and html.count("<option ") > 400  # every zone, one picked
    slot = datetime.fromisoformat(first_slot(html))
    local = slot.astimezone(ZoneInfo("America/Los_Angeles"))
    assert f"{local:%H:%M}–" in html
    assert slot - utcnow() >= timedelta(hours=24)  # the minimum notice
    # Every time has a label, for keyboards and screen readers.
    radios = re.findall(r'<input type="radio" id="(slot-[^"]+)"', html)
    assert radios and len(radios) == len(re.findall(r'<label for="slot-', html))


def test_booking_confirms_both_sides_with_the_same_invitation(app, client, accepted, smtp, deliver):
    engagement_id, path, _intro = accepted
    smtp.clear()

    response, slot = book(client, path)

    assert response.status_code == 302
    manage = response.headers["Location"]
    assert manage.startswith("/booking/")
    assert flashed(client.get(manage).get_data(as_text=True))[0].startswith("Booked: ")
    booked = engagement(app, engagement_id)
    start = datetime.fromisoformat(slot)
    assert (booked.status, booked.starts_at, booked.ends_at) == (
        EngagementStatus.BOOKED, start, start + timedelta(minutes=30))
    assert booked.quarter == quarter_of(start)
    assert booked.prospect_timezone == "America/Los_Angeles"
    assert booked.join_url == "https://meet.example/dana"
    assert booked.request.status is RequestStatus.SCHEDULED

    deliver()
    [to_prospect] = smtp.to(PROSPECT)
    [to_advocate] = smtp.to("dana@northwind.example")
    uids = set()
    for message in (to_prospect, to_advocate):
        method, event = event_of(message)
        assert method == "REQUEST"
        assert event.decoded("dtstart") == start and event.decoded("dtend") == start + timedelta(minutes=30)
        assert int(event["sequence"]) == 0
        attendees = {str(a).removeprefix("mailto:") for a in event.get("attendee")}
        assert attendees == {PROSPECT, "dana@northwind.example"}
        assert "https://meet.example/dana" in str(event["location"])
        uids.add(str(event["uid"]))
    assert len(uids) == 1 and uids.pop() == f"engagement-{engagement_id}@vouch.test"
    local = start.astimezone(ZoneInfo("America/Los_Angeles"))
    assert f"{local:%H:%M} (America/Los_Angeles)" in to_prospect["Subject"]
    assert "/booking/" in text_body(to_prospect)


def test_a_time_taken_meanwhile_is_refused_with_fresh_times_never_a_500(app, client, accepted):
    engagement_id, path, _intro = accepted
    page = client.get(path).get_data(as_text=True)
    never_offered = (utcnow() + timedelta(hours=2)).replace(minute=0, second=0, microsecond=0)
    response = client.post(path, data={"csrf_token": csrf_token(page), "slot": never_offered.isoformat(),
                                       "tz": "UTC"})
    assert response.status_code == 409
    html = response.get_data(as_text=True)
    assert "That time was just taken, or is no longer open" in html
    assert 'name="slot"' in html  # the fresh times
    assert engagement(app, engagement_id).status is EngagementStatus.AWAITING_BOOKING
    for bad in ("", "tomorrow", "2026-13-40T99:00", "2030-01-01T10:00:00"):  # the last has no zone
        assert client.post(path, data={"csrf_token": csrf_token(page), "slot": bad}).status_code == 422


def test_moving_the_call_updates_the_invitation_and_cancelling_withdraws_it(app, client, accepted, smtp,
                                                                            deliver):
    engagement_id, path, _intro = accepted
    response, first = book(client, path)
    manage = response.headers["Location"]
    deliver()
    smtp.clear()

    page = client.get(manage).get_data(as_text=True)
    later = re.findall(r'name="slot" value="([^"]+)"', page)[-1]
    assert later != first
    moved = client.post(f"{manage}/move", data={"csrf_token": csrf_token(page), "slot": later,
                                                "tz": "America/Los_Angeles"})
    assert moved.status_code == 302
    deliver()
    method, event = event_of(smtp.to(PROSPECT)[-1])
    assert method == "REQUEST" and int(event["sequence"]) == 1
    assert event.decoded("dtstart") == datetime.fromisoformat(later)
    assert str(event["uid"]) == f"engagement-{engagement_id}@vouch.test"
    with app.app_context():
        timeline = [e.kind for e in db.session.get(Engagement, engagement_id).request.events]
        assert timeline[-2:] == ["booked", "rescheduled"]
        db.session.remove()

    smtp.clear()
    token = csrf_token(client.get(manage).get_data(as_text=True))
    cancelled = client.post(f"{manage}/cancel", data={"csrf_token": token, "reason": "Budget freeze"})
    assert cancelled.status_code == 302
    deliver()
    for address in (PROSPECT, "dana@northwind.example"):
        [message] = smtp.to(address)
        method, event = event_of(message)
        assert method == "CANCEL" and int(event["sequence"]) == 2 and str(event["status"]) == "CANCELLED"
        assert message["Subject"].startswith("Cancelled: ")
    assert "Budget freeze" in text_body(smtp.to("dana@northwind.example")[0])

    gone = engagement(app, engagement_id)
    assert gone.status is EngagementStatus.CANCELLED
    assert gone.request.status is RequestStatus.NEW  # back in the coordinator's queue
    with app.app_context():
        dana = db.session.get(Engagement, engagement_id).advocate
        call_quarter = quarter_of(datetime.fromisoformat(later))
        assert quota.quarter_use(dana, call_quarter).used == 0  # the place is given back
        db.session.remove()
    # A cancelled call cannot be moved, nor cancelled again.
    page = client.get(manage).get_data(as_text=True)
    assert "This call is cancelled." in page and 'name="slot"' not in page
    again = client.post(f"{manage}/move", data={"csrf_token": token, "slot": later})
    assert again.status_code == 409 and "This call was cancelled" in again.get_data(as_text=True)
    # And the booking link no longer books.
    assert client.get(path).status_code == 410


def test_a_call_that_has_begun_cannot_be_cancelled(app, client, accepted):
    engagement_id, path, _intro = accepted
    response, _slot = book(client, path)
    manage = response.headers["Location"]
    token = csrf_token(client.get(manage).get_data(as_text=True))
    with app.app_context():
        row = db.session.get(Engagement, engagement_id)
        row.starts_at, row.ends_at = utcnow() - timedelta(minutes=10), utcnow() + timedelta(minutes=20)
        db.session.commit()
    page = client.get(manage).get_data(as_text=True)
    assert "can no longer be moved or cancelled" in page
    refused = client.post(f"{manage}/cancel", data={"csrf_token": token})
    assert refused.status_code == 409
    assert engagement(app, engagement_id).status is EngagementStatus.BOOKED


@pytest.mark.parametrize("tampered", ["x", "abc.def.ghi"])
def test_a_tampered_or_foreign_link_is_refused_with_a_page(client, accepted, tampered):
    _engagement_id, path, _intro = accepted
    assert client.get(f"/book/{tampered}").status_code == 400
    token = path.rsplit("/", 1)[1]
    assert client.get(f"/booking/{token}").status_code == 400  # a booking link does not manage


def test_a_call_booked_in_another_quarter_than_the_acceptance_needs_a_place_in_that_quarter(
    app, client, accepted, make_engagement
):
    engagement_id, path, _intro = accepted
    page = client.get(path).get_data(as_text=True)
    slot = datetime.fromisoformat(first_slot(page))
    with app.app_context():
        row = db.session.get(Engagement, engagement_id)
        row.quarter = "2020Q1"  # accepted in an earlier quarter, so not counted in the call's
        db.session.commit()
        dana = row.advocate
        db.session.expunge_all()
    # The call's quarter is full already: the Active tier's four calls, late in it.
    number = (slot.month - 1) // 3 + 1
    next_quarter = datetime(slot.year + (number == 4), 1 if number == 4 else number * 3 + 1, 1, 12,
                            tzinfo=slot.tzinfo)
    for days_before in range(1, 5):
        make_engagement(dana, status="booked", starts_at=next_quarter - timedelta(days=days_before))

    response = client.post(path, data={"csrf_token": csrf_token(page), "slot": slot.isoformat(), "tz": "UTC"})

    assert response.status_code == 409
    assert "Dana Whitfield has no calls left in the quarter of that time" in response.get_data(as_text=True)
    assert engagement(app, engagement_id).status is EngagementStatus.AWAITING_BOOKING
