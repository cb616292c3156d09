"""The requests area of the admin: the queue (filters, overdue, sales see their own only), the
intake form, a request's page (context, ranked candidates with reasons, the excluded with their
rule and its detail, asks, timeline) and the actions on it (ask, withdraw, cancel, outcome), with the query
counts that must not grow with the data."""

from __future__ import annotations

import re
from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from admin.requests import STATUS_WORDS
from models import (
    Account,
    AdvocateTopic,
    Ask,
    AskStatus,
    AuditEvent,
    OutboxMessage,
    ReferenceRequest,
    RequestOutcome,
    RequestStatus,
    Role,
    Topic,
    TopicStance,
    db,
)
from models.types import utcnow
from tests.conftest import csrf_token
from tests.helpers import fit, flashed, section, text
from tests.helpers import page as get
from workflows import requests as flow

TODAY = utcnow().date()


# --- helpers -----------------------------------------------------------------------------------


def row_ids(html: str) -> list[int]:
    return [int(n) for n in re.findall(r'<tr id="request-(\d+)"', html)]


def post(http, url: str, data: dict | None = None, follow: bool = False):
    token = csrf_token(http.get("/admin/").get_data(as_text=True))
    return http.post(url, data={"csrf_token": token, **(data or {})}, follow_redirects=follow)


@pytest.fixture()
def coordinator(make_account, sign_in):
    """A coordinator, signed in on ``client``."""
    account = make_account(role=Role.COORDINATOR, name="Cora Ordinator", email="cora@vouch.example")
    sign_in(account)
    return account


@pytest.fixture()
def seller(make_account):
    return make_account(role=Role.SALES, name="Sam Seller", email="sam@vouch.example")


@pytest.fixture()
def as_seller(app, seller, sign_in):
    """A second client, signed in as ``seller``."""
    http = app.test_client()
    sign_in(seller, http=http)
    return http


# --- the queue ---------------------------------------------------------------------------------


def test_staff_see_every_request_soonest_needed_first(client, coordinator, seller, make_account,
                                                      make_request):
    other = make_account(role=Role.SALES, name="Olga Other")
    later = make_request(requested_by=seller, prospect_company="Later Ltd",
                         needed_by=TODAY + timedelta(days=20))
    undated = make_request(requested_by=other, prospect_company="Whenever plc", needed_by=None)
    sooner = make_request(requested_by=other, prospect_company="Sooner GmbH",
                          needed_by=TODAY + timedelta(days=3))

    html = get(client, "/admin/requests")

    assert row_ids(html) == [sooner.id, later.id, undated.id]
    page = text(html)
    assert "Sam Seller" in page and "Olga Other" in page
    assert '<label for="owner">Requested by</label>' in html


def test_sales_see_only_their_own_requests_and_no_owner_filter(as_seller, seller, make_request):
    mine = make_request(requested_by=seller, prospect_company="Mine Inc")
    make_request(prospect_company="Theirs Inc")

    html = get(as_seller, "/admin/requests")

    assert row_ids(html) == [mine.id]
    assert "Theirs Inc" not in html
    assert 'name="owner"' not in html
    assert "<h1>My requests</h1>" in html
    # Asking for somebody else's requests by the owner filter changes nothing.
    assert row_ids(get(as_seller, "/admin/requests?owner=999")) == [mine.id]


def test_a_row_drawn_for_one_viewer_shows_what_the_next_may_see_and_each_change(
        app, client, coordinator, seller, as_seller, make_request, make_account):
    mine = make_request(requested_by=seller, prospect_company="Mine Inc", needed_by=TODAY + timedelta(days=2))

    def row_of(html: str) -> str:
        return text(re.search(rf'<tr id="request-{mine.id}".*?</tr>', html, re.S).group(0))

    assert "Sam Seller" in row_of(get(client, "/admin/requests"))
    assert "Sam Seller" not in row_of(get(as_seller, "/admin/requests"))  # a seller's own: no owner
    with app.app_context():
        request = db.session.get(ReferenceRequest, mine.id)
        request.status, request.needed_by = RequestStatus.CANCELLED, TODAY - timedelta(days=1)
        db.session.get(Account, seller.id).name = "Sam Renamed"
        db.session.commit()
    changed = row_of(get(client, "/admin/requests"))
    assert "Sam Renamed" in changed and "Sam Seller" not in changed
    assert STATUS_WORDS[RequestStatus.CANCELLED] in changed
    assert "Overdue" not in changed  # called off: never overdue


