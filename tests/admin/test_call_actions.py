"""The coordinator's hand on a live call, from the request's page: when the introduction went out,
sending it again (to a corrected address), and cancelling the call with a reason. Sales read the
booked time and that the introduction went out, and may do neither. Real e-mails, read back from
the SMTP server; their links followed, their invitations parsed with icalendar."""

from __future__ import annotations

import re
from datetime import timedelta
from html import unescape

import pytest
import time_machine
from sqlalchemy import func, select

from models import (
    Account,
    Advocate,
    Engagement,
    EngagementStatus,
    OutboxMessage,
    ReferenceRequest,
    RequestStatus,
    db,
)
from tests.calls import ADVOCATE, COORDINATOR, MONDAY, PROSPECT, SELLER, book_call, engagement_of
from tests.conftest import csrf_token, text_body
from tests.helpers import fit, flashed, section, text
from tests.portal.test_booking import book, event_of, path_of
from tests.test_confirm_steps import opened, step
from workflows import quota
from workflows import requests as flow


@pytest.fixture()
def clock():
    with time_machine.travel(MONDAY, tick=False) as traveller:
        yield traveller


def account(app, email: str) -> Account:
    with app.app_context():
        found = db.session.scalar(select(Account).where(Account.email == email))
        db.session.expunge(found)
    return found


@pytest.fixture()
def accepted(app, clock, make_account, make_advocate, make_request, smtp, deliver):
    """Dana accepted Globex's call and Pat got the introduction (delivered, inbox emptied).
    → (request id, engagement id)."""
    seller = make_account(role="sales", email=SELLER, name="Sam Seller")
    make_account(role="coordinator", email=COORDINATOR, name="Cora Coordinator")
    dana = make_advocate(name="Dana Whitfield", email=ADVOCATE, timezone="Europe/Berlin",
                         join_url="https://meet.example/dana")
    fit(app, dana.id, formats=("call",))
    request = make_request(format="call", requested_by=seller, contact_name="Pat Prospect",
                           contact_email=PROSPECT, prospect_company="Globex Corp")
    with app.app_context():
        ask = flow.ask(request.id, dana.id, by=db.session.get(Account, account(app, COORDINATOR).id))
        engagement_id = flow.accept_ask(ask.id, dana.id).id
        db.session.remove()
    deliver()
    smtp.clear()
    return request.id, engagement_id


@pytest.fixture()
def booked(app, clock, make_account, make_advocate, make_request, smtp, deliver):
    call = book_call(app, make_account, make_advocate, make_request)
    deliver()
    smtp.clear()
    return call


@pytest.fixture()
def cora(app, signed_in):
    def make():
        http, _account = signed_in(account=account(app, COORDINATOR))
        return http
    return make


@pytest.fixture()
def sam(app, signed_in):
    def make():
        http, _account = signed_in(account=account(app, SELLER))
        return http
    return make


def page_of(http, request_id: int, status: int = 200) -> str:
    response = http.get(f"/admin/requests/{request_id}")
    assert response.status_code == status
    return response.get_data(as_text=True)


def post(http, request_id: int, action: str, data: dict | None = None):
    token = csrf_token(page_of(http, request_id))
    return http.post(f"/admin/requests/{request_id}/{action}", data={"csrf_token": token, **(data or {})})


def outbox_count(app) -> int:
    with app.app_context():
        count = db.session.scalar(select(func.count(OutboxMessage.id)))
        db.session.remove()
    return count


# --- the introduction ------------------------------------------------------------------------


def test_staff_read_when_the_introduction_went_out_and_send_it_again_to_a_corrected_address(
    app, accepted, cora, client, smtp, deliver
):
    request_id, engagement_id = accepted
    http = cora()
    html = page_of(http, request_id)
    call = text(section(html, "call"))
    assert ("The introduction went to pat@prospect.example on Mon 01 Jun 2026, 08:00, with the seller in "
            "copy. The prospect has not booked a time yet.") in call
    resend = step(html, f"/admin/requests/{request_id}/introduction/resend")
    assert not opened(resend) and "<summary>Resend the introduction…</summary>" in resend
    assert re.search(r'<label for="resend-contact_email">[^<]+</label>\s*<input[^>]+type="email"', resend)

    response = post(http, request_id, "introduction/resend",
                    {"resend-contact_email": "pat.new@prospect.example"})

    assert response.status_code == 302
    assert response.headers["Location"] == f"/admin/requests/{request_id}#call"
    html = page_of(http, request_id)
    assert flashed(html) == ["The introduction is on its way to pat.new@prospect.example again, with a "
                             "link to book the call; the seller is in copy."]
    assert "(sent 2 times)" in text(section(html, "call"))
    timeline = text(section(html, "timeline"))
    assert "Cora Coordinator Changed the request: contact email" in timeline
    again = "Cora Coordinator Sent the prospect the introduction again, with a link to book the call"
    assert again in timeline
    assert "Vouch Introduced the advocate to the prospect, with a link to book the call" in timeline
    with app.app_context():
        assert db.session.get(ReferenceRequest, request_id).contact_email == "pat.new@prospect.example"
        assert db.session.get(Engagement, engagement_id).prospect_email == "pat.new@prospect.example"
        db.session.remove()

    deliver()
    assert smtp.to(PROSPECT) == []
    [intro] = smtp.to("pat.new@prospect.example")
    assert intro["Subject"].strip() == "Meet Dana Whitfield, Customer 1 Inc: book your reference phone call"
    assert intro["Cc"] == SELLER
    # Its link books the call.
    link = path_of(re.search(r"https?://\S+/book/\S+", text_body(intro)).group(0))
    assert "Book your phone call with Dana Whitfield" in text(client.get(link).get_data(as_text=True))
    response, _slot = book(client, link)
    assert response.status_code == 302
    assert engagement_of(app, engagement_id).status is EngagementStatus.BOOKED
    # Once booked there is no introduction to send any more.
    html = page_of(http, request_id)
    assert f'action="/admin/requests/{request_id}/introduction/resend"' not in html
    refused = post(http, request_id, "introduction/resend")
    assert refused.status_code == 409
    assert "no call waiting to be booked" in flashed(refused.get_data(as_text=True))[0]


