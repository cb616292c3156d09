"""A coordinator reads the funnel, satisfaction and influence reports on a wide screen (1280 px)
and on a phone (390 px): picks the dates and an industry with the form, reads the chart (an
image named by its title, with its text alternative) beside the table, and downloads the CSV."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import expect

from models import Role
from tests import report_scenario
from tests.browser.conftest import PHONE, fits_the_screen, sign_in

pytestmark = pytest.mark.browser

WIDE = {"width": 1280, "height": 900}
SCREENS = {"wide": {"viewport": WIDE}, "phone": {"viewport": PHONE, "is_mobile": True, "has_touch": True}}
# report link on the index → (chart title, words of its text alternative, a table row's words)
REPORTS = {
    "Funnel and time to fulfil": (
        "Requests reaching each step",
        "Of 6 requests, 5 asked, 4 accepted, 4 booked, 3 completed.",
        "Asked 5 83.3 Request → first ask 4",
    ),
    "Satisfaction": (
        "Prospects' average rating by industry of the advocate's company",
        "Prospects' average rating 3 of 5 from 2 answers",
        "Region North America 2 1 3 1 0 1",
    ),
    "Influence on deals": (
        "Win rate with and without a completed reference",
        "With a completed reference: 66.7% won (2 of 3 decided), pipeline 170,000.50. Without: 0% won",
        "Region Europe Without 2 0 1 1 0 70,000.00 0.00",
    ),
}


@pytest.mark.parametrize("screen", SCREENS)
@pytest.mark.parametrize("report", REPORTS)
def test_a_coordinator_reads_a_report_and_downloads_its_table(
    browser, app, live_url, make_account, make_advocate, make_request, make_ask, smtp, deliver, screen, report
):
    report_scenario.build(app, make_advocate, make_request, make_ask)
    coordinator = make_account(role=Role.COORDINATOR, name="Cora Ordinator", email="cora@vouch.example")
    context = browser.new_context(base_url=live_url, **SCREENS[screen])
    try:
        page = context.new_page()
        sign_in(page, coordinator, smtp, deliver)
        menu = page.get_by_role("navigation", name="Sections")
        if screen == "phone" and not menu.get_by_role("link", name="Reports").is_visible():
            menu.get_by_text("Menu").click()
        menu.get_by_role("link", name="Reports").click()
        page.get_by_role("link", name=report, exact=True).click()
        expect(page.get_by_role("heading", name=report, exact=True)).to_be_visible()

        form = page.get_by_role("form", name="Filter the report")
        form.get_by_label("From").fill("2026-03-01")
        form.get_by_label("To").fill("2026-04-30")
        form.get_by_label("Industry").select_option(label="Healthcare")
        form.get_by_role("button", name="Show").click()

        title, summary, row = REPORTS[report]
        chart = page.get_by_role("img", name=title)
        expect(chart).to_be_visible()
        expect(page.locator("figure.report-chart figcaption")).to_contain_text(summary)
        expect(page.locator("table.report-table").first).to_contain_text(row.split()[0])
        words = " ".join(page.locator("table.report-table").first.inner_text().split())
        assert " ".join(row.split()) in words, words
        expect(page.get_by_role("heading", name="How this report counts")).to_be_visible()
        assert fits_the_screen(page)

        with page.expect_download() as download:
            page.get_by_role("link", name="Download the table (CSV)").click()
        text = Path(download.value.path()).read_text(encoding="utf-8-sig")
        assert text.splitlines()[0].split(",")[0] in ("Step", "By")
        assert "industry=" in download.value.url
    finally:
        context.close()
