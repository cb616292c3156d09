"""The tiers page (``/admin/tiers``): every tier with its rank, name, quota, threshold, benefits
and description, and for admins an edit form per tier (refusals beside their field, with 422);
coordinators read it without the forms; a new quota is every advocate's new limit at once."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from models import AuditEvent, Role, Tier, db
from tests.conftest import csrf_token
from tests.helpers import flashed, page, section, text
from tests.test_tables import assert_cells_labelled

TIERS = "/admin/tiers"


def tier(app, name: str) -> Tier:
    with app.app_context():
        found = db.session.scalar(select(Tier).where(Tier.name == name))
        db.session.expunge(found)
    return found


def typed(found: Tier, **changes) -> dict[str, str]:
    """The tier's form as an admin sends it (prefixed ``tier-<id>-``), with ``changes``."""
    values = {"name": found.name, "quarterly_quota": str(found.quarterly_quota),
              "points_threshold": str(found.points_threshold), "benefits": "\n".join(found.benefits),
              "description": found.description, **changes}
    return {f"tier-{found.id}-{name}": value for name, value in values.items()}


def save(http, found: Tier, follow: bool = False, **changes):
    token = csrf_token(page(http, TIERS))
    return http.post(f"{TIERS}/{found.id}", data={"csrf_token": token, **typed(found, **changes)},
                     follow_redirects=follow)


@pytest.fixture()
def admin(signed_in):
    http, _account = signed_in(Role.ADMIN)
    return http


def test_the_page_lists_every_tier_top_first(app, admin):
    html = page(admin, TIERS)
    rows = re.findall(r'<tr id="tier-row-\d+">(.*?)</tr>', html, re.S)
    assert [text(row).split(" ")[:2] for row in rows] == [
        ["1", "Premier"], ["2", "Active"], ["3", "Occasional"]]
    premier = text(rows[0])
    assert "Executive-level references with documented results" in premier
    assert "6" in premier and "1000" in premier and "Quarterly executive briefings" in premier
    assert_cells_labelled(html)
    # An edit form per tier, each field with its label.
    active = tier(app, "Active")
    form = section(html, f"tier-{active.id}")
    for label in ("Name", "Calls a quarter (0 to 50)", "Points threshold (over the last 12 months)",
                  "Benefits, one per line", "Description"):
        assert re.search(rf'<label for="tier-{active.id}-[a-z_]+">{re.escape(label)}</label>', form), label
    assert "keep their cap, but their limit is the lower of the two" in form
    assert "Thresholds rise with rank" in form


def test_coordinators_read_the_tiers_but_may_not_change_them(app, signed_in):
    http, _account = signed_in(Role.COORDINATOR)
    html = page(http, TIERS)
    assert "Premier" in html and "An admin changes the tiers" in html
    assert "<form method=\"post\" action=\"/admin/tiers/" not in html
    active = tier(app, "Active")
    response = http.post(f"{TIERS}/{active.id}", data={"csrf_token": csrf_token(html),
                                                        **typed(active, quarterly_quota="9")})
    assert response.status_code == 403
    assert tier(app, "Active").quarterly_quota == 4


@pytest.mark.parametrize("role", ["sales", "advocate"])
def test_sales_and_advocates_may_not_open_it(app, signed_in, role):
    http, _account = signed_in(role)
    assert http.get(TIERS).status_code == 403


def test_an_admin_changes_a_tier(app, admin, restore_tiers):
    active = tier(app, "Active")
    response = save(admin, active, follow=True, name="Regular", points_threshold="500",
                    benefits="Roadmap reviews\n\n  Annual credits ($3K)  \n", description="Four calls.")
    html = response.get_data(as_text=True)
    assert "The Regular tier is saved." in flashed(html)
    changed = tier(app, "Regular")
    assert (changed.id, changed.points_threshold, changed.benefits, changed.description) == (
        active.id, 500, ["Roadmap reviews", "Annual credits ($3K)"], "Four calls.")
    with app.app_context():
        [event] = db.session.scalars(select(AuditEvent).where(AuditEvent.kind == "tier.changed"))
        assert event.detail["changes"]["points_threshold"] == [400, 500]
        db.session.remove()
    again = save(admin, changed, follow=True)
    assert "The Regular tier was already like that: nothing changed." in flashed(again.get_data(as_text=True))


