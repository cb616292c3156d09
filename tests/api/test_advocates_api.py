"""``GET /api/v1/advocates`` (DESIGN.md §9): the pool for coordinators, filtered by industry,
topic, format and availability, case-insensitively, in one query whatever the pool's size."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import select

from models import Advocate, AdvocateTopic, Company, Format, Industry, Topic, TopicStance, db
from workflows import tokens

# --- helpers -----------------------------------------------------------------------------------


@pytest.fixture()
def api(app, make_account):
    """``api(role)`` → a function ``get(url)`` sending a new token of a new account of that role."""

    def make(role: str = "coordinator"):
        account = make_account(role=role)
        with app.app_context():
            _token, secret = tokens.create_token(account.email)
            db.session.remove()
        http = app.test_client()
        return lambda url: http.get(url, headers={"Authorization": f"Bearer {secret}"})

    return make


def profile(app, advocate, *, industry=None, formats=(), glad=(), avoid=()):
    with app.app_context():
        row = db.session.get(Advocate, advocate.id)
        if industry:
            company = db.session.get(Company, row.company_id)
            company.industry = db.session.scalar(select(Industry).where(Industry.name == industry))
        row.formats = list(db.session.scalars(select(Format).where(Format.code.in_(formats))))
        for names, stance in ((glad, TopicStance.GLAD), (avoid, TopicStance.AVOID)):
            for name in names:
                topic = db.session.scalar(select(Topic).where(Topic.name == name))
                row.topics.append(AdvocateTopic(topic=topic, stance=stance))
        db.session.commit()


def names(response) -> list[str]:
    assert response.status_code == 200, response.get_json()
    return [a["name"] for a in response.get_json()["advocates"]]


# --- listing -----------------------------------------------------------------------------------


@pytest.mark.parametrize("role", ["coordinator", "admin"])
def test_staff_list_the_pool_by_name_with_this_quarters_calls_left(app, api, make_advocate, make_engagement,
                                                                  role):
    get = api(role)
    bea = make_advocate(name="Bea Busy", tier="Active", email="bea@customer.example", company="Initech")
    profile(app, bea, industry="Healthcare")
    make_engagement(bea, status="awaiting_booking")  # counted in this quarter
    make_engagement(bea, status="cancelled")  # gives its place back
    make_advocate(name="Al Capped", tier="Premier", quarterly_cap=1)
    make_advocate(name="Cy Candidate", tier=None, status="candidate")

    response = get("/api/v1/advocates")
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    advocates = response.get_json()["advocates"]
    assert [a["name"] for a in advocates] == ["Al Capped", "Bea Busy", "Cy Candidate"]
    assert advocates[1] == {
        "id": bea.id,
        "name": "Bea Busy",
        "email": "bea@customer.example",
        "company": "Initech",
        "industry": "Healthcare",
        "tier": "Active",
        "status": "active",
        "calls_left_this_quarter": 3,  # 4 a quarter, one taken
    }
    assert advocates[0]["calls_left_this_quarter"] == 1  # the personal cap, below Premier's 6
    assert (advocates[2]["tier"], advocates[2]["industry"], advocates[2]["calls_left_this_quarter"]) == (
        None, None, 0
    )


def test_an_empty_pool_is_an_empty_list(api):
    assert api()("/api/v1/advocates").get_json() == {"advocates": []}


def test_filters_are_case_insensitive_and_combine(app, api, make_advocate):
    get = api()
    ana = make_advocate(name="Ana")
    profile(app, ana, industry="Financial Services", formats=("call", "written"), glad=("Security",))
    ben = make_advocate(name="Ben")
    profile(app, ben, industry="Financial Services", formats=("video",), avoid=("Security",))
    cleo = make_advocate(name="Cleo")
    profile(app, cleo, industry="Healthcare", formats=("written",), glad=("Security", "ROI"))

    assert names(get("/api/v1/advocates?industry=financial%20SERVICES")) == ["Ana", "Ben"]
    assert names(get("/api/v1/advocates?topic=security")) == ["Ana", "Cleo"]  # glad to, not "rather not"
    assert names(get("/api/v1/advocates?format=Written")) == ["Ana", "Cleo"]
    assert names(get("/api/v1/advocates?format=written%20reference")) == ["Ana", "Cleo"]  # by name too
    combined = "/api/v1/advocates?industry=Financial+Services&format=written&topic=Security"
    assert names(get(combined)) == ["Ana"]
    assert names(get("/api/v1/advocates?industry=%20Healthcare%20")) == ["Cleo"]
    empty = get("/api/v1/advocates?industry=&topic=&format=")
    assert empty.status_code == 422 and set(empty.get_json()["fields"]) == {"industry", "topic", "format"}
    assert "Empty industry: leave the filter out. Use one of: " in empty.get_json()["error"]


def test_available_means_active_consented_not_snoozed_with_a_call_left(app, api, make_advocate,
                                                                      make_engagement):
    get = api()
    make_advocate(name="Ready")
    make_advocate(name="Paused", status="paused")
    make_advocate(name="Invited", status="invited")
    make_advocate(name="Snoozed", snoozed_until=date.today() + timedelta(days=3))
    make_advocate(name="Woke up", snoozed_until=date.today() - timedelta(days=1))
    full = make_advocate(name="Full", tier="Occasional")
    make_engagement(full, status="awaiting_booking")
    make_engagement(full, status="awaiting_booking")  # Occasional: 2 a quarter
    make_advocate(name="Capped at zero", quarterly_cap=0)
    make_advocate(name="No tier", tier=None)
    unconsented = make_advocate(name="No consent")
    with app.app_context():
        db.session.get(Advocate, unconsented.id).consent_at = None
        db.session.commit()

    assert names(get("/api/v1/advocates?available=true")) == ["Ready", "Woke up"]
    everyone = names(get("/api/v1/advocates?available=false"))
    assert names(get("/api/v1/advocates")) == everyone
    assert len(everyone) == 9 and "Snoozed" in everyone


@pytest.mark.parametrize(
    ("query", "fields", "named"),
    [
        ("industry=Basket%20weaving", {"industry"}, "Basket weaving"),
        ("topic=Astrology", {"topic"}, "Astrology"),
        ("format=pigeon", {"format"}, "pigeon"),
        ("available=maybe", {"available"}, "available=true"),
        ("available=TRUE", {"available"}, "available=false"),
        ("available=1", {"available"}, "available=true"),
        ("available=", {"available"}, "available=true"),
        ("available=yes&industry=Nope", {"available", "industry"}, "Nope"),
        ("tier=Premier", {"tier"}, "Unknown filter"),
        ("industry=Nope&topic=Nada", {"industry", "topic"}, "Nada"),
    ],
)
def test_unknown_filters_are_named(api, query, fields, named):
    response = api()(f"/api/v1/advocates?{query}")
    assert response.status_code == 422
    body = response.get_json()
    assert set(body["fields"]) == fields
    assert named in body["error"] and any(named in m for ms in body["fields"].values() for m in ms)


def test_sales_may_not_list_advocates(api, make_advocate):
    make_advocate()
    response = api("sales")("/api/v1/advocates")
    assert response.status_code == 403
    assert set(response.get_json()) == {"error", "fields"}


def test_the_list_takes_the_same_number_of_queries_for_3_and_40_advocates(
    app, api, make_advocate, make_engagement, count_queries
):
    get = api()

    def add(count: int) -> None:
        for _ in range(count):
            advocate = make_advocate()
            profile(app, advocate, industry="Retail", formats=("call",), glad=("ROI",))
            make_engagement(advocate, status="awaiting_booking")

    def measure(url: str) -> int:
        get(url)  # the token's last use is written at most once a minute
        with count_queries() as statements:
            assert get(url).status_code == 200
        return len(statements)

    urls = ["/api/v1/advocates", "/api/v1/advocates?available=true&industry=retail&topic=roi&format=call"]
    add(3)
    small = [measure(url) for url in urls]
    add(37)
    large = [measure(url) for url in urls]
    assert len(get(urls[1]).get_json()["advocates"]) == 40
    assert small == large
    assert small[0] <= 2 and small[1] <= 5  # the token, the pool (and one look-up per catalogue filter)


def test_retired_advocates_are_listed_as_retired_and_never_available(api, make_advocate):
    gone = make_advocate(name="Gone", status="retired")
    get = api()
    body = get("/api/v1/advocates").get_json()
    assert [(a["id"], a["status"]) for a in body["advocates"]] == [(gone.id, "retired")]
    assert names(get("/api/v1/advocates?available=true")) == []
