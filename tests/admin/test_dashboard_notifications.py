"""A coordinator's own e-mail setting on the dashboard: an e-mail about every new request (the
default), or none. Changed with a small form (a labelled switch, a POST, a flash), audited, and
honoured by the next request."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from models import Account, AuditEvent, Role, db
from tests.conftest import csrf_token, text_body
from tests.helpers import flashed, page, section
from workflows import accounts
from workflows import errors as workflow_errors

DASHBOARD = "/admin/"


def switch(http, on: bool, follow: bool = True):
    """Send the dashboard's form: the checkbox travels only when ticked, as from a browser."""
    data = {"csrf_token": csrf_token(page(http, DASHBOARD))}
    if on:
        data["new_requests"] = "y"
    return http.post("/admin/notifications", data=data, follow_redirects=follow)


def setting(app, account_id: int) -> bool:
    with app.app_context():
        value = db.session.get(Account, account_id).notify_new_requests
        db.session.remove()
    return value


def submit_request(http, company: str) -> int:
    """A seller's request through the intake form; → its id."""
    form = page(http, "/admin/requests/new")
    response = http.post("/admin/requests/new", data={
        "csrf_token": csrf_token(form), "prospect_company": company, "industry": "Healthcare",
        "format": "call",
    })
    assert response.status_code == 302, response.get_data(as_text=True)[:2000]
    return int(re.search(r"/admin/requests/(\d+)$", response.headers["Location"]).group(1))


@pytest.fixture()
def coordinator(make_account, sign_in):
    account = make_account(role=Role.COORDINATOR, name="Cora Ordinator", email="cora@vouch.example")
    sign_in(account)
    return account


@pytest.fixture()
def as_seller(app, make_account, sign_in):
    http = app.test_client()
    sign_in(make_account(role=Role.SALES, name="Sam Seller", email="sam@vouch.example"), http=http)
    return http


def test_the_dashboard_shows_the_setting_on_by_default_with_its_label(client, coordinator):
    form = section(page(client, DASHBOARD), "notifications")
    assert 'action="/admin/notifications"' in form
    assert ('<label for="new_requests"><input checked id="new_requests" name="new_requests" role="switch" '
            'type="checkbox" value="y"> E-mail me about every new request</label>') in form


def test_turned_off_no_e_mail_comes_and_turned_on_it_links_to_the_request(
    app, client, coordinator, as_seller, smtp, deliver
):
    response = switch(client, on=False)
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert flashed(html) == [
        "You no longer get an e-mail about new requests; they still show here and in the queue."
    ]
    assert "checked" not in section(html, "notifications")
    assert setting(app, coordinator.id) is False

    deliver()
    smtp.clear()
    submit_request(as_seller, "Quiet Ltd")
    deliver()
    assert smtp.to(coordinator.email) == []

    assert flashed(switch(client, on=True).get_data(as_text=True)) == [
        "You get an e-mail about every new request."
    ]
    assert setting(app, coordinator.id) is True
    request_id = submit_request(as_seller, "Loud Ltd")
    deliver()
    [message] = smtp.wait_for(coordinator.email)
    assert message["Subject"] == "New reference request: Phone call for Loud Ltd"
    body = text_body(message)
    assert f"http://vouch.test/admin/requests/{request_id}" in body
    assert "You can turn it off on the dashboard:\r\nhttp://vouch.test/admin/#notifications" in body

    with app.app_context():
        events = db.session.scalars(
            select(AuditEvent).where(AuditEvent.kind == "account.new_request_emails").order_by(AuditEvent.id)
        ).all()
        assert [(e.actor_id, e.subject, e.detail) for e in events] == [
            (coordinator.id, coordinator.email, {"on": False}),
            (coordinator.id, coordinator.email, {"on": True}),
        ]
        db.session.remove()


def test_saving_the_setting_unchanged_audits_nothing(app, client, coordinator):
    switch(client, on=True)
    with app.app_context():
        assert db.session.scalars(
            select(AuditEvent).where(AuditEvent.kind == "account.new_request_emails")
        ).all() == []
        db.session.remove()


def test_sales_and_admins_have_no_such_setting(app, client, make_account, sign_in, as_seller):
    assert 'id="notifications"' not in page(as_seller, DASHBOARD)
    token = csrf_token(page(as_seller, DASHBOARD))
    assert as_seller.post("/admin/notifications", data={"csrf_token": token}).status_code == 403

    admin = make_account(role=Role.ADMIN)
    sign_in(admin)
    assert 'id="notifications"' not in page(client, DASHBOARD)
    html = switch(client, on=False).get_data(as_text=True)
    assert flashed(html) == [
        "Nothing was changed. Only coordinators get an e-mail for every new request: there is nothing "
        "to turn on or off for this account."
    ]


def test_a_coordinator_changes_only_their_own_and_an_admin_anybodys(app, make_account):
    cora, colleague = make_account(role=Role.COORDINATOR), make_account(role=Role.COORDINATOR)
    admin = make_account(role=Role.ADMIN)
    with app.app_context():
        with pytest.raises(workflow_errors.NotFound):
            accounts.set_new_request_notifications(colleague.id, False, by=cora)
        with pytest.raises(workflow_errors.NotFound):
            accounts.set_new_request_notifications(999_999, False, by=admin)
        assert accounts.set_new_request_notifications(colleague.id, False, by=admin) is False
        db.session.remove()
    assert (setting(app, cora.id), setting(app, colleague.id)) == (True, False)
