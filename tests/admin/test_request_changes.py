"""Changing a request before an advocate accepts, asking a second person while an ask is
pending, and the e-mail coordinators get for each new request."""

from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import select

from mail.sender import drain
from models import ReferenceRequest, RequestEvent, RequestStatus, db
from tests.conftest import text_body
from tests.helpers import fit, flashed, page, post_form, section, text

FUTURE = (date.today() + timedelta(days=30)).isoformat()


def load(app, request_id: int) -> ReferenceRequest:
    with app.app_context():
        request = db.session.get(ReferenceRequest, request_id)
        request.topics  # noqa: B018  (load before detaching)
        request.events  # noqa: B018
        db.session.expunge_all()
    return request


def edit(http, request_id: int, **fields):
    data = {"needed_by": FUTURE, "contact_name": "Pat Prospect", "contact_email": "pat@prospect.example",
            "notes": "", **fields}
    return post_form(http, f"/admin/requests/{request_id}/edit", data)


def test_the_seller_changes_the_date_contact_topics_and_notes_until_someone_accepts(
    app, signed_in, make_request
):
    http, seller = signed_in("sales")
    request = make_request(requested_by=seller, notes="Old notes")

    response = edit(http, request.id, needed_by=FUTURE, contact_name="Kim Buyer",
                    contact_email="kim@prospect.example", topics=["Security", "Migration"],
                    notes="Board in May")

    assert response.status_code == 302
    changed = load(app, request.id)
    assert changed.needed_by.isoformat() == FUTURE
    assert (changed.contact_name, changed.contact_email, changed.notes) == (
        "Kim Buyer", "kim@prospect.example", "Board in May")
    assert sorted(t.name for t in changed.topics) == ["Migration", "Security"]
    [line] = [e for e in changed.events if e.kind == "edited"]
    assert line.actor_id == seller.id
    assert sorted(line.detail["changed"]) == ["contact_email", "contact_name", "needed_by", "notes", "topics"]
    html = page(http, response.headers["Location"])
    assert flashed(html)[-1].startswith("Request changed: ")
    assert "Changed the request: " in text(section(html, "timeline"))


def test_an_edit_is_checked_like_a_new_request_and_changes_nothing_when_refused(app, signed_in, make_request):
    http, seller = signed_in("sales")
    request = make_request(requested_by=seller)
    before = load(app, request.id)

    response = edit(http, request.id, needed_by="2001-01-01", contact_email="not-an-address",
                    topics=["Astrology"])

    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "Nothing was changed" in flashed(html)[0]
    for message in ("Must not be in the past", "is not a valid e-mail address", "Unknown topic"):
        assert message in html
    after = load(app, request.id)
    assert (after.needed_by, after.contact_email, after.updated_at) == (
        before.needed_by, before.contact_email, before.updated_at)


def test_a_request_an_advocate_accepted_can_no_longer_be_changed(app, signed_in, make_request):
    http, seller = signed_in("sales")
    request = make_request(requested_by=seller, status=RequestStatus.MATCHED)
    html = page(http, f"/admin/requests/{request.id}")
    assert 'id="edit"' not in html
    response = edit(http, request.id, notes="Too late")
    assert response.status_code == 409
    assert "can no longer be changed" in flashed(response.get_data(as_text=True))[0]


def test_another_sellers_request_cannot_be_changed(app, signed_in, make_request):
    http, _seller = signed_in("sales")
    theirs = make_request()
    assert edit(http, theirs.id, notes="Mine now").status_code == 404
    assert load(app, theirs.id).notes == ""


def test_asking_someone_else_while_an_ask_is_pending_takes_a_second_step(app, signed_in, make_request,
                                                                        make_advocate):
    http, _coordinator = signed_in("coordinator")
    request = make_request(format="written", questions=["Why us?"])
    first, second = make_advocate(name="First Choice"), make_advocate(name="Second Choice")
    for advocate in (first, second):
        fit(app, advocate.id)
    assert post_form(http, f"/admin/requests/{request.id}/asks", {"advocate_id": first.id}).status_code == 302

    html = page(http, f"/admin/requests/{request.id}")
    assert "First Choice has been asked and has not answered yet" in text(section(html, "pending-note"))
    assert "Ask as well…" in html and "Yes, ask Second Choice as well" in html

    refused = post_form(http, f"/admin/requests/{request.id}/asks", {"advocate_id": second.id})
    assert refused.status_code == 409
    assert "confirm that you want to ask someone else as well" in flashed(refused.get_data(as_text=True))[0]
    confirmed = post_form(http, f"/admin/requests/{request.id}/asks",
                          {"advocate_id": second.id, "also": "yes"})
    assert confirmed.status_code == 302
    with app.app_context():
        asked = db.session.scalars(select(RequestEvent.detail).where(
            RequestEvent.request_id == request.id, RequestEvent.kind == "asked")).all()
        assert [d["advocate_id"] for d in asked] == [first.id, second.id]
        db.session.remove()


def test_once_an_advocate_accepted_no_ask_button_is_shown(app, signed_in, make_request):
    http, _coordinator = signed_in("coordinator")
    request = make_request(status=RequestStatus.MATCHED)
    html = page(http, f"/admin/requests/{request.id}")
    assert "This request has its advocate, so nobody else is ranked for it." in html
    assert ">Ask<" not in html and "Ask as well" not in html


def test_each_coordinator_who_wants_it_is_told_of_a_new_request_with_a_link_to_it(
    app, api_client, make_account, smtp
):
    make_account(role="coordinator", email="keen@vouch.example", name="Keen")
    make_account(role="coordinator", email="quiet@vouch.example", notify_new_requests=False)
    make_account(role="coordinator", email="gone@vouch.example", active=False)
    client, seller = api_client("sales", name="Sam Seller")

    response = client.post("/api/v1/requests", json={
        "prospect_company": "Globex Corp", "industry": "Technology", "format": "written",
        "questions": ["Why us?"]})
    assert response.status_code == 201
    request_id = response.get_json()["id"]
    with app.app_context():
        drain()
        db.session.remove()

    [message] = smtp.to("keen@vouch.example")
    assert message["Subject"] == "New reference request: Written reference for Globex Corp"
    body = text_body(message)
    assert "Sam Seller asked for a written reference for Globex Corp (Technology)" in body
    assert f"http://vouch.test/admin/requests/{request_id}" in body
    assert smtp.to("quiet@vouch.example") == smtp.to("gone@vouch.example") == []
    assert smtp.to(seller.email) == []
