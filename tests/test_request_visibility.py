"""What each role may see of a request is decided once (workflows.request_view) and holds for
the request's page, the JSON API and the e-mails about it: sales never read match scores,
reasons, or why an advocate declined and their note."""

from __future__ import annotations

import pytest

from mail.sender import drain
from models import db
from tests.conftest import text_body
from tests.helpers import fit, page, section, text
from workflows import requests as flow

NOTE = "Quarter-end close, ask me again in March"
REASON_TEXT = "Too busy right now"


@pytest.fixture()
def answered(app, make_account, make_advocate, make_request, smtp):
    """A written request of Sam's: Cora asked Dan (who declined, with a note) and Ada (who
    accepted). Returns (request id, accounts by role, advocates)."""
    seller = make_account(role="sales", name="Sam Seller", email="sam@vouch.example")
    coordinator = make_account(role="coordinator", name="Cora Ordinator", email="cora@vouch.example")
    admin = make_account(role="admin", name="Adam Admin", email="adam@vouch.example")
    request = make_request(format="written", requested_by=seller, questions=["How did it go?"],
                           prospect_company="Globex Corp")
    dan = make_advocate(name="Dan Declines")
    ada = make_advocate(name="Ada Accepts")
    fit(app, dan.id)
    fit(app, ada.id)
    with app.app_context():
        cora = db.session.get(type(coordinator), coordinator.id)
        dan_ask = flow.ask(request.id, dan.id, by=cora)
        cora = db.session.get(type(coordinator), coordinator.id)
        ada_ask = flow.ask(request.id, ada.id, by=cora)
        flow.decline_ask(dan_ask.id, dan.id, "busy", NOTE)
        flow.accept_ask(ada_ask.id, ada.id)
        db.session.remove()
    return request.id, {"sales": seller, "coordinator": coordinator, "admin": admin}, (dan, ada)


@pytest.mark.parametrize("role", ["sales", "coordinator", "admin"])
def test_the_api_shows_each_role_what_it_may_see(answered, api_client, role):
    request_id, accounts, (dan, _ada) = answered
    client, _ = api_client(account=accounts[role])
    body = client.get(f"/api/v1/requests/{request_id}").get_json()
    declined = next(a for a in body["asks"] if a["advocate_id"] == dan.id)
    lines = {entry["kind"]: entry for entry in body["timeline"]}
    everything = str(body)

    if role == "sales":
        assert declined["decline_reason"] is None and declined["decline_reason_text"] is None
        assert declined["decline_note"] is None
        assert all(a["score"] is None and a["reasons"] == [] for a in body["asks"])
        assert "score" not in lines["asked"]["detail"] and "reason" not in lines["declined"]["detail"]
        assert lines["declined"]["text"] == "Declined the ask"
        assert NOTE not in everything and REASON_TEXT not in everything and "'busy'" not in everything
    else:
        assert (declined["decline_reason"], declined["decline_reason_text"], declined["decline_note"]) == (
            "busy", REASON_TEXT, NOTE)
        assert all(isinstance(a["score"], int) and a["reasons"] for a in body["asks"])
        assert lines["declined"]["detail"]["reason"] == "busy"
        assert lines["declined"]["text"] == f"Declined the ask: {REASON_TEXT} — “{NOTE}”"
    # Nobody reads a note or a name in the stored timeline itself: ids and codes only.
    for entry in body["timeline"]:
        assert "note" not in entry["detail"] and "advocate" not in entry["detail"]


@pytest.mark.parametrize("role", ["sales", "coordinator", "admin"])
def test_the_page_shows_each_role_what_it_may_see(answered, signed_in, role):
    request_id, accounts, _advocates = answered
    http, _ = signed_in(account=accounts[role])
    html = page(http, f"/admin/requests/{request_id}")
    asks, timeline = text(section(html, "asks")), text(section(html, "timeline"))
    assert "Dan Declines" in asks and "Ada Accepts" in asks

    if role == "sales":
        assert NOTE not in html and REASON_TEXT not in html
        assert "score" not in asks and "match score" not in timeline
        assert "Declined the ask" in timeline
    else:
        assert f"Why: {REASON_TEXT} — “{NOTE}”" in asks
        assert "score" in asks and "match score" in timeline
        assert f"Declined the ask: {REASON_TEXT} — “{NOTE}”" in timeline


def test_the_answer_emails_tell_the_coordinator_why_and_the_seller_only_that(app, answered, smtp):
    with app.app_context():
        drain()
        db.session.remove()
    [to_seller] = [m for m in smtp.to("sam@vouch.example") if "declined" in m["Subject"]]
    [to_coordinator] = [m for m in smtp.to("cora@vouch.example") if "declined" in m["Subject"]]
    seller_text, coordinator_text = text_body(to_seller), text_body(to_coordinator)

    assert "Dan Declines declined the ask for Globex Corp" in seller_text
    assert NOTE not in seller_text and REASON_TEXT not in seller_text
    assert NOTE not in to_seller.get_body(preferencelist=("html",)).get_content()
    assert f"Reason: {REASON_TEXT}" in coordinator_text and f"Note: {NOTE}" in coordinator_text
    request_id = answered[0]
    for message in (to_seller, to_coordinator):
        assert f"/admin/requests/{request_id}" in text_body(message)  # the page it is about
    # The acceptance reaches both too.
    assert [m for m in smtp.to("sam@vouch.example") if "accepted" in m["Subject"]]
    assert [m for m in smtp.to("cora@vouch.example") if "accepted" in m["Subject"]]
