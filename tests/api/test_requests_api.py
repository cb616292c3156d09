"""The requests API (DESIGN.md §9): submit, read, matches, ask, outcome — with bearer
tokens only, roles per endpoint, sales limited to their own requests, JSON errors only."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, time, timedelta

import pytest
from sqlalchemy import func, select

from models import (
    Account,
    Advocate,
    AdvocateTopic,
    AuditEvent,
    Blackout,
    Format,
    OutboxMessage,
    ReferenceRequest,
    RequestStatus,
    Topic,
    TopicStance,
    WeeklyWindow,
    db,
)
from tests.helpers import Api
from workflows import tokens
from workflows.requests import accept_ask, decline_ask

IN_TWO_WEEKS = (date.today() + timedelta(days=14)).isoformat()
VALID = {
    "opportunity_id": "006Qy00000ABC",
    "opportunity_name": "Acme Health — platform",
    "amount": 250000,
    "prospect_company": "Acme Health GmbH",
    "industry": "healthcare",
    "employees": 1200,
    "region": "EUROPE",
    "contact_name": "Pat Prospect",
    "contact_email": "pat@acme-health.example",
    "use_cases": ["Patient intake", "Billing"],
    "topics": ["security", "Implementation"],
    "competitors": ["Globex"],
    "format": "video",
    "needed_by": IN_TWO_WEEKS,
    "questions": [],
    "notes": "They worry about the migration.",
}


# --- helpers -----------------------------------------------------------------------------------


@pytest.fixture()
def api(app, make_account):
    """``api(role)`` or ``api(account=…)`` → (an Api client with a new token, the account)."""

    def make(role: str = "sales", account: Account | None = None, **values) -> tuple[Api, Account]:
        account = account or make_account(role=role, **values)
        with app.app_context():
            _token, secret = tokens.create_token(account.email)
            db.session.remove()
        return Api(app.test_client(), secret), account

    return make


def fit(app, advocate_id: int, formats=("call", "video", "written"), glad=()) -> None:
    """The advocate accepts the formats (written needs no free slot) and likes the topics."""
    with app.app_context():
        advocate = db.session.get(Advocate, advocate_id)
        advocate.formats = list(db.session.scalars(select(Format).where(Format.code.in_(formats))))
        for name in glad:
            topic = db.session.scalar(select(Topic).where(Topic.name == name))
            advocate.topics.append(AdvocateTopic(topic=topic, stance=TopicStance.GLAD))
        db.session.commit()


def written_request(make_request, seller, **fields):
    return make_request(format="written", requested_by=seller, questions=["How did the rollout go?"],
                        **fields)


def count(app, model, *where) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(model).where(*where))


def assert_error(response, status: int, fields: set[str] | None = None) -> dict:
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/json"
    body = response.get_json()
    assert set(body) == {"error", "fields"} and body["error"]
    if fields is not None:
        assert set(body["fields"]) == fields, body
    return body


# --- submitting ----------------------------------------------------------------------------------


@pytest.mark.parametrize("role", ["sales", "coordinator", "admin"])
def test_sales_and_staff_submit_a_request(app, api, role):
    client, account = api(role, name="Sam Seller")
    response = client.post("/api/v1/requests", json=VALID)

    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert response.headers["Location"] == f"/api/v1/requests/{body['id']}"
    assert body["status"] == "new" and body["outcome"] == "open"
    assert {k: body[k] for k in VALID} == {
        **VALID,
        "industry": "Healthcare",
        "region": "Europe",
        "use_cases": ["Billing", "Patient intake"],  # in alphabetical order
        "topics": ["Implementation", "Security"],
    }
    assert body["requested_by"] == {"id": account.id, "name": "Sam Seller", "email": account.email}
    assert [(e["kind"], e["actor"]) for e in body["timeline"]] == [("submitted", "Sam Seller")]
    assert body["asks"] == [] and body["engagement"] is None
    assert count(app, ReferenceRequest) == 1


def test_a_request_needs_no_csrf_token_and_sets_no_cookie(api):
    client, _account = api("sales")
    response = client.post("/api/v1/requests", json=VALID)
    assert response.status_code == 201
    assert "Set-Cookie" not in response.headers
    assert response.headers["Cache-Control"] == "no-store"


def test_amounts_with_cents_come_back_as_numbers(api):
    client, _account = api("sales")
    body = client.post("/api/v1/requests", json={**VALID, "amount": 1250000.50}).get_json()
    assert body["amount"] == 1250000.5


@pytest.mark.parametrize(
    ("change", "fields", "named"),
    [
        ({"industry": "Basket weaving"}, {"industry"}, "Basket weaving"),
        ({"topics": ["Security", "Astrology"]}, {"topics"}, "Astrology"),
        ({"format": "carrier pigeon"}, {"format"}, "carrier pigeon"),
        ({"region": "Atlantis"}, {"region"}, "Atlantis"),
        ({"amount": "lots", "employees": -3}, {"amount", "employees"}, "must be a number"),
        ({"amount": "250000", "employees": "1200"}, {"amount", "employees"}, "must be a whole number"),
        ({"use_cases": "Patient scheduling"}, {"use_cases"}, "must be a list of texts"),
        ({"competitors": "Globex; Initech"}, {"competitors"}, "must be a list of texts"),
        ({"questions": "Why?"}, {"questions"}, "must be a list of texts"),
        ({"topics": "Security"}, {"topics"}, "must be a list of texts"),
        ({"use_cases": "x" * 200}, {"use_cases"}, ""),
        ({"industry": ""}, {"industry"}, "required"),
        ({"industry": None}, {"industry"}, "required"),
        ({"industry": "   "}, {"industry"}, "required"),
        ({"opportunity_id": 88123}, {"opportunity_id"}, "must be text"),
        ({"format": "Video call"}, {"format"}, "call, video, written, site_visit"),
        ({"topics": [1, 2]}, {"topics"}, ""),
        ({"needed_by": "next week"}, {"needed_by"}, "YYYY-MM-DD"),
        ({"needed_by": "2001-01-01"}, {"needed_by"}, "past"),
        ({"contact_email": "not an address"}, {"contact_email"}, "not an address"),
        ({"prospect_company": None, "format": None}, {"prospect_company", "format"}, "required"),
        ({"format": "written", "questions": []}, {"questions"}, "question"),
        ({"colour": "blue"}, {"colour"}, "colour"),
        ({"employees": True}, {"employees"}, ""),
    ],
)
def test_invalid_fields_are_named_and_nothing_is_saved(app, api, change, fields, named):
    client, _account = api("sales")
    body = assert_error(client.post("/api/v1/requests", json={**VALID, **change}), 422, fields)
    assert named in json.dumps(body, ensure_ascii=False)
    assert count(app, ReferenceRequest) == 0


@pytest.mark.parametrize(
    ("data", "content_type", "status"),
    [
        ('{"prospect_company": ', "application/json", 400),
        ("[1, 2, 3]", "application/json", 400),
        ('"a string"', "application/json", 400),
        ('{"amount": NaN, "prospect_company": "X", "format": "call"}', "application/json", 400),
        (b"\xff\xfe\x00garbage", "application/json", 400),
        ("prospect_company=Acme&format=call", "application/x-www-form-urlencoded", 415),
        (json.dumps(VALID), "text/plain", 415),
        ("", None, 415),
    ],
)
def test_a_body_that_is_not_a_json_object_is_refused(app, api, data, content_type, status):
    client, _account = api("sales")
    response = client.post("/api/v1/requests", data=data, content_type=content_type)
    assert_error(response, status, set())
    assert count(app, ReferenceRequest) == 0


def test_the_industry_is_required(app, api):
    client, _account = api("sales")
    without = {name: value for name, value in VALID.items() if name != "industry"}
    body = assert_error(client.post("/api/v1/requests", json=without), 422, {"industry"})
    assert body["fields"]["industry"][0].startswith("required: use one of Technology, ")
    assert count(app, ReferenceRequest) == 0


def test_json_with_a_charset_is_json(api):
    client, _account = api("sales")
    response = client.post("/api/v1/requests", data=json.dumps(VALID),
                           content_type="application/json; charset=utf-8")
    assert response.status_code == 201


# --- reading -----------------------------------------------------------------------------------


def test_sales_read_their_own_request_and_nobody_elses(app, api, make_request, make_account):
    client, seller = api("sales")
    mine = make_request(requested_by=seller)
    theirs = make_request(requested_by=make_account(role="sales"))

    response = client.get(f"/api/v1/requests/{mine.id}")
    assert response.status_code == 200
    assert response.get_json()["id"] == mine.id

    other = assert_error(client.get(f"/api/v1/requests/{theirs.id}"), 404, set())
    missing = assert_error(client.get(f"/api/v1/requests/{theirs.id + 100}"), 404, set())
    assert other == missing  # another seller's request looks like no request at all


@pytest.mark.parametrize("role", ["coordinator", "admin"])
def test_staff_read_every_request(api, make_request, role):
    client, _account = api(role)
    request = make_request()
    assert client.get(f"/api/v1/requests/{request.id}").status_code == 200


def test_the_request_shows_its_timeline_asks_and_engagement(app, api, make_advocate, make_request):
    coordinator, _ = api("coordinator", name="Cora Ordinator")
    seller_client, seller = api("sales")
    request = written_request(make_request, seller)
    accepting = make_advocate(name="Ada Accepts")
    declining = make_advocate(name="Dan Declines")
    for advocate in (accepting, declining):
        fit(app, advocate.id)
    asks = {}
    for advocate in (declining, accepting):
        response = coordinator.post(f"/api/v1/requests/{request.id}/asks", json={"advocate_id": advocate.id})
        assert response.status_code == 201, response.get_json()
        asks[advocate.id] = response.get_json()["id"]
    with app.app_context():
        decline_ask(asks[declining.id], declining.id, "busy", "Back in March")
        accept_ask(asks[accepting.id], accepting.id)

    body = seller_client.get(f"/api/v1/requests/{request.id}").get_json()
    assert body["status"] == "matched" and body["matched_at"] and body["first_asked_at"]
    assert [(e["kind"], e["actor"]) for e in body["timeline"]] == [
        ("asked", "Cora Ordinator"),
        ("asked", "Cora Ordinator"),
        ("declined", "Dan Declines"),
        ("accepted", "Ada Accepts"),
    ]
    assert body["timeline"][0]["detail"]["advocate_id"] == declining.id
    declined, accepted = body["asks"]
    assert (declined["name"], declined["status"]) == ("Dan Declines", "declined")
    # Why an advocate declined, and the scores, are the coordinator's to read (request_view).
    assert declined["decline_reason"] is None and declined["decline_reason_text"] is None
    assert declined["decline_note"] is None
    assert declined["score"] is None and declined["reasons"] == []
    assert (accepted["advocate_id"], accepted["status"]) == (accepting.id, "accepted")

    staff_view = coordinator.get(f"/api/v1/requests/{request.id}").get_json()
    declined = staff_view["asks"][0]
    assert (declined["decline_reason"], declined["decline_reason_text"], declined["decline_note"]) == (
        "busy", "Too busy right now", "Back in March"
    )
    assert accepted["responded_at"] and accepted["asked_at"]
    staff_accepted = staff_view["asks"][1]
    assert sum(r["points"] for r in staff_accepted["reasons"]) == staff_accepted["score"] > 0
    engagement = body["engagement"]
    assert (engagement["advocate_id"], engagement["status"], engagement["format"]) == (
        accepting.id, "awaiting_booking", "written"
    )

    staff_view = coordinator.get(f"/api/v1/requests/{request.id}").get_json()
    assert staff_view["asks"][0]["decline_note"] == "Back in March"


def test_reading_a_request_takes_the_same_number_of_queries_for_1_and_12_asks(
    app, api, make_advocate, make_request, make_ask, count_queries
):
    client, seller = api("sales")
    request = make_request(requested_by=seller)

    def measure() -> int:
        client.get(f"/api/v1/requests/{request.id}")  # the token's last use is written once a minute
        with count_queries() as statements:
            assert client.get(f"/api/v1/requests/{request.id}").status_code == 200
        return len(statements)

    make_ask(make_advocate(), request)
    small = measure()
    for _ in range(11):
        make_ask(make_advocate(), request)
    large = measure()
    assert small == large <= 9


# --- matches -----------------------------------------------------------------------------------


def test_coordinators_see_the_ranking_with_reasons_and_exclusions(app, api, make_advocate, make_request):
    client, _account = api("coordinator")
    request = written_request(make_request, api("sales")[1], topics=["Security"])
    best = make_advocate(name="Best Fit", tier="Premier")
    fit(app, best.id, glad=["Security"])
    plain = make_advocate(name="Plain Fit")
    fit(app, plain.id)
    paused = make_advocate(name="On Pause", status="paused")
    fit(app, paused.id)
    no_written = make_advocate(name="Calls Only")
    fit(app, no_written.id, formats=("call",))

    response = client.get(f"/api/v1/requests/{request.id}/matches")
    assert response.status_code == 200
    body = response.get_json()
    assert [c["name"] for c in body["candidates"]] == ["Best Fit", "Plain Fit"]
    first = body["candidates"][0]
    assert first["advocate_id"] == best.id and first["company"]
    assert sum(r["points"] for r in first["reasons"]) == first["score"] > body["candidates"][1]["score"]
    assert {e["advocate_id"]: e["rule"] for e in body["excluded"]} == {
        paused.id: "not_active", no_written.id: "format_not_accepted"
    }
    assert {e["advocate_id"]: (e["text"], e["detail"]) for e in body["excluded"]} == {
        paused.id: ("Not an active advocate", "their profile is paused"),
        no_written.id: ("Does not do this format", "Written reference is not among the formats they accept"),
    }
    assert (body["candidates_total"], body["excluded_total"]) == (2, 2)

    limited = client.get(f"/api/v1/requests/{request.id}/matches?limit=1").get_json()
    assert [c["name"] for c in limited["candidates"]] == ["Best Fit"] and len(limited["excluded"]) == 1
    assert limited["candidates_total"] == 2


def day(value: date) -> str:
    return f"{value.day} {value:%b %Y}"


def test_each_exclusion_names_its_specifics(app, api, make_advocate, make_request, make_ask, make_engagement):
    client, _account = api("coordinator")
    request = written_request(make_request, api("sales")[1], topics=["Security", "ROI"],
                              prospect_company="Prospect Health GmbH")
    today = datetime.now(UTC).date()
    people = {
        "snoozed": make_advocate(snoozed_until=today + timedelta(days=9)),
        "full": make_advocate(tier="Occasional", quarterly_cap=1),
        "rested": make_advocate(tier="Premier", min_days_between_calls=14),
        "colleague": make_advocate(company="Prospect Health GMBH"),
        "refuses": make_advocate(refused_companies=["PROSPECT Health GmbH"]),
        "asked": make_advocate(),
        "avoids": make_advocate(),
        "unconsented": make_advocate(),
        "invited": make_advocate(status="invited"),
    }
    for advocate in people.values():
        fit(app, advocate.id)
    make_engagement(people["full"], status="awaiting_booking")
    last_call = make_engagement(people["rested"], status="completed")
    make_ask(people["asked"], request)
    with app.app_context():
        for name in ("ROI", "Security"):
            topic = db.session.scalar(select(Topic).where(Topic.name == name))
            avoided = AdvocateTopic(advocate_id=people["avoids"].id, topic=topic, stance=TopicStance.AVOID)
            db.session.add(avoided)
        db.session.get(Advocate, people["unconsented"].id).consent_at = None
        db.session.commit()

    body = client.get(f"/api/v1/requests/{request.id}/matches").get_json()
    details = {e["advocate_id"]: (e["rule"], e["detail"]) for e in body["excluded"]}
    last = last_call.starts_at.date()
    assert {name: details[advocate.id] for name, advocate in people.items()} == {
        "snoozed": ("snoozed", f"snoozed until {day(today + timedelta(days=9))}"),
        "full": ("quota_reached", "1 of 1 call this quarter"),
        "rested": ("too_soon", f"last call on {day(last)}; asks for at least 14 days between calls, "
                               f"so not before {day(last + timedelta(days=14))}"),
        "colleague": ("own_company", "works at Prospect Health GMBH"),
        "refuses": ("refused_company", "has asked not to speak with Prospect Health GmbH"),
        "asked": ("already_asked", "asked before for this request; an advocate is asked once per request"),
        "avoids": ("avoided_topic", "would rather not discuss ROI and Security"),
        "unconsented": ("no_consent", "no consent date on their profile yet"),
        "invited": ("not_active", "invited, but has not joined the program yet"),
    }


def test_no_free_slot_names_the_first_one_after_the_needed_by_date(app, api, make_advocate, make_request):
    client, _account = api("coordinator")
    today = datetime.now(UTC).date()
    request = make_request(format="call", needed_by=today + timedelta(days=3))
    away, idle = make_advocate(), make_advocate()
    for advocate in (away, idle):
        fit(app, advocate.id)
    with app.app_context():
        row = db.session.get(Advocate, away.id)
        row.windows = [WeeklyWindow(weekday=d, starts=time(7), ends=time(20)) for d in range(7)]
        row.blackouts = [Blackout(starts_on=today, ends_on=today + timedelta(days=5))]
        db.session.commit()

    body = client.get(f"/api/v1/requests/{request.id}/matches").get_json()
    assert {e["advocate_id"]: (e["rule"], e["detail"]) for e in body["excluded"]} == {
        away.id: ("no_free_slot", f"first free slot is {day(today + timedelta(days=6))} at 07:00 UTC, "
                                  f"after the needed-by date {day(today + timedelta(days=3))}"),
        idle.id: ("no_free_slot", "no weekly availability windows on their profile"),
    }


@pytest.mark.parametrize("limit", ["0", "201", "ten", "-1", "1.5", ""])
def test_a_bad_limit_is_named(api, make_request, limit):
    client, _account = api("coordinator")
    request = make_request()
    assert_error(client.get(f"/api/v1/requests/{request.id}/matches?limit={limit}"), 422, {"limit"})


def test_sales_may_not_see_matches_not_even_for_their_own_request(app, api, make_request):
    client, seller = api("sales")
    request = make_request(requested_by=seller)
    assert_error(client.get(f"/api/v1/requests/{request.id}/matches"), 403, set())
    with app.app_context():
        denied = db.session.scalars(select(AuditEvent).where(AuditEvent.kind == "access.denied")).all()
        assert [(e.actor_id, e.detail["path"]) for e in denied] == [
            (seller.id, f"/api/v1/requests/{request.id}/matches")
        ]


def test_matches_of_no_request_are_404(api):
    client, _account = api("admin")
    assert_error(client.get("/api/v1/requests/999/matches"), 404, set())


# --- asking ------------------------------------------------------------------------------------


def test_a_coordinator_asks_an_advocate_and_the_email_is_queued(app, api, make_advocate, make_request):
    client, coordinator = api("coordinator")
    request = written_request(make_request, api("sales")[1])
    advocate = make_advocate(name="Ada Advocate", email="ada@customer.example")
    fit(app, advocate.id)

    response = client.post(f"/api/v1/requests/{request.id}/asks", json={"advocate_id": advocate.id})
    assert response.status_code == 201, response.get_json()
    assert response.headers["Location"] == f"/api/v1/requests/{request.id}"
    body = response.get_json()
    assert (body["request_id"], body["advocate_id"], body["name"], body["status"]) == (
        request.id, advocate.id, "Ada Advocate", "pending"
    )
    assert body["score"] == sum(r["points"] for r in body["reasons"])
    assert body["expires_at"] > body["asked_at"] and body["responded_at"] is None
    with app.app_context():
        assert db.session.get(ReferenceRequest, request.id).status is RequestStatus.ASKING
        [message] = db.session.scalars(select(OutboxMessage)).all()
        assert message.to == ["ada@customer.example"]


def test_sales_may_not_ask_not_even_for_their_own_request(app, api, make_advocate, make_request):
    client, seller = api("sales")
    request = written_request(make_request, seller)
    advocate = make_advocate()
    fit(app, advocate.id)
    assert_error(client.post(f"/api/v1/requests/{request.id}/asks", json={"advocate_id": advocate.id}), 403)
    assert count(app, OutboxMessage) == 0


def test_asking_the_same_advocate_twice_is_409_and_an_ineligible_one_422_with_the_rule(
    app, api, make_advocate, make_request
):
    client, _account = api("coordinator")
    request = written_request(make_request, api("sales")[1])
    advocate = make_advocate()
    fit(app, advocate.id)
    calls_only = make_advocate(name="Calls Only")
    fit(app, calls_only.id, formats=("call",))
    url = f"/api/v1/requests/{request.id}/asks"
    assert client.post(url, json={"advocate_id": advocate.id}).status_code == 201

    again = assert_error(client.post(url, json={"advocate_id": advocate.id}), 409, {"advocate_id"})
    assert "asked" in again["error"]
    refused = assert_error(client.post(url, json={"advocate_id": calls_only.id}), 422, {"advocate_id"})
    assert "Calls Only" in refused["error"] or "format" in refused["error"]
    unknown = assert_error(client.post(url, json={"advocate_id": 99999}), 422, {"advocate_id"})
    assert "99999" in unknown["error"]
    assert count(app, OutboxMessage) == 1


@pytest.mark.parametrize(
    ("body", "fields"),
    [({}, {"advocate_id"}), ({"advocate_id": "7"}, {"advocate_id"}), ({"advocate_id": True}, {"advocate_id"}),
     ({"advocate_id": 0}, {"advocate_id"}), ({"advocate_id": 1.5}, {"advocate_id"}),
     ({"advocate_id": None}, {"advocate_id"}), ({"advocate_id": 1, "note": "hi"}, {"note"}),
     ({"advocate_id": 2147483648}, {"advocate_id"}), ({"advocate_id": 10**30}, {"advocate_id"})],
)
def test_a_bad_ask_body_is_named(app, api, make_request, body, fields):
    client, _account = api("coordinator")
    request = make_request()
    assert_error(client.post(f"/api/v1/requests/{request.id}/asks", json=body), 422, fields)
    assert count(app, OutboxMessage) == 0


def test_asking_for_a_matched_request_is_an_illegal_transition(app, api, make_advocate, make_request):
    client, _account = api("coordinator")
    request = written_request(make_request, api("sales")[1])
    first, second = make_advocate(), make_advocate()
    fit(app, first.id)
    fit(app, second.id)
    url = f"/api/v1/requests/{request.id}/asks"
    ask_id = client.post(url, json={"advocate_id": first.id}).get_json()["id"]
    with app.app_context():
        accept_ask(ask_id, first.id)
    body = assert_error(client.post(url, json={"advocate_id": second.id}), 409, set())
    assert "matched" in body["error"]


def test_asking_for_no_request_is_404(app, api, make_advocate):
    client, _account = api("coordinator")
    advocate = make_advocate()
    assert_error(client.post("/api/v1/requests/999/asks", json={"advocate_id": advocate.id}), 404, set())


# --- the outcome -------------------------------------------------------------------------------


def test_sales_record_the_outcome_of_their_own_request_once(app, api, make_request, make_account):
    client, seller = api("sales", name="Sam Seller")
    mine = make_request(requested_by=seller)
    theirs = make_request(requested_by=make_account(role="sales"))

    response = client.patch(f"/api/v1/requests/{mine.id}", json={"outcome": "won"})
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["outcome"] == "won" and body["outcome_at"]
    assert body["timeline"][-1]["kind"] == "outcome" and body["timeline"][-1]["actor"] == "Sam Seller"

    assert client.patch(f"/api/v1/requests/{mine.id}", json={"outcome": "won"}).status_code == 200
    changed = assert_error(client.patch(f"/api/v1/requests/{mine.id}", json={"outcome": "lost"}), 409, set())
    assert "won" in changed["error"]
    assert_error(client.patch(f"/api/v1/requests/{theirs.id}", json={"outcome": "won"}), 404, set())
    with app.app_context():
        assert db.session.get(ReferenceRequest, theirs.id).outcome.value == "open"


def test_coordinators_record_outcomes_too(api, make_request):
    client, _account = api("coordinator")
    request = make_request()
    response = client.patch(f"/api/v1/requests/{request.id}", json={"outcome": "lost"})
    assert response.get_json()["outcome"] == "lost"


@pytest.mark.parametrize(
    ("body", "fields"),
    [({}, {"outcome"}), ({"outcome": "open"}, {"outcome"}), ({"outcome": "WON!"}, {"outcome"}),
     ({"outcome": 1}, {"outcome"}), ({"outcome": "won", "status": "completed"}, {"status"})],
)
def test_a_bad_outcome_is_named(api, make_request, body, fields):
    client, seller = api("sales")
    request = make_request(requested_by=seller)
    assert_error(client.patch(f"/api/v1/requests/{request.id}", json=body), 422, fields)


def test_the_outcome_must_be_sent_as_json(api, make_request):
    client, seller = api("sales")
    request = make_request(requested_by=seller)
    assert_error(client.patch(f"/api/v1/requests/{request.id}", data="outcome=won",
                              content_type="application/x-www-form-urlencoded"), 415)
    assert_error(client.patch(f"/api/v1/requests/{request.id}", data="{outcome: won}",
                              content_type="application/json"), 400)


# --- authentication ----------------------------------------------------------------------------


ENDPOINTS = [
    ("GET", "/api/v1/requests/1"),
    ("POST", "/api/v1/requests"),
    ("PATCH", "/api/v1/requests/1"),
    ("GET", "/api/v1/requests/1/matches"),
    ("POST", "/api/v1/requests/1/asks"),
    ("GET", "/api/v1/advocates"),
]


@pytest.mark.parametrize(("method", "url"), ENDPOINTS)
def test_without_a_token_every_endpoint_answers_401_with_a_challenge(client, method, url):
    response = client.open(url, method=method, json={})
    assert_error(response, 401, set())
    assert response.headers["WWW-Authenticate"] == 'Bearer realm="Vouch API"'


@pytest.mark.parametrize(
    "header",
    ["Bearer", "Bearer ", "Basic dXNlcjpwYXNz", "Token {secret}", "{secret}", "Bearer {secret}x",
     "Bearer x{secret}"],
)
def test_only_a_well_formed_bearer_header_counts(api, make_request, header):
    client, seller = api("sales")
    request = make_request(requested_by=seller)
    response = client.http.get(f"/api/v1/requests/{request.id}",
                               headers={"Authorization": header.format(secret=client.secret)})
    assert_error(response, 401)


def test_the_scheme_is_case_insensitive(api, make_request):
    client, seller = api("sales")
    request = make_request(requested_by=seller)
    response = client.http.get(f"/api/v1/requests/{request.id}",
                               headers={"Authorization": f"bearer {client.secret}"})
    assert response.status_code == 200


@pytest.mark.parametrize("name", ["token", "access_token", "api_token", "bearer"])
def test_a_token_in_the_query_string_is_ignored(api, make_request, name):
    client, seller = api("sales")
    request = make_request(requested_by=seller)
    anonymous = Api(client.http, None)
    assert_error(anonymous.get(f"/api/v1/requests/{request.id}?{name}={client.secret}"), 401)


def test_a_token_in_a_form_field_is_ignored(api):
    client, _seller = api("sales")
    anonymous = Api(client.http, None)
    response = anonymous.post("/api/v1/requests", data={"access_token": client.secret, **{"format": "call"}})
    assert_error(response, 401)


def test_a_revoked_token_is_refused_and_the_refusal_audited(app, api, make_request):
    client, seller = api("sales")
    request = make_request(requested_by=seller)
    assert client.get(f"/api/v1/requests/{request.id}").status_code == 200
    with app.app_context():
        owner = db.session.get(Account, seller.id)
        [token] = tokens.visible_tokens(owner)
        tokens.revoke_token(token.id, by=owner)
    response = client.get(f"/api/v1/requests/{request.id}")
    assert_error(response, 401)
    assert response.headers["WWW-Authenticate"] == 'Bearer realm="Vouch API", error="invalid_token"'
    with app.app_context():
        [refused] = db.session.scalars(select(AuditEvent).where(AuditEvent.kind == "api.token_refused")).all()
        assert refused.detail == {"path": f"/api/v1/requests/{request.id}"}
        assert client.secret not in json.dumps(refused.detail)


def test_a_deactivated_accounts_token_is_refused(app, api):
    client, seller = api("sales")
    with app.app_context():
        db.session.get(Account, seller.id).deactivate()
        db.session.commit()
    assert_error(client.get("/api/v1/requests/1"), 401)


def test_a_signed_in_browser_session_is_no_api_credential(app, make_account, sign_in, make_request):
    seller = make_account(role="sales")
    http = app.test_client()
    sign_in(seller, http=http)
    request = make_request(requested_by=seller)
    assert http.get("/admin/").status_code == 200
    assert_error(http.get(f"/api/v1/requests/{request.id}"), 401)
    assert_error(http.post("/api/v1/requests", json=VALID), 401)
    assert count(app, ReferenceRequest) == 1


# --- never HTML --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "url", "status"),
    [("GET", "/api/v1/nothing-here", 404), ("GET", "/api/v1/requests/abc", 404), ("GET", "/api/v1", 404),
     ("GET", "/api/v2/requests", 404), ("DELETE", "/api/v1/requests/1", 405),
     ("PUT", "/api/v1/requests", 405)],
)
def test_unknown_paths_and_methods_answer_json(api, method, url, status):
    client, _account = api("coordinator")
    response = client.open(method, url)
    assert_error(response, status, set())
    if status == 405:
        assert "GET" in response.headers["Allow"] or "POST" in response.headers["Allow"]


def test_an_unexpected_failure_answers_json_and_changes_nothing(app, api, monkeypatch):
    import admin.api.requests as views

    def broken(*_args, **_kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(views.request_submission, "submit_request", broken)
    client, _account = api("sales")
    body = assert_error(client.post("/api/v1/requests", json=VALID), 500, set())
    assert "boom" not in body["error"]
    assert count(app, ReferenceRequest) == 0


def test_an_oversized_body_answers_json(app, api, monkeypatch):
    monkeypatch.setitem(app.config, "MAX_CONTENT_LENGTH", 1000)
    client, _account = api("sales")
    response = client.post("/api/v1/requests", json={**VALID, "notes": "x" * 5000})
    assert_error(response, 413, set())
