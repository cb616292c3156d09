"""The advocate's profile page: job, products and use cases, competitors, story, languages,
companies refused; saving and "mark as reviewed"."""

from __future__ import annotations

import re
import threading
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from models import (
    Advocate,
    AdvocateCompetitor,
    AuditEvent,
    Competitor,
    Product,
    UseCase,
    db,
)
from models.advocates import review_due
from models.types import utcnow
from tests.conftest import csrf_token
from workflows import profiles as flow

PAGE = "/portal/profile"
REVIEWED = f"{PAGE}/reviewed"


# --- helpers ---------------------------------------------------------------------------------


@pytest.fixture()
def advocate(make_advocate, sign_in):
    """An advocate in Berlin, signed in on ``client``."""
    advocate = make_advocate(timezone="Europe/Berlin", name="Dana Example")
    sign_in(advocate.account)
    return advocate


FULL = {
    "job_title": "VP Operations",
    "job_level": "executive",
    "products": "Insight Cloud\nData Pipelines",
    "use_cases": "Fleet tracking\nInvoice automation",
    "competitors_evaluated": "Acme Analytics",
    "competitors_replaced": "Globex Data\nInitech Cloud",
    "success_metrics": "Cut reporting time from 3 days to 2 hours.",
    "talking_points": "Rollout in 6 weeks.\nWorks with our ERP.",
    "languages": "English, German",
    "refused_companies": "Northwind, Inc.\nContoso",
}


def post(client, url: str = PAGE, data: dict | None = None, follow: bool = False):
    token = csrf_token(client.get(PAGE).get_data(as_text=True))
    return client.post(url, data={"csrf_token": token, **(data or {})}, follow_redirects=follow)


def state(app, advocate_id: int) -> dict:
    """Everything the page can change, plus the tag tables, to show a refusal changed nothing."""
    with app.app_context():
        advocate = db.session.get(Advocate, advocate_id)
        snapshot = {
            "job_title": advocate.job_title,
            "job_level": advocate.job_level_code,
            "products": sorted(p.name for p in advocate.products),
            "use_cases": sorted(u.name for u in advocate.use_cases),
            "competitors": sorted((c.competitor.name, c.relation.value) for c in advocate.competitors),
            "success_metrics": advocate.success_metrics,
            "talking_points": advocate.talking_points,
            "languages": list(advocate.languages),
            "refused_companies": list(advocate.refused_companies),
            "last_reviewed_at": advocate.last_reviewed_at,
            "tags": [
                db.session.scalar(select(func.count()).select_from(m)) for m in (Product, UseCase, Competitor)
            ],
            "audit": db.session.scalar(
                select(func.count()).select_from(AuditEvent).where(AuditEvent.kind.like("profile.%"))
            ),
        }
        db.session.remove()
    return snapshot


def set_fields(app, advocate_id: int, **values) -> None:
    with app.app_context():
        advocate = db.session.get(Advocate, advocate_id)
        for name, value in values.items():
            setattr(advocate, name, value)
        db.session.commit()
        db.session.remove()


def refused(response, message: str) -> str:
    html = response.get_data(as_text=True)
    assert response.status_code == 400, html
    assert message in html, html
    assert "Nothing was saved." in html
    return html


def error_beside(html: str, field: str) -> str:
    """The message shown under ``field`` (which the macro marks aria-invalid)."""
    assert re.search(rf'<(?:input|select|textarea)[^>]*aria-invalid="true"[^>]*id="{field}"', html) or \
        re.search(rf'<(?:input|select|textarea)[^>]*id="{field}"[^>]*aria-invalid="true"', html), field
    found = re.search(rf'<small id="{field}-error" class="error">([^<]+)</small>', html)
    assert found, f"no error under {field}"
    return found.group(1)


# --- the page --------------------------------------------------------------------------------


def test_signed_out_visitors_are_sent_to_sign_in(client):
    response = client.get(PAGE)
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/sign-in")


def test_staff_may_not_open_it(client, make_account, sign_in):
    sign_in(make_account(role="coordinator"))
    assert client.get(PAGE).status_code == 403


