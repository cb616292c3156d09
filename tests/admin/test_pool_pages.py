"""The pool in the admin area: the browser (search by industry, topic, format, tier, status,
"available now" and text; this quarter's use against each limit; a query count that does not grow
with the pool) and one advocate's page (profile, windows, quota, asks, engagements, points)."""

from __future__ import annotations

import re
from datetime import date, time, timedelta

import pytest
from sqlalchemy import select

import admin.pool
from models import (
    Advocate,
    AdvocateTopic,
    Format,
    Industry,
    PointsEntry,
    Region,
    Role,
    Topic,
    TopicStance,
    WeeklyWindow,
    db,
)
from models.types import utcnow
from tests.helpers import page as get
from tests.helpers import text

TODAY = date.today()


def listed(html: str) -> list[int]:
    return [int(n) for n in re.findall(r'<tr id="advocate-(\d+)"', html)]


def row(html: str, advocate_id: int) -> str:
    found = re.search(rf'<tr id="advocate-{advocate_id}".*?</tr>', html, re.S)
    assert found, f"advocate {advocate_id} is not listed"
    return text(found.group(0))


def catalogue_id(app, model, name: str) -> int:
    with app.app_context():
        return db.session.scalar(select(model.id).where(model.name == name))


def profile(app, advocate_id: int, *, industry=None, formats=(), glad=(), avoid=(), **values) -> None:
    with app.app_context():
        advocate = db.session.get(Advocate, advocate_id)
        if industry:
            advocate.company.industry = db.session.scalar(select(Industry).where(Industry.name == industry))
        if formats:
            advocate.formats = list(db.session.scalars(select(Format).where(Format.code.in_(formats))))
        for names, stance in ((glad, TopicStance.GLAD), (avoid, TopicStance.AVOID)):
            for name in names:
                topic = db.session.scalar(select(Topic).where(Topic.name == name))
                advocate.topics.append(AdvocateTopic(topic=topic, stance=stance))
        for name, value in values.items():
            setattr(advocate, name, value)
        db.session.commit()


@pytest.fixture()
def coordinator(make_account, sign_in):
    account = make_account(role=Role.COORDINATOR, name="Cora Ordinator")
    sign_in(account)
    return account


# --- the browser -------------------------------------------------------------------------------


def test_the_pool_lists_each_advocate_with_tier_status_and_this_quarters_use(
    client, coordinator, make_advocate, make_engagement
):
    dana = make_advocate(name="Dana Example", company="Acme Health", tier="Active")
    make_engagement(dana, status="booked")
    make_engagement(dana, status="cancelled")  # gives its place back
    make_engagement(dana, status="completed")
    capped = make_advocate(name="Carl Capped", tier="Premier", quarterly_cap=2)
    untiered = make_advocate(name="Una Tiered", tier=None, status="paused")

    html = get(client, "/admin/advocates")

    assert listed(html) == [capped.id, dana.id, untiered.id]  # by name
    # The tier named Active and the status "active" never read the same.
    assert row(html, dana.id) == ("Choose Dana Example Dana Example Acme Health — Active tier In the program "
                                  "2 of 4 2 left")
    assert row(html, capped.id).endswith("Premier tier In the program 0 of 2 2 left")
    assert row(html, untiered.id).endswith("No tier Paused 0 of 0 none left")


def test_a_row_drawn_before_shows_each_change_at_once(app, client, coordinator, make_advocate,
                                                     make_engagement):
    dana = make_advocate(name="Dana Example", company="Acme Health", tier="Active")
    before = row(get(client, "/admin/advocates"), dana.id)
    assert row(get(client, "/admin/advocates"), dana.id) == before  # drawn once, shown again

    make_engagement(dana, status="booked")
    assert row(get(client, "/admin/advocates"), dana.id).endswith("1 of 4 3 left")
    profile(app, dana.id, status="paused", snoozed_until=TODAY)
    assert "Paused snoozed until" in row(get(client, "/admin/advocates"), dana.id)
    profile(app, dana.id, snoozed_until=TODAY - timedelta(days=1))  # the snooze is over: not shown
    assert row(get(client, "/admin/advocates"), dana.id).endswith("Paused 1 of 4 3 left")
    assert row(get(client, "/admin/advocates"), dana.id).startswith("Choose Dana Example Dana Example Acme")


def test_the_search_form_shows_each_search_as_asked_and_the_catalogues_as_they_are(
        app, client, coordinator, make_advocate):
    make_advocate(name="Dana Example")
    health = catalogue_id(app, Industry, "Healthcare")
    for _ in range(2):  # drawn, then shown again
        searched = get(client, f"/admin/advocates?q=dana&industry={health}")
        assert 'value="dana"' in searched
        assert f'<option selected value="{health}">Healthcare</option>' in searched
        plain = get(client, "/admin/advocates")
        assert 'value="dana"' not in plain and f'<option selected value="{health}">' not in plain
    refused = client.get("/admin/advocates?q=" + "x" * 101)
    assert refused.status_code == 400
    assert "Keep it under 100 characters." in refused.get_data(as_text=True)
    assert "Keep it under 100 characters." not in get(client, "/admin/advocates")
    with app.app_context():  # a topic added to the catalogue (kept between tests) is offered at once
        added = Topic(name="Sustainability", category="Results")
        db.session.add(added)
        db.session.commit()
        try:
            assert ">Sustainability</option>" in get(client, "/admin/advocates")
        finally:
            db.session.delete(added)
            db.session.commit()


