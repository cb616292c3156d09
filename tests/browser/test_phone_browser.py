"""A coordinator and an advocate on a 390 × 844 phone: every navigation item is on screen and no
page scrolls sideways, data tables stack into cards, and the confirmation steps (cancel a
request, remove a window) work by click and by keyboard."""

from __future__ import annotations

from datetime import time

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from models import (
    Perk,
    PerkKind,
    PointsEntry,
    PointsReason,
    Redemption,
    ReferenceRequest,
    RequestStatus,
    Role,
    Tier,
    WeeklyWindow,
    db,
)
from tests.browser.conftest import PHONE, fits_the_screen, sign_in

pytestmark = pytest.mark.browser


@pytest.fixture()
def browser_context_args(browser_context_args):
    """A phone-sized screen, touch and all."""
    return {**browser_context_args, "viewport": PHONE, "is_mobile": True, "has_touch": True}


def assert_navigation_on_screen(page) -> None:
    """Every item of the top bar and the section menu, and every link or button in them, is
    visible inside the viewport, and the page does not scroll sideways."""
    navigation = page.locator("header nav")
    items = navigation.locator("li").all() + navigation.locator("a, button").all()
    assert len(items) > 4
    for item in items:
        expect(item).to_be_visible()
        box = item.bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"], (item.inner_text(), box)
    assert fits_the_screen(page), page.url


def visit_every_section(page, expected: list[str]) -> None:
    sections = page.get_by_role("navigation", name="Sections")
    assert [link.inner_text() for link in sections.get_by_role("link").all()] == expected
    for name in expected:
        sections.get_by_role("link", name=name, exact=True).click()
        expect(sections.get_by_role("link", name=name, exact=True)).to_have_attribute("aria-current", "page")
        assert_navigation_on_screen(page)


def assert_stacked(table) -> None:
    """Each row is a card: its cells are blocks, one under the other, each headed by its
    column's name."""
    # The styles apply once the page has loaded: a click returns when the navigation commits,
    # and on a loaded machine the cells could be read before the stylesheet applied.
    table.page.wait_for_load_state()
    row = table.locator("tbody tr").first
    cells = row.locator("td").all()
    assert len(cells) > 2
    assert {cell.evaluate("e => getComputedStyle(e).display") for cell in cells} == {"block"}
    tops = [cell.bounding_box()["y"] for cell in cells]
    assert tops == sorted(tops) and len(set(tops)) == len(tops), tops
    label = cells[0].evaluate("e => getComputedStyle(e, '::before').content")
    assert label == f'"{cells[0].get_attribute("data-label")}"'
    box = row.bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"]


def test_a_coordinator_on_a_phone_reads_stacked_tables_and_cancels_a_request_by_keyboard(
    app, page, live_url, make_account, make_advocate, make_request, smtp, deliver
):
    coordinator = make_account(role=Role.COORDINATOR, name="Cora Ordinator-Fitzwilliam",
                               email="cora@vouch.example")
    make_advocate(name="Dana Example", company="Acme Health", tier="Active")
    make_advocate(name="Fay Paused", company="Bolt Retail", tier="Premier", status="paused")
    request = make_request(format="call", prospect_company="Zephyr Hospitals AG")

    sign_in(page, coordinator, smtp, deliver)
    assert_navigation_on_screen(page)
    visit_every_section(page, ["Dashboard", "Requests", "Advocates", "Candidates", "Tier changes",
                               "Redemptions", "Perks and tiers", "Reports", "Import", "API tokens",
                               "Second factor"])

    page.get_by_role("navigation", name="Sections").get_by_role("link", name="Advocates").click()
    pool = page.locator("table.pool")
    assert_stacked(pool)
    dana = pool.locator("tbody tr").filter(has_text="Dana Example")
    expect(dana.locator('td[data-label="Tier"]')).to_have_text("Active tier")
    expect(dana.locator('td[data-label="Status"]')).to_contain_text("In the program")

    page.get_by_role("navigation", name="Sections").get_by_role("link", name="Requests").click()
    assert_stacked(page.locator("table.queue"))
    page.get_by_role("link", name="Zephyr Hospitals AG").click()
    expect(page.get_by_role("heading", name="Phone call for Zephyr Hospitals AG")).to_be_visible()
    assert_navigation_on_screen(page)

    # Closed, the step shows only its summary; the real button is out of reach.
    step = page.locator("details#cancel-request")
    summary = step.locator("summary")
    confirm = step.get_by_role("button", name="Yes, cancel the request")
    expect(summary).to_have_text("Cancel this request…")
    expect(confirm).to_be_hidden()

    # By keyboard: the summary takes focus and Enter opens it; the reason is found by its label.
    summary.focus()
    expect(summary).to_be_focused()
    page.keyboard.press("Enter")
    expect(step).to_have_attribute("open", "")
    expect(step).to_contain_text("Cancel the request? The asks still waiting for an answer are withdrawn")
    step.get_by_label("Why is it no longer needed? (optional)").fill("The prospect chose to wait a year.")
    assert fits_the_screen(page)
    confirm.focus()
    page.keyboard.press("Enter")

    expect(page.get_by_role("status").filter(has_text="The request is cancelled.")).to_be_visible()
    expect(page.locator("hgroup")).to_contain_text("Cancelled")
    expect(page.locator("#timeline")).to_contain_text("The prospect chose to wait a year.")
    expect(page.locator("details#cancel-request")).to_have_count(0)
    with app.app_context():
        assert db.session.get(ReferenceRequest, request.id).status is RequestStatus.CANCELLED