def test_an_advocate_account_without_a_profile_gets_404(client, make_account, sign_in):
    sign_in(make_account(role="advocate"))
    assert client.get(PAGE).status_code == 404
    token = csrf_token(client.get("/portal").get_data(as_text=True))
    assert client.post(PAGE, data={"csrf_token": token, **FULL}).status_code == 404
    assert client.post(REVIEWED, data={"csrf_token": token}).status_code == 404


def test_an_empty_profile_says_so_and_every_input_has_a_label(client, advocate):
    html = client.get(PAGE).get_data(as_text=True)
    assert "<h1>Your profile</h1>" in html
    assert "Your profile is empty so far." in html
    assert "You have not reviewed your profile yet." in html
    assert "Please look it over" in html
    for label in ("Job title", "Job level", "Products you use", "Competitors you evaluated",
                  "Competitors you replaced", "Success metrics", "Talking points",
                  "Languages you can take a call in", "Companies you will not speak with"):
        assert f">{label}</label>" in html, label
    for input_id in re.findall(r'<(?:input|select|textarea)[^>]* id="([^"]+)"', html):
        assert f'<label for="{input_id}">' in html, input_id
    # The job levels of the catalogue, in rank order, and "Not set".
    options = re.findall(r'<option[^>]*value="([^"]*)"', html)
    assert options == ["", "executive", "director", "manager", "practitioner"]
    assert "Mark profile as reviewed" in html


def test_only_posts_change_anything(client, advocate):
    assert client.get(REVIEWED).status_code == 405


def test_changes_need_the_csrf_token(client, app, advocate):
    before = state(app, advocate.id)
    assert client.post(PAGE, data=FULL).status_code == 400
    assert client.post(REVIEWED).status_code == 400
    assert state(app, advocate.id) == before


# --- saving ----------------------------------------------------------------------------------


def test_save_the_whole_profile(client, app, advocate):
    response = post(client, data=FULL)
    assert response.status_code == 302
    assert response.headers["Location"] == PAGE
    after = state(app, advocate.id)
    assert after["job_title"] == "VP Operations"
    assert after["job_level"] == "executive"
    assert after["products"] == ["Data Pipelines", "Insight Cloud"]
    assert after["use_cases"] == ["Fleet tracking", "Invoice automation"]
    assert after["competitors"] == [
        ("Acme Analytics", "evaluated"), ("Globex Data", "replaced"), ("Initech Cloud", "replaced")
    ]
    assert after["success_metrics"] == "Cut reporting time from 3 days to 2 hours."
    assert after["talking_points"] == "Rollout in 6 weeks.\nWorks with our ERP."
    assert after["languages"] == ["English", "German"]
    # A company name keeps its comma: only lines and semicolons separate companies.
    assert after["refused_companies"] == ["Northwind, Inc.", "Contoso"]
    # Saving counts as a review.
    assert utcnow() - after["last_reviewed_at"] < timedelta(minutes=1)

    html = client.get(PAGE).get_data(as_text=True)
    assert "Profile saved, and marked as reviewed today." in html
    assert 'value="VP Operations"' in html
    assert re.search(r'<option selected value="executive">Executive</option>', html)
    assert "Data Pipelines\nInsight Cloud</textarea>" in html
    assert 'value="English, German"' in html
    assert "Northwind, Inc.\nContoso</textarea>" in html
    assert "You last reviewed your profile on" in html
    assert "Please look it over" not in html
    assert "Your profile is empty so far." not in html

    with app.app_context():
        [event] = db.session.scalars(select(AuditEvent).where(AuditEvent.kind == "profile.saved"))
        assert event.actor_id == advocate.account.id
        assert event.subject == f"advocate:{advocate.id}"
        assert "products" in event.detail["changed"]
        db.session.remove()


def test_saving_the_page_as_shown_changes_nothing_but_counts_as_a_review(client, app, advocate):
    post(client, data=FULL)
    set_fields(app, advocate.id, last_reviewed_at=datetime(2025, 1, 1, tzinfo=UTC))
    before = state(app, advocate.id)
    html = client.get(PAGE).get_data(as_text=True)
    # Send back exactly what the form shows.
    shown = dict(re.findall(r'<input[^>]*id="(job_title|languages)"[^>]*value="([^"]*)"', html))
    shown |= dict(re.findall(r'<textarea[^>]*id="(\w+)"[^>]*>\n?([^<]*)</textarea>', html))
    shown["job_level"] = "executive"
    response = post(client, data=shown, follow=True)
    assert "Nothing had changed: your profile is marked as reviewed today." in response.get_data(as_text=True)
    after = state(app, advocate.id)
    assert after["last_reviewed_at"] > before["last_reviewed_at"]
    assert {k: v for k, v in after.items() if k not in ("last_reviewed_at", "audit")} == {
        k: v for k, v in before.items() if k not in ("last_reviewed_at", "audit")
    }