def test_every_filter_has_a_label(client, coordinator):
    html = get(client, "/admin/requests")
    for name, label in [("status", "Status"), ("owner", "Requested by"), ("age", "Created"),
                        ("needed_before", "Needed by, on or before")]:
        assert f'<label for="{name}">{label}</label>' in html
        assert f'name="{name}"' in html


def test_the_filters_narrow_the_queue(client, coordinator, seller, make_request):
    asking = make_request(requested_by=seller, status=RequestStatus.ASKING, prospect_company="Asking AG",
                          needed_by=TODAY + timedelta(days=2))
    done = make_request(status=RequestStatus.COMPLETED, prospect_company="Done SA",
                        needed_by=TODAY + timedelta(days=5))
    old = make_request(prospect_company="Old Corp", needed_by=TODAY + timedelta(days=30),
                       created_at=utcnow() - timedelta(days=45))
    overdue = make_request(prospect_company="Late Ltd", needed_by=TODAY - timedelta(days=2))

    assert row_ids(get(client, "/admin/requests?status=asking")) == [asking.id]
    assert row_ids(get(client, "/admin/requests?status=open")) == [overdue.id, asking.id, old.id]
    assert row_ids(get(client, "/admin/requests?status=overdue")) == [overdue.id]
    assert row_ids(get(client, f"/admin/requests?owner={seller.id}")) == [asking.id]
    assert row_ids(get(client, "/admin/requests?age=30")) == [overdue.id, asking.id, done.id]
    before = (TODAY + timedelta(days=5)).isoformat()
    assert row_ids(get(client, f"/admin/requests?needed_before={before}")) == [overdue.id, asking.id, done.id]
    combined = get(client, f"/admin/requests?status=open&needed_before={before}&age=7")
    assert row_ids(combined) == [overdue.id, asking.id]
    assert 'selected value="open"' in combined or 'value="open" selected' in combined


def test_bad_filters_are_named_and_answered_400(client, coordinator, make_request):
    make_request()
    response = client.get("/admin/requests?status=bogus&needed_before=31/12/2026&age=12")
    html = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "Pick a status from the list." in html
    assert "Pick an age from the list." in html
    assert "Give a date like 2026-05-31, or leave it empty." in html
    assert row_ids(html) == []
    assert "Fix the filters above" in html


def test_overdue_requests_are_highlighted_and_closed_ones_are_not(client, coordinator, make_request):
    late = make_request(prospect_company="Late Ltd", needed_by=TODAY - timedelta(days=1))
    late_but_done = make_request(prospect_company="Done Ltd", needed_by=TODAY - timedelta(days=1),
                                 status=RequestStatus.COMPLETED)
    on_time = make_request(prospect_company="Fine Ltd", needed_by=TODAY)

    html = get(client, "/admin/requests")

    assert re.search(rf'<tr id="request-{late.id}" class="overdue">', html)
    assert f'<tr id="request-{late_but_done.id}">' in html
    assert f'<tr id="request-{on_time.id}">' in html
    assert html.count('class="overdue-flag"') == 1


def test_the_queue_says_so_when_empty(client, coordinator, as_seller):
    assert "No reference requests yet." in text(get(client, "/admin/requests"))
    assert "You have not submitted a request yet." in text(get(as_seller, "/admin/requests"))
    assert "No request matches these filters." in text(get(client, "/admin/requests?status=matched"))


def test_the_queue_reads_the_same_number_of_queries_for_2_and_30_requests(
    client, coordinator, make_account, make_request, make_advocate, make_ask, count_queries
):
    sellers = [make_account(role=Role.SALES) for _ in range(3)]
    advocate = make_advocate()

    def add(count: int) -> None:
        for n in range(count):
            request = make_request(requested_by=sellers[n % 3], industry=["Retail", "Healthcare"][n % 2],
                                   format=["call", "video"][n % 2], status=RequestStatus.ASKING,
                                   needed_by=TODAY + timedelta(days=n - 3))
            make_ask(advocate, request=request)

    def measure() -> int:
        with count_queries() as queries:
            get(client, "/admin/requests?status=open")
        return len(queries)

    add(2)
    with_two = measure()
    add(28)
    assert len(row_ids(get(client, "/admin/requests"))) == 30
    with_thirty = measure()
    assert with_two == with_thirty
    assert with_thirty <= 8


