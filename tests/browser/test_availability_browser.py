"""An advocate keeps their availability current from a phone: windows, preview, snooze."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import PHONE, fits_the_screen, sign_in_link

pytestmark = pytest.mark.browser


@pytest.fixture()
def browser_context_args(browser_context_args):
    """A phone-sized screen, touch and all."""
    return {**browser_context_args, "viewport": PHONE, "is_mobile": True, "has_touch": True}




def add_window(page, weekday: str, starts: str, ends: str) -> None:
    form = page.get_by_role("form", name="Add a window")
    form.get_by_label("Weekday").select_option(weekday)
    form.get_by_label("Start time").fill(starts)
    form.get_by_label("End time").fill(ends)
    form.get_by_role("button", name="Add window").click()
    added = page.get_by_role("status").filter(has_text=f"Window added: {weekday} {starts}–{ends}.")
    expect(added).to_be_visible()


def test_an_advocate_sets_windows_sees_the_preview_change_and_snoozes(
    page, live_url, make_advocate, smtp, deliver
):
    advocate = make_advocate(name="Dana Example", email="dana@example.com", timezone="Europe/Berlin")

    page.goto("/sign-in")
    page.get_by_label("E-mail address").fill(advocate.account.email)
    page.get_by_role("button", name="Send me a sign-in link").click()
    expect(page.get_by_role("heading", name="Check your e-mail")).to_be_visible()
    assert deliver().sent == 1
    page.goto(sign_in_link(smtp.wait_for(advocate.account.email)[-1]))
    page.get_by_role("button", name="Sign in", exact=True).click()
    expect(page.get_by_role("heading", name="Hello, Dana Example")).to_be_visible()

    page.get_by_role("link", name="Availability").click()
    expect(page.get_by_role("heading", name="Your availability")).to_be_visible()
    slots = page.locator("#preview time")
    expect(page.locator("#preview")).to_contain_text("You have no weekly windows yet")
    expect(slots).to_have_count(0)
    assert fits_the_screen(page)

    add_window(page, "Monday", "09:00", "11:00")
    expect(page.locator("#windows")).to_contain_text("Monday 09:00–11:00")
    after_one = slots.count()
    assert after_one > 0  # two Mondays in 14 days, 4 slots each, less what the notice takes

    add_window(page, "Thursday", "14:00", "16:00")
    expect(page.locator("#windows")).to_contain_text("Thursday 14:00–16:00")
    after_two = slots.count()
    assert after_two > after_one
    expect(page.locator("#preview").get_by_text("14:00").first).to_be_visible()
    assert fits_the_screen(page)

    until = datetime.now(ZoneInfo("Europe/Berlin")).date() + timedelta(days=30)
    snooze = page.get_by_role("form", name="Snooze")
    snooze.get_by_label("Snooze until").fill(until.isoformat())
    snooze.get_by_role("button", name="Snooze", exact=True).click()
    expect(page.get_by_role("status").filter(has_text=f"Snoozed until {until:%A %d %B %Y}")).to_be_visible()
    expect(page.locator("#preview")).to_contain_text("no slots are offered before then")
    expect(slots).to_have_count(0)
    expect(page.get_by_role("button", name="End the snooze now")).to_be_visible()
    assert fits_the_screen(page)
