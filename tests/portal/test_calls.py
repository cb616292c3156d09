"""The advocate's page about one of their calls (``/portal/calls/<id>``): who, when in their own
zone, how to join; the join details replaced for this one call, and cancelling it with a reason.
Real e-mails read back from the SMTP server, their invitations parsed with icalendar."""

from __future__ import annotations

import re
from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from sqlalchemy import func, select

from models import (
    Account,
    Advocate,
    AuditEvent,
    EngagementStatus,
    OutboxMessage,
    ReferenceRequest,
    RequestStatus,
    db,
)
from tests.calls import ADVOCATE, COORDINATOR, MONDAY, PROSPECT, SELLER, book_call, engagement_of
from tests.conftest import csrf_token, text_body
from tests.helpers import fit, flashed, section, text
from tests.portal.test_booking import event_of, path_of
from workflows import bookings, jobs, quota
from workflows import requests as flow
from workflows.matching import rank


@pytest.fixture()
def clock():
    """Every test here starts on the Monday the calls of tests/calls.py are booked from."""
    with time_machine.travel(MONDAY, tick=False) as traveller:
        yield traveller


@pytest.fixture()
def call(app, clock, make_account, make_advocate, make_request, smtp, deliver):
    """Dana (Europe/Berlin, default link https://meet.example/dana) booked by Pat of Globex;
    the introduction and the confirmations are delivered, the inbox emptied."""
    booked = book_call(app, make_account, make_advocate, make_request)
    deliver()
    smtp.clear()
    return booked


def account(app, email: str) -> Account:
    with app.app_context():
        found = db.session.scalar(select(Account).where(Account.email == email))
        db.session.expunge(found)
    return found


@pytest.fixture()
def dana(app, call, signed_in):
    http, _account = signed_in(account=account(app, ADVOCATE))
    return http


def url(call, action: str = "") -> str:
    return f"/portal/calls/{call.engagement_id}" + (f"/{action}" if action else "")


def post(http, call, action: str, data: dict | None = None):
    token = csrf_token(http.get(url(call)).get_data(as_text=True))
    return http.post(url(call, action), data={"csrf_token": token, **(data or {})})


def outbox_count(app) -> int:
    with app.app_context():
        count = db.session.scalar(select(func.count(OutboxMessage.id)))
        db.session.remove()
    return count


def uid_of(call) -> str:
    return f"engagement-{call.engagement_id}@vouch.test"


def set_advocate(app, advocate_id: int, **values) -> None:
    with app.app_context():
        advocate = db.session.get(Advocate, advocate_id)
        for name, value in values.items():
            setattr(advocate, name, value)
        db.session.commit()
        db.session.remove()


# --- the page --------------------------------------------------------------------------------


def test_the_page_names_who_when_in_the_advocates_zone_and_how_to_join(dana, call):
    response = dana.get(url(call))

    assert response.status_code == 200
    html = response.get_data(as_text=True)
    words = text(html)
    assert "Phone call with Pat Prospect, Globex Corp" in words
    berlin = call.starts_at.astimezone(ZoneInfo("Europe/Berlin"))
    assert f"{berlin:%a %d %b %Y, %H:%M} (Europe/Berlin), 30 minutes" in words
    assert not re.search(r"\b(AM|PM)\b", words)  # 24-hour, like every time in Vouch
    prospect = text(section(html, "prospect"))
    assert "Company Globex Corp" in prospect and "Contact Pat Prospect" in prospect
    assert PROSPECT in prospect
    assert "Globex rollout" not in words  # the seller's opportunity is not the advocate's to read
    join = text(section(html, "join"))
    assert "Video link https://meet.example/dana" in join and "Your default, from your profile" in join
    # Both changes sit behind a step of their own, closed.
    assert '<details class="confirm" id="change-join">' in html
    assert '<details class="confirm danger" id="cancel-call">' in html
    assert re.search(r'<label for="reason">[^<]+</label>\s*<textarea[^>]+name="reason"', html)