# --- a request's page --------------------------------------------------------------------------

ZEPHYR = {
    "prospect_company": "Zephyr Hospitals AG", "contact_name": "Quentin Quaile",
    "contact_email": "quentin@zephyr-hospitals.example", "opportunity_id": "OPP-7",
    "opportunity_name": "Zephyr roll-out", "amount": Decimal("125000"), "employees": 800,
    "notes": "Board meets in March.", "topics": ["Security"], "use_cases": ["Claims automation"],
    "competitors": ["Initech Cloud"],
}


@pytest.fixture()
def zephyr(app, seller, make_request, make_advocate):
    """A call request for Zephyr by ``seller``; Dana fits best, Eli fits, Fay does no calls,
    Gil is paused."""
    request = make_request(requested_by=seller, format="call", industry="Healthcare", **ZEPHYR)
    dana = make_advocate(name="Dana Example", email="dana@example.com", company="Acme Health")
    fit(app, dana.id, glad=("Security",), use_cases=("Claims automation",), industry="Healthcare")
    eli = make_advocate(name="Eli Other", company="Bolt Retail")
    fit(app, eli.id)
    fay = make_advocate(name="Fay Written", company="Quill Co")
    fit(app, fay.id, formats=("written",))
    gil = make_advocate(name="Gil Paused", status="paused")
    fit(app, gil.id)
    return request, {"dana": dana, "eli": eli, "fay": fay, "gil": gil}


def candidate_ids(html: str) -> list[int]:
    return [int(n) for n in re.findall(r'<li id="candidate-(\d+)"', html)]


def test_staff_see_the_prospect_the_ranked_candidates_with_reasons_and_who_was_left_out(
    client, coordinator, zephyr
):
    request, people = zephyr
    html = get(client, f"/admin/requests/{request.id}")
    context = text(section(html, "context"))

    for shown in ["Company Zephyr Hospitals AG", "Industry Healthcare", "800 employees (201–1000 band)",
                  "Region Europe", "Quentin Quaile · quentin@zephyr-hospitals.example",
                  "Zephyr roll-out (OPP-7)", "125,000.00", "Use cases Claims automation",
                  "Topics Security", "Competitors Initech Cloud", "Format Phone call",
                  "Board meets in March.", "Requested by Sam Seller"]:
        assert shown in context, shown

    assert candidate_ids(html) == [people["dana"].id, people["eli"].id]
    dana = text(re.search(rf'<li id="candidate-{people["dana"].id}".*?</form>', html, re.S).group(0))
    assert "Same industry +20" in dana
    assert "Dana Example Acme Health" in dana
    assert html.count(">Ask</button>") == 2

    excluded = section(html, "excluded")
    assert "<details id=\"excluded\">" in excluded  # collapsed
    assert "Left out: 2 advocates" in text(excluded)
    left_out = text(excluded)
    assert "Fay Written Does not do this format: Phone call is not among the formats they accept" in left_out
    assert "Gil Paused Not an active advocate: their profile is paused" in left_out
    assert "Nobody has been asked yet." in text(section(html, "asks"))


def test_each_advocate_left_out_shows_the_rule_and_its_detail_next_to_the_name(
    app, client, coordinator, zephyr, make_advocate, make_engagement
):
    request, _people = zephyr
    snoozed = make_advocate(name="Sam Snoozed", snoozed_until=TODAY + timedelta(days=30))
    full = make_advocate(name="Fran Full", tier="Occasional", quarterly_cap=1)
    avoids = make_advocate(name="Avi Avoids")
    for advocate in (snoozed, full, avoids):
        fit(app, advocate.id)
    make_engagement(full, status="awaiting_booking")
    with app.app_context():
        topic = db.session.scalar(select(Topic).where(Topic.name == "Security"))
        db.session.add(AdvocateTopic(advocate_id=avoids.id, topic=topic, stance=TopicStance.AVOID))
        db.session.commit()

    html = get(client, f"/admin/requests/{request.id}")

    def row(advocate) -> str:
        return text(section(html, "excluded").split(f'<li id="excluded-{advocate.id}">')[1].split("</li>")[0])

    until = TODAY + timedelta(days=30)
    assert row(snoozed) == f"Sam Snoozed Snoozed: snoozed until {until.day} {until:%b %Y}"
    assert row(full) == "Fran Full No calls left this quarter: 1 of 1 call this quarter"
    assert row(avoids) == (
        "Avi Avoids Would rather not talk about a topic the prospect needs: would rather not discuss Security"
    )


