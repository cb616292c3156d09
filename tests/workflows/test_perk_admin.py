"""The perks catalogue as an admin keeps it (``workflows.perks``): the rules of a perk's fields,
creating, editing and retiring (each audited), stock that runs out and comes back when a
redemption is rejected, and two advocates redeeming the last unit at once; and the tiers
(``workflows.tiers``): their fields, rising thresholds, unique names, quotas that apply at once."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import event, func, select

from models import (
    Advocate,
    AuditEvent,
    Perk,
    PerkKind,
    PointsEntry,
    PointsReason,
    Redemption,
    Role,
    Tier,
    db,
)
from workflows import perks as flow
from workflows import submissions
from workflows import tiers as tier_flow
from workflows.submissions import Once

TIMEOUT = 15  # bound on every wait, so that a lock never released fails instead of hanging


# --- helpers ---------------------------------------------------------------------------------


def tier_id(app, name: str) -> int:
    with app.app_context():
        found = db.session.scalar(select(Tier.id).where(Tier.name == name))
        db.session.remove()
    return found


def fields(app, **changes) -> dict[str, str]:
    """The perk form as typed: a redeemable perk of the Active tier, with ``changes``."""
    return {"name": "Branded hoodie", "description": "A warm thank-you.",
            "min_tier": str(tier_id(app, "Active")), "kind": "redeemable", "points_cost": "150", "stock": "",
            **changes}


def typed(app, **changes) -> flow.PerkInput:
    return flow.parse_perk(fields(app, **changes))


def add_perk(app, admin, **changes) -> int:
    with app.app_context():
        perk_id = flow.create_perk(flow.parse_perk(fields(app, **changes)), by=admin).id
        db.session.remove()
    return perk_id


def give_points(app, advocate_id: int, amount: int) -> None:
    with app.app_context():
        db.session.add(PointsEntry(advocate_id=advocate_id, delta=amount,
                                   reason=PointsReason.CASE_STUDY.value))
        db.session.commit()
        db.session.remove()


def events(app, kind: str) -> list[AuditEvent]:
    with app.app_context():
        found = list(db.session.scalars(
            select(AuditEvent).where(AuditEvent.kind == kind).order_by(AuditEvent.id)
        ))
        db.session.expunge_all()
    return found


@pytest.fixture()
def admin(make_account):
    return make_account(role=Role.ADMIN, name="Ada Admin")


# --- the fields ------------------------------------------------------------------------------


def test_a_redeemable_perk_and_a_benefit_parse(app_context, app):
    hoodie = flow.parse_perk(fields(app, name="  Branded   hoodie ", stock="20"))
    assert hoodie == flow.PerkInput("Branded hoodie", "A warm thank-you.", tier_id(app, "Active"),
                                    PerkKind.REDEEMABLE, 150, 20)
    briefing = flow.parse_perk(fields(app, kind="benefit", points_cost="", stock="", min_tier=str(
        tier_id(app, "Premier"))))
    assert (briefing.kind, briefing.points_cost, briefing.stock) == (PerkKind.BENEFIT, None, None)
    assert flow.parse_perk(fields(app, stock="0")).stock == 0  # none on offer (yet): allowed


@pytest.mark.parametrize(("changes", "field", "message"), [
    ({"name": ""}, "name", "Give the perk a name"),
    ({"name": "   "}, "name", "Give the perk a name"),
    ({"name": "x" * 121}, "name", "120 characters or fewer"),
    ({"name": "Hoo\x00die"}, "name", "NUL character"),
    ({"description": "bad \ud800 text"}, "description", "lone UTF-16 surrogate"),
    ({"description": "x" * 1001}, "description", "1000 characters or fewer"),
    ({"min_tier": ""}, "min_tier", "Pick the lowest tier"),
    ({"min_tier": "999999"}, "min_tier", "Pick the lowest tier"),
    ({"min_tier": "99999999999999999999"}, "min_tier", "Pick the lowest tier"),
    ({"min_tier": "Active"}, "min_tier", "Pick the lowest tier"),
    ({"kind": "gift"}, "kind", "standing benefit of the tier or redeemable"),
    ({"kind": ""}, "kind", "standing benefit of the tier or redeemable"),
    ({"points_cost": ""}, "points_cost", "whole number from 1 to 1,000,000"),
    ({"points_cost": "0"}, "points_cost", "whole number from 1 to 1,000,000"),
    ({"points_cost": "-5"}, "points_cost", "whole number from 1 to 1,000,000"),
    ({"points_cost": "1.5"}, "points_cost", "whole number from 1 to 1,000,000"),
    ({"points_cost": "²"}, "points_cost", "whole number from 1 to 1,000,000"),
    ({"points_cost": "1e3"}, "points_cost", "whole number from 1 to 1,000,000"),
    ({"points_cost": "99999999999999999999"}, "points_cost", "whole number from 1 to 1,000,000"),
    ({"kind": "benefit", "points_cost": "10"}, "points_cost", "A standing benefit costs no points"),
    ({"stock": "-1"}, "stock", "whole number from 0 to 1,000,000"),
    ({"stock": "ten"}, "stock", "whole number from 0 to 1,000,000"),
    ({"stock": "1000001"}, "stock", "whole number from 0 to 1,000,000"),
    ({"stock": "99999999999999999999"}, "stock", "whole number from 0 to 1,000,000"),
    ({"kind": "benefit", "points_cost": "", "stock": "5"}, "stock", "has no stock"),
])
def test_bad_fields_are_refused_naming_the_field(app_context, app, changes, field, message):
    with pytest.raises(flow.PerkInvalid) as refused:
        flow.parse_perk(fields(app, **changes))
    assert message in " ".join(refused.value.errors[field])
    assert list(refused.value.errors) == [field]


def test_every_field_at_fault_is_named_at_once(app_context, app):
    with pytest.raises(flow.PerkInvalid, match="Some fields need another look") as refused:
        flow.parse_perk({"name": "", "min_tier": "0", "kind": "redeemable", "points_cost": "x", "stock": "-"})
    assert set(refused.value.errors) == {"name", "min_tier", "points_cost", "stock"}


# --- creating, editing, retiring -------------------------------------------------------------


def test_creating_a_perk_is_audited_and_the_same_key_twice_creates_one(app, admin):
    with app.app_context():
        data = flow.parse_perk(fields(app, stock="20"))
        perk = flow.create_perk(data, by=admin, once=Once("perk-form", "key-1"))
        assert (perk.name, perk.kind, perk.points_cost, perk.stock, perk.active) == (
            "Branded hoodie", PerkKind.REDEEMABLE, 150, 20, True)
        with pytest.raises(submissions.AlreadySubmitted) as again:
            flow.create_perk(data, by=admin, once=Once("perk-form", "key-1"))
        assert again.value.submission.resource_id == perk.id
        assert db.session.scalar(select(func.count()).select_from(Perk)) == 1
        db.session.remove()
    [created] = events(app, "perk.created")
    assert (created.actor_id, created.subject) == (admin.id, f"perk:{perk.id}")
    assert created.detail["perk"]["name"] == "Branded hoodie" and created.detail["perk"]["stock"] == 20


def test_editing_records_what_changed_and_nothing_when_nothing_did(app, admin):
    perk_id = add_perk(app, admin)
    with app.app_context():
        premier = tier_id(app, "Premier")
        new = typed(app, points_cost="200", min_tier=str(premier), stock="5")
        changed = flow.edit_perk(perk_id, new, by=admin)
        assert changed.changes == {"points_cost": [150, 200], "stock": [None, 5],
                                   "min_tier_id": [tier_id(app, "Active"), premier]}
        perk = changed.perk
        assert (perk.points_cost, perk.min_tier.name, perk.stock) == (200, "Premier", 5)
        assert flow.edit_perk(perk_id, new, by=admin).changes == {}
        # A redeemable perk never redeemed may become a standing benefit.
        benefit = flow.edit_perk(perk_id, typed(app, kind="benefit", points_cost="", stock=""), by=admin)
        assert (benefit.perk.kind, benefit.perk.points_cost) == (PerkKind.BENEFIT, None)
        db.session.remove()
    assert [e.detail["changes"] for e in events(app, "perk.changed")] == [
        {"points_cost": [150, 200], "min_tier_id": [tier_id(app, "Active"), tier_id(app, "Premier")],
         "stock": [None, 5]},
        {"min_tier_id": [tier_id(app, "Premier"), tier_id(app, "Active")], "kind": ["redeemable", "benefit"],
         "points_cost": [200, None], "stock": [5, None]},
    ]


def test_an_edit_cannot_take_back_what_was_claimed(app, admin, make_advocate):
    perk_id = add_perk(app, admin, stock="3")
    advocate = make_advocate(tier="Active")
    give_points(app, advocate.id, 300)
    with app.app_context():
        flow.redeem(advocate.id, perk_id)
        flow.redeem(advocate.id, perk_id)
        with pytest.raises(flow.PerkInvalid, match="2 of “Branded hoodie” have been claimed") as refused:
            flow.edit_perk(perk_id, typed(app, stock="1"), by=admin)
        assert refused.value.field == "stock"
        with pytest.raises(flow.PerkInvalid, match="stays redeemable") as refused:
            flow.edit_perk(perk_id, flow.parse_perk(fields(app, kind="benefit", points_cost="")), by=admin)
        assert refused.value.field == "kind"
        assert flow.edit_perk(perk_id, flow.parse_perk(fields(app, stock="2")), by=admin).perk.stock == 2
        assert flow.edit_perk(perk_id, flow.parse_perk(fields(app, stock="")), by=admin).perk.stock is None
        db.session.remove()


def test_a_retired_perk_is_no_longer_offered_but_stays_in_the_history(app, admin, make_advocate):
    perk_id = add_perk(app, admin)
    advocate = make_advocate(tier="Active")
    give_points(app, advocate.id, 300)
    with app.app_context():
        redemption_id = flow.redeem(advocate.id, perk_id).redemption_id
        retired = flow.retire_perk(perk_id, by=admin)
        assert not retired.active and retired.retired_at is not None
        with pytest.raises(flow.RedemptionError, match="no longer offered"):
            flow.redeem(advocate.id, perk_id)
        with pytest.raises(flow.PerkRetired, match="retired already"):
            flow.retire_perk(perk_id, by=admin)
        with pytest.raises(flow.PerkRetired, match="can no longer be changed"):
            flow.edit_perk(perk_id, flow.parse_perk(fields(app)), by=admin)
        with pytest.raises(flow.NotFound):
            flow.retire_perk(999_999, by=admin)
        # The advocate's page: not on offer, still in their redemptions; the admin's list: retired.
        page = flow.overview(advocate.id)
        assert [o.perk.id for o in page.offers] == []
        assert [r.perk.name for r in page.redemptions] == ["Branded hoodie"]
        catalogue = flow.catalogue()
        assert catalogue.offered == []
        assert [(r.perk.id, r.claimed) for r in catalogue.retired] == [(perk_id, 1)]
        # A redemption waiting when the perk was retired can still be decided.
        flow.reject(redemption_id, by=admin, note="We stopped offering it.")
        db.session.remove()
    [event_] = events(app, "perk.retired")
    assert (event_.actor_id, event_.subject, event_.detail) == (admin.id, f"perk:{perk_id}",
                                                                {"name": "Branded hoodie"})


# --- stock -----------------------------------------------------------------------------------


def test_stock_runs_out_and_a_rejection_gives_its_unit_back(app, admin, make_advocate):
    perk_id = add_perk(app, admin, stock="2", points_cost="10")
    first, second = make_advocate(tier="Active"), make_advocate(tier="Premier")
    give_points(app, first.id, 100)
    give_points(app, second.id, 100)
    with app.app_context():
        kept = flow.redeem(first.id, perk_id).redemption_id
        returned = flow.redeem(second.id, perk_id).redemption_id
        assert flow.overview(first.id).offers[0].left == 0
        with pytest.raises(flow.OutOfStock, match="all 2 have been claimed"):
            flow.redeem(first.id, perk_id)
        flow.fulfil(kept, by=admin)
        flow.reject(returned, by=admin)
        assert [(r.claimed, r.left) for r in flow.catalogue().offered] == [(1, 1)]
        offer = flow.overview(second.id).offers[0]
        assert (offer.left, offer.refusal) == (1, None)
        flow.redeem(second.id, perk_id)
        with pytest.raises(flow.OutOfStock):
            flow.redeem(first.id, perk_id)
        db.session.remove()


def test_out_of_stock_comes_before_not_enough_points():
    tier = Tier(rank=2, name="Active", quarterly_quota=4)
    perk = Perk(name="Hoodie", min_tier=tier, kind=PerkKind.REDEEMABLE, points_cost=150, stock=3, active=True)
    assert flow.units_left(perk, 1) == 2 and flow.units_left(perk, 5) == 0
    assert flow.units_left(Perk(name="Mug", stock=None), 99) is None
    flow.check_redeemable(perk, tier, 150, claimed=2)
    with pytest.raises(flow.OutOfStock, match="all 3 have been claimed"):
        flow.check_redeemable(perk, tier, 0, claimed=3)


def hold_before_commit(holding: threading.Event, release: threading.Event):
    """A listener that keeps this thread's transaction open (its locks held) until ``release``."""

    def hold(_session):
        holding.set()
        assert release.wait(TIMEOUT)

    return hold