def test_a_second_save_replaces_lists_and_moves_a_competitor_between_lists(client, app, advocate):
    post(client, data=FULL)
    response = post(client, data={
        **FULL, "products": "", "competitors_evaluated": "Globex Data", "competitors_replaced": "",
        "job_level": "", "languages": "",
    })
    assert response.status_code == 302
    after = state(app, advocate.id)
    assert after["products"] == []
    assert after["job_level"] is None
    assert after["languages"] == []
    assert after["competitors"] == [("Globex Data", "evaluated")]
    # Tags stay in the catalogue for others; only the advocate's links went.
    assert after["tags"] == [2, 2, 3]


def test_tags_are_split_deduplicated_and_matched_case_insensitively(client, app, advocate, make_advocate):
    with app.app_context():
        db.session.add_all([UseCase(name="fleet tracking"), Product(name="Insight Cloud")])
        db.session.commit()
        fleet_id = db.session.scalar(select(UseCase.id).where(UseCase.key == "fleet tracking"))
        db.session.remove()

    response = post(client, data={
        "use_cases": "Fleet tracking\r\nFLEET   tracking\n fleet tracking \n\nRoute planning",
        "products": "insight cloud\nINSIGHT CLOUD",
        "languages": "English; english, German",
    })
    assert response.status_code == 302
    with app.app_context():
        advocate_row = db.session.get(Advocate, advocate.id)
        # The existing row is reused, keeping its spelling; no second "fleet tracking".
        assert [(u.id, u.name) for u in advocate_row.use_cases if u.key == "fleet tracking"] == [
            (fleet_id, "fleet tracking")
        ]
        assert sorted(u.name for u in advocate_row.use_cases) == ["Route planning", "fleet tracking"]
        assert db.session.scalar(select(func.count()).select_from(UseCase)) == 2
        assert [p.name for p in advocate_row.products] == ["Insight Cloud"]
        assert db.session.scalar(select(func.count()).select_from(Product)) == 1
        assert advocate_row.languages == ["English", "German"]
        db.session.remove()


def test_the_workflow_dedupes_lists_given_to_it_directly(app, make_advocate):
    advocate = make_advocate()
    with app.app_context():
        changes = flow.ProfileChanges(products=["Data  Pipelines", "data pipelines", " "])
        flow.save_profile(advocate.id, changes, now=utcnow())
        db.session.remove()
    assert state(app, advocate.id)["products"] == ["Data Pipelines"]


def test_two_advocates_creating_the_same_new_tag_at_once_share_one_row(app, make_advocate):
    first, second = make_advocate(), make_advocate()
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []

    def save(advocate_id: int, spellings: list[str]) -> None:
        with app.app_context():
            barrier.wait()
            try:
                flow.save_profile(
                    advocate_id, flow.ProfileChanges(use_cases=spellings, competitors_replaced=spellings),
                    now=utcnow(),
                )
            except BaseException as error:  # noqa: BLE001 - reported below
                errors.append(error)
            finally:
                db.session.remove()

    # The same new tags, in the opposite order: neither waits for the other forever.
    threads = [threading.Thread(target=save, args=(first.id, ["Drone Inspection", "Asset tracking"])),
               threading.Thread(target=save, args=(second.id, ["asset tracking", "drone inspection"]))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert errors == []
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(UseCase)) == 2
        assert db.session.scalar(select(func.count()).select_from(Competitor)) == 2
        assert db.session.scalar(select(func.count()).select_from(AdvocateCompetitor)) == 4
        db.session.remove()