def test_the_candidates_list_is_cut_to_the_best_and_can_show_all(app, client, coordinator, make_request,
                                                                 make_advocate, monkeypatch):
    import admin.requests

    monkeypatch.setattr(admin.requests, "CANDIDATES_SHOWN", 2)
    request = make_request()
    for n in range(3):
        fit(app, make_advocate(name=f"Advocate {n}").id)

    assert len(candidate_ids(get(client, f"/admin/requests/{request.id}"))) == 2
    html = get(client, f"/admin/requests/{request.id}?candidates=all")
    assert len(candidate_ids(html)) == 3
    assert "Show the best 2 only" in html


def test_an_empty_pool_says_why_nobody_is_listed(client, coordinator, make_request):
    request = make_request()
    html = text(get(client, f"/admin/requests/{request.id}"))
    assert "Nobody in the pool can be asked for this request right now." in html


def test_asking_from_the_page_sends_the_ask_and_shows_it(app, client, coordinator, zephyr):
    request, people = zephyr
    dana = people["dana"]

    response = post(client, f"/admin/requests/{request.id}/asks", {"advocate_id": dana.id})

    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"/admin/requests/{request.id}#asks")
    html = get(client, f"/admin/requests/{request.id}")
    assert flashed(html)[0].startswith("Asked Dana Example. They have until")
    asks = text(section(html, "asks"))
    assert "Dana Example Acme Health Waiting for an answer" in asks
    assert ">Withdraw</button>" in html
    assert candidate_ids(html) == [people["eli"].id]
    assert (
        "Dana Example Already asked for this request: asked before for this request; an advocate is asked "
        "once per request"
    ) in text(section(html, "excluded"))
    timeline = text(section(html, "timeline"))
    assert re.search(r"Cora Ordinator Asked Dana Example \(match score \d+\)", timeline)
    with app.app_context():
        ask = db.session.scalars(select(Ask)).one()
        assert (ask.advocate_id, ask.status, ask.asked_by_id) == (dana.id, AskStatus.PENDING, coordinator.id)
        assert db.session.get(ReferenceRequest, request.id).status is RequestStatus.ASKING
        mail = db.session.scalars(select(OutboxMessage).where(OutboxMessage.template == "ask")).one()
        assert mail.to == ["dana@example.com"]


def test_asking_an_advocate_the_rules_exclude_is_refused_422_and_changes_nothing(
    app, client, coordinator, zephyr
):
    request, people = zephyr
    response = post(client, f"/admin/requests/{request.id}/asks", {"advocate_id": people["gil"].id})
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert flashed(html) and "Gil Paused" in flashed(html)[0]
    assert candidate_ids(html) == [people["dana"].id, people["eli"].id]
    with app.app_context():
        assert db.session.scalar(select(func.count(Ask.id))) == 0


@pytest.mark.parametrize("advocate_id", ["", "abc", "999999"])
def test_asking_without_a_real_advocate_is_refused(app, client, coordinator, zephyr, advocate_id):
    request, _people = zephyr
    response = post(client, f"/admin/requests/{request.id}/asks", {"advocate_id": advocate_id})
    assert response.status_code in (400, 422)
    assert flashed(response.get_data(as_text=True))
    with app.app_context():
        assert db.session.scalar(select(func.count(Ask.id))) == 0


