"""A coordinator, on a laptop and on a phone, manages an advocate from their page: changes the
tier and pauses them through the confirmation steps, awards points for a case study and adds an
internal note; each action ends with its flash and a line on the timeline, and nothing scrolls
sideways."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from models import Advocate, AdvocateStatus, PointsEntry, Role, db
from tests.browser.conftest import PHONE, fits_the_screen, sign_in

pytestmark = pytest.mark.browser
LAPTOP = {"width": 1280, "height": 900}


@pytest.fixture(params=[LAPTOP, PHONE], ids=["1280px", "390px"])
def screen(request):
    return request.param


@pytest.fixture()
def browser_context_args(browser_context_args, screen):
    touch = {"is_mobile": True, "has_touch": True} if screen is PHONE else {}
    return {**browser_context_args, "viewport": screen, **touch}


def test_a_coordinator_changes_the_tier_pauses_awards_points_and_notes(page, app, live_url, make_account,
                                                                        make_advocate, smtp, deliver):
    coordinator = make_account(role=Role.COORDINATOR, name="Cora Ordinator", email="cora@vouch.example")
    dana = make_advocate(tier="Premier", quarterly_cap=5, name="Dana Example", email="dana@example.com",
                         company="Acme Health")

    sign_in(page, coordinator, smtp, deliver)
    page.get_by_role("navigation", name="Sections").get_by_role("link", name="Advocates").click()
    page.get_by_role("link", name="Dana Example").click()
    expect(page.get_by_role("heading", name="Dana Example", exact=True)).to_be_visible()
    assert fits_the_screen(page)

    # The tier: the select and the button are folded away until the step is opened.
    tier = page.get_by_label("New tier")
    expect(tier).to_be_hidden()
    page.locator("#step-tier > summary").click()
    step = page.get_by_role("form", name="Change Dana Example’s tier")
    step.get_by_label("New tier").select_option(label="Active (4 calls a quarter)")
    step.get_by_label("Why? (optional, for the program team)").fill("Fewer calls this year")
    assert fits_the_screen(page)
    step.get_by_role("button", name="Yes, change the tier").click()
    expect(page.get_by_role("status").filter(has_text="Moved to the Active tier")).to_contain_text(
        "Their personal cap was lowered from 5 to 4")
    expect(page.locator("#timeline")).to_contain_text("Premier → Active")

    # Pausing asks first, then says what happened.
    page.get_by_label("Pause Dana Example…", exact=True).click()
    step = page.get_by_role("form", name="Pause Dana Example")
    expect(step).to_contain_text("Nobody can ask them until you resume them.")
    step.get_by_label("Why? (optional, for the program team: the advocate does not read it)").fill("On leave")
    step.get_by_role("button", name="Yes, pause Dana Example").click()
    expect(page.get_by_role("status").filter(has_text="Dana Example is paused")).to_be_visible()
    expect(page.locator("#actions")).to_contain_text("On leave")
    expect(page.get_by_label("Resume Dana Example…", exact=True)).to_be_visible()

    # Points and a note: plain forms.
    award = page.get_by_role("form", name="Award points to Dana Example")
    award.get_by_label("For").select_option("case_study")
    award.get_by_label("What was it? (the advocate reads it in their points history)").fill("Acme case study")
    award.get_by_role("button", name="Award the points").click()
    expect(page.get_by_role("status").filter(has_text="points awarded to Dana Example")).to_be_visible()
    note = page.get_by_role("form", name="Add a note on Dana Example")
    note.get_by_label("Note (staff only: the advocate never sees it)").fill("Happy to host a site visit.")
    note.get_by_role("button", name="Add the note").click()
    expect(page.get_by_role("status").filter(has_text="The note is saved")).to_be_visible()
    timeline = page.locator("#timeline")
    expect(timeline).to_contain_text("Happy to host a site visit.")
    expect(timeline).to_contain_text("Acme case study")
    assert fits_the_screen(page)

    with app.app_context():
        advocate = db.session.get(Advocate, dana.id)
        assert (advocate.status, advocate.tier.name, advocate.quarterly_cap) == (
            AdvocateStatus.PAUSED, "Active", 4)
        assert db.session.scalar(select(PointsEntry.note)) == "Acme case study"
        db.session.remove()
    deliver()
    subjects = {m["Subject"] for m in smtp.wait_for("dana@example.com", count=2)}
    assert {"Your tier is now Active", "Your reference profile is paused"} <= subjects
