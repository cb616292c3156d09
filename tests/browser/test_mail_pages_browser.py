"""An admin reads the e-mail preview in a real browser: each HTML part shows in its sandboxed
frame under the site's Content-Security-Policy, and the outbox lists the message an advocate
was sent; an advocate unsubscribes from the nudge's link with one press."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from models import Role, db
from tests.browser.conftest import sign_in
from workflows import unsubscribe

pytestmark = pytest.mark.browser


def test_an_admin_sees_every_e_mail_rendered_and_the_outbox(page, app, live_url, make_account, smtp, deliver):
    admin = make_account(role=Role.ADMIN, name="Ada Admin", email="ada@vouch.example")
    refused = []
    page.on("console", lambda m: refused.append(m.text) if "Content Security Policy" in m.text else None)

    sign_in(page, admin, smtp, deliver)
    page.get_by_role("navigation", name="Sections").get_by_role("link", name="E-mails").click()
    expect(page.get_by_role("heading", name="E-mails", exact=True)).to_be_visible()
    frame = page.frame_locator('#mail-availability_nudge iframe.mail-html')
    expect(frame.get_by_role("link", name="Yes, it is still right")).to_be_visible()
    expect(frame.get_by_role("link", name="Unsubscribe from them")).to_be_visible()
    sign_in_frame = page.frame_locator('#mail-sign_in_link iframe.mail-html')
    expect(sign_in_frame.get_by_role("link", name="Sign in to Vouch")).to_be_visible()
    assert refused == []

    page.get_by_role("navigation", name="Sections").get_by_role("link", name="Outbox").click()
    row = page.locator("table.outbox tbody tr").first
    expect(row).to_contain_text("sign_in_link")
    expect(row).to_contain_text("Body not shown")


def test_unsubscribing_from_the_nudge_s_link(page, app, live_url):
    with app.app_context():
        link = unsubscribe.link("dana@example.com")
    page.goto(link)
    page.get_by_role("button", name="Unsubscribe").click()
    expect(page.get_by_role("heading", name="You are unsubscribed")).to_be_visible()
    with app.app_context():
        assert unsubscribe.unsubscribed(["dana@example.com"]) == {"dana@example.com"}
        db.session.remove()