def test_asking_for_a_request_that_has_its_advocate_is_refused_409(app, client, coordinator, zephyr):
    request, people = zephyr
    with app.app_context():
        db.session.get(ReferenceRequest, request.id).status = RequestStatus.MATCHED
        db.session.commit()

    response = post(client, f"/admin/requests/{request.id}/asks", {"advocate_id": people["dana"].id})

    html = response.get_data(as_text=True)
    assert response.status_code == 409
    assert "it no longer needs an advocate" in flashed(html)[0]
    assert "This request has its advocate, so nobody else is ranked for it." in text(html)


def test_withdrawing_a_pending_ask_and_then_again(app, client, coordinator, zephyr, make_ask):
    request, people = zephyr
    ask = make_ask(people["dana"], request=request, asked_by_id=coordinator.id)

    response = post(client, f"/admin/requests/{request.id}/asks/{ask.id}/withdraw", follow=True)
    html = response.get_data(as_text=True)
    assert "The ask to Dana Example is withdrawn" in flashed(html)[0]
    assert "Dana Example Acme Health Withdrawn" in text(section(html, "asks"))
    assert "Withdrew the ask to Dana Example" in text(section(html, "timeline"))

    again = post(client, f"/admin/requests/{request.id}/asks/{ask.id}/withdraw")
    assert again.status_code == 409
    assert "only a pending ask can be withdrawn" in flashed(again.get_data(as_text=True))[0]
    assert post(client, f"/admin/requests/{request.id}/asks/999999/withdraw").status_code == 404


def test_the_timeline_reads_in_words_and_sales_do_not_read_why_an_advocate_declined(
    app, client, coordinator, as_seller, zephyr
):
    request, people = zephyr
    post(client, f"/admin/requests/{request.id}/asks", {"advocate_id": people["dana"].id})
    with app.app_context():
        ask_id = db.session.scalar(select(Ask.id))
        flow.decline_ask(ask_id, people["dana"].id, "busy", "Quarter-end close.")

    staff = text(section(get(client, f"/admin/requests/{request.id}"), "timeline"))
    assert re.search(r"Cora Ordinator Asked Dana Example \(match score \d+\)", staff)
    assert "Dana Example Declined the ask: Too busy right now — “Quarter-end close.”" in staff
    assert "Vouch Nobody left to answer: the request needs a next candidate" in staff

    theirs = get(as_seller, f"/admin/requests/{request.id}")
    timeline = text(section(theirs, "timeline"))
    assert "Cora Ordinator Asked Dana Example" in timeline and "score" not in timeline
    assert "Dana Example Declined the ask" in timeline
    assert "Quarter-end" not in theirs and "Too busy" not in theirs
    assert "Looking for another advocate" in timeline


def test_sales_see_their_own_request_but_not_the_candidates(as_seller, zephyr):
    request, _people = zephyr
    html = get(as_seller, f"/admin/requests/{request.id}")
    assert "Zephyr roll-out" in html and "Quentin Quaile" in html
    assert candidate_ids(html) == []
    assert 'id="excluded"' not in html and ">Ask</button>" not in html
    assert "The reference coordinator picks the best advocate" in text(html)
    assert 'aria-label="Deal outcome"' in html and 'aria-label="Cancel the request"' in html


def test_sales_get_404_for_another_sellers_request_and_it_is_audited(app, as_seller, seller, make_request):
    theirs = make_request(prospect_company="Not Yours Ltd")
    response = as_seller.get(f"/admin/requests/{theirs.id}")
    assert response.status_code == 404
    assert "Not Yours" not in response.get_data(as_text=True)
    assert as_seller.get("/admin/requests/999999").status_code == 404
    with app.app_context():
        denied = db.session.scalars(select(AuditEvent).where(AuditEvent.kind == "access.denied")).all()
        assert [(e.actor_id, e.detail["path"]) for e in denied] == [
            (seller.id, f"/admin/requests/{theirs.id}")
        ]


@pytest.mark.parametrize("action", ["cancel", "outcome"])
def test_sales_cannot_change_another_sellers_request(app, as_seller, make_request, action):
    theirs = make_request()
    response = post(as_seller, f"/admin/requests/{theirs.id}/{action}", {"outcome": "won"})
    assert response.status_code == 404
    with app.app_context():
        request = db.session.get(ReferenceRequest, theirs.id)
        assert (request.status, request.outcome) == (RequestStatus.NEW, RequestOutcome.OPEN)