def test_a_second_advocate_waits_for_the_one_taking_the_last_unit_and_is_refused(app, admin, make_advocate):
    """The advocates' locks are two different rows: only the perk's lock makes the second wait."""
    perk_id = add_perk(app, admin, stock="1", points_cost="10")
    first, second = make_advocate(tier="Active"), make_advocate(tier="Active")
    for advocate in (first, second):
        give_points(app, advocate.id, 100)
    holding, release, second_done = threading.Event(), threading.Event(), threading.Event()
    outcomes: dict[str, str] = {}
    errors: list[BaseException] = []

    def run(name: str, advocate_id: int, hold: bool) -> None:
        try:
            with app.app_context():
                try:
                    if hold:
                        event.listen(db.session(), "before_commit", hold_before_commit(holding, release))
                    flow.redeem(advocate_id, perk_id)
                    outcomes[name] = "redeemed"
                except flow.OutOfStock as refusal:
                    outcomes[name] = str(refusal)
                finally:
                    db.session.remove()
                    if not hold:
                        second_done.set()
        except BaseException as error:  # handed to the test's thread below
            errors.append(error)

    threads = [threading.Thread(target=run, args=("first", first.id, True), daemon=True)]
    threads[0].start()
    try:
        assert holding.wait(TIMEOUT), "the first redemption never reached its commit"
        threads.append(threading.Thread(target=run, args=("second", second.id, False), daemon=True))
        threads[1].start()
        assert not second_done.wait(1.0), "the second redemption did not wait for the first one's lock"
    finally:
        release.set()
        for thread in threads:
            thread.join(TIMEOUT)
    assert not any(thread.is_alive() for thread in threads)
    assert errors == []
    assert outcomes["first"] == "redeemed"
    assert "all 1 have been claimed" in outcomes["second"]
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Redemption)) == 1
        db.session.remove()


