"""The perks page (``/admin/perks``): admins list, add (the form sent twice adds one), edit and
retire perks (behind a confirmation step); coordinators read the list without the buttons and
are refused every change; sales and advocates are refused the page. Bad input is a 4xx beside
its field with nothing written; what is left of a limited stock shows in the list and on the
advocate's perks page; the list's queries do not grow with the catalogue."""

from __future__ import annotations

import re
from urllib.parse import quote

import pytest
from sqlalchemy import func, select

from models import AuditEvent, Perk, PerkKind, Role, Tier, db
from tests.conftest import csrf_token
from tests.helpers import flashed, page, section, text
from tests.portal.test_perks import add_perk, give_points
from tests.test_confirm_steps import opened, step
from tests.test_tables import assert_cells_labelled
from workflows import perks as flow

LIST = "/admin/perks"
NEW = "/admin/perks/new"


# --- helpers ---------------------------------------------------------------------------------


def tier_id(app, name: str) -> int:
    with app.app_context():
        found = db.session.scalar(select(Tier.id).where(Tier.name == name))
        db.session.remove()
    return found


def perk_form(app, **changes) -> dict[str, str]:
    return {"name": "Branded hoodie", "description": "A warm thank-you.",
            "min_tier": str(tier_id(app, "Active")), "kind": "redeemable", "points_cost": "150", "stock": "",
            **changes}


def new_perk_page(http) -> tuple[str, str, str]:
    """The add form: (its html, its CSRF token, its submission key)."""
    html = page(http, NEW)
    key = re.search(r'name="submission_key" type="hidden" value="([^"]+)"', html).group(1)
    return html, csrf_token(html), key


def perks(app) -> list[Perk]:
    with app.app_context():
        found = list(db.session.scalars(select(Perk).order_by(Perk.id)))
        db.session.expunge_all()
    return found


def audit_count(app, kind: str) -> int:
    with app.app_context():
        found = db.session.scalar(select(func.count()).select_from(AuditEvent).where(AuditEvent.kind == kind))
        db.session.remove()
    return found


def post(http, url: str, data: dict | None = None, follow: bool = False):
    token = csrf_token(page(http, LIST))
    return http.post(url, data={"csrf_token": token, **(data or {})}, follow_redirects=follow)


@pytest.fixture()
def admin(signed_in):
    http, _account = signed_in(Role.ADMIN, name="Ada Admin")
    return http


# --- access ----------------------------------------------------------------------------------


@pytest.mark.parametrize("role", ["sales", "advocate"])
def test_sales_and_advocates_are_refused_every_page_and_change(app, signed_in, role):
    perk_id = add_perk(app, "Branded hoodie", "Active", 150)
    http, _account = signed_in(role)
    token = csrf_token(page(http, "/admin/" if role == "sales" else "/portal"))
    for url in (LIST, NEW, f"/admin/perks/{perk_id}/edit", "/admin/tiers"):
        assert http.get(url).status_code == 403, url
    for url in (NEW, f"/admin/perks/{perk_id}/edit", f"/admin/perks/{perk_id}/retire", "/admin/tiers/1"):
        assert http.post(url, data={"csrf_token": token, **perk_form(app)}).status_code == 403, url
    assert [p.active for p in perks(app)] == [True] and len(perks(app)) == 1


def test_coordinators_read_the_list_without_the_buttons_and_cannot_change_it(app, signed_in):
    perk_id = add_perk(app, "Branded hoodie", "Active", 150)
    http, _account = signed_in(Role.COORDINATOR)
    html = page(http, LIST)
    assert "Branded hoodie" in html
    assert "An admin adds, changes and retires perks" in html
    assert NEW not in html and f"/admin/perks/{perk_id}/edit" not in html and "/retire" not in html
    # The menu leads coordinators here too.
    assert re.search(rf'<a href="{LIST}"[^>]*>Perks and tiers</a>', html)
    token = csrf_token(html)
    assert http.get(NEW).status_code == 403
    assert http.get(f"/admin/perks/{perk_id}/edit").status_code == 403
    for url in (NEW, f"/admin/perks/{perk_id}/edit", f"/admin/perks/{perk_id}/retire"):
        assert http.post(url, data={"csrf_token": token, **perk_form(app, name="Changed")}).status_code == 403
    [perk] = perks(app)
    assert (perk.name, perk.active) == ("Branded hoodie", True)
    with app.app_context():
        denied = list(db.session.scalars(select(AuditEvent.detail).where(AuditEvent.kind == "access.denied")))
        db.session.remove()
    assert len(denied) == 5