def test_an_advocate_on_a_phone_reads_stacked_tables_and_removes_a_window_by_touch(
    app, page, live_url, make_advocate, smtp, deliver
):
    dana = make_advocate(name="Dana Example", email="dana@example.com", tier="Active",
                         timezone="Europe/Berlin")
    with app.app_context():
        tier = db.session.scalar(select(Tier).where(Tier.name == "Active"))
        perk = Perk(name="Training credits", min_tier=tier, kind=PerkKind.REDEEMABLE, points_cost=60)
        db.session.add_all([
            WeeklyWindow(advocate_id=dana.id, weekday=0, starts=time(9), ends=time(11)),
            WeeklyWindow(advocate_id=dana.id, weekday=3, starts=time(14), ends=time(16)),
            PointsEntry(advocate_id=dana.id, delta=100, reason=PointsReason.CALL_COMPLETED.value),
            PointsEntry(advocate_id=dana.id, delta=-60, reason=PointsReason.REDEMPTION.value),
            Redemption(advocate_id=dana.id, perk=perk, points_spent=60),
        ])
        db.session.commit()

    sign_in(page, dana.account, smtp, deliver)
    expect(page.locator("p.lede")).to_contain_text("Active tier · In the program")
    assert_navigation_on_screen(page)
    visit_every_section(page, ["Home", "Asks", "Availability", "Profile", "Topics & formats", "Perks",
                               "History", "Privacy"])

    sections = page.get_by_role("navigation", name="Sections")
    sections.get_by_role("link", name="History").click()
    assert_stacked(page.locator("table.ledger"))
    sections.get_by_role("link", name="Perks").click()
    assert_stacked(page.locator("#redemptions table"))

    sections.get_by_role("link", name="Availability").click()
    windows = page.locator("#windows")
    expect(windows).to_contain_text("Monday 09:00–11:00")
    expect(windows).to_contain_text("Thursday 14:00–16:00")
    # Times are typed as 24-hour text, whatever the browser's locale.
    start = page.get_by_role("form", name="Add a window").get_by_label("Start time")
    expect(start).to_have_attribute("type", "text")
    expect(start).to_have_attribute("placeholder", "HH:MM")

    monday = page.locator("li", has_text="Monday 09:00–11:00")
    step = monday.locator("details.confirm")
    confirm = step.get_by_role("button", name="Yes, remove it")
    expect(confirm).to_be_hidden()
    monday.get_by_label("Remove the Monday 09:00–11:00 window…").tap()
    expect(step).to_contain_text("Remove the Monday 09:00–11:00 window? Prospects can no longer book calls")
    expect(confirm).to_be_visible()
    assert fits_the_screen(page)
    confirm.tap()

    expect(page.get_by_role("status").filter(has_text="Window removed.")).to_be_visible()
    expect(windows).not_to_contain_text("Monday 09:00–11:00")
    expect(windows).to_contain_text("Thursday 14:00–16:00")
    assert_navigation_on_screen(page)
    with app.app_context():
        left = select(WeeklyWindow.weekday).where(WeeklyWindow.advocate_id == dana.id)
        assert db.session.scalars(left).all() == [3]
