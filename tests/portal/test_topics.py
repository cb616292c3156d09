"""The advocate's topics and formats: the catalogue grouped by category with a three-way choice
per topic, formats on or off, saved all at once; a tampered form saves nothing."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest
from sqlalchemy import delete, func, select

from models import Advocate, AdvocateTopic, AuditEvent, Topic, TopicStance, db
from tests.conftest import csrf_token
from workflows import profiles as flow

PAGE = "/portal/topics"


# --- helpers ---------------------------------------------------------------------------------


@pytest.fixture()
def advocate(make_advocate, sign_in):
    advocate = make_advocate(name="Dana Example")
    sign_in(advocate.account)
    return advocate


@pytest.fixture()
def catalogue(app) -> dict[str, int]:
    """Topic name → id, as the migration seeded them."""
    with app.app_context():
        topics = {t.name: t.id for t in db.session.scalars(select(Topic))}
        db.session.remove()
    return topics


class Inputs(HTMLParser):
    """The page's radio buttons and checkboxes: (name, value, checked)."""

    def __init__(self):
        super().__init__()
        self.found: list[tuple[str, str, bool]] = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "input" and attrs.get("type") in ("radio", "checkbox"):
            self.found.append((attrs["name"], attrs["value"], "checked" in attrs))


def choices(html: str) -> tuple[dict[int, str], set[str]]:
    """(topic id → the stance checked, the format codes checked) as the page shows them."""
    parser = Inputs()
    parser.feed(html)
    stances = {int(name.removeprefix("topic_")): value
               for name, value, checked in parser.found if name.startswith("topic_") and checked}
    formats = {value for name, value, checked in parser.found if name == "formats" and checked}
    return stances, formats


def save(client, stances: dict[int, str], formats=(), follow: bool = False, **extra):
    token = csrf_token(client.get(PAGE).get_data(as_text=True))
    data = {"csrf_token": token, **{f"topic_{topic_id}": stance for topic_id, stance in stances.items()}}
    data["formats"] = list(formats)
    data.update(extra)
    return client.post(PAGE, data=data, follow_redirects=follow)


def state(app, advocate_id: int) -> dict:
    with app.app_context():
        advocate = db.session.get(Advocate, advocate_id)
        snapshot = {
            "topics": {row.topic.name: row.stance.value for row in advocate.topics},
            "formats": sorted(f.code for f in advocate.formats),
            "audit": db.session.scalar(
                select(func.count()).select_from(AuditEvent).where(AuditEvent.kind == "profile.topics_saved")
            ),
        }
        db.session.remove()
    return snapshot


def everything_neutral(catalogue: dict[str, int]) -> dict[int, str]:
    return dict.fromkeys(catalogue.values(), "neutral")


# --- the page --------------------------------------------------------------------------------


def test_signed_out_visitors_are_sent_to_sign_in(client):
    response = client.get(PAGE)
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/sign-in")


def test_staff_may_not_open_it(client, make_account, sign_in):
    sign_in(make_account(role="sales"))
    assert client.get(PAGE).status_code == 403


def test_an_advocate_account_without_a_profile_gets_404(client, make_account, sign_in):
    sign_in(make_account(role="advocate"))
    assert client.get(PAGE).status_code == 404
    token = csrf_token(client.get("/portal").get_data(as_text=True))
    assert client.post(PAGE, data={"csrf_token": token}).status_code == 404


def test_the_catalogue_grouped_by_category_with_three_labelled_choices(client, advocate, catalogue):
    html = client.get(PAGE).get_data(as_text=True)
    assert "<h1>Topics and formats</h1>" in html
    # Categories in catalogue order, topics by name within each.
    assert re.findall(r"<h3>([^<]+)</h3>", html) == [
        "Getting started", "Results", "Risk and trust", "People and buying"
    ]
    legends = re.findall(r"<legend>([^<]+)</legend>", html)
    assert legends[:3] == ["Implementation", "Integration", "Migration"]
    assert len(legends) == len(catalogue) + 1  # and the formats
    assert legends[-1] == "Formats you accept"
    for label in ("Glad to talk about", "Neutral", "Rather not"):
        assert html.count(f"> {label}</label>") == len(catalogue)
    for label in ("Phone call", "Video call", "Written reference", "Site visit"):
        assert f"> {label}</label>" in html
    for input_id in re.findall(r'<input[^>]* id="([^"]+)"', html):
        assert f'<label for="{input_id}">' in html, input_id
    # A new advocate: every topic neutral, no format yet, and told what that means.
    stances, formats = choices(html)
    assert stances == everything_neutral(catalogue)
    assert formats == set()
    assert "You accept no format at the moment, so nobody will ask you." in html


