"""How a call is joined: the advocate's default video link or phone number on their profile, and a
call's own details set on its page. The invitation (read back from the SMTP server and parsed
with icalendar), the confirmation and the reminder carry the call's own details if it has any,
else the advocate's default — never a mix of both."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
import time_machine
from sqlalchemy import func, select

from models import Account, Advocate, AuditEvent, Engagement, db
from tests.calls import ADVOCATE, COORDINATOR, MONDAY, PROSPECT, SELLER
from tests.conftest import csrf_token, text_body
from tests.helpers import fit, flashed, section, text
from tests.portal.test_booking import event_of
from workflows import bookings, errors, jobs, profiles
from workflows import requests as flow
from workflows.slots import booking_rules, open_slots

PROFILE = "/portal/profile"
JOIN = "/portal/profile/join"


@pytest.fixture()
def clock():
    with time_machine.travel(MONDAY, tick=False) as traveller:
        yield traveller


@pytest.fixture()
def dana(app, clock, make_advocate, signed_in):
    """Dana in Berlin, ready for calls, signed in. → (the client, her advocate id)."""
    advocate = make_advocate(name="Dana Whitfield", email=ADVOCATE, timezone="Europe/Berlin")
    fit(app, advocate.id, formats=("call",))
    http, _account = signed_in(account=advocate.account)
    return http, advocate.id


def save_defaults(http, **values):
    token = csrf_token(http.get(PROFILE).get_data(as_text=True))
    return http.post(JOIN, data={"csrf_token": token, "join_url": "", "join_phone": "", **values})


def defaults(app, advocate_id: int) -> tuple[str, str]:
    with app.app_context():
        advocate = db.session.get(Advocate, advocate_id)
        found = (advocate.join_url, advocate.join_phone)
        db.session.remove()
    return found


def accept(app, advocate_id: int, make_account, make_request) -> int:
    """Globex's call asked of and accepted by the advocate (the introduction goes out)."""
    seller = make_account(role="sales", email=SELLER, name="Sam Seller")
    coordinator = make_account(role="coordinator", email=COORDINATOR)
    request = make_request(format="call", requested_by=seller, contact_email=PROSPECT,
                           prospect_company="Globex Corp")
    with app.app_context():
        ask = flow.ask(request.id, advocate_id, by=db.session.get(Account, coordinator.id))
        engagement_id = flow.accept_ask(ask.id, advocate_id).id
        db.session.remove()
    return engagement_id


def book_first_slot(app, engagement_id: int, advocate_id: int):
    with app.app_context():
        slot = open_slots(db.session.get(Advocate, advocate_id), now=MONDAY, rules=booking_rules())[0]
        booked = bookings.book(engagement_id, slot.start, prospect_zone="America/New_York")
        db.session.remove()
    return booked


def body(message) -> str:
    return text_body(message).replace("\r\n", "\n")


def confirmations(smtp) -> dict[str, object]:
    """The booking confirmation each side received, by address."""
    return {address: next(m for m in smtp.to(address) if m["Subject"].strip().startswith("Booked: "))
            for address in (ADVOCATE, PROSPECT)}


# --- the default, on the profile -------------------------------------------------------------


def test_the_profile_keeps_a_default_link_and_phone_number(app, dana):
    http, advocate_id = dana
    form = section(http.get(PROFILE).get_data(as_text=True), "join")
    assert re.search(r'<label for="join_url">Video link</label>\s*<input[^>]+type="url"', form)
    assert re.search(r'<label for="join_phone">Phone number</label>\s*<input[^>]+type="tel"', form)

    response = save_defaults(http, join_url=" https://meet.example/dana ", join_phone="+49 30 1234567")

    assert response.status_code == 302 and response.headers["Location"] == f"{PROFILE}#join"
    html = http.get(PROFILE).get_data(as_text=True)
    assert flashed(html)[0].startswith("Join details saved: calls booked from now on use them.")
    assert 'value="https://meet.example/dana"' in section(html, "join")
    assert defaults(app, advocate_id) == ("https://meet.example/dana", "+49 30 1234567")
    with app.app_context():
        kinds = db.session.scalars(select(AuditEvent.kind).where(AuditEvent.kind.like("profile.%"))).all()
        assert kinds == ["profile.join_details_saved"]  # and no review counted: it is not the profile form
        assert db.session.get(Advocate, advocate_id).last_reviewed_at is None
        db.session.remove()

    assert save_defaults(http, join_url="https://meet.example/dana", join_phone="+49 30 1234567"
                         ).status_code == 302
    assert flashed(http.get(PROFILE).get_data(as_text=True)) == ["Nothing had changed in your join details."]


@pytest.mark.parametrize(("values", "field", "message"), [
    ({"join_url": "meet.example/dana"}, "join_url",
     "Give the video link as a full web address, like https://meet.example.com/abc"),
    ({"join_url": "javascript:alert(1)"}, "join_url", "Give the video link as a full web address"),
    ({"join_url": "https://"}, "join_url", "Give the video link as a full web address"),
    ({"join_phone": "ring me"}, "join_phone",
     "Give the phone number with its country code, like +49 30 1234567."),
    ({"join_phone": "+" + "1" * 45}, "join_phone", "Give the phone number with its country code"),
])
def test_bad_defaults_are_refused_422_beside_their_field_and_change_nothing(app, dana, values, field,
                                                                           message):
    http, advocate_id = dana
    save_defaults(http, join_url="https://meet.example/dana")

    response = save_defaults(http, **{"join_url": "https://meet.example/dana", **values})

    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert message in re.search(rf'<small id="{field}-error" class="error">([^<]+)</small>', html).group(1)
    assert flashed(html)[-1].startswith("Nothing was saved.")
    assert defaults(app, advocate_id) == ("https://meet.example/dana", "")