def test_limits_are_inclusive(client, app, advocate):
    response = post(client, data={
        "job_title": "x" * flow.JOB_TITLE_MAX_LENGTH,
        "success_metrics": "y" * flow.TEXT_MAX_LENGTH,
        # Browsers send a line break as CRLF but count it as one character.
        "talking_points": "\r\n".join(["z" * 999] * 5),
        "products": "\n".join(f"Product {n}" for n in range(flow.TAGS_MAX)),
        "use_cases": "u" * flow.TAG_MAX_LENGTH,
    })
    assert response.status_code == 302
    after = state(app, advocate.id)
    assert len(after["job_title"]) == 120
    assert len(after["talking_points"]) == 4999
    assert len(after["products"]) == 30


# --- bad input -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        ({"job_title": "x" * 121}, "job_title", "Your job title is 121 characters long: keep it to 120"),
        ({"job_level": "ceo"}, "job_level", "Pick a job level from the list, or leave it empty."),
        ({"success_metrics": "y" * 5001}, "success_metrics", "keep it to 5,000 or fewer"),
        ({"talking_points": "z" * 100_000}, "talking_points", "Your talking points is 100,000 characters"),
        ({"products": "p" * 121}, "products", "keep each of your products to 120 characters"),
        ({"use_cases": "\n".join(f"Use {n}" for n in range(31))}, "use_cases",
         "That is 31 use cases: list at most 30"),
        ({"competitors_evaluated": "c" * 200}, "competitors_evaluated", "keep each of your competitors"),
        ({"competitors_evaluated": "Acme", "competitors_replaced": "acme"}, "competitors_replaced",
         "“acme” appears in both lists"),
        ({"languages": "Klingon" * 10}, "languages", "keep each of your languages to 40 characters"),
        ({"languages": ", ".join(f"L{n}" for n in range(11))}, "languages", "That is 11 languages"),
        ({"refused_companies": "C" * 201}, "refused_companies", "keep each of your companies to 200"),
    ],
)
def test_bad_input_is_refused_beside_its_field_and_changes_nothing(
    client, app, advocate, data, field, message
):
    post(client, data=FULL)
    before = state(app, advocate.id)
    response = post(client, data={**FULL, **data})
    html = refused(response, message)
    assert message in error_beside(html, field)
    assert state(app, advocate.id) == before
    # What was typed is shown again, to be corrected.
    if field == "job_title":
        assert 'value="' + "x" * 121 + '"' in html


def test_every_bad_input_is_named_at_once(client, app, advocate):
    before = state(app, advocate.id)
    response = post(client, data={"job_title": "x" * 121, "job_level": "ceo", "products": "p" * 121})
    html = refused(response, "Your job title is 121 characters long")
    for field in ("job_title", "job_level", "products"):
        error_beside(html, field)
    assert state(app, advocate.id) == before


def test_a_job_level_removed_from_the_catalogue_meanwhile_is_refused(app, make_advocate):
    advocate = make_advocate()
    with app.app_context(), pytest.raises(flow.ProfileError) as refusal:
        flow.save_profile(advocate.id, flow.ProfileChanges(job_level="intern"), now=utcnow())
    assert refusal.value.field == "job_level"


# --- the review ------------------------------------------------------------------------------


def test_mark_profile_as_reviewed(client, app, advocate):
    set_fields(app, advocate.id, last_reviewed_at=datetime(2025, 1, 1, tzinfo=UTC))
    html = client.get(PAGE).get_data(as_text=True)
    assert "You last reviewed your profile on <strong>01 January 2025</strong>" in html
    assert "it is more than 90 days" in html

    before = state(app, advocate.id)
    response = post(client, REVIEWED, follow=True)
    html = response.get_data(as_text=True)
    assert "Thank you: your profile is marked as reviewed today." in html
    assert "Please look it over" not in html
    after = state(app, advocate.id)
    assert utcnow() - after["last_reviewed_at"] < timedelta(minutes=1)
    assert after["audit"] == before["audit"] + 1
    assert {k: v for k, v in after.items() if k not in ("last_reviewed_at", "audit")} == {
        k: v for k, v in before.items() if k not in ("last_reviewed_at", "audit")
    }


def test_the_review_date_is_shown_in_the_advocates_zone(client, app, advocate):
    # 23:30 UTC on 31 March is already 1 April in Berlin.
    set_fields(app, advocate.id, last_reviewed_at=datetime(2026, 3, 31, 23, 30, tzinfo=UTC))
    assert "<strong>01 April 2026</strong>" in client.get(PAGE).get_data(as_text=True)