def test_every_search_field_has_a_label(client, coordinator):
    html = get(client, "/admin/advocates")
    for name, label in [("q", "Name or company"), ("industry", "Industry"), ("topic", "Glad to talk about"),
                        ("format", "Format"), ("tier", "Tier"), ("status", "Status")]:
        assert f'<label for="{name}">{label}</label>' in html
    assert re.search(r'<label for="available"><input[^>]+id="available"[^>]*> Available now', html)


def test_search_by_industry_topic_format_tier_status_and_text(app, client, coordinator, make_advocate):
    health = make_advocate(name="Hana Health", company="Clinic Partners", tier="Premier")
    profile(app, health.id, industry="Healthcare", formats=("call",), glad=("Security",))
    bank = make_advocate(name="Ben Bank", company="Ledger & Co", tier="Active")
    profile(app, bank.id, industry="Financial Services", formats=("written",), avoid=("Security",))
    shop = make_advocate(name="Sia Shop", company="100% Retail", tier="Active", status="paused")
    profile(app, shop.id, industry="Retail", formats=("call", "written"), glad=("ROI",))

    def search(query: str) -> list[int]:
        return listed(get(client, "/admin/advocates?" + query))

    assert search(f"industry={catalogue_id(app, Industry, 'Healthcare')}") == [health.id]
    # "Glad to talk about": an advocate who would rather not is not found by the topic.
    assert search(f"topic={catalogue_id(app, Topic, 'Security')}") == [health.id]
    assert search("format=written") == [bank.id, shop.id]
    with app.app_context():
        active_tier = db.session.scalar(select(Advocate.tier_id).where(Advocate.id == bank.id))
    assert search(f"tier={active_tier}") == [bank.id, shop.id]
    assert search("status=paused") == [shop.id]
    assert search("q=hana") == [health.id]
    assert search("q=LEDGER") == [bank.id]
    assert search("q=100%25") == [shop.id]  # % is searched for, not a wildcard
    assert search("q=%25") == [shop.id]
    assert search("q=_") == [] and search("q=/") == []  # neither is a wildcard nor an escape
    assert search("format=call&status=active") == [health.id]


def test_available_now_leaves_out_whoever_cannot_be_asked(app, client, coordinator, make_advocate,
                                                          make_engagement):
    free = make_advocate(name="Avery Free")
    snoozed_over = make_advocate(name="Bo Woken", snoozed_until=TODAY - timedelta(days=1))
    make_advocate(name="Cy Paused", status="paused")
    make_advocate(name="Di Snoozed", snoozed_until=TODAY)
    full = make_advocate(name="Ed Full", quarterly_cap=1)
    make_engagement(full, status="awaiting_booking")
    no_consent = make_advocate(name="Flo Unconsented")
    profile(app, no_consent.id, consent_at=None)
    make_advocate(name="Gus Untiered", tier=None)
    busy = make_advocate(name="Hal Busy", tier="Active")  # 4 a quarter, 3 used
    for n in range(3):  # on different days: one advocate's calls never overlap
        make_engagement(busy, status="booked", starts_at=utcnow() + timedelta(days=2 + n))

    html = get(client, "/admin/advocates?available=y")

    assert listed(html) == [free.id, snoozed_over.id, busy.id]
    assert row(html, busy.id).endswith("3 of 4 1 left")
    assert len(listed(get(client, "/admin/advocates"))) == 8


def test_the_pool_says_so_when_empty_or_nothing_matches(client, coordinator, make_advocate):
    assert "The pool is empty." in text(get(client, "/admin/advocates"))
    make_advocate(name="Dana Example")
    html = text(get(client, "/admin/advocates?q=nobody"))
    assert "No advocate matches this search." in html


def test_a_bad_search_is_named_and_answered_400(client, coordinator, make_advocate):
    make_advocate()
    response = client.get("/admin/advocates?industry=999999&format=telepathy&q=" + "x" * 101)
    html = response.get_data(as_text=True)
    assert response.status_code == 400
    assert html.count("Pick one from the list.") == 2
    assert "Keep it under 100 characters." in html
    assert listed(html) == []


def test_a_long_pool_is_paged_and_the_search_is_kept(client, coordinator, make_advocate, monkeypatch):
    monkeypatch.setattr(admin.pool, "PAGE_SIZE", 2)
    ids = [make_advocate(name=f"Advocate {n}").id for n in range(5)]

    first = get(client, "/admin/advocates?status=active")
    assert listed(first) == ids[:2]
    assert "5 advocates · page 1 of 3" in text(first)
    assert 'href="/admin/advocates?page=2&amp;status=active" rel="next"' in first
    assert listed(get(client, "/admin/advocates?status=active&page=3")) == ids[4:]
    for page in ("oops", "0", "²", "99999999999999999999"):
        refused = get(client, f"/admin/advocates?page={page}", status=422)
        assert "The page is a whole number from 1 to" in refused