# --- the list --------------------------------------------------------------------------------


def test_the_list_shows_each_perk_its_tier_cost_and_stock_and_the_retired_ones_apart(
    app, admin, make_advocate, make_account
):
    hoodie = add_perk(app, "Branded hoodie", "Occasional", 150, description="A warm thank-you.")
    briefing = add_perk(app, "Quarterly executive briefing", "Premier")
    mug = add_perk(app, "Mug", "Active", 50)
    with app.app_context():
        db.session.get(Perk, hoodie).stock = 3
        db.session.commit()
        db.session.remove()
    dana = make_advocate(tier="Active")
    give_points(app, dana.id, 500)
    coordinator = make_account(role=Role.COORDINATOR)
    with app.app_context():
        flow.redeem(dana.id, hoodie)
        rejected = flow.redeem(dana.id, hoodie).redemption_id
        flow.reject(rejected, by=coordinator)  # its unit is back
        flow.redeem(dana.id, mug)
        flow.retire_perk(mug, by=coordinator)
        db.session.remove()

    html = page(admin, LIST)
    offered, retired = section(html, "offered"), section(html, "retired")
    row = offered.split(f'id="perk-{hoodie}"', 1)[1].split("</tr>")[0]
    assert "Branded hoodie" in row and "A warm thank-you." in row and "Occasional tier and above" in row
    assert "150 points" in row and "<strong>2 left</strong>" in row and "of 3; 1 claimed" in row
    row = offered.split(f'id="perk-{briefing}"', 1)[1].split("</tr>")[0]
    assert "Standing benefit" in row and "Premier tier and above" in row and "Not redeemed" in row
    # Top tier first.
    assert offered.index("Quarterly executive briefing") < offered.index("Branded hoodie")
    assert "Mug" not in offered
    row = retired.split(f'id="perk-{mug}"', 1)[1].split("</tr>")[0]
    assert '<span class="status status-retired">retired</span>' in row and "<time" in row
    assert f"/admin/perks/{mug}/edit" not in html and f"/admin/perks/{mug}/retire" not in html
    assert_cells_labelled(html)


def test_an_empty_catalogue_says_so(admin):
    html = page(admin, LIST)
    assert "No perk is on offer yet." in html and "No perk has been retired." in html


def test_the_list_issues_the_same_queries_whatever_the_catalogue_size(
    app, admin, make_advocate, make_account, count_queries
):
    coordinator = make_account(role=Role.COORDINATOR)
    dana = make_advocate(tier="Premier")

    def fill(first: int, count: int) -> None:
        for n in range(first, first + count):
            for tier in ("Occasional", "Active", "Premier"):
                add_perk(app, f"{tier} benefit {n}", tier)
                reward = add_perk(app, f"{tier} reward {n}", tier, 10)
                give_points(app, dana.id, 10)
                with app.app_context():
                    done = flow.redeem(dana.id, reward)
                    if n % 2:
                        flow.retire_perk(reward, by=coordinator)
                    else:
                        flow.reject(done.redemption_id, by=coordinator)
                    db.session.remove()

    def measure() -> int:
        with count_queries() as queries:
            response = admin.get(LIST)
        assert response.status_code == 200
        return len(queries)

    fill(0, 2)
    small = measure()
    fill(2, 18)
    assert measure() == small
    assert small <= 4
    assert page(admin, LIST).count('id="perk-') == 20 * 6


# --- adding ----------------------------------------------------------------------------------


def test_an_admin_adds_a_perk_and_the_same_form_twice_adds_one(app, admin):
    html, token, key = new_perk_page(admin)
    for label in ("Name", "Description (optional, advocates read it)", "Lowest tier that gets it",
                  "Points cost (redeemable perks only)", "Stock (redeemable perks only; empty: unlimited)"):
        assert f">{label}</label>" in html, label
    assert "<legend>What kind of perk</legend>" in html
    data = {"csrf_token": token, "submission_key": key, **perk_form(app, stock="20")}

    response = admin.post(NEW, data=data, follow_redirects=True)
    assert response.status_code == 200
    body = response.get_data(as_text=True)
    assert "“Branded hoodie” is on offer to the Active tier and above." in flashed(body)
    [perk] = perks(app)
    assert (perk.name, perk.kind, perk.points_cost, perk.stock, perk.active) == (
        "Branded hoodie", PerkKind.REDEEMABLE, 150, 20, True)
    assert "<strong>20 left</strong>" in body

    again = admin.post(NEW, data=data, follow_redirects=True)
    assert "This form was already sent: nothing new was saved." in flashed(again.get_data(as_text=True))
    assert len(perks(app)) == 1
    assert audit_count(app, "perk.created") == 1