def test_another_advocates_call_is_404_like_a_call_that_does_not_exist(app, call, make_advocate, signed_in):
    other = make_advocate(name="Eli Other")
    http, _account = signed_in(account=other.account)
    token = csrf_token(http.get("/portal").get_data(as_text=True))
    before = outbox_count(app)

    assert http.get(url(call)).status_code == 404
    assert http.get("/portal/calls/999999").status_code == 404
    assert http.post(url(call, "join"), data={"csrf_token": token, "join_url": "https://evil.example/x"}
                     ).status_code == 404
    assert http.post(url(call, "cancel"), data={"csrf_token": token, "reason": "Not mine"}).status_code == 404

    still = engagement_of(app, call.engagement_id)
    assert (still.status, still.join_url) == (EngagementStatus.BOOKED, "https://meet.example/dana")
    assert outbox_count(app) == before
    with app.app_context():
        denied = db.session.scalars(select(AuditEvent.detail).where(AuditEvent.kind == "access.denied",
                                                                   AuditEvent.actor_id == other.account_id))
        assert {d["path"] for d in denied} >= {url(call), url(call, "join"), url(call, "cancel")}
        db.session.remove()


@pytest.mark.parametrize("role", ["coordinator", "sales"])
def test_staff_and_sales_may_not_open_it(call, signed_in, role):
    http, _account = signed_in(role)
    assert http.get(url(call)).status_code == 403


def test_the_home_page_and_the_advocates_e_mails_lead_to_the_call(app, dana, call, smtp, deliver, clock):
    home = dana.get("/portal").get_data(as_text=True)
    assert f'href="{url(call)}"' in section(home, "calls")

    # The reminder the day before: the advocate's copy links to the call's page.
    clock.move_to(call.starts_at - timedelta(hours=23))
    with app.app_context():
        assert jobs.run_due()["reminders"] == 1
        db.session.remove()
    deliver()
    [reminder] = smtp.to(ADVOCATE)
    link = re.search(r"https?://\S+/portal/calls/\d+", text_body(reminder)).group(0)
    assert path_of(link) == url(call)
    page = dana.get(path_of(link))
    assert page.status_code == 200 and "Globex Corp" in page.get_data(as_text=True)


def test_the_booking_confirmation_links_the_advocate_to_the_call(app, clock, make_account, make_advocate,
                                                                 make_request, smtp, deliver, signed_in):
    booked = book_call(app, make_account, make_advocate, make_request)
    deliver()
    [confirmation] = [m for m in smtp.to(ADVOCATE) if m["Subject"].strip().startswith("Booked: ")]
    link = re.search(r"https?://\S+/portal/calls/\d+", text_body(confirmation)).group(0)
    assert path_of(link) == url(booked)
    http, _account = signed_in(account=account(app, ADVOCATE))
    assert http.get(path_of(link)).status_code == 200


# --- this call's own join details ------------------------------------------------------------


def test_new_join_details_send_both_sides_the_updated_invitation(app, dana, call, smtp, deliver):
    response = post(dana, call, "join", {"join_url": "https://zoom.example/j/4711",
                                         "join_phone": "+49 30 1234567"})

    assert response.status_code == 302
    assert response.headers["Location"] == f"{url(call)}#join"
    html = dana.get(url(call)).get_data(as_text=True)
    assert flashed(html) == ["Join details changed for this call. You and the prospect get the updated "
                             "invitation."]
    assert "This call's own join details." in text(section(html, "join"))
    changed = engagement_of(app, call.engagement_id)
    assert (changed.join_url, changed.join_phone, changed.ics_sequence) == (
        "https://zoom.example/j/4711", "+49 30 1234567", 1)
    with app.app_context():  # the advocate's default stays as it was
        assert db.session.get(Advocate, call.advocate_id).join_url == "https://meet.example/dana"
        db.session.remove()

    deliver()
    for address in (ADVOCATE, PROSPECT):
        [message] = smtp.to(address)
        assert message["Subject"].strip().startswith("Updated: join details for your reference phone call")
        method, event = event_of(message)
        assert method == "REQUEST"
        assert str(event["uid"]) == uid_of(call) and int(event["sequence"]) == 1
        assert event.decoded("dtstart") == call.starts_at  # the same time
        assert str(event["location"]) == "https://zoom.example/j/4711"
        assert "Phone: +49 30 1234567" in str(event["description"])
        assert "https://meet.example/dana" not in message.as_string()
        assert "Join: https://zoom.example/j/4711" in text_body(message)

    # The same details again change nothing and send nothing.
    smtp.clear()
    again = post(dana, call, "join", {"join_url": "https://zoom.example/j/4711",
                                      "join_phone": "+49 30 1234567"})
    assert again.status_code == 302
    assert flashed(dana.get(url(call)).get_data(as_text=True)) == [
        "Nothing had changed in the join details of this call."]
    deliver()
    assert smtp.messages == []

    # Both emptied: the call uses the advocate's default again, and the invitation says so.
    post(dana, call, "join", {"join_url": "", "join_phone": ""})
    deliver()
    method, event = event_of(smtp.to(PROSPECT)[-1])
    assert int(event["sequence"]) == 2 and str(event["location"]) == "https://meet.example/dana"
    assert "Your default, from your profile" in text(section(dana.get(url(call)).get_data(as_text=True),
                                                            "join"))