def test_changes_need_the_csrf_token(client, app, advocate, catalogue):
    before = state(app, advocate.id)
    response = client.post(PAGE, data={f"topic_{catalogue['ROI']}": "glad", "formats": ["call"]})
    assert response.status_code == 400
    assert state(app, advocate.id) == before


# --- saving ----------------------------------------------------------------------------------


def test_save_stances_and_formats_and_see_them_kept(client, app, advocate, catalogue):
    stances = everything_neutral(catalogue) | {
        catalogue["ROI"]: "glad", catalogue["Security"]: "glad", catalogue["Pricing and contract"]: "avoid",
    }
    response = save(client, stances, formats=["call", "written"])
    assert response.status_code == 302
    assert response.headers["Location"] == PAGE
    assert state(app, advocate.id) == {
        "topics": {"ROI": "glad", "Security": "glad", "Pricing and contract": "avoid"},
        "formats": ["call", "written"],
        "audit": 1,
    }
    html = client.get(PAGE).get_data(as_text=True)
    assert ("Topics and formats saved: glad to talk about 2 topics, rather not 1; "
            "formats: Phone call, Written reference.") in html
    assert choices(html) == (stances, {"call", "written"})
    assert "You accept no format" not in html

    with app.app_context():
        [event] = db.session.scalars(select(AuditEvent).where(AuditEvent.kind == "profile.topics_saved"))
        assert event.actor_id == advocate.account.id
        assert event.detail == {"glad": 2, "avoid": 1, "formats": ["call", "written"]}
        db.session.remove()


def test_saving_replaces_every_stance_and_format(client, app, advocate, catalogue):
    save(client, {catalogue["ROI"]: "glad", catalogue["Security"]: "avoid", catalogue["Adoption"]: "glad"},
         formats=["call", "video"])
    response = save(
        client,
        everything_neutral(catalogue) | {catalogue["ROI"]: "avoid", catalogue["Migration"]: "glad"},
        formats=["site_visit"],
        follow=True,
    )
    assert "glad to talk about 1 topic, rather not 1; formats: Site visit." in response.get_data(as_text=True)
    after = state(app, advocate.id)
    assert after["topics"] == {"ROI": "avoid", "Migration": "glad"}
    assert after["formats"] == ["site_visit"]


def test_a_topic_left_out_of_the_form_becomes_neutral(client, app, advocate, catalogue):
    save(client, {catalogue["ROI"]: "glad", catalogue["Security"]: "avoid"}, formats=["call"])
    save(client, {catalogue["ROI"]: "glad"}, formats=["call"])
    assert state(app, advocate.id)["topics"] == {"ROI": "glad"}


def test_switching_every_format_off_is_allowed_and_explained(client, app, advocate, catalogue):
    save(client, {}, formats=["call"])
    response = save(client, {}, formats=[], follow=True)
    html = response.get_data(as_text=True)
    assert "no formats switched on, so nobody will ask you for now." in html
    assert "You accept no format at the moment" in html
    assert state(app, advocate.id)["formats"] == []


# --- a stale or tampered form ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("tamper", "message"),
    [
        ({"topic_999999": "glad"}, "The form named a topic that is not in the catalogue (“999999”)."),
        ({"topic_abc": "glad"}, "The form named a topic that is not in the catalogue (“abc”)."),
        ({"topic_": "avoid"}, "The form named a topic that is not in the catalogue (“”)."),
        ({"topic_-1": "avoid"}, "The form named a topic that is not in the catalogue (“-1”)."),
        ({"formats": ["call", "telepathy"]}, "The form named a format we do not offer (“telepathy”)."),
        ({"formats": ["x" * 500]}, "The form named a format we do not offer"),
    ],
)
def test_a_tampered_form_gets_400_and_saves_nothing(client, app, advocate, catalogue, tamper, message):
    save(client, {catalogue["ROI"]: "glad"}, formats=["video"])
    before = state(app, advocate.id)
    stances = everything_neutral(catalogue) | {catalogue["ROI"]: "avoid", catalogue["Security"]: "glad"}
    formats = tamper.pop("formats", ["call"])
    response = save(client, stances, formats=formats, **tamper)
    html = response.get_data(as_text=True)
    assert response.status_code == 400, html
    assert message in html
    assert "Nothing was saved." in html
    assert "Reload the page and choose again." in html
    assert state(app, advocate.id) == before


