"""An admin, on a desktop screen and on a phone, opens "Perks and tiers" from the menu, adds a
perk with a limited stock through the form, finds it in the list with what is left, retires it
through its confirmation step, and changes a tier's quota on the tiers page."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from models import Perk, Role, Tier, db
from tests.browser.conftest import PHONE, fits_the_screen, sign_in

pytestmark = pytest.mark.browser

DESKTOP = {"width": 1280, "height": 900}


@pytest.mark.parametrize("screen", ["desktop", "phone"])
def test_an_admin_adds_and_retires_a_perk_and_changes_a_tier(
    app, new_context, live_url, make_account, smtp, deliver, restore_tiers, screen
):
    admin = make_account(role=Role.ADMIN, name="Ada Admin", email="ada@vouch.example")
    phone = screen == "phone"
    context = new_context(viewport=PHONE, is_mobile=True, has_touch=True) if phone else new_context(
        viewport=DESKTOP)
    page = context.new_page()
    sign_in(page, admin, smtp, deliver)

    page.get_by_role("navigation", name="Sections").get_by_role("link", name="Perks and tiers").click()
    expect(page.get_by_role("heading", name="Perks", exact=True)).to_be_visible()
    expect(page.locator("#offered")).to_contain_text("No perk is on offer yet.")
    page.get_by_role("button", name="Add a perk").click()

    form = page.get_by_role("form", name="Add a perk")
    form.get_by_label("Name").fill("Branded hoodie")
    form.get_by_label("Description (optional, advocates read it)").fill("A warm thank-you, in your size.")
    form.get_by_label("Lowest tier that gets it").select_option(label="Occasional")
    form.get_by_label("Redeemable with points").check()
    form.get_by_label("Points cost (redeemable perks only)").fill("150")
    form.get_by_label("Stock (redeemable perks only; empty: unlimited)").fill("25")
    assert fits_the_screen(page)
    form.get_by_role("button", name="Add the perk").click()

    expect(page.get_by_role("status")).to_contain_text("“Branded hoodie” is on offer to the Occasional tier")
    with app.app_context():
        perk_id = db.session.scalar(select(Perk.id).where(Perk.name == "Branded hoodie"))
        db.session.remove()
    row = page.locator(f"#perk-{perk_id}")
    expect(row).to_contain_text("Occasional tier and above")
    expect(row).to_contain_text("150 points")
    expect(row).to_contain_text("25 left")
    assert fits_the_screen(page)

    # Retiring waits for its confirmation.
    row.get_by_label("Retire Branded hoodie…", exact=True).click()
    step = page.get_by_role("form", name="Retire Branded hoodie")
    expect(step).to_contain_text("Advocates will no longer see it or redeem it.")
    assert fits_the_screen(page)
    step.get_by_role("button", name="Yes, retire it").click()
    expect(page.get_by_role("status")).to_contain_text("“Branded hoodie” is retired")
    expect(page.locator("#offered")).to_contain_text("No perk is on offer yet.")
    retired = page.locator("#retired").locator(f"#perk-{perk_id}")
    expect(retired).to_contain_text("retired")
    assert fits_the_screen(page)

    # The tiers: open the Active tier's form and raise its quota.
    page.get_by_role("link", name="The tiers: names, quotas, points thresholds and benefits").click()
    expect(page.get_by_role("heading", name="Tiers", exact=True)).to_be_visible()
    assert fits_the_screen(page)
    page.get_by_text("Edit the Active tier (rank 2)").click()
    tier_form = page.get_by_role("form", name="Edit the Active tier")
    tier_form.get_by_label("Calls a quarter (0 to 50)").fill("5")
    assert fits_the_screen(page)
    tier_form.get_by_role("button", name="Save the Active tier").click()
    expect(page.get_by_role("status")).to_contain_text("may take up to 5 calls a quarter from now on")
    with app.app_context():
        assert db.session.scalar(select(Tier.quarterly_quota).where(Tier.name == "Active")) == 5
        db.session.remove()
    context.close()