@pytest.mark.parametrize(("values", "field", "message"), [
    ({"join_url": "meet.example/dana"}, "join_url", "Give the video link as a full web address"),
    ({"join_url": "javascript:alert(1)"}, "join_url", "Give the video link as a full web address"),
    ({"join_url": "ftp://files.example/x"}, "join_url", "Give the video link as a full web address"),
    ({"join_url": "https://meet.example/" + "x" * 500}, "join_url", "at most 500 characters"),
    ({"join_phone": "call me"}, "join_phone", "Give the phone number with its country code"),
    ({"join_phone": "+49 12"}, "join_phone", "Give the phone number with its country code"),
])
def test_bad_join_details_are_refused_422_beside_the_field_and_change_nothing(app, dana, call, values,
                                                                              field, message):
    before = outbox_count(app)

    response = post(dana, call, "join", {"join_url": "", "join_phone": "", **values})

    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert message in re.search(rf'<small id="{field}-error" class="error">([^<]+)</small>', html).group(1)
    assert f'id="{field}" ' in html and 'aria-invalid="true"' in html
    assert flashed(html)[0].startswith("Nothing was changed.")
    assert '<details class="confirm" open id="change-join">' in html  # the step stays open
    unchanged = engagement_of(app, call.engagement_id)
    assert (unchanged.join_url, unchanged.join_phone, unchanged.ics_sequence) == (
        "https://meet.example/dana", "", 0)
    assert outbox_count(app) == before


# --- cancelling ------------------------------------------------------------------------------


def test_cancelling_needs_a_reason(app, dana, call):
    response = post(dana, call, "cancel", {"reason": "   "})

    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "Say why the call is cancelled" in html
    assert '<details class="confirm danger" id="cancel-call" open>' in html
    assert engagement_of(app, call.engagement_id).status is EngagementStatus.BOOKED


def test_cancelling_withdraws_the_invitation_from_both_sides_gives_the_place_back_and_reopens_the_request(
    app, dana, call, smtp, deliver, make_request, signed_in
):
    set_advocate(app, call.advocate_id, quarterly_cap=1)  # this call fills Dana's quarter
    other = make_request(format="call", prospect_company="Initech")
    with app.app_context():
        excluded = {e.advocate_id: e.rule for e in rank(db.session.get(ReferenceRequest, other.id)).excluded}
        assert excluded[call.advocate_id] == "quota_reached"
        db.session.remove()

    response = post(dana, call, "cancel", {"reason": "My flight was moved to that morning."})

    assert response.status_code == 302 and response.headers["Location"] == url(call)
    html = dana.get(url(call)).get_data(as_text=True)
    assert flashed(html)[0].startswith("The call is cancelled. You and the prospect get the cancellation")
    state = text(section(html, "state"))
    assert "This call was cancelled" in state and "“My flight was moved to that morning.”" in state
    assert 'id="cancel-call"' not in html and 'id="change-join"' not in html

    deliver()
    for address in (ADVOCATE, PROSPECT):
        [message] = smtp.to(address)
        assert message["Subject"].strip().startswith("Cancelled: your reference phone call")
        method, event = event_of(message)
        assert method == "CANCEL" and str(event["status"]) == "CANCELLED"
        assert str(event["uid"]) == uid_of(call) and int(event["sequence"]) == 1
        assert "Reason: My flight was moved to that morning." in text_body(message)

    gone = engagement_of(app, call.engagement_id)
    assert gone.status is EngagementStatus.CANCELLED
    assert gone.cancel_reason == "My flight was moved to that morning."
    assert gone.request.status is RequestStatus.NEW  # back in the coordinator's queue
    with app.app_context():
        dana_row = db.session.get(Advocate, call.advocate_id)
        assert quota.quarter_use(dana_row, gone.quarter).used == 0  # the place is given back
        result = rank(db.session.get(ReferenceRequest, other.id))
        assert call.advocate_id in {c.advocate_id for c in result.candidates}  # and she can be asked again
        events = db.session.get(ReferenceRequest, call.request_id).events
        assert [e.kind for e in events][-2:] == ["engagement_cancelled", "reopened"]
        assert events[-2].actor.email == ADVOCATE
        assert events[-2].detail["reason"] == "cancelled_by_advocate"
        db.session.remove()
    # The coordinator reads it on the request's timeline.
    staff, _coordinator = signed_in(account=account(app, COORDINATOR))
    timeline = text(section(staff.get(f"/admin/requests/{call.request_id}").get_data(as_text=True),
                            "timeline"))
    assert ("Dana Whitfield The reference with Dana Whitfield was cancelled: Cancelled by the advocate"
            in timeline)