def test_many_advocates_redeeming_at_once_never_take_more_than_the_stock(app, admin, make_advocate):
    stock, crowd = 2, 6
    perk_id = add_perk(app, admin, stock=str(stock), points_cost="10")
    advocates = [make_advocate(tier="Active") for _ in range(crowd)]
    for advocate in advocates:
        give_points(app, advocate.id, 100)
    barrier = threading.Barrier(crowd, timeout=TIMEOUT)
    outcomes: list[str] = []
    errors: list[BaseException] = []

    def redeem(advocate_id: int) -> None:
        try:
            with app.app_context():
                try:
                    barrier.wait()
                    flow.redeem(advocate_id, perk_id)
                    outcomes.append("redeemed")
                except flow.OutOfStock:
                    outcomes.append("out of stock")
                finally:
                    db.session.remove()
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=redeem, args=(a.id,), daemon=True) for a in advocates]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(TIMEOUT * 2)
    assert not any(thread.is_alive() for thread in threads)
    assert errors == []
    assert sorted(outcomes) == ["out of stock"] * (crowd - stock) + ["redeemed"] * stock
    with app.app_context():
        assert flow.claimed_units(perk_id) == stock
        # Only the winners paid.
        debits = select(func.count()).select_from(PointsEntry).where(PointsEntry.delta < 0)
        assert db.session.scalar(debits) == stock
        db.session.remove()


