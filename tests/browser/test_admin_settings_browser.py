"""An admin, on a desktop screen (1280 px) and on a phone (390 px), changes a program setting and
adds a coordinator's account, each from the menu, finding every field by its label."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from models import Account, Role, Setting, db
from tests.browser.conftest import PHONE, fits_the_screen, sign_in

pytestmark = pytest.mark.browser

DESKTOP = {"width": 1280, "height": 900}


@pytest.fixture(params=["desktop", "phone"])
def browser_context_args(browser_context_args, request):
    if request.param == "phone":
        return {**browser_context_args, "viewport": PHONE, "is_mobile": True, "has_touch": True}
    return {**browser_context_args, "viewport": DESKTOP}


def test_an_admin_changes_a_setting_and_adds_an_account(page, app, live_url, make_account, smtp, deliver):
    admin = make_account(role=Role.ADMIN, name="Ada Admin", email="ada@vouch.example")
    sign_in(page, admin, smtp, deliver)
    sections = page.get_by_role("navigation", name="Sections")

    # A setting: the slot length, then a refused value shown beside its field.
    sections.get_by_role("link", name="Settings").click()
    expect(page.get_by_role("heading", name="Program settings")).to_be_visible()
    assert fits_the_screen(page)
    page.get_by_label("Slot length (minutes)").select_option("45")
    page.get_by_label("Time to answer an ask (hours)").fill("24")
    page.get_by_label("Ask automatically").check()
    page.get_by_role("button", name="Save the settings").click()
    expect(page.get_by_role("status")).to_contain_text(
        "Saved. Time to answer an ask: 24 hours; Ask automatically: on; Slot length: 45 minutes.")
    expect(page.get_by_label("Slot length (minutes)")).to_have_value("45")
    expect(page.get_by_label("Ask automatically")).to_be_checked()

    page.get_by_label("Booking horizon (days)").fill("999")
    page.get_by_role("button", name="Save the settings").click()
    expect(page.locator("#BOOKING_HORIZON_DAYS-error")).to_have_text(
        "Booking horizon: enter a number from 1 to 180 days.")
    expect(page.get_by_label("Booking horizon (days)")).to_have_attribute("aria-invalid", "true")
    assert fits_the_screen(page)

    # An account: a coordinator in Berlin's time.
    sections.get_by_role("link", name="Accounts").click()
    expect(page.get_by_role("heading", name="Accounts", exact=True)).to_be_visible()
    expect(page.get_by_text("Advocates are not managed here")).to_be_visible()
    form = page.get_by_role("form", name="Add an account")
    form.get_by_label("Name").fill("Cora Coordinator")
    form.get_by_label("E-mail address").fill("cora@vouch.example")
    form.get_by_label("Role").select_option("coordinator")
    form.get_by_label("Time zone").fill("Berlin")
    assert fits_the_screen(page)
    form.get_by_role("button", name="Add the account").click()

    expect(page.get_by_role("heading", name="Cora Coordinator")).to_be_visible()
    expect(page.get_by_role("status")).to_contain_text("Cora Coordinator has a coordinator account now.")
    expect(page.locator("#details")).to_contain_text("Europe/Berlin")
    assert fits_the_screen(page)

    # Deactivating asks first.
    page.get_by_text("Deactivate this account…").click()
    page.get_by_role("button", name="Yes, deactivate the account").click()
    expect(page.get_by_role("status")).to_contain_text("Cora Coordinator's account is deactivated")

    with app.app_context():
        stored = dict(db.session.execute(select(Setting.key, Setting.value)).all())
        assert stored == {"CALL_MINUTES": 45, "ASK_EXPIRY_HOURS": 24, "AUTO_ASK": True}
        cora = db.session.scalar(select(Account).where(Account.email == "cora@vouch.example"))
        assert (cora.role, cora.timezone, cora.active) == (Role.COORDINATOR, "Europe/Berlin", False)
        db.session.remove()
