"""A person signs in the way people do: in a browser, with the link from their e-mail."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import sign_in_link

pytestmark = pytest.mark.browser



def test_a_person_signs_in_with_the_link_from_their_email(page, live_url, make_account, smtp, deliver):
    account = make_account(role="advocate", name="Dana Example", email="dana@example.com")

    page.goto("/sign-in")
    page.get_by_label("E-mail address").fill(account.email)
    page.get_by_role("button", name="Send me a sign-in link").click()
    expect(page.get_by_role("heading", name="Check your e-mail")).to_be_visible()

    assert deliver().sent == 1
    [email] = smtp.wait_for(account.email)
    link = sign_in_link(email)
    assert link.startswith(f"{live_url}/sign-in/link/")

    page.goto(link)
    expect(page.get_by_role("heading", name="Sign in as d…@example.com?")).to_be_visible()
    page.get_by_role("button", name="Sign in", exact=True).click()

    expect(page.get_by_role("heading", name="Hello, Dana Example")).to_be_visible()
    assert page.url == f"{live_url}/portal"
