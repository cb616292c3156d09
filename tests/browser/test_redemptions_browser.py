"""A coordinator, on a phone, opens the redemption queue from the menu and rejects a redemption
with a note through its confirmation step; the advocate's points come back."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from models import Perk, PerkKind, PointsEntry, PointsReason, Redemption, RedemptionStatus, Role, Tier, db
from tests.browser.conftest import PHONE, fits_the_screen, sign_in
from workflows import perks as flow
from workflows import points

pytestmark = pytest.mark.browser


@pytest.fixture()
def browser_context_args(browser_context_args):
    """A phone-sized screen, touch and all."""
    return {**browser_context_args, "viewport": PHONE, "is_mobile": True, "has_touch": True}


def redeemed(app, advocate_id: int) -> int:
    """200 points, a hoodie for 150, redeemed with a note."""
    with app.app_context():
        tier = db.session.scalar(select(Tier).where(Tier.name == "Occasional"))
        perk = Perk(name="Branded hoodie", min_tier=tier, kind=PerkKind.REDEEMABLE, points_cost=150)
        db.session.add_all([perk, PointsEntry(advocate_id=advocate_id, delta=200,
                                              reason=PointsReason.CASE_STUDY.value)])
        db.session.commit()
        redemption_id = flow.redeem(advocate_id, perk.id, "Size M, please.").redemption_id
        db.session.remove()
    return redemption_id


def test_a_coordinator_rejects_a_redemption_with_a_note(page, app, live_url, make_account, make_advocate,
                                                         smtp, deliver):
    coordinator = make_account(role=Role.COORDINATOR, name="Cora Ordinator", email="cora@vouch.example")
    dana = make_advocate(tier="Active", name="Dana Example", email="dana@example.com", company="Acme Health")
    redemption_id = redeemed(app, dana.id)

    sign_in(page, coordinator, smtp, deliver)
    page.get_by_role("navigation", name="Sections").get_by_role("link", name="Redemptions").click()
    expect(page.get_by_role("heading", name="Redemptions", exact=True)).to_be_visible()
    row = page.locator(f"#redemption-{redemption_id}")
    expect(row).to_contain_text("Dana Example")
    expect(row).to_contain_text("Branded hoodie")
    expect(row).to_contain_text("Size M, please.")
    assert fits_the_screen(page)

    # The note and the real button are folded away until the step is opened.
    note = row.get_by_label("Why not? (optional, the advocate reads it)")
    expect(note).to_be_hidden()
    row.get_by_label("Reject Dana Example’s Branded hoodie…", exact=True).click()
    step = page.get_by_role("form", name="Reject Dana Example’s Branded hoodie")
    expect(step).to_contain_text("The 150 points go back to Dana Example")
    step.get_by_label("Why not? (optional, the advocate reads it)").fill("Out of stock until March, sorry.")
    assert fits_the_screen(page)
    step.get_by_role("button", name="Yes, reject it").click()

    flash = page.get_by_role("status").filter(has_text="Dana Example’s “Branded hoodie” is rejected")
    expect(flash).to_contain_text("the 150 points are back in their balance")
    expect(page.locator("#requested")).to_contain_text("Nothing is waiting")
    decided = page.locator("#decided").locator(f"#redemption-{redemption_id}")
    expect(decided).to_contain_text("rejected")
    expect(decided).to_contain_text("Out of stock until March, sorry.")
    assert fits_the_screen(page)

    with app.app_context():
        redemption = db.session.get(Redemption, redemption_id)
        assert (redemption.status, redemption.decision_note) == (
            RedemptionStatus.REJECTED, "Out of stock until March, sorry."
        )
        assert points.balance(dana.id) == 200
        db.session.remove()