def test_a_cancelled_call_cannot_be_cancelled_changed_or_moved_again(app, dana, call, smtp, deliver):
    assert post(dana, call, "cancel", {"reason": "Sick."}).status_code == 302
    deliver()
    smtp.clear()

    again = post(dana, call, "cancel", {"reason": "Still sick."})
    assert again.status_code == 409
    assert flashed(again.get_data(as_text=True))[0].startswith(
        "This call was cancelled: it can no longer be cancelled.")
    join = post(dana, call, "join", {"join_url": "https://zoom.example/j/1"})
    assert join.status_code == 409
    assert "This call was cancelled: it can no longer be changed." in flashed(join.get_data(as_text=True))[0]
    with app.app_context():
        slot = call.starts_at + timedelta(days=1)
        with pytest.raises(bookings.NotMovable, match="This call was cancelled: it can no longer be moved"):
            bookings.reschedule(call.engagement_id, slot)
        db.session.remove()
    gone = engagement_of(app, call.engagement_id)
    assert (gone.cancel_reason, gone.join_url, gone.ics_sequence) == ("Sick.", "https://meet.example/dana", 1)
    deliver()
    assert smtp.messages == []


def test_a_call_that_has_begun_cannot_be_cancelled_or_changed(app, call, clock, smtp, deliver, signed_in):
    clock.move_to(call.starts_at + timedelta(minutes=5))
    dana, _account = signed_in(account=account(app, ADVOCATE))
    token = csrf_token(dana.get("/portal").get_data(as_text=True))

    html = dana.get(url(call)).get_data(as_text=True)
    assert "The call has begun or is over: it can no longer be changed or cancelled." in text(html)
    assert 'id="cancel-call"' not in html and 'id="change-join"' not in html
    refused = dana.post(url(call, "cancel"), data={"csrf_token": token, "reason": "Too late now."})
    assert refused.status_code == 409
    assert "a call that has begun can no longer be cancelled" in flashed(refused.get_data(as_text=True))[0]
    join = dana.post(url(call, "join"), data={"csrf_token": token, "join_url": "https://zoom.example/j/2"})
    assert join.status_code == 409

    still = engagement_of(app, call.engagement_id)
    assert (still.status, still.join_url, still.ics_sequence) == (
        EngagementStatus.BOOKED, "https://meet.example/dana", 0)
    deliver()
    assert smtp.messages == []


# --- a call accepted, not booked yet ---------------------------------------------------------


@pytest.fixture()
def accepted(app, clock, make_account, make_advocate, make_request, smtp, deliver, signed_in):
    """Dana accepted Globex's call; Pat has the introduction with its booking link. → (the
    signed-in client, the engagement id, the request id, the booking link's path)."""
    seller = make_account(role="sales", email=SELLER, name="Sam Seller")
    coordinator = make_account(role="coordinator", email=COORDINATOR, name="Cora Coordinator")
    dana = make_advocate(name="Dana Whitfield", email=ADVOCATE, timezone="Europe/Berlin",
                         join_url="https://meet.example/dana")
    fit(app, dana.id, formats=("call",))
    request = make_request(format="call", requested_by=seller, contact_email=PROSPECT,
                           prospect_company="Globex Corp")
    with app.app_context():
        ask = flow.ask(request.id, dana.id, by=db.session.get(Account, coordinator.id))
        engagement_id = flow.accept_ask(ask.id, dana.id).id
        db.session.remove()
    deliver()
    booking = path_of(re.search(r"https?://\S+/book/\S+", text_body(smtp.to(PROSPECT)[-1])).group(0))
    smtp.clear()
    http, _account = signed_in(account=dana.account)
    return http, engagement_id, request.id, booking