# --- tiers -----------------------------------------------------------------------------------


def tier_fields(app, tier_name: str, /, **changes) -> dict[str, str]:
    """The tier form as typed: ``tier_name``'s values, with ``changes``."""
    with app.app_context():
        tier = db.session.scalar(select(Tier).where(Tier.name == tier_name))
        typed = {"name": tier.name, "quarterly_quota": str(tier.quarterly_quota),
                 "points_threshold": str(tier.points_threshold), "benefits": "\n".join(tier.benefits),
                 "description": tier.description}
        db.session.remove()
    return {**typed, **changes}


@pytest.mark.parametrize(("changes", "field", "message"), [
    ({"name": ""}, "name", "Give the tier a name"),
    ({"name": "x" * 61}, "name", "60 characters or fewer"),
    ({"name": "Pre\x00mier"}, "name", "NUL character"),
    ({"quarterly_quota": "51"}, "quarterly_quota", "from 0 to 50"),
    ({"quarterly_quota": "-1"}, "quarterly_quota", "from 0 to 50"),
    ({"quarterly_quota": ""}, "quarterly_quota", "from 0 to 50"),
    ({"quarterly_quota": "4.5"}, "quarterly_quota", "from 0 to 50"),
    ({"quarterly_quota": "99999999999999999999"}, "quarterly_quota", "from 0 to 50"),
    ({"points_threshold": "-10"}, "points_threshold", "from 0 to 10,000,000"),
    ({"points_threshold": "99999999999999999999"}, "points_threshold", "from 0 to 10,000,000"),
    ({"points_threshold": "٣"}, "points_threshold", "from 0 to 10,000,000"),
    ({"benefits": "\n".join(f"Benefit {n}" for n in range(21))}, "benefits", "at most 20 benefits"),
    ({"benefits": "x" * 201}, "benefits", "200 characters or fewer"),
    ({"benefits": "ok\ud800"}, "benefits", "lone UTF-16 surrogate"),
    ({"description": "x" * 1001}, "description", "1000 characters or fewer"),
])
def test_bad_tier_fields_are_refused_naming_the_field(app, changes, field, message):
    with pytest.raises(tier_flow.TierInvalid) as refused:
        tier_flow.parse_tier(tier_fields(app, "Active", **changes))
    assert message in " ".join(refused.value.errors[field])