def test_resending_to_the_same_address_leaves_the_request_as_it_was(app, accepted, cora, smtp, deliver):
    request_id, _engagement_id = accepted

    assert post(cora(), request_id, "introduction/resend", {"resend-contact_email": ""}).status_code == 302

    deliver()
    [intro] = smtp.to(PROSPECT)
    assert "/book/" in text_body(intro)
    with app.app_context():
        kinds = [e.kind for e in db.session.get(ReferenceRequest, request_id).events]
        assert kinds[-1] == "introduced" and "edited" not in kinds
        db.session.remove()


@pytest.mark.parametrize("address", ["not-an-address", "pat@", "pat@prospect.invalid",
                                     "a" * 250 + "@x.example"])
def test_a_bad_address_is_refused_422_beside_the_field_and_nothing_is_sent(app, accepted, cora, address):
    request_id, engagement_id = accepted
    before = outbox_count(app)

    response = post(cora(), request_id, "introduction/resend", {"resend-contact_email": address})

    assert response.status_code == 422
    html = response.get_data(as_text=True)
    resend = step(html, f"/admin/requests/{request_id}/introduction/resend")
    assert opened(resend)
    assert re.search(r'<small id="resend-contact_email-error" class="error">[^<]+</small>', resend)
    assert flashed(html)[0] == "Nothing was sent: see the message beside the address."
    assert outbox_count(app) == before
    with app.app_context():
        assert db.session.get(ReferenceRequest, request_id).contact_email == PROSPECT
        assert db.session.get(Engagement, engagement_id).prospect_email == PROSPECT
        db.session.remove()


def test_a_request_without_a_contact_address_says_so_and_takes_one(app, clock, make_account, make_advocate,
                                                                   make_request, cora, smtp, deliver):
    make_account(role="coordinator", email=COORDINATOR, name="Cora Coordinator")
    dana = make_advocate(name="Dana Whitfield", email=ADVOCATE)
    fit(app, dana.id, formats=("call",))
    request = make_request(format="call", contact_email="")
    with app.app_context():
        ask = flow.ask(request.id, dana.id, by=db.session.get(Account, account(app, COORDINATOR).id))
        flow.accept_ask(ask.id, dana.id)
        db.session.remove()
    http = cora()
    assert "The introduction has not gone out: the request has no contact e-mail to send it to." in text(
        section(page_of(http, request.id), "call"))

    empty = post(http, request.id, "introduction/resend")
    assert empty.status_code == 422
    assert "give the prospect contact's address" in unescape(empty.get_data(as_text=True))

    assert post(http, request.id, "introduction/resend",
                {"resend-contact_email": "pat@prospect.example"}).status_code == 302
    deliver()
    assert "/book/" in text_body(smtp.wait_for(PROSPECT)[-1])


# --- cancelling the call ---------------------------------------------------------------------