def test_an_unknown_stance_gets_400_and_saves_nothing(client, app, advocate, catalogue):
    before = state(app, advocate.id)
    response = save(client, {catalogue["ROI"]: "glad", catalogue["Security"]: "love"}, formats=["call"])
    html = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "“love” is not a choice for a topic" in html
    assert state(app, advocate.id) == before
    # The page is shown again with what was posted.
    stances, formats = choices(html)
    assert stances[catalogue["ROI"]] == "glad"
    assert formats == {"call"}


def test_a_topic_removed_from_the_catalogue_meanwhile_is_refused(app, make_advocate):
    advocate = make_advocate()
    with app.app_context(), pytest.raises(flow.UnknownChoice):
        flow.save_topics(advocate.id, {"424242": "glad"}, ["call"])
    assert state(app, advocate.id)["topics"] == {}


# --- performance and privacy -----------------------------------------------------------------


@pytest.fixture()
def more_topics(app):
    """``more_topics(n)`` adds topics to the catalogue (a reference table the cleanup keeps),
    and removes them after the test."""
    added: list[int] = []

    def add(count: int) -> list[int]:
        with app.app_context():
            rows = [Topic(name=f"Extra topic {n}", category=f"Extra {n % 3}") for n in range(count)]
            db.session.add_all(rows)
            db.session.commit()
            added.extend(row.id for row in rows)
            db.session.remove()
        return added

    yield add
    with app.app_context():
        db.session.execute(delete(AdvocateTopic).where(AdvocateTopic.topic_id.in_(added)))
        db.session.execute(delete(Topic).where(Topic.id.in_(added)))
        db.session.commit()
        db.session.remove()


def test_the_page_and_a_save_issue_a_bounded_number_of_queries(
    client, app, advocate, catalogue, more_topics, count_queries
):
    def measure_page() -> int:
        with count_queries() as queries:
            response = client.get(PAGE)
        assert response.status_code == 200
        return len(queries)

    def measure_save(stances: dict[int, str], formats) -> int:
        token = csrf_token(client.get(PAGE).get_data(as_text=True))
        data = {"csrf_token": token, "formats": formats, **{f"topic_{t}": s for t, s in stances.items()}}
        with count_queries() as queries:
            response = client.post(PAGE, data=data)
        assert response.status_code == 302
        return len(queries)

    # Each save updates a stance, removes one, adds others and swaps the formats.
    save(client, {catalogue["ROI"]: "avoid", catalogue["Migration"]: "glad"}, formats=["video"])
    save_few = measure_save({catalogue["ROI"]: "glad", catalogue["Security"]: "avoid"}, ["call"])
    page_few = measure_page()

    extra = more_topics(30)
    save(client, dict.fromkeys(extra, "avoid") | {catalogue["Migration"]: "glad"},
         formats=["video", "written"])
    every = [topic_id for topic_id in [*catalogue.values(), *extra] if topic_id != catalogue["Migration"]]
    save_many = measure_save(
        {topic_id: ("glad" if n % 2 else "avoid") for n, topic_id in enumerate(every)},
        ["call", "site_visit"],
    )
    page_many = measure_page()

    assert page_few == page_many
    assert page_many <= 7
    assert save_few == save_many
    # The save's own statements, plus the fixed refresh of the advocate's match row.
    assert save_many <= 32
    assert len(state(app, advocate.id)["topics"]) == 41
    assert client.get(PAGE).get_data(as_text=True).count('class="stance"') == 42


def test_an_advocate_changes_only_their_own_stances(client, app, advocate, make_advocate, catalogue):
    other = make_advocate()
    with app.app_context():
        flow.save_topics(other.id, {str(catalogue["ROI"]): "avoid"}, ["written"])
        db.session.remove()
    assert choices(client.get(PAGE).get_data(as_text=True)) == (everything_neutral(catalogue), set())
    save(client, {catalogue["ROI"]: "glad"}, formats=["call"])
    assert state(app, other.id)["topics"] == {"ROI": "avoid"}
    assert state(app, other.id)["formats"] == ["written"]
    # The stance enum and the form's values agree.
    assert {s.value for s in TopicStance} | {flow.NEUTRAL} == {"glad", "avoid", "neutral"}
