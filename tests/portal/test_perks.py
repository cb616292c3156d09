"""The advocate's perks page: tier benefits, the catalogue with locked perks, redeeming points
(checked and debited atomically, never overspent by two tabs at once), redemption history."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from models import (
    AuditEvent,
    OutboxMessage,
    Perk,
    PerkKind,
    PointsEntry,
    PointsReason,
    Redemption,
    RedemptionStatus,
    Role,
    Tier,
    db,
)
from models.types import utcnow
from tests.conftest import csrf_token, text_body
from workflows import perks as flow
from workflows import points

PAGE = "/portal/perks"


# --- helpers ---------------------------------------------------------------------------------


def add_perk(app, name: str, tier: str = "Active", cost: int | None = None, active: bool = True,
             description: str = "") -> int:
    with app.app_context():
        perk = Perk(
            name=name,
            description=description,
            min_tier=db.session.scalar(select(Tier).where(Tier.name == tier)),
            kind=PerkKind.BENEFIT if cost is None else PerkKind.REDEEMABLE,
            points_cost=cost,
            active=active,
        )
        db.session.add(perk)
        db.session.commit()
        perk_id = perk.id
        db.session.remove()
    return perk_id


def give_points(app, advocate_id: int, amount: int, note: str = "Published case study") -> None:
    with app.app_context():
        db.session.add(PointsEntry(
            advocate_id=advocate_id, delta=amount, reason=PointsReason.CASE_STUDY.value, note=note
        ))
        db.session.commit()
        db.session.remove()


def state(app, advocate_id: int) -> dict:
    """Everything redeeming can change, to show a refused redemption changed nothing."""
    with app.app_context():
        snapshot = {
            "balance": points.balance(advocate_id),
            "redemptions": db.session.scalar(
                select(func.count()).select_from(Redemption).where(Redemption.advocate_id == advocate_id)
            ),
            "ledger": db.session.scalar(
                select(func.count()).select_from(PointsEntry).where(PointsEntry.advocate_id == advocate_id)
            ),
            "outbox": db.session.scalar(
                select(func.count()).select_from(OutboxMessage)
                .where(OutboxMessage.template == "redemption_requested")
            ),
            "audit": db.session.scalar(
                select(func.count()).select_from(AuditEvent).where(AuditEvent.kind.like("perk.%"))
            ),
        }
        db.session.remove()
    return snapshot


def redeem(client, perk_id: int, note: str = "", follow: bool = False, **extra):
    token = csrf_token(client.get(PAGE).get_data(as_text=True))
    data = {"csrf_token": token, f"perk-{perk_id}-note": note, **extra}
    return client.post(f"{PAGE}/{perk_id}/redeem", data=data, follow_redirects=follow)


@pytest.fixture()
def advocate(make_advocate, sign_in):
    """An Active-tier advocate in Berlin, signed in on ``client``."""
    advocate = make_advocate(tier="Active", timezone="Europe/Berlin", name="Dana Example")
    sign_in(advocate.account)
    return advocate


@pytest.fixture()
def catalogue(app) -> dict[str, int]:
    """A perk of each kind for each tier, and one withdrawn: name → id."""
    return {
        "webinars": add_perk(app, "Product preview webinars", "Occasional"),
        "hoodie": add_perk(app, "Branded hoodie", "Occasional", 150, description="A warm thank-you."),
        "roadmap": add_perk(app, "Product roadmap reviews", "Active"),
        "training": add_perk(app, "Training credits", "Active", 600),
        "briefing": add_perk(app, "Quarterly executive briefing", "Premier"),
        "dinner": add_perk(app, "Dinner with our CEO", "Premier", 1000),
        "mug": add_perk(app, "Retired mug", "Occasional", 50, active=False),
    }


# --- access ----------------------------------------------------------------------------------


def test_signed_out_visitors_are_sent_to_sign_in(client, catalogue):
    assert client.get(PAGE).headers["Location"].startswith("/sign-in")
    response = client.post(f"{PAGE}/{catalogue['hoodie']}/redeem")
    assert response.status_code in (302, 400)


def test_staff_may_not_open_it(client, make_account, sign_in):
    sign_in(make_account(role="coordinator"))
    assert client.get(PAGE).status_code == 403


def test_an_advocate_account_without_a_profile_gets_404(client, make_account, sign_in, catalogue):
    sign_in(make_account(role="advocate"))
    assert client.get(PAGE).status_code == 404
    token = csrf_token(client.get("/portal").get_data(as_text=True))
    response = client.post(f"{PAGE}/{catalogue['hoodie']}/redeem", data={"csrf_token": token})
    assert response.status_code == 404


# --- the page --------------------------------------------------------------------------------


def test_the_page_shows_tier_benefits_the_catalogue_and_locked_perks(client, app, advocate, catalogue):
    give_points(app, advocate.id, 200)
    html = client.get(PAGE).get_data(as_text=True)

    assert "Active tier" in html
    assert '<strong id="balance">200 points</strong>' in html
    # The tier's own list of benefits, and the catalogue's benefits of this tier and below.
    assert "Quarterly product roadmap reviews" in html  # Tier.benefits of Active
    benefits = html.split('id="benefits"', 1)[1].split("</section>", 1)[0]
    assert "Product roadmap reviews" in benefits and "Product preview webinars" in benefits
    assert "Quarterly executive briefing" not in benefits
    # Redeemable perks their tier unlocks, with their cost; the affordable one has its form.
    offers = html.split('id="redeem"', 1)[1].split("</section>", 1)[0]
    assert "Branded hoodie" in offers and "150 points" in offers
    assert f'action="/portal/perks/{catalogue["hoodie"]}/redeem"' in offers
    assert "Training credits" in offers and "400 more points to go" in offers
    assert f'action="/portal/perks/{catalogue["training"]}/redeem"' not in offers
    # Higher tiers' perks, locked, with the tier they need; withdrawn perks nowhere.
    locked = html.split('id="locked"', 1)[1].split("</section>", 1)[0]
    assert "Dinner with our CEO" in locked and "Quarterly executive briefing" in locked
    assert locked.count("Needs the Premier tier") == 2
    assert "Dinner with our CEO" not in offers
    assert "Retired mug" not in html
    assert "You have not redeemed a perk yet." in html
    # Every input has its label.
    assert f'<label for="perk-{catalogue["hoodie"]}-note">' in html


def test_a_top_tier_advocate_sees_nothing_locked(client, app, make_advocate, sign_in, catalogue):
    sign_in(make_advocate(tier="Premier").account)
    html = client.get(PAGE).get_data(as_text=True)
    assert "Nothing is locked" in html
    assert "Dinner with our CEO" in html.split('id="redeem"', 1)[1].split("</section>", 1)[0]


def test_an_advocate_without_a_tier_sees_every_perk_locked(client, app, make_advocate, sign_in, catalogue):
    sign_in(make_advocate(tier=None).account)
    html = client.get(PAGE).get_data(as_text=True)
    assert "No tier yet" in html
    assert "You have no tier yet, so no benefits yet." in html
    assert "Perks to redeem open up once you are in a tier." in html
    assert html.split('id="locked"', 1)[1].count("Needs the") == 6


def test_an_empty_catalogue_says_so(client, advocate):
    html = client.get(PAGE).get_data(as_text=True)
    assert "No perks to redeem at your tier right now." in html
    assert "Nothing is locked" in html
    assert '<strong id="balance">0 points</strong>' in html


# --- redeeming -------------------------------------------------------------------------------


def test_redeem_a_perk(client, app, advocate, catalogue, make_account, smtp, deliver):
    coordinator = make_account(role=Role.COORDINATOR, email="coordinator@example.com")
    give_points(app, advocate.id, 200)

    response = redeem(client, catalogue["hoodie"], note="  Size M, please.  ")
    assert response.status_code == 302
    assert response.headers["Location"] == "/portal/perks#redemptions"

    html = client.get(PAGE).get_data(as_text=True)
    assert "You redeemed “Branded hoodie” for 150 points; you have 50 points left." in html
    assert '<strong id="balance">50 points</strong>' in html
    history = html.split('id="redemptions"', 1)[1]
    assert "Branded hoodie" in history
    assert '<span class="status status-requested">requested</span>' in history
    # Now short of points, the hoodie's form is gone and says what is missing.
    assert f'action="/portal/perks/{catalogue["hoodie"]}/redeem"' not in html
    assert "100 more points to go" in html

    with app.app_context():
        [redemption] = db.session.scalars(select(Redemption)).all()
        assert (redemption.advocate_id, redemption.perk_id) == (advocate.id, catalogue["hoodie"])
        assert redemption.status == RedemptionStatus.REQUESTED
        assert (redemption.points_spent, redemption.note) == (150, "Size M, please.")
        debit = db.session.scalar(select(PointsEntry).where(PointsEntry.delta < 0))
        assert (debit.delta, debit.reason, debit.source_type, debit.source_id) == (
            -150, "redemption", "redemption", redemption.id
        )
        assert debit.note == "Branded hoodie"
        assert points.balance(advocate.id) == 50
        event = db.session.scalar(select(AuditEvent).where(AuditEvent.kind == "perk.redeemed"))
        assert event.actor_id == advocate.account.id
        assert event.detail == {"perk": "Branded hoodie", "points": 150}
        db.session.remove()

    # The coordinators hear about it, in the same transaction's outbox.
    assert deliver().sent == 1
    [message] = smtp.wait_for(coordinator.email)
    assert message["Subject"] == "Dana Example redeemed Branded hoodie"
    body = text_body(message)
    assert "Branded hoodie, for 150 points." in body and "Size M, please." in body
    assert f"http://vouch.test/admin/redemptions#redemption-{redemption.id}" in body


def test_redeeming_without_coordinators_still_works_and_sends_nothing(client, app, advocate, catalogue):
    give_points(app, advocate.id, 150)
    assert redeem(client, catalogue["hoodie"]).status_code == 302
    after = state(app, advocate.id)
    assert (after["balance"], after["redemptions"], after["outbox"]) == (0, 1, 0)


@pytest.mark.parametrize(
    ("perk", "message"),
    [
        ("dinner", "“Dinner with our CEO” is for the Premier tier and above; you are in the Active tier."),
        ("mug", "“Retired mug” is no longer offered."),
        ("roadmap",
         "“Product roadmap reviews” is a standing benefit of the Active tier: there is nothing to redeem."),
        ("training", "“Training credits” costs 600 points and you have 500: 100 more to go."),
    ],
    ids=["locked", "inactive", "benefit", "not enough points"],
)
def test_refused_redemptions_say_why_and_change_nothing(client, app, advocate, catalogue, perk, message):
    give_points(app, advocate.id, 500)
    before = state(app, advocate.id)

    response = redeem(client, catalogue[perk], follow=True)

    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert f"Nothing was redeemed. {message}" in html
    assert state(app, advocate.id) == before


def test_an_unknown_perk_is_404(client, app, advocate, catalogue):
    give_points(app, advocate.id, 500)
    before = state(app, advocate.id)
    assert redeem(client, 999_999).status_code == 404
    assert state(app, advocate.id) == before


def test_only_a_post_with_its_csrf_token_redeems(client, app, advocate, catalogue):
    give_points(app, advocate.id, 500)
    before = state(app, advocate.id)
    url = f"{PAGE}/{catalogue['hoodie']}/redeem"
    assert client.get(url).status_code == 405
    assert client.post(url, data={}).status_code == 400
    assert state(app, advocate.id) == before


def test_a_note_over_its_length_limit_is_refused_beside_the_field(client, app, advocate, catalogue):
    give_points(app, advocate.id, 500)
    before = state(app, advocate.id)
    response = redeem(client, catalogue["hoodie"], note="x" * (flow.NOTE_MAX_LENGTH + 1))
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert "Nothing was redeemed. Keep the note to 500 characters or fewer." in html
    assert f'id="perk-{catalogue["hoodie"]}-note-error"' in html
    assert '<details class="perk-redeem" open>' in html
    assert state(app, advocate.id) == before


def test_another_advocates_redemptions_and_points_stay_theirs(
    client, app, advocate, make_advocate, catalogue
):
    other = make_advocate(tier="Active")
    give_points(app, other.id, 900)
    with app.app_context():
        flow.redeem(other.id, catalogue["training"], note="Their secret note")
        db.session.remove()
    give_points(app, advocate.id, 10)

    html = client.get(PAGE).get_data(as_text=True)
    assert '<strong id="balance">10 points</strong>' in html
    assert "You have not redeemed a perk yet." in html
    assert "Their secret note" not in html
    # Their points cannot pay for mine.
    before = state(app, advocate.id)
    redeem(client, catalogue["hoodie"])
    assert state(app, advocate.id) == before


# --- the race --------------------------------------------------------------------------------


def test_tabs_redeeming_at_once_never_overspend(app, make_advocate, catalogue):
    """Three tabs redeem the same perk at once with points for one: exactly one succeeds."""
    advocate = make_advocate(tier="Active")
    give_points(app, advocate.id, 600)
    tabs = 3
    barrier = threading.Barrier(tabs)
    outcomes: list[str] = []
    errors: list[BaseException] = []

    def tab() -> None:
        try:
            with app.app_context():
                try:
                    barrier.wait(10)
                    flow.redeem(advocate.id, catalogue["training"])
                    outcomes.append("redeemed")
                except flow.NotEnoughPoints:
                    outcomes.append("refused")
                finally:
                    db.session.remove()
        except BaseException as error:  # reported by the test's own thread
            errors.append(error)

    threads = [threading.Thread(target=tab, daemon=True) for _ in range(tabs)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert not any(thread.is_alive() for thread in threads)
    assert errors == []
    assert sorted(outcomes) == ["redeemed"] + ["refused"] * (tabs - 1)
    after = state(app, advocate.id)
    assert (after["balance"], after["redemptions"], after["ledger"]) == (0, 1, 2)


# --- staff decisions -------------------------------------------------------------------------


def test_staff_fulfil_or_reject_a_redemption_and_a_rejection_refunds(
    app, make_advocate, make_account, catalogue
):
    coordinator = make_account(role=Role.COORDINATOR)
    advocate = make_advocate(tier="Active")
    give_points(app, advocate.id, 300)
    with app.app_context():
        first = flow.redeem(advocate.id, catalogue["hoodie"]).redemption_id
        second = flow.redeem(advocate.id, catalogue["hoodie"]).redemption_id
        assert points.balance(advocate.id) == 0

        flow.fulfil(first, by=coordinator)
        flow.reject(second, by=coordinator, note="Out of stock, sorry.")

        assert points.balance(advocate.id) == 150
        fulfilled, rejected = db.session.get(Redemption, first), db.session.get(Redemption, second)
        assert (fulfilled.status, rejected.status) == (RedemptionStatus.FULFILLED, RedemptionStatus.REJECTED)
        assert fulfilled.decided_by_id == rejected.decided_by_id == coordinator.id
        assert rejected.decided_at is not None and rejected.decided_at <= utcnow() + timedelta(seconds=1)
        # The coordinator's note is kept apart from the advocate's (empty here).
        assert (rejected.note, rejected.decision_note) == ("", "Out of stock, sorry.")
        refund = db.session.scalar(select(PointsEntry).where(PointsEntry.reason == PointsReason.REFUND.value))
        assert (refund.delta, refund.source_type, refund.source_id) == (150, "redemption", second)
        kinds = set(db.session.scalars(select(AuditEvent.kind).where(AuditEvent.actor_id == coordinator.id)))
        assert kinds == {"perk.redemption_fulfilled", "perk.redemption_rejected"}

        # A decision is final: a second one is refused and refunds nothing more.
        for decide in (flow.fulfil, flow.reject):
            with pytest.raises(flow.AlreadyDecided, match="already"):
                decide(second, by=coordinator)
        assert points.balance(advocate.id) == 150
        with pytest.raises(flow.NotFound):
            flow.reject(999_999, by=coordinator)
        db.session.remove()


def test_the_history_shows_decided_redemptions(client, app, advocate, make_account, catalogue):
    coordinator = make_account(role=Role.COORDINATOR)
    give_points(app, advocate.id, 300)
    with app.app_context():
        first = flow.redeem(advocate.id, catalogue["hoodie"]).redemption_id
        second = flow.redeem(advocate.id, catalogue["hoodie"]).redemption_id
        flow.fulfil(first, by=coordinator)
        flow.reject(second, by=coordinator, note="Out of stock until March.")
        db.session.remove()
    html = client.get(PAGE).get_data(as_text=True).split('id="redemptions"', 1)[1]
    assert f'id="redemption-{first}"' in html and f'id="redemption-{second}"' in html
    assert '<span class="status status-fulfilled">fulfilled</span>' in html
    assert '<span class="status status-rejected">rejected</span>' in html
    assert "points given back" in html
    # The coordinator's note, on the row it is about.
    fulfilled, rejected = (html.split(f'id="redemption-{n}"', 1)[1].split("</tr>", 1)[0]
                           for n in (first, second))
    assert "From your coordinator" not in fulfilled
    assert 'From your coordinator: <span class="notes">Out of stock until March.</span>' in rejected


# --- queries ---------------------------------------------------------------------------------


def test_the_page_issues_the_same_queries_whatever_the_data_size(
    client, app, advocate, make_account, count_queries
):
    coordinator = make_account(role=Role.COORDINATOR)

    def fill(first: int, count: int) -> None:
        """Perks number ``first`` on (a benefit and a reward of each tier), each Occasional
        reward redeemed once; every other redemption fulfilled."""
        for n in range(first, first + count):
            rewards = {}
            for tier in ("Occasional", "Active", "Premier"):
                add_perk(app, f"{tier} benefit {n}", tier)
                rewards[tier] = add_perk(app, f"{tier} reward {n}", tier, 10)
            give_points(app, advocate.id, 10)
            with app.app_context():
                done = flow.redeem(advocate.id, rewards["Occasional"])
                if n % 2:
                    flow.fulfil(done.redemption_id, by=coordinator)
                db.session.remove()

    def measure() -> int:
        with count_queries() as queries:
            response = client.get(PAGE)
        assert response.status_code == 200
        return len(queries)

    fill(0, 2)
    with_two = measure()
    fill(2, 28)
    with_thirty = measure()
    assert with_two == with_thirty
    assert with_thirty <= 7
    html = client.get(PAGE).get_data(as_text=True)
    assert html.count('id="redemption-') == 30


def test_redeeming_commits_in_a_bounded_number_of_queries(
    client, app, advocate, make_account, catalogue, count_queries
):
    make_account(role=Role.COORDINATOR)
    give_points(app, advocate.id, 500)
    token = csrf_token(client.get(PAGE).get_data(as_text=True))
    with count_queries() as queries:
        response = client.post(f"{PAGE}/{catalogue['hoodie']}/redeem", data={"csrf_token": token})
    assert response.status_code == 302
    assert len(queries) <= 16


# --- the rules alone -------------------------------------------------------------------------


def test_rules_as_plain_functions():
    premier, active, occasional = (Tier(rank=r, name=n, quarterly_quota=q) for r, n, q in
                                   [(1, "Premier", 6), (2, "Active", 4), (3, "Occasional", 2)])
    hoodie = Perk(name="Hoodie", min_tier=occasional, kind=PerkKind.REDEEMABLE, points_cost=150, active=True)
    dinner = Perk(name="Dinner", min_tier=premier, kind=PerkKind.REDEEMABLE, points_cost=1000, active=True)
    assert flow.unlocked(hoodie, active) and flow.unlocked(hoodie, occasional)
    assert flow.unlocked(dinner, premier) and not flow.unlocked(dinner, active)
    assert not flow.unlocked(hoodie, None)
    flow.check_redeemable(hoodie, active, 150)
    with pytest.raises(flow.NotEnoughPoints, match="1 more to go"):
        flow.check_redeemable(hoodie, active, 149)
    with pytest.raises(flow.RedemptionError, match="for the Premier tier and above; you are in the Active"):
        flow.check_redeemable(dinner, active, 5000)
    with pytest.raises(flow.RedemptionError, match="you have no tier yet"):
        flow.check_redeemable(hoodie, None, 5000)
    flow.check_note("x" * flow.NOTE_MAX_LENGTH)
    with pytest.raises(flow.RedemptionError, match="500 characters"):
        flow.check_note("x" * (flow.NOTE_MAX_LENGTH + 1))


def test_the_advocate_hears_of_the_decision_by_e_mail(
    app, make_advocate, make_account, catalogue, smtp, deliver
):
    from tests.conftest import text_body

    coordinator = make_account(role=Role.COORDINATOR)
    advocate = make_advocate(tier="Active", email="pat@customer.example")
    give_points(app, advocate.id, 300)
    with app.app_context():
        first = flow.redeem(advocate.id, catalogue["hoodie"]).redemption_id
        second = flow.redeem(advocate.id, catalogue["hoodie"]).redemption_id
        flow.fulfil(first, by=coordinator)
        flow.reject(second, by=coordinator, note="Out of stock, sorry.")
        db.session.remove()
    deliver()
    fulfilled, rejected = smtp.wait_for("pat@customer.example", count=2)
    assert "fulfilled" in text_body(fulfilled) and "is on its way" in fulfilled["Subject"]
    assert "150 points are back" in text_body(rejected) and "Out of stock, sorry." in text_body(rejected)
    assert "http://vouch.test/portal/perks" in text_body(rejected)