def test_sales_may_not_ask_or_withdraw(app, as_seller, zephyr, make_ask):
    request, people = zephyr
    ask = make_ask(people["eli"], request=request)
    asked = post(as_seller, f"/admin/requests/{request.id}/asks", {"advocate_id": people["dana"].id})
    assert asked.status_code == 403
    assert post(as_seller, f"/admin/requests/{request.id}/asks/{ask.id}/withdraw").status_code == 403
    with app.app_context():
        assert db.session.scalar(select(func.count(Ask.id))) == 1
        assert db.session.get(Ask, ask.id).status is AskStatus.PENDING


def test_the_owner_cancels_with_a_reason_and_cannot_cancel_twice(app, as_seller, zephyr, make_ask):
    request, people = zephyr
    make_ask(people["dana"], request=request)

    response = post(as_seller, f"/admin/requests/{request.id}/cancel", {"reason": "Deal went quiet."},
                    follow=True)

    html = response.get_data(as_text=True)
    assert "The request is cancelled." in flashed(html)[0]
    assert '<span class="status status-cancelled">Cancelled</span>' in html
    assert "Sam Seller Cancelled the request: Deal went quiet." in text(section(html, "timeline"))
    assert 'aria-label="Cancel the request"' not in html
    with app.app_context():
        assert db.session.get(ReferenceRequest, request.id).status is RequestStatus.CANCELLED
        assert db.session.scalars(select(Ask.status)).all() == [AskStatus.WITHDRAWN]

    again = post(as_seller, f"/admin/requests/{request.id}/cancel")
    assert again.status_code == 409
    assert "already cancelled" in flashed(again.get_data(as_text=True))[0]


def test_a_booked_call_is_cancelled_first_so_the_page_offers_no_cancel_button(
    client, coordinator, zephyr, make_engagement, app
):
    request, people = zephyr
    with app.app_context():
        db.session.get(ReferenceRequest, request.id).status = RequestStatus.SCHEDULED
        db.session.commit()
    make_engagement(people["dana"], status="booked", request_id=request.id)

    html = get(client, f"/admin/requests/{request.id}")

    assert 'aria-label="Cancel the request"' not in html
    assert "The call is booked: to call the request off, cancel the call first" in text(html)
    assert "The call is booked for" in text(html.split('id="engagement"', 1)[1].split("</p>", 1)[0])
    refused = post(client, f"/admin/requests/{request.id}/cancel")
    assert refused.status_code == 409
    assert "cancel the call first" in flashed(refused.get_data(as_text=True))[0]


def test_recording_the_outcome_once(app, client, coordinator, zephyr):
    request, _people = zephyr

    empty = post(client, f"/admin/requests/{request.id}/outcome", {"outcome": ""})
    assert empty.status_code == 400
    assert "Pick won or lost." in empty.get_data(as_text=True)

    won = post(client, f"/admin/requests/{request.id}/outcome", {"outcome": "won"}, follow=True)
    html = won.get_data(as_text=True)
    assert "Outcome recorded: the deal was won." in flashed(html)[0]
    assert "Deal outcome Won" in text(section(html, "context"))
    assert "Cora Ordinator Recorded the outcome: deal won" in text(section(html, "timeline"))
    assert 'aria-label="Deal outcome"' not in html
    assert "The deal was won (recorded" in text(html)

    lost = post(client, f"/admin/requests/{request.id}/outcome", {"outcome": "lost"})
    assert lost.status_code == 409
    assert "already recorded as won" in flashed(lost.get_data(as_text=True))[0]
    with app.app_context():
        assert db.session.get(ReferenceRequest, request.id).outcome is RequestOutcome.WON


def test_an_unknown_request_is_404(client, coordinator, make_advocate):
    advocate = make_advocate()
    assert client.get("/admin/requests/999999").status_code == 404
    for action in ("cancel", "outcome"):
        assert post(client, f"/admin/requests/999999/{action}", {"outcome": "won"}).status_code == 404
    assert post(client, "/admin/requests/999999/asks", {"advocate_id": advocate.id}).status_code == 404