@pytest.mark.parametrize("role", ["sales", "advocate"])
def test_only_staff_browse_the_pool(app, make_account, make_advocate, sign_in, role):
    advocate = make_advocate()
    http = app.test_client()
    sign_in(make_account(role=role), http=http)
    assert http.get("/admin/advocates").status_code == 403
    assert http.get(f"/admin/advocates/{advocate.id}").status_code == 403


def test_the_pool_reads_the_same_number_of_queries_for_3_and_30_advocates(
    app, client, coordinator, make_advocate, make_engagement, count_queries
):
    def add(count: int) -> None:
        for n in range(count):
            advocate = make_advocate(tier=["Premier", "Active", "Occasional"][n % 3])
            profile(app, advocate.id, industry=["Healthcare", "Retail"][n % 2], formats=("call",),
                    glad=("Security",))
            make_engagement(advocate, status="booked")

    def measure(url: str) -> int:
        with count_queries() as queries:
            get(client, url)
        return len(queries)

    urls = ["/admin/advocates", "/admin/advocates?available=y&format=call",
            f"/admin/advocates?topic={catalogue_id(app, Topic, 'Security')}&q=a"]
    add(3)
    few = [measure(url) for url in urls]
    add(27)
    assert len(listed(get(client, "/admin/advocates"))) == 30
    many = [measure(url) for url in urls]
    assert few == many
    assert max(many) <= 10


# --- one advocate ------------------------------------------------------------------------------


def test_the_advocate_page_shows_profile_windows_quota_asks_engagements_and_points(
    app, client, coordinator, make_advocate, make_request, make_ask, make_engagement
):
    dana = make_advocate(name="Dana Example", email="dana@example.com", company="Acme Health",
                         timezone="Europe/Berlin", tier="Active", quarterly_cap=3, job_title="CIO",
                         languages=["English", "German"], min_days_between_calls=14)
    profile(app, dana.id, industry="Healthcare", formats=("call", "video"), glad=("Security", "ROI"),
            avoid=("Pricing and contract",))
    with app.app_context():
        company = db.session.get(Advocate, dana.id).company
        company.region = db.session.scalar(select(Region).where(Region.name == "Europe"))
        db.session.add(WeeklyWindow(advocate_id=dana.id, weekday=1, starts=time(9), ends=time(12)))
        db.session.add(PointsEntry(advocate_id=dana.id, delta=160, reason="call_completed"))
        db.session.add(PointsEntry(advocate_id=dana.id, delta=-60, reason="redemption"))
        db.session.commit()
    make_ask(dana, request=make_request(prospect_company="Zephyr Hospitals AG"), status="declined")
    make_engagement(dana, status="booked")

    html = get(client, f"/admin/advocates/{dana.id}")
    page = text(html)

    for shown in ["Dana Example", "CIO, Acme Health", "dana@example.com", "Healthcare", "201–1000 employees",
                  "Europe", "Phone call, Video call", "Glad to talk about ROI, Security",
                  "Rather not Pricing and contract", "English, German", "at least 14 days between calls",
                  "Availability (in Europe/Berlin)", "Tuesday 09:00–12:00",
                  "1 of 3 calls used · 2 left", "the personal cap (3)", "100 points to spend",
                  "Zephyr Hospitals AG", "Declined", "Phone call", "Booked"]:
        assert shown in page, shown


def test_an_advocate_page_with_nothing_yet_says_so(client, coordinator, make_advocate):
    lone = make_advocate(tier=None)
    page = text(get(client, f"/admin/advocates/{lone.id}"))
    assert "Limit this quarter: 0 calls." in page
    assert "No weekly windows" in page
    assert "Nothing has happened yet: never asked, no engagements, no points." in page
    assert "0 points to spend" in page


def test_an_unknown_advocate_is_404(client, coordinator):
    assert client.get("/admin/advocates/999999").status_code == 404


def test_the_advocate_page_reads_a_fixed_number_of_queries(
    app, client, coordinator, make_advocate, make_request, make_ask, make_engagement, count_queries
):
    dana = make_advocate()
    profile(app, dana.id, industry="Healthcare", formats=("call",), glad=("Security",))
    days = iter(range(1, 100))

    def add(count: int) -> None:
        for _ in range(count):
            make_ask(dana, request=make_request())
            make_engagement(dana, status="completed", request_id=make_request().id,
                            starts_at=utcnow() - timedelta(days=next(days)))

    def measure() -> int:
        with count_queries() as queries:
            get(client, f"/admin/advocates/{dana.id}")
        return len(queries)

    add(1)
    one = measure()
    add(14)
    assert measure() == one
    assert one <= 21  # profile, quota, points, the six timeline reads, the forms
