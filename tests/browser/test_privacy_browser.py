"""An advocate opens Privacy in a browser, downloads their data, then leaves the program."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import sign_in_link

pytestmark = pytest.mark.browser



def test_an_advocate_downloads_their_data_and_leaves_the_program(
    page, live_url, make_advocate, smtp, deliver
):
    advocate = make_advocate(name="Dana Example", email="dana@example.com", timezone="Europe/Berlin",
                             job_title="Head of Fleet Operations")

    page.goto("/sign-in")
    page.get_by_label("E-mail address").fill(advocate.account.email)
    page.get_by_role("button", name="Send me a sign-in link").click()
    expect(page.get_by_role("heading", name="Check your e-mail")).to_be_visible()
    assert deliver().sent == 1
    page.goto(sign_in_link(smtp.wait_for(advocate.account.email)[-1]))
    page.get_by_role("button", name="Sign in", exact=True).click()
    expect(page.get_by_role("heading", name="Hello, Dana Example")).to_be_visible()

    page.goto("/portal/privacy")  # the lead adds the "Privacy" link to the navigation
    expect(page.get_by_role("heading", name="Your privacy")).to_be_visible()
    expect(page.locator("#consent")).to_contain_text("01 January 2026")

    with page.expect_download() as download_info:
        page.get_by_role("button", name="Download my data (JSON)").click()
    download = download_info.value
    assert re.fullmatch(r"vouch-my-data-\d{4}-\d{2}-\d{2}\.json", download.suggested_filename)
    data = json.loads(Path(download.path()).read_text(encoding="utf-8"))
    assert data["account"]["email"] == "dana@example.com"
    assert data["profile"]["job_title"] == "Head of Fleet Operations"

    page.get_by_role("button", name="Leave the program").click()
    expect(page.get_by_role("heading", name="Leave the program?")).to_be_visible()
    page.get_by_role("button", name="Leave the program for good").click()
    expect(page.get_by_label("Type LEAVE to confirm")).to_have_attribute("aria-invalid", "true")
    expect(page.get_by_text("Nothing was changed: you are still in the program.")).to_be_visible()

    page.get_by_label("Type LEAVE to confirm").fill("LEAVE")
    page.get_by_role("button", name="Leave the program for good").click()
    expect(page.get_by_role("status")).to_contain_text("You have left the Vouch reference program")
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()

    page.goto("/portal/privacy")
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()  # signed out for good