@pytest.mark.parametrize(("changes", "field", "message"), [
    ({"points_threshold": "1200"}, "points_threshold", "The Premier tier above needs 1000 points"),
    ({"points_threshold": "-1"}, "points_threshold", "from 0 to 10,000,000"),
    ({"points_threshold": "99999999999999999999"}, "points_threshold", "from 0 to 10,000,000"),
    ({"quarterly_quota": "51"}, "quarterly_quota", "from 0 to 50"),
    ({"quarterly_quota": "four"}, "quarterly_quota", "from 0 to 50"),
    ({"name": "Occasional"}, "name", "Another tier is called Occasional"),
    ({"name": ""}, "name", "Give the tier a name"),
])
def test_a_refused_change_is_422_beside_its_field_with_the_form_open(app, admin, restore_tiers, changes,
                                                                     field, message):
    active = tier(app, "Active")
    response = save(admin, active, **changes)
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    form = section(html, f"tier-{active.id}")
    assert re.match(r"<details[^>]*\sopen[\s>]", form)
    error = rf'<small id="tier-{active.id}-{field}-error" class="error">[^<]*{re.escape(message)}'
    assert re.search(error, form)
    assert tier(app, "Active").quarterly_quota == 4 and tier(app, "Active").points_threshold == 400
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(AuditEvent)
                                 .where(AuditEvent.kind == "tier.changed")) == 0
        db.session.remove()


def test_a_nul_character_and_an_unknown_tier_are_refused(app, admin, restore_tiers):
    active = tier(app, "Active")
    token = csrf_token(page(admin, TIERS))
    response = admin.post(f"{TIERS}/{active.id}",
                          data={"csrf_token": token, **typed(active, name="Reg\x00ular")})
    assert response.status_code == 422
    assert tier(app, "Active").name == "Active"
    assert admin.post(f"{TIERS}/999999", data={"csrf_token": token}).status_code == 404
    assert admin.post(f"{TIERS}/99999999999999999999", data={"csrf_token": token}).status_code == 404
    assert admin.post(f"{TIERS}/{active.id}", data=typed(active, quarterly_quota="9")).status_code == 400
    assert tier(app, "Active").quarterly_quota == 4


def test_a_new_quota_is_the_advocates_limit_at_once(app, admin, signed_in, make_advocate, restore_tiers):
    dana = make_advocate(tier="Active", name="Dana Example")
    capped = make_advocate(tier="Active", name="Cap Above", quarterly_cap=3)
    coordinator, _account = signed_in(Role.COORDINATOR)

    def limit_on_pages(advocate) -> tuple[str, str]:
        advocate_page = text(section(page(coordinator, f"/admin/advocates/{advocate.id}"), "quota"))
        pool = page(coordinator, "/admin/advocates")
        row = pool.split(f"/admin/advocates/{advocate.id}\"", 1)[1].split("</tr>", 1)[0]
        return (re.search(r"of (\d+) calls used", advocate_page).group(1),
                re.search(r'<span class="use">\d+ of (\d+)</span>', row).group(1))

    assert limit_on_pages(dana) == ("4", "4")
    assert limit_on_pages(capped) == ("3", "3")

    response = save(admin, tier(app, "Active"), follow=True, quarterly_quota="6")
    assert "may take up to 6 calls a quarter from now on" in flashed(response.get_data(as_text=True))[0]
    assert limit_on_pages(dana) == ("6", "6")
    assert limit_on_pages(capped) == ("3", "3")

    # Lowered below a personal cap: the cap stays as it was set, the quota is the limit.
    response = save(admin, tier(app, "Active"), follow=True, quarterly_quota="2")
    assert "1 of them has a personal cap above that: it stays, and the quota is their limit." in flashed(
        response.get_data(as_text=True))[0]
    assert limit_on_pages(dana) == ("2", "2")
    assert limit_on_pages(capped) == ("2", "2")
    quota = text(section(page(coordinator, f"/admin/advocates/{capped.id}"), "quota"))
    assert "the tier's quota (2) and the personal cap (3)" in quota
