"""An admin's first sign-in in a browser, on a desktop screen and on a phone: the e-mailed link,
then setting up an authenticator app from the QR code the page shows (or the key typed in), the
recovery codes, and the dashboard; at the next sign-in, a code from the app. Fields are found by
their labels; the codes come from pyotp with the key read off the page."""

from __future__ import annotations

import pyotp
import pytest
from playwright.sync_api import expect

from models import Role
from tests.browser.conftest import PHONE, fits_the_screen, sign_in_link
from tests.helpers import totp_code

pytestmark = pytest.mark.browser


@pytest.fixture(params=["desktop", "phone"])
def browser_context_args(browser_context_args, request):
    if request.param == "phone":
        return {**browser_context_args, "viewport": PHONE, "is_mobile": True, "has_touch": True}
    return {**browser_context_args, "viewport": {"width": 1280, "height": 900}}


def use_link(page, email, smtp, deliver) -> None:
    page.goto("/sign-in")
    page.get_by_label("E-mail address").fill(email)
    page.get_by_role("button", name="Send me a sign-in link").click()
    expect(page.get_by_role("heading", name="Check your e-mail")).to_be_visible()
    deliver()
    page.goto(sign_in_link(smtp.wait_for(email)[-1]))
    page.get_by_role("button", name="Sign in", exact=True).click()


def test_an_admin_sets_up_the_authenticator_app_at_the_first_sign_in(page, live_url, make_account, smtp,
                                                                      deliver):
    admin = make_account(role=Role.ADMIN, name="Ada Admin", email="ada@vouch.example")

    use_link(page, admin.email, smtp, deliver)

    expect(page.get_by_role("heading", name="Set up your authenticator app")).to_be_visible()
    assert fits_the_screen(page)
    qr = page.locator("figure.qr svg")
    expect(qr).to_be_visible()
    box = qr.bounding_box()
    assert box["width"] >= 150 and abs(box["width"] - box["height"]) < 1  # a square, big enough to scan
    # Half signed in: the dashboard is not open yet.
    page.goto("/admin/")
    expect(page.get_by_role("heading", name="Set up your authenticator app")).to_be_visible()
    secret = "".join(page.get_by_label("Key to type in").inner_text().split())
    assert len(secret) == 32

    # A wrong code first: said beside the field.
    wrong = f"{(int(pyotp.TOTP(secret).now()) + 5) % 1_000_000:06d}"
    page.get_by_label("Code the app shows").fill(wrong)
    page.get_by_role("button", name="Confirm and sign in").click()
    expect(page.locator("small.error")).to_contain_text("That code does not match")

    page.get_by_label("Code the app shows").fill(totp_code(secret))
    page.get_by_role("button", name="Confirm and sign in").click()

    expect(page.get_by_role("status")).to_contain_text("Your authenticator app is set up, Ada Admin")
    codes = page.locator("ol.recovery-codes li")
    expect(codes).to_have_count(10)
    assert fits_the_screen(page)
    kept = codes.first.inner_text().strip()
    page.get_by_role("button", name="I have kept them: continue").click()
    expect(page.get_by_role("heading", name="Hello, Ada Admin")).to_be_visible()
    page.get_by_role("navigation", name="Sections").get_by_role("link", name="Second factor").click()
    expect(page.get_by_role("heading", name="Your second factor")).to_be_visible()
    expect(page.locator("#second-factor-status")).to_contain_text("10 of 10")

    # Signed out, and back: a code from the app now, no new key; then a recovery code works too.
    page.get_by_role("button", name="Sign out").click()
    use_link(page, admin.email, smtp, deliver)
    expect(page.get_by_role("heading", name="One more step, Ada Admin")).to_be_visible()
    assert page.get_by_label("Key to type in").count() == 0
    page.get_by_label("Code from your authenticator app").fill(totp_code(secret))
    page.get_by_role("button", name="Sign in", exact=True).click()
    expect(page.get_by_role("heading", name="Hello, Ada Admin")).to_be_visible()

    page.get_by_role("button", name="Sign out").click()
    use_link(page, admin.email, smtp, deliver)
    page.get_by_label("Code from your authenticator app").fill(kept)
    page.get_by_role("button", name="Sign in", exact=True).click()
    expect(page.get_by_role("heading", name="Hello, Ada Admin")).to_be_visible()
    expect(page.get_by_role("status").filter(has_text="recovery code")).to_contain_text("9 left")