def test_review_is_due_after_the_configured_days():
    now = datetime(2026, 6, 1, tzinfo=UTC)
    assert review_due(None, now, 90)
    assert review_due(now - timedelta(days=90), now, 90)  # exactly 90 days: due, for the nudge and home
    assert not review_due(now - timedelta(days=89, hours=23), now, 90)


def test_a_tag_keeps_whatever_it_holds_when_the_profile_is_saved_again(client, app, advocate):
    post(client, data={**FULL, "use_cases": "Billing, claims\nFleet tracking; routes"})
    html = client.get(PAGE).get_data(as_text=True)
    shown = dict(re.findall(r'<textarea[^>]*id="(\w+)"[^>]*>\n?([^<]*)</textarea>', html))
    shown |= dict(re.findall(r'<input[^>]*id="(job_title|languages)"[^>]*value="([^"]*)"', html))
    post(client, data={**shown, "job_level": "executive"})
    post(client, data={**shown, "job_level": "executive"})
    assert state(app, advocate.id)["use_cases"] == ["Billing, claims", "Fleet tracking; routes"]


# --- the rules alone -------------------------------------------------------------------------


def test_split_list():
    assert flow.split_list(" a, b;c\nd\r\n\n A,  b;c ") == ["a, b;c", "d"]
    assert flow.split_list("Northwind, Inc.; Contoso\nContoso", flow.CELL_SEPARATORS) == [
        "Northwind, Inc.", "Contoso"
    ]
    assert flow.split_list("English; english, German", flow.LANGUAGE_SEPARATORS) == ["English", "German"]
    assert flow.split_list("") == flow.split_list(None) == []


# --- performance and privacy -----------------------------------------------------------------


def test_the_page_reads_a_bounded_number_of_queries(client, app, advocate, count_queries):
    def measure() -> int:
        with count_queries() as queries:
            response = client.get(PAGE)
        assert response.status_code == 200
        return len(queries)

    post(client, data={"products": "One", "use_cases": "Two", "competitors_evaluated": "Three"})
    with_few = measure()
    post(client, data={
        "products": "\n".join(f"Product {n}" for n in range(30)),
        "use_cases": "\n".join(f"Use case {n}" for n in range(30)),
        "competitors_evaluated": "\n".join(f"Rival {n}" for n in range(15)),
        "competitors_replaced": "\n".join(f"Foe {n}" for n in range(15)),
    })
    with_many = measure()
    assert with_few == with_many
    assert with_many <= 8
    html = client.get(PAGE).get_data(as_text=True)
    assert "Rival 14" in html and "Foe 14" in html


def test_saving_issues_a_bounded_number_of_queries(client, app, advocate, count_queries):
    def tags(word: str, count: int) -> dict:
        return {
            "products": "\n".join(f"{word} product {n}" for n in range(count)),
            "use_cases": "\n".join(f"{word} use {n}" for n in range(count)),
            "competitors_evaluated": "\n".join(f"{word} rival {n}" for n in range(count)),
        }

    def measure(data: dict) -> int:
        """Replacing every tag by new ones: deletes, inserts and new tags, whatever the number."""
        token = csrf_token(client.get(PAGE).get_data(as_text=True))
        with count_queries() as queries:
            response = client.post(PAGE, data={"csrf_token": token, **data})
        assert response.status_code == 302
        return len(queries)

    post(client, data=tags("old", 1))
    few = measure(tags("new", 1))
    post(client, data=tags("older", 30))
    many = measure(tags("newer", 30))
    assert few == many
    # The save's own statements, plus the fixed refresh of the advocate's match row.
    assert many <= 45
    assert len(state(app, advocate.id)["products"]) == 30


def test_an_advocate_sees_only_their_own_profile(client, app, advocate, make_advocate):
    other = make_advocate()
    with app.app_context():
        flow.save_profile(
            other.id,
            flow.ProfileChanges(job_title="Other title", products=["Secret Product"],
                                refused_companies=["Secret Corp"]),
            now=utcnow(),
        )
        db.session.remove()
    html = client.get(PAGE).get_data(as_text=True)
    assert "Other title" not in html and "Secret Product" not in html and "Secret Corp" not in html
    post(client, data=FULL)
    assert state(app, other.id)["job_title"] == "Other title"
    assert state(app, other.id)["products"] == ["Secret Product"]