def test_the_request_page_reads_the_same_number_of_queries_for_5_and_40_advocates(
    app, client, coordinator, as_seller, zephyr, make_advocate, make_ask, count_queries
):
    request, people = zephyr
    make_ask(people["eli"], request=request, asked_by_id=coordinator.id)
    make_ask(people["fay"], request=request, status="declined")

    def add(count: int) -> None:
        for n in range(count):
            advocate = make_advocate(status=["active", "paused"][n % 2])
            fit(app, advocate.id, glad=("Security",) if n % 3 else ())

    def measure(http) -> int:
        with count_queries() as queries:
            get(http, f"/admin/requests/{request.id}")
        return len(queries)

    add(1)  # 5 advocates
    get(client, f"/admin/requests/{request.id}")  # ranked; the views measured read the kept ranking
    staff_few, sales_few = measure(client), measure(as_seller)
    add(35)  # 40
    html = get(client, f"/admin/requests/{request.id}?candidates=all")
    assert len(candidate_ids(html)) > 10
    assert measure(client) == staff_few
    assert measure(as_seller) == sales_few
    assert staff_few <= 25 and sales_few <= 10


# --- the intake form ---------------------------------------------------------------------------

FORM = {
    "opportunity_id": "OPP-42", "opportunity_name": "Northwind expansion", "amount": "250,000",
    "prospect_company": "Northwind Clinics", "industry": "Healthcare", "employees": "1200",
    "region": "Europe", "contact_name": "Nora North", "contact_email": "nora@northwind.example",
    "format": "call", "needed_by": (TODAY + timedelta(days=10)).isoformat(),
    "use_cases": "Claims automation\nPatient intake", "competitors": "Initech Cloud",
    "questions": "", "notes": "They worry about the migration.",
}


def test_the_intake_form_labels_every_field_of_the_contract(as_seller):
    html = get(as_seller, "/admin/requests/new")
    for name, label in [
        ("opportunity_id", "CRM opportunity ID"), ("opportunity_name", "Opportunity name"),
        ("amount", "Deal amount"), ("prospect_company", "Prospect company (required)"),
        ("industry", "Industry (required)"),
        ("employees", "Employees at the prospect"), ("region", "Region"), ("contact_name", "Contact name"),
        ("contact_email", "Contact e-mail"), ("format", "Format (required)"), ("needed_by", "Needed by"),
        ("use_cases", "Use cases, one per line"), ("competitors", "Competitors in the deal, one per line"),
        ("questions", "Questions for a written reference, one per line"),
        ("notes", "Notes for the coordinator"),
    ]:
        assert f'<label for="{name}">{label}</label>' in html, name
        assert f'name="{name}"' in html
    assert '<option value="Healthcare">Healthcare</option>' in html
    assert '<option value="site_visit">' in html
    assert re.search(r'<label for="topics-\d+"><input id="topics-\d+" name="topics" type="checkbox" '
                     r'value="Security"> Security</label>', html)
    assert 'type="date"' in html


def test_a_seller_submits_a_request_and_lands_on_its_page(app, as_seller, seller):
    data = {**FORM, "csrf_token": csrf_token(get(as_seller, "/admin/requests/new"))}
    response = as_seller.post("/admin/requests/new", data={**data, "topics": ["Security", "Migration"]})

    assert response.status_code == 302
    with app.app_context():
        request = db.session.scalars(select(ReferenceRequest)).one()
        assert request.requested_by_id == seller.id
        assert [u.name for u in request.use_cases] == ["Claims automation", "Patient intake"]
        assert sorted(t.name for t in request.topics) == ["Migration", "Security"]
        assert request.amount == Decimal("250000")
        request_id = request.id
    assert response.headers["Location"].endswith(f"/admin/requests/{request_id}")
    html = get(as_seller, f"/admin/requests/{request_id}")
    assert flashed(html) == [
        "Request for Northwind Clinics submitted. The coordinator picks an advocate next."
    ]
    assert "Sam Seller Submitted the request" in text(section(html, "timeline"))


