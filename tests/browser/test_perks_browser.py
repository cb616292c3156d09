"""An advocate spends their points on a perk from a phone, and sees it in their redemptions."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from models import Perk, PerkKind, PointsEntry, PointsReason, Tier, db
from tests.browser.conftest import PHONE, fits_the_screen, sign_in_link

pytestmark = pytest.mark.browser


@pytest.fixture()
def browser_context_args(browser_context_args):
    """A phone-sized screen, touch and all."""
    return {**browser_context_args, "viewport": PHONE, "is_mobile": True, "has_touch": True}




def set_up_program(app, advocate_id: int) -> None:
    """Three perks (one locked for an Active advocate) and 200 points to spend."""
    with app.app_context():
        tier = {t.name: t for t in db.session.scalars(select(Tier))}
        db.session.add_all([
            Perk(name="Branded hoodie", description="A warm thank-you in your size.",
                 min_tier=tier["Occasional"], kind=PerkKind.REDEEMABLE, points_cost=150),
            Perk(name="Training credits", min_tier=tier["Active"], kind=PerkKind.REDEEMABLE, points_cost=600),
            Perk(name="Dinner with our CEO", min_tier=tier["Premier"], kind=PerkKind.REDEEMABLE,
                 points_cost=1000),
            PointsEntry(advocate_id=advocate_id, delta=200, reason=PointsReason.CASE_STUDY.value,
                        note="Published customer case study"),
        ])
        db.session.commit()
        db.session.remove()


def test_an_advocate_redeems_a_perk_they_can_afford(page, app, live_url, make_advocate, smtp, deliver):
    advocate = make_advocate(tier="Active", name="Dana Example", email="dana@example.com")
    set_up_program(app, advocate.id)

    page.goto("/sign-in")
    page.get_by_label("E-mail address").fill(advocate.account.email)
    page.get_by_role("button", name="Send me a sign-in link").click()
    expect(page.get_by_role("heading", name="Check your e-mail")).to_be_visible()
    assert deliver().sent == 1
    page.goto(sign_in_link(smtp.wait_for(advocate.account.email)[-1]))
    page.get_by_role("button", name="Sign in", exact=True).click()
    expect(page.get_by_role("heading", name="Hello, Dana Example")).to_be_visible()

    page.goto("/portal/perks")
    expect(page.get_by_role("heading", name="Your perks")).to_be_visible()
    expect(page.locator("#balance")).to_have_text("200 points")
    expect(page.locator("#redemptions")).to_contain_text("You have not redeemed a perk yet.")
    # A higher tier's perk is shown, locked, with the tier it needs; one out of reach says so.
    locked = page.locator("#locked li").filter(has_text="Dinner with our CEO")
    expect(locked).to_contain_text("Needs the Premier tier")
    training = page.locator("#redeem li").filter(has_text="Training credits")
    expect(training).to_contain_text("400 more points to go")
    expect(page.get_by_role("button", name="Redeem Training credits")).to_have_count(0)
    assert fits_the_screen(page)

    page.get_by_role("button", name="Redeem Branded hoodie").click()
    form = page.get_by_role("form", name="Redeem Branded hoodie")
    form.get_by_label("A note for your coordinator (optional)").fill("Size M, please.")
    form.get_by_role("button", name="Redeem for 150 points").click()

    flash = page.get_by_role("status").filter(has_text="You redeemed “Branded hoodie” for 150 points")
    expect(flash).to_contain_text("you have 50 points left")
    expect(page.locator("#balance")).to_have_text("50 points")
    row = page.locator("#redemptions").get_by_role("row").filter(has_text="Branded hoodie")
    expect(row).to_have_count(1)
    expect(row.get_by_role("cell").nth(1)).to_have_text("150")
    expect(row.get_by_role("cell").nth(2)).to_contain_text("requested")
    # Short of points now: the hoodie cannot be redeemed a second time.
    expect(page.get_by_role("button", name="Redeem Branded hoodie")).to_have_count(0)
    assert fits_the_screen(page)