def test_a_standing_benefit_is_added_without_a_cost(app, admin):
    _html, token, key = new_perk_page(admin)
    data = {"csrf_token": token, "submission_key": key,
            **perk_form(app, name="Roadmap reviews", kind="benefit", points_cost="")}
    assert admin.post(NEW, data=data).status_code == 302
    [perk] = perks(app)
    assert (perk.kind, perk.points_cost, perk.stock) == (PerkKind.BENEFIT, None, None)


@pytest.mark.parametrize(("changes", "field", "message"), [
    ({"name": ""}, "name", "Give the perk a name"),
    ({"name": "x" * 121}, "name", "120 characters or fewer"),
    ({"points_cost": "0"}, "points_cost", "whole number from 1 to 1,000,000"),
    ({"points_cost": "99999999999999999999"}, "points_cost", "whole number from 1 to 1,000,000"),
    ({"kind": "benefit"}, "points_cost", "A standing benefit costs no points"),
    ({"stock": "-3"}, "stock", "whole number from 0 to 1,000,000"),
    ({"stock": "2.5"}, "stock", "whole number from 0 to 1,000,000"),
    ({"min_tier": "2147483648"}, "min_tier", "Pick the lowest tier"),
    ({"min_tier": "999"}, "min_tier", "Pick the lowest tier"),
    ({"kind": "free"}, "kind", "standing benefit of the tier or redeemable"),
])
def test_a_refused_perk_is_422_with_the_message_beside_its_field(app, admin, changes, field, message):
    _html, token, key = new_perk_page(admin)
    response = admin.post(NEW, data={"csrf_token": token, "submission_key": key, **perk_form(app, **changes)})
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "Nothing was saved: see the messages beside the fields." in flashed(html)
    if field == "kind":
        assert message in html
    else:
        assert re.search(rf'<small id="{field}-error" class="error">[^<]*{re.escape(message)}', html), html
    # What was typed stays in the form.
    if changes.get("name"):
        assert f'value="{changes["name"]}"' in html
    assert perks(app) == [] and audit_count(app, "perk.created") == 0


@pytest.mark.parametrize("field", ["name", "points_cost", "stock", "min_tier"])
def test_a_nul_character_is_refused_before_anything_is_read(app, admin, field):
    """(A lone surrogate cannot travel in a form: the workflow's own check is in
    tests/workflows/test_perk_admin.py.)"""
    _html, token, key = new_perk_page(admin)
    typed = {**perk_form(app), "csrf_token": token, "submission_key": key}
    body = "&".join(f"{name}={quote(value)}" for name, value in typed.items() if name != field)
    response = admin.post(NEW, data=f"{body}&{field}=1%00", content_type="application/x-www-form-urlencoded")
    assert response.status_code == 422
    assert "cannot be stored" in response.get_data(as_text=True)
    assert perks(app) == []


def test_without_its_csrf_token_nothing_is_added(app, admin):
    _html, _token, key = new_perk_page(admin)
    response = admin.post(NEW, data={"submission_key": key, **perk_form(app)})
    assert response.status_code == 400
    assert perks(app) == []


# --- editing and retiring --------------------------------------------------------------------


def test_an_admin_edits_a_perk(app, admin):
    perk_id = add_perk(app, "Branded hoodie", "Active", 150)
    url = f"/admin/perks/{perk_id}/edit"
    html = page(admin, url)
    assert 'value="Branded hoodie"' in html and 'value="150"' in html
    assert re.search(rf'<option selected value="{tier_id(app, "Active")}">Active</option>', html)
    token = csrf_token(html)

    response = admin.post(url, data={"csrf_token": token, **perk_form(app, name="Branded fleece",
                                                                      points_cost="175", stock="10")},
                          follow_redirects=True)
    assert "“Branded fleece” is saved." in flashed(response.get_data(as_text=True))
    [perk] = perks(app)
    assert (perk.name, perk.points_cost, perk.stock) == ("Branded fleece", 175, 10)
    assert audit_count(app, "perk.changed") == 1

    same = admin.post(url, data={"csrf_token": token, **perk_form(app, name="Branded fleece",
                                                                  points_cost="175", stock="10")},
                      follow_redirects=True)
    assert "was already like that: nothing changed." in flashed(same.get_data(as_text=True))[0]
    assert audit_count(app, "perk.changed") == 1

    refused = admin.post(url, data={"csrf_token": token, **perk_form(app, points_cost="")})
    assert refused.status_code == 422
    assert "A redeemable perk costs points" in refused.get_data(as_text=True)
    assert admin.get("/admin/perks/999999/edit").status_code == 404
    assert admin.get("/admin/perks/99999999999999999999/edit").status_code == 404


