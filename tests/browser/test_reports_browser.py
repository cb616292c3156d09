"""A coordinator opens each report from the menu, on a wide screen (1280 px) and on a phone
(390 px): the chart is drawn and visible, the table beside it (below it on the phone) has the
numbers, and the filter form, found by its labels, narrows the report. On the wide screen the
chart and the table stand side by side; on the phone they stack and nothing scrolls sideways."""

from __future__ import annotations

import os
from datetime import timedelta

import pytest
from playwright.sync_api import expect

from models import Role
from tests.browser.conftest import PHONE, fits_the_screen, sign_in
from tests.reports_data import FROM, TODAY, coverage_data, ledger_data, utilisation_data

pytestmark = pytest.mark.browser

WIDE = {"width": 1280, "height": 900}
SHOTS = os.environ.get("REPORT_SCREENSHOTS")  # a folder: save a screenshot of each page there


@pytest.fixture(params=[WIDE, PHONE], ids=["1280px", "390px"])
def browser_context_args(browser_context_args, request):
    phone = request.param == PHONE
    return {**browser_context_args, "viewport": request.param, "is_mobile": phone, "has_touch": phone}


def open_report(page, app, make_account, smtp, deliver, title: str) -> None:
    coordinator = make_account(role=Role.COORDINATOR, name="Cora Ordinator", email="cora@vouch.example")
    sign_in(page, coordinator, smtp, deliver)
    page.get_by_role("navigation", name="Sections").get_by_role("link", name="Reports").click()
    expect(page.get_by_role("heading", name="Reports", exact=True)).to_be_visible()
    page.get_by_role("link", name=title, exact=True).click()
    expect(page.get_by_role("heading", name=title, exact=True)).to_be_visible()


def side_by_side(page, chart, table) -> bool:
    """The chart's box is left of the table's, at the same height (else: stacked)."""
    a, b = chart.bounding_box(), table.bounding_box()
    return a["x"] + a["width"] <= b["x"] and abs(a["y"] - b["y"]) < 200


def check_layout(page, chart, table) -> None:
    expect(chart).to_be_visible()
    box = chart.bounding_box()
    assert box["width"] > 250 and box["height"] > 100  # drawn, not collapsed
    if page.viewport_size["width"] >= 1024:
        assert side_by_side(page, chart, table)
    else:
        assert chart.bounding_box()["y"] + chart.bounding_box()["height"] <= table.bounding_box()["y"] + 1
    assert fits_the_screen(page)


def shoot(page, name: str) -> None:
    if SHOTS:
        width = page.viewport_size["width"]
        page.screenshot(path=f"{SHOTS}/{name}-{width}.png", full_page=True)
        page.locator(".report-body").screenshot(path=f"{SHOTS}/{name}-{width}-body.png")


def test_coverage_shows_the_gaps(page, app, live_url, make_account, make_advocate, make_engagement,
                                 smtp, deliver):
    coverage_data(app, make_advocate, make_engagement)
    open_report(page, app, make_account, smtp, deliver, "Coverage")
    chart = page.get_by_role("img", name="Coverage in")
    table = page.locator("#table-coverage")
    check_layout(page, chart, table)
    expect(page.locator("#chart-coverage figcaption")).to_contain_text("5 advocates with a call left")
    healthcare = table.get_by_role("row").filter(has=page.get_by_role("rowheader", name="Healthcare"))
    expect(healthcare.locator("td").last).to_have_text("3")
    expect(table.locator("td.marked").first).to_contain_text("gap")
    shoot(page, "coverage")

    page.get_by_label("Industry", exact=True).select_option(label="Retail")
    page.get_by_role("button", name="Show").click()
    expect(table.get_by_role("rowheader")).to_have_text(["Retail", "All industries"])
    expect(table.get_by_role("row").last.locator("td").last).to_have_text("1")
    assert fits_the_screen(page)


def test_utilisation_flags_burnout_risk(page, app, live_url, make_account, make_advocate, make_request,
                                        make_ask, make_engagement, smtp, deliver):
    utilisation_data(app, make_advocate, make_request, make_ask, make_engagement)
    open_report(page, app, make_account, smtp, deliver, "Utilisation and burnout risk")
    page.get_by_label("From", exact=True).fill(FROM.isoformat())
    page.get_by_label("To", exact=True).fill(TODAY.isoformat())
    page.get_by_role("button", name="Show").click()
    chart = page.get_by_role("img", name="Calls in")
    table = page.locator("#table-utilisation")
    check_layout(page, chart, table)
    expect(page.get_by_text("3 of 5 advocates at burnout risk")).to_be_visible()
    expect(table.get_by_role("rowheader")).to_have_text(
        ["Bea · Bea Works burnout risk", "Cal · Cal Works burnout risk", "Dan · Dan Works",
         "Abe · Abe Works burnout risk", "Eve · Eve Works"])
    abe = table.get_by_role("row").filter(has=page.get_by_role("rowheader", name="Abe"))
    expect(abe).to_contain_text("at the limit")
    shoot(page, "utilisation")

    page.get_by_label("Tier", exact=True).select_option(label="Premier")
    page.get_by_role("button", name="Show").click()
    expect(table.get_by_role("rowheader")).to_have_text(["Dan · Dan Works"])
    assert fits_the_screen(page)


def test_the_asks_ledger_shows_fatigue_by_company(page, app, live_url, make_account, make_advocate,
                                                  make_request, make_ask, smtp, deliver):
    ledger_data(app, make_account, make_advocate, make_request, make_ask)
    open_report(page, app, make_account, smtp, deliver, "Asks ledger")
    chart = page.get_by_role("img", name="Asks per customer company")
    table = page.locator("#table-asks-ledger")
    check_layout(page, chart, table)
    acme = table.get_by_role("row").filter(has=page.get_by_role("rowheader", name="Acme Health"))
    expect(acme.locator("td").first).to_have_text("3")
    ledger = page.locator("#table-asks-ledger-1")
    # The last 90 days: the five asks of the last ten days, and Borealis's of 60 days ago.
    expect(ledger.locator("tbody tr")).to_have_count(6)
    expect(ledger.locator("tbody tr").first).to_contain_text("Tess Team")
    shoot(page, "asks-ledger")

    page.get_by_label("Region", exact=True).select_option(label="North America")
    page.get_by_role("button", name="Show").click()
    expect(table.get_by_role("rowheader")).to_have_text(["Borealis"])
    expect(ledger.locator("tbody tr")).to_have_count(2)
    # A backwards range is refused beside the field, and the report waits for a good one.
    page.get_by_label("From", exact=True).fill(TODAY.isoformat())
    page.get_by_label("To", exact=True).fill((TODAY - timedelta(days=3)).isoformat())
    page.get_by_role("button", name="Show").click()
    expect(page.get_by_text("The end date is on or after the start date.")).to_be_visible()
    expect(page.get_by_label("To", exact=True)).to_have_attribute("aria-invalid", "true")
    expect(page.get_by_text("Fix the filters above to see the report.")).to_be_visible()
    assert fits_the_screen(page)