def test_a_bad_request_names_each_problem_beside_its_field_and_saves_nothing(app, as_seller):
    data = {**FORM, "prospect_company": "", "industry": "Atlantis", "employees": "lots",
            "needed_by": "2001-01-01", "format": "written", "contact_email": "not-an-address",
            "csrf_token": csrf_token(get(as_seller, "/admin/requests/new"))}

    response = as_seller.post("/admin/requests/new", data=data)

    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "Nothing was saved" in flashed(html)[0]
    for name, message in [("prospect_company", "Give the prospect&#39;s company name"),
                          ("industry", "Unknown industry &#39;Atlantis&#39;"),
                          ("employees", "&#39;lots&#39; is not a whole number"),
                          ("needed_by", "Must not be in the past"),
                          ("questions", "A written reference needs at least one question"),
                          ("contact_email", "&#39;not-an-address&#39; is not a valid e-mail address")]:
        assert re.search(rf'<small id="{name}-error" class="error">{message}', html), name
        assert f'aria-describedby="{name}-error"' in html
    assert 'value="Northwind expansion"' in html  # what was typed stays
    with app.app_context():
        assert db.session.scalar(select(func.count(ReferenceRequest.id))) == 0


@pytest.mark.parametrize("missing", [{}, {"industry": "", "format": "", "prospect_company": "  "}])
def test_the_form_asks_for_what_is_missing_in_words_never_codes(app, as_seller, missing):
    required = ("industry", "format", "prospect_company")
    data = {name: value for name, value in FORM.items() if name not in required}
    data |= {**missing, "csrf_token": csrf_token(get(as_seller, "/admin/requests/new"))}

    response = as_seller.post("/admin/requests/new", data=data)

    html = response.get_data(as_text=True)
    assert response.status_code == 422
    for name, message in [("prospect_company", "Give the prospect&#39;s company name"),
                          ("industry", "Pick an industry"), ("format", "Pick a format")]:
        assert f'<small id="{name}-error" class="error">{message}</small>' in html, name
    errors = " ".join(re.findall(r'class="error">(.*?)</small>', html))
    assert "site_visit" not in errors and "use one of" not in errors
    with app.app_context():
        assert db.session.scalar(select(func.count(ReferenceRequest.id))) == 0


def test_the_required_fields_are_marked(as_seller):
    html = get(as_seller, "/admin/requests/new")
    for name in ("prospect_company", "industry", "format"):
        assert re.search(rf'<label for="{name}">[^<]*\(required\)</label>', html), name
        assert re.search(rf'<(input|select)[^>]*id="{name}"[^>]*required', html) or re.search(
            rf'<(input|select)[^>]*required[^>]*id="{name}"', html), name
    assert html.count(" required") == 3


def test_the_intake_form_needs_its_csrf_token(app, as_seller):
    assert as_seller.post("/admin/requests/new", data=FORM).status_code == 400
    with app.app_context():
        assert db.session.scalar(select(func.count(ReferenceRequest.id))) == 0


# --- the dashboard -----------------------------------------------------------------------------


def test_the_dashboard_shows_overdue_requests_and_asks_about_to_expire(
    client, coordinator, as_seller, seller, make_request, make_advocate, make_ask
):
    three_days_ago = TODAY - timedelta(days=3)
    late = make_request(requested_by=seller, prospect_company="Late Ltd", needed_by=three_days_ago)
    make_request(prospect_company="Other Late Ltd", needed_by=TODAY - timedelta(days=1))
    make_request(prospect_company="Done Ltd", needed_by=three_days_ago, status=RequestStatus.COMPLETED)
    dana = make_advocate(name="Dana Example")
    make_ask(dana, request=late, expires_at=utcnow() + timedelta(hours=5))
    make_ask(make_advocate(name="Eli Later"), request=late, expires_at=utcnow() + timedelta(hours=40))

    staff = get(client, "/admin/")
    overdue = text(section(staff, "overdue"))
    assert "Late Ltd" in overdue and "Other Late Ltd" in overdue and "Done Ltd" not in overdue
    assert "3 days ago" in overdue
    expiring = text(section(staff, "expiring"))
    assert "Dana Example for Late Ltd" in expiring and "Eli Later" not in expiring

    theirs = get(as_seller, "/admin/")
    assert "Late Ltd" in text(section(theirs, "overdue"))
    assert "Other Late Ltd" not in theirs
    assert 'id="expiring"' not in theirs


def test_the_dashboard_says_when_nothing_is_overdue(client, coordinator):
    html = text(get(client, "/admin/"))
    assert "Nothing overdue." in html
    assert "No ask is due to expire in the next 24 hours." in html