def test_the_stock_cannot_go_below_what_was_claimed(app, admin, make_advocate):
    perk_id = add_perk(app, "Branded hoodie", "Active", 10)
    dana = make_advocate(tier="Active")
    give_points(app, dana.id, 100)
    with app.app_context():
        flow.redeem(dana.id, perk_id)
        flow.redeem(dana.id, perk_id)
        db.session.remove()
    url = f"/admin/perks/{perk_id}/edit"
    html = page(admin, url)
    assert "2 claimed so far, so at least 2" in html
    response = admin.post(url, data={"csrf_token": csrf_token(html), **perk_form(app, points_cost="10",
                                                                                 stock="1")})
    assert response.status_code == 422
    assert re.search(r'<small id="stock-error" class="error">2 of “Branded hoodie” have been claimed',
                     response.get_data(as_text=True))
    assert perks(app)[0].stock is None


def test_retiring_asks_first_then_keeps_the_perk_among_the_retired(app, admin, make_advocate, sign_in,
                                                                   client):
    perk_id = add_perk(app, "Branded hoodie", "Active", 150)
    dana = make_advocate(tier="Active")
    give_points(app, dana.id, 300)
    with app.app_context():
        flow.redeem(dana.id, perk_id)
        db.session.remove()
    html = page(admin, LIST)
    retire = step(html, f"/admin/perks/{perk_id}/retire")
    assert not opened(retire)
    assert 'aria-label="Retire Branded hoodie…"' in retire
    assert "Advocates will no longer see it or redeem it." in retire
    assert "Redemptions of it stay in the history" in retire
    assert '<button type="submit" class="danger">Yes, retire it</button>' in retire

    response = post(admin, f"/admin/perks/{perk_id}/retire", follow=True)
    body = response.get_data(as_text=True)
    assert "“Branded hoodie” is retired" in flashed(body)[0]
    assert "Branded hoodie" in section(body, "retired") and "Branded hoodie" not in section(body, "offered")
    [perk] = perks(app)
    assert not perk.active and perk.retired_at is not None
    assert audit_count(app, "perk.retired") == 1

    again = post(admin, f"/admin/perks/{perk_id}/retire", follow=True)
    assert "was retired already" in flashed(again.get_data(as_text=True))[0]
    assert audit_count(app, "perk.retired") == 1
    edit = admin.get(f"/admin/perks/{perk_id}/edit", follow_redirects=True)
    assert "is retired: it can no longer be changed" in flashed(edit.get_data(as_text=True))[0]
    assert admin.post("/admin/perks/999999/retire", data={"csrf_token": csrf_token(body)}).status_code == 404

    # The advocate: no longer on offer, still in their redemptions.
    sign_in(dana.account)
    mine = page(client, "/portal/perks")
    assert "Branded hoodie" not in section(mine, "redeem")
    assert "Branded hoodie" in section(mine, "redemptions")


# --- stock on the advocate's page ------------------------------------------------------------


def test_the_advocate_sees_how_many_are_left_and_when_none_are(app, admin, make_advocate, sign_in, client):
    perk_id = add_perk(app, "Branded hoodie", "Active", 10)
    with app.app_context():
        db.session.get(Perk, perk_id).stock = 2
        db.session.commit()
        db.session.remove()
    dana, other = make_advocate(tier="Active"), make_advocate(tier="Active")
    give_points(app, dana.id, 100)
    give_points(app, other.id, 100)
    sign_in(dana.account)
    row = section(page(client, "/portal/perks"), "redeem")
    assert "2 left" in text(row)

    with app.app_context():
        flow.redeem(other.id, perk_id)
        flow.redeem(other.id, perk_id)
        db.session.remove()
    row = text(section(page(client, "/portal/perks"), "redeem"))
    assert "None left" in row and "All 2 have been claimed" in row
    assert "Redeem for 10 points" not in row
    token = csrf_token(page(client, "/portal/perks"))
    refused = client.post(f"/portal/perks/{perk_id}/redeem", data={"csrf_token": token},
                          follow_redirects=True)
    assert "all 2 have been claimed" in flashed(refused.get_data(as_text=True))[0]