def test_staff_cancel_a_booked_call_with_a_reason_and_both_sides_are_told(app, booked, cora, smtp, deliver):
    http = cora()
    html = page_of(http, booked.request_id)
    cancel = step(html, f"/admin/requests/{booked.request_id}/call/cancel")
    assert not opened(cancel) and "<summary>Cancel the call…</summary>" in cancel
    assert re.search(r'<label for="call-reason">[^<]+</label>\s*<textarea[^>]+name="call-reason"', cancel)
    assert '<button type="submit" class="danger">Yes, cancel the call</button>' in cancel

    without = post(http, booked.request_id, "call/cancel", {"call-reason": ""})
    assert without.status_code == 422
    assert opened(step(without.get_data(as_text=True), f"/admin/requests/{booked.request_id}/call/cancel"))
    assert "Say why the call is cancelled" in without.get_data(as_text=True)
    assert engagement_of(app, booked.engagement_id).status is EngagementStatus.BOOKED

    response = post(http, booked.request_id, "call/cancel",
                    {"call-reason": "The prospect's project is on hold."})

    assert response.status_code == 302
    html = page_of(http, booked.request_id)
    assert flashed(html)[0].startswith("The call is cancelled. Both sides get the cancellation")
    assert "The last engagement was cancelled: The prospect's project is on hold." in unescape(text(
        section(html, "engagement")))
    assert f'action="/admin/requests/{booked.request_id}/call/cancel"' not in html
    timeline = text(section(html, "timeline"))
    assert ("Cora Coordinator The reference with Dana Whitfield was cancelled: Cancelled by the program "
            "coordinator") in timeline

    deliver()
    for address in (ADVOCATE, PROSPECT):
        [message] = smtp.to(address)
        method, event = event_of(message)
        assert method == "CANCEL" and str(event["status"]) == "CANCELLED"
        assert str(event["uid"]) == f"engagement-{booked.engagement_id}@vouch.test"
        assert int(event["sequence"]) == 1
        assert "Reason: The prospect's project is on hold." in text_body(message)
    gone = engagement_of(app, booked.engagement_id)
    assert gone.status is EngagementStatus.CANCELLED and gone.request.status is RequestStatus.NEW
    with app.app_context():
        assert quota.quarter_use(db.session.get(Advocate, booked.advocate_id), gone.quarter).used == 0
        db.session.remove()

    again = post(http, booked.request_id, "call/cancel", {"call-reason": "Twice."})
    assert again.status_code == 409
    assert flashed(again.get_data(as_text=True))[0].startswith(
        "This call was cancelled: it can no longer be cancelled.")


def test_a_call_not_booked_yet_is_called_off_with_no_invitation_but_word_to_the_prospect(
    app, accepted, cora, client, smtp, deliver
):
    request_id, engagement_id = accepted
    html = page_of(cora(), request_id)
    assert "Call it off before it is booked?" in step(html, f"/admin/requests/{request_id}/call/cancel")

    assert post(cora(), request_id, "call/cancel", {"call-reason": "Filled elsewhere."}).status_code == 302

    gone = engagement_of(app, engagement_id)
    assert gone.status is EngagementStatus.CANCELLED and gone.cancel_reason == "Filled elsewhere."
    deliver()
    assert smtp.to(ADVOCATE) == []
    [told] = smtp.to(PROSPECT)
    assert "called off" in told["Subject"] and "Reason: Filled elsewhere." in text_body(told)
    assert not any(part.get_content_type() == "text/calendar" for part in told.walk())


def test_a_call_that_has_begun_offers_no_cancel_and_refuses_one(app, booked, cora, clock):
    clock.move_to(booked.starts_at + timedelta(minutes=10))
    http = cora()
    html = page_of(http, booked.request_id)
    assert f'action="/admin/requests/{booked.request_id}/call/cancel"' not in html
    assert 'id="call-follow-up"' in html  # what to do now: no-show or complete

    refused = post(http, booked.request_id, "call/cancel", {"call-reason": "Too late."})

    assert refused.status_code == 409
    assert "a call that has begun can no longer be cancelled" in flashed(refused.get_data(as_text=True))[0]
    assert engagement_of(app, booked.engagement_id).status is EngagementStatus.BOOKED


# --- what sales see and may not do -----------------------------------------------------------


def test_sales_read_the_booked_time_and_the_introduction_but_may_not_cancel_or_resend(app, booked, sam, smtp,
                                                                                      deliver):
    http = sam()
    html = page_of(http, booked.request_id)
    assert "The call is booked for Tue 02 Jun 2026, 08:00 (UTC)." in text(section(html, "engagement"))
    assert "The introduction went to pat@prospect.example on Mon 01 Jun 2026, 08:00." in text(
        section(html, "call"))
    assert "ask the reference coordinator to cancel the call" in text(html)
    assert "/call/cancel" not in html and "/introduction/resend" not in html
    token = csrf_token(html)

    for action, data in (("call/cancel", {"call-reason": "Deal lost."}), ("introduction/resend", {})):
        response = http.post(f"/admin/requests/{booked.request_id}/{action}",
                             data={"csrf_token": token, **data})
        assert response.status_code == 403

    assert engagement_of(app, booked.engagement_id).status is EngagementStatus.BOOKED
    deliver()
    assert smtp.messages == []


def test_another_sellers_request_is_404_for_staff_actions_too(app, booked, make_account, signed_in):
    """Staff see every request; a request that does not exist is 404 for the new actions."""
    http, _account = signed_in("coordinator")
    token = csrf_token(http.get("/admin/").get_data(as_text=True))
    for action in ("call/cancel", "introduction/resend"):
        assert http.post(f"/admin/requests/999999/{action}",
                         data={"csrf_token": token, "call-reason": "x"}).status_code == 404