def test_benefits_are_one_per_line_blank_lines_dropped(app):
    typed = tier_flow.parse_tier(tier_fields(app, "Active", benefits="  Credits  \r\n\n Early   access\n"))
    assert typed.benefits == ["Credits", "Early access"]


def test_editing_a_tier_is_audited_and_its_quota_applies_at_once(app, admin, make_advocate, restore_tiers):
    advocate = make_advocate(tier="Active")
    capped = make_advocate(tier="Active", quarterly_cap=3)
    with app.app_context():
        changed = tier_flow.edit_tier(tier_id(app, "Active"), tier_flow.parse_tier(tier_fields(
            app, "Active", name="Regular", quarterly_quota="2", benefits="Credits\nEarly access")), by=admin)
        assert changed.changes["name"] == ["Active", "Regular"]
        assert changed.changes["quarterly_quota"] == [4, 2]
        assert changed.caps_above_quota == 1
        assert db.session.get(Advocate, advocate.id).quarterly_limit == 2
        # The personal cap above the new quota is kept; the limit is the lower of the two.
        kept = db.session.get(Advocate, capped.id)
        assert (kept.quarterly_cap, kept.quarterly_limit) == (3, 2)
        unchanged = tier_flow.edit_tier(tier_id(app, "Regular"), tier_flow.parse_tier(
            tier_fields(app, "Regular")), by=admin)
        assert unchanged.changes == {}
        db.session.remove()
    [event_] = events(app, "tier.changed")
    assert (event_.actor_id, event_.detail["name"]) == (admin.id, "Regular")
    assert event_.detail["changes"]["benefits"][1] == ["Credits", "Early access"]