def test_a_call_not_booked_yet_says_so_and_can_be_called_off(app, client, accepted, smtp, deliver):
    http, engagement_id, request_id, booking = accepted
    page_url = f"/portal/calls/{engagement_id}"
    html = http.get(page_url).get_data(as_text=True)
    assert "Waiting for the prospect to book" in html
    assert "We introduced you to Pat Prospect on Mon 01 Jun 2026, 10:00" in text(section(html, "state"))

    token = csrf_token(html)
    response = http.post(f"{page_url}/cancel", data={"csrf_token": token, "reason": "Changed jobs."})

    assert response.status_code == 302
    assert flashed(http.get(page_url).get_data(as_text=True))[0].startswith(
        "The call is called off before it was booked")
    gone = engagement_of(app, engagement_id)
    assert gone.status is EngagementStatus.CANCELLED and gone.request.status is RequestStatus.NEW
    # The prospect, introduced but not booked yet, is told the link no longer works; the seller in copy.
    deliver()
    [told] = [m for m in smtp.to(PROSPECT) if "called off" in m["Subject"]]
    assert told["Cc"] == SELLER
    assert "booking link in our introduction no longer works" in text_body(told)
    assert "Reason: Changed jobs." in text_body(told)
    assert ADVOCATE not in told.as_string()
    with app.app_context():
        assert quota.quarter_use(db.session.get(Advocate, gone.advocate_id), gone.quarter).used == 0
        db.session.remove()
    assert client.get(booking).status_code == 410  # the introduction's link books nothing any more
    deliver()
    assert [m for m in smtp.messages if m.get_content_type() == "text/calendar"
            or any(p.get_content_type() == "text/calendar" for p in m.iter_attachments())] == []


def test_the_next_candidate_is_asked_when_the_program_says_so(app, dana, call, make_advocate, smtp, deliver,
                                                              monkeypatch):
    eli = make_advocate(name="Eli Next", email="eli@example.com")
    fit(app, eli.id, formats=("call",))
    monkeypatch.setitem(app.config, "ASK_NEXT_ON_CANCEL", True)

    assert post(dana, call, "cancel", {"reason": "Conflict with a board meeting."}).status_code == 302

    deliver()
    [ask] = smtp.to("eli@example.com")
    assert "/portal/asks/" in text_body(ask)
    with app.app_context():
        request = db.session.get(ReferenceRequest, call.request_id)
        assert request.status is RequestStatus.ASKING
        assert [(a.advocate_id, a.status.value) for a in request.asks] == [
            (call.advocate_id, "accepted"), (eli.id, "pending")]  # Dana is not asked again
        db.session.remove()


def test_the_page_reads_a_fixed_number_of_queries(dana, call, count_queries):
    """The account, the advocate, and the call with its request, format and advocate at once."""
    dana.get(url(call))
    with count_queries() as queries:
        assert dana.get(url(call)).status_code == 200
    assert len(queries) <= 3, queries



# --- the advocate leaves the program ----------------------------------------------------------


def test_leaving_the_program_sends_the_prospect_the_cancellation_and_the_advocate_only_the_goodbye(
    app, call, smtp, deliver
):
    from workflows import privacy

    with app.app_context():
        privacy.leave_program(call.advocate_id, confirmation="LEAVE")
        db.session.remove()
    deliver()
    [cancellation] = smtp.wait_for(PROSPECT)
    method, event = event_of(cancellation)
    assert method == "CANCEL"
    assert event.decoded("DTSTART") == call.starts_at
    assert "left the reference program" in text_body(cancellation)
    [goodbye] = smtp.to(ADVOCATE)
    assert not any(part.get_content_type() == "text/calendar" for part in goodbye.walk())
    assert engagement_of(app, call.engagement_id).status is EngagementStatus.CANCELLED
    with app.app_context():
        assert db.session.get(ReferenceRequest, call.request_id).status is RequestStatus.NEW