# --- what the e-mails carry ------------------------------------------------------------------


def test_a_call_without_details_of_its_own_is_joined_by_the_default(app, dana, make_account, make_request,
                                                                    smtp, deliver, clock):
    http, advocate_id = dana
    save_defaults(http, join_url="https://meet.example/dana", join_phone="+49 30 1234567")
    engagement_id = accept(app, advocate_id, make_account, make_request)
    booked = book_first_slot(app, engagement_id, advocate_id)
    deliver()

    for message in confirmations(smtp).values():
        _method, event = event_of(message)
        assert str(event["location"]) == "https://meet.example/dana"
        assert "Join: https://meet.example/dana\nPhone: +49 30 1234567" in str(event["description"])
        assert "Join: https://meet.example/dana" in text_body(message)
        assert "Phone: +49 30 1234567" in text_body(message)

    # The default changes after the booking: the call keeps what its invitation gave.
    save_defaults(http, join_url="https://other.example/room")
    clock.move_to(booked.starts_at - timedelta(hours=23))
    smtp.clear()
    with app.app_context():
        assert jobs.run_due()["reminders"] == 1
        db.session.remove()
    deliver()
    for address in (ADVOCATE, PROSPECT):
        [reminder] = [m for m in smtp.to(address) if m["Subject"].strip().startswith("Reminder:")]
        assert "Join: https://meet.example/dana\nPhone: +49 30 1234567" in body(reminder)
        assert "other.example" not in text_body(reminder)


def test_a_calls_own_details_replace_the_default_as_a_whole(app, dana, make_account, make_request, smtp,
                                                           deliver):
    http, advocate_id = dana
    save_defaults(http, join_url="https://meet.example/dana", join_phone="+49 30 1234567")
    engagement_id = accept(app, advocate_id, make_account, make_request)
    page = http.get(f"/portal/calls/{engagement_id}").get_data(as_text=True)
    assert "Your default, from your profile" in text(section(page, "join"))
    deliver()  # the ask, the answer, the introduction
    smtp.clear()

    # Before the booking: nothing to send yet, the invitation will carry them.
    changed = http.post(f"/portal/calls/{engagement_id}/join",
                        data={"csrf_token": csrf_token(page), "join_url": "https://zoom.example/j/99",
                              "join_phone": ""})
    assert changed.status_code == 302
    assert flashed(http.get(f"/portal/calls/{engagement_id}").get_data(as_text=True)) == [
        "Join details changed for this call: the invitation gives them when the prospect books."]
    deliver()
    assert smtp.messages == []

    book_first_slot(app, engagement_id, advocate_id)
    deliver()
    for message in confirmations(smtp).values():
        _method, event = event_of(message)
        assert str(event["location"]) == "https://zoom.example/j/99"
        assert str(event["description"]) == "Join: https://zoom.example/j/99"  # not the default phone
        assert "meet.example" not in message.as_string() and "1234567" not in text_body(message)
    with app.app_context():
        row = db.session.get(Engagement, engagement_id)
        assert (row.join_url, row.join_phone) == ("https://zoom.example/j/99", "")
        db.session.remove()


def test_without_any_details_the_invitation_says_the_advocate_sends_them(app, dana, make_account,
                                                                         make_request, smtp, deliver, clock):
    http, advocate_id = dana
    engagement_id = accept(app, advocate_id, make_account, make_request)
    booked = book_first_slot(app, engagement_id, advocate_id)
    deliver()

    for message in confirmations(smtp).values():
        _method, event = event_of(message)
        assert "location" not in event or not str(event["location"])
        assert str(event["description"]) == "The advocate will send the join details."
        assert "The advocate will send the join details." in text_body(message)

    # A default set after the booking does not reach the call behind the invitation's back: the
    # reminder says what the invitation said, and the call's page offers to give them.
    save_defaults(http, join_url="https://meet.example/dana")
    page = http.get(f"/portal/calls/{engagement_id}").get_data(as_text=True)
    assert "No join details yet" in text(section(page, "join"))
    clock.move_to(booked.starts_at - timedelta(hours=23))
    smtp.clear()
    with app.app_context():
        assert jobs.run_due()["reminders"] == 1
        db.session.remove()
    deliver()
    assert "The advocate will send the join details." in text_body(smtp.to(PROSPECT)[0])


def test_the_check_is_one_rule_for_the_default_and_for_a_call(app, dana, make_account, make_request):
    _http, advocate_id = dana
    engagement_id = accept(app, advocate_id, make_account, make_request)
    with app.app_context():
        with pytest.raises(errors.Invalid) as for_the_call:
            bookings.set_join_details(engagement_id, advocate_id, url="ftp://x.example", phone="")
        with pytest.raises(errors.Invalid) as for_the_default:
            profiles.save_join_defaults(advocate_id, url="ftp://x.example", phone="")
        assert for_the_call.value.message == for_the_default.value.message
        assert for_the_call.value.field == for_the_default.value.field == "join_url"
        count = db.session.scalar(select(func.count(AuditEvent.id)).where(AuditEvent.kind.like("%join%")))
        assert count == 0
        db.session.remove()