def test_thresholds_must_rise_with_rank(app, admin, restore_tiers):
    # Seeded: Premier (rank 1) 1000, Active (2) 400, Occasional (3) 0.
    with app.app_context():
        active = tier_id(app, "Active")
        too_high = tier_flow.parse_tier(tier_fields(app, "Active", points_threshold="1001"))
        with pytest.raises(tier_flow.TierInvalid, match="Premier tier above needs 1000 points") as refused:
            tier_flow.edit_tier(active, too_high, by=admin)
        assert refused.value.field == "points_threshold"
        with pytest.raises(tier_flow.TierInvalid, match="The Active tier below needs 400 points"):
            tier_flow.edit_tier(tier_id(app, "Premier"), tier_flow.parse_tier(
                tier_fields(app, "Premier", points_threshold="399")), by=admin)
        with pytest.raises(tier_flow.TierInvalid, match="The Active tier above needs 400"):
            tier_flow.edit_tier(tier_id(app, "Occasional"), tier_flow.parse_tier(
                tier_fields(app, "Occasional", points_threshold="500")), by=admin)
        # Equal to a neighbour is allowed, and so is anything in between.
        for threshold in ("1000", "400", "0", "650"):
            tier_flow.edit_tier(active, tier_flow.parse_tier(
                tier_fields(app, "Active", points_threshold=threshold)), by=admin)
        assert db.session.get(Tier, active).points_threshold == 650
        db.session.remove()


def test_tier_names_are_unique_whatever_their_case(app, admin, restore_tiers):
    with app.app_context():
        with pytest.raises(tier_flow.TierInvalid, match="Another tier is called Premier") as refused:
            tier_flow.edit_tier(tier_id(app, "Active"), tier_flow.parse_tier(
                tier_fields(app, "Active", name="  premier ")), by=admin)
        assert refused.value.field == "name"
        with pytest.raises(tier_flow.errors.NotFound):
            tier_flow.edit_tier(999_999, tier_flow.parse_tier(tier_fields(app, "Active")), by=admin)
        # Its own name in another case is a rename, not a clash.
        assert tier_flow.edit_tier(tier_id(app, "Active"), tier_flow.parse_tier(
            tier_fields(app, "Active", name="ACTIVE")), by=admin).tier.name == "ACTIVE"
        db.session.remove()


def test_the_restore_fixture_puts_the_tiers_back(app, restore_tiers):
    """What the fixture kept is the migration's seed: a test that changed tiers left none changed."""
    seeded = {"Premier": (6, 1000), "Active": (4, 400), "Occasional": (2, 0)}
    assert {kept["name"]: (kept["quarterly_quota"], kept["points_threshold"])
            for kept in restore_tiers.values()} == seeded
