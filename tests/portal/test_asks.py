"""An advocate answers an ask: the page (context, never the prospect's identity before accepting),
accepting (quota re-checked under the lock, the request matched, an engagement awaiting booking)
and declining (with a reason; the request goes back to the coordinator), and every refusal."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from models import (
    Ask,
    AskStatus,
    AuditEvent,
    Engagement,
    EngagementStatus,
    ReferenceRequest,
    RequestStatus,
    Role,
    db,
    quarter_of,
)
from models.types import utcnow
from tests.conftest import csrf_token, text_body
from tests.helpers import flashed
from workflows import quota
from workflows import requests as flow

PROSPECT = {"prospect_company": "Zephyr Hospitals AG", "contact_name": "Quentin Quaile",
            "contact_email": "quentin@zephyr-hospitals.example"}
WHY = [{"label": "Same industry: Healthcare", "points": 25}, {"label": "Same size band", "points": 10}]


@pytest.fixture()
def advocate(make_advocate, sign_in):
    """An Active-tier advocate (4 calls a quarter) in New York, signed in on ``client``."""
    advocate = make_advocate(name="Dana Whitfield", timezone="America/New_York")
    sign_in(advocate.account)
    return advocate


@pytest.fixture()
def coordinator(make_account):
    return make_account(role=Role.COORDINATOR, name="Cora Ordinator", email="cora@vouch.example")


@pytest.fixture()
def asked(make_request, make_ask, advocate, coordinator):
    """A pending ask for a call, to ``advocate``, by ``coordinator``; the request is "asking"."""

    def make(format="call", status="pending", request=None, **fields):
        request = request or make_request(
            format=format, status=RequestStatus.ASKING, topics=["Security", "ROI"],
            use_cases=["Claims automation"], questions=["How long did it take?"], **PROSPECT,
        )
        return make_ask(advocate, request=request, status=status, explanation=WHY,
                        asked_by_id=coordinator.id, **fields)

    return make


def url(ask_id: int, action: str = "") -> str:
    return f"/portal/asks/{ask_id}" + (f"/{action}" if action else "")


def post(client, ask_id: int, action: str, data: dict | None = None, follow: bool = False):
    token = csrf_token(client.get("/portal").get_data(as_text=True))
    return client.post(url(ask_id, action), data={"csrf_token": token, **(data or {})},
                       follow_redirects=follow)


def snapshot(app, request_id: int) -> dict:
    """Everything answering an ask can change, to show a refusal changed nothing."""
    with app.app_context():
        request = db.session.get(ReferenceRequest, request_id)
        state = {
            "request": (request.status, request.matched_at, request.updated_at),
            "asks": sorted((a.id, a.status, a.responded_at, a.decline_reason, a.decline_note)
                           for a in request.asks),
            "engagements": db.session.scalar(select(func.count(Engagement.id))),
            "events": [(e.kind, e.detail) for e in request.events],
        }
        db.session.remove()
    return state


# --- the page ----------------------------------------------------------------------------------


def test_the_ask_page_shows_the_context_and_why_but_not_who_the_prospect_is(client, asked):
    ask = asked()

    response = client.get(url(ask.id))

    html = response.get_data(as_text=True)
    assert response.status_code == 200
    for shown in ("Phone call", "Healthcare", "201–1000 employees", "Europe", "Security", "ROI",
                  "Claims automation", "Same industry: Healthcare", "+25", "Same size band", "Needed by"):
        assert shown in html
    for secret in PROSPECT.values():
        assert secret not in html
    assert "Zephyr" not in html and "Quaile" not in html
    assert '<label for="reason">Why not this time?</label>' in html
    assert '<label for="note">A note for your program coordinator (optional)</label>' in html
    assert "Accepting uses 1 of the 4 calls you have left" in html


def test_the_answer_by_time_is_shown_in_the_advocates_zone(client, asked):
    from zoneinfo import ZoneInfo

    ask = asked()
    local = ask.expires_at.astimezone(ZoneInfo("America/New_York"))
    html = client.get(url(ask.id)).get_data(as_text=True)
    assert f"Please answer by {local:%a %d %b %Y, %H:%M} (America/New_York)" in html


def test_a_full_quarter_is_said_before_the_advocate_tries(client, asked, advocate, make_engagement):
    for _ in range(4):
        make_engagement(advocate, status="awaiting_booking")
    html = client.get(url(asked().id)).get_data(as_text=True)
    assert "You have used all 4 of your calls" in html


@pytest.mark.parametrize("method, action", [("GET", ""), ("POST", "accept"), ("POST", "decline")])
def test_another_advocates_ask_is_not_found_and_stays_as_it_was(
    app, client, advocate, make_advocate, make_ask, method, action
):
    other = make_advocate()
    theirs = make_ask(other)
    before = snapshot(app, theirs.request_id)

    if method == "GET":
        response = client.get(url(theirs.id))
    else:
        response = post(client, theirs.id, action, {"reason": "busy"})

    assert response.status_code == 404
    assert snapshot(app, theirs.request_id) == before
    with app.app_context():
        denied = db.session.scalars(select(AuditEvent).where(AuditEvent.kind == "access.denied")).all()
        assert [e.actor_id for e in denied] == [advocate.account.id]


def test_an_unknown_ask_is_not_found(client, advocate):
    assert client.get(url(999_999)).status_code == 404


def test_an_advocate_account_without_a_profile_gets_a_404_not_an_error(client, make_account, sign_in):
    account = make_account(role="advocate")
    sign_in(account)
    assert client.get(url(1)).status_code == 404
    assert post(client, 1, "accept").status_code == 404


def test_answering_without_the_csrf_token_is_refused(app, client, asked):
    ask = asked()
    before = snapshot(app, ask.request_id)
    assert client.post(url(ask.id, "accept")).status_code == 400
    assert client.post(url(ask.id, "decline"), data={"reason": "busy"}).status_code == 400
    assert snapshot(app, ask.request_id) == before


# --- accepting ---------------------------------------------------------------------------------


def test_accepting_matches_the_request_and_creates_an_engagement_awaiting_booking(
    app, client, advocate, asked, make_advocate, make_ask
):
    ask = asked()
    other = make_ask(make_advocate(), request=db_request(app, ask.request_id))

    response = post(client, ask.id, "accept")

    assert response.status_code == 302
    assert response.headers["Location"] == url(ask.id)
    with app.app_context():
        request = db.session.get(ReferenceRequest, ask.request_id)
        mine, theirs = db.session.get(Ask, ask.id), db.session.get(Ask, other.id)
        assert mine.status is AskStatus.ACCEPTED and mine.responded_at is not None
        assert theirs.status is AskStatus.WITHDRAWN
        assert request.status is RequestStatus.MATCHED and request.matched_at == mine.responded_at
        engagement = db.session.scalars(select(Engagement)).one()
        assert (engagement.status, engagement.format_code, engagement.quarter) == (
            EngagementStatus.AWAITING_BOOKING, "call", quarter_of(mine.responded_at))
        assert (engagement.request_id, engagement.ask_id, engagement.advocate_id) == (
            request.id, ask.id, advocate.id)
        assert (engagement.prospect_name, engagement.prospect_email) == (
            PROSPECT["contact_name"], PROSPECT["contact_email"])
        assert engagement.starts_at is None
        events = [(e.kind, e.actor_id, e.detail) for e in request.events]
        assert ("accepted", advocate.account.id, {"advocate_id": advocate.id, "ask_id": ask.id}) in events
        assert ("withdrawn", None, {"advocate_id": other.advocate_id, "ask_id": other.id,
                                    "reason": "another advocate accepted"}) in events

    page = client.get(url(ask.id)).get_data(as_text=True)
    assert "Thank you for accepting!" in " ".join(flashed(page))
    for now_shared in PROSPECT.values():
        assert now_shared in page
    assert "What happens next" in page
    assert "gets a link to pick a slot in your availability" in page


def db_request(app, request_id: int) -> ReferenceRequest:
    with app.app_context():
        request = db.session.get(ReferenceRequest, request_id)
        db.session.expunge(request)
    return request


def test_accepting_tells_the_coordinator_who_asked(client, asked, coordinator, deliver, smtp):
    ask = asked()
    post(client, ask.id, "accept")
    deliver()
    [message] = smtp.wait_for(coordinator.email)
    assert message["Subject"] == "Dana Whitfield accepted the reference request for Zephyr Hospitals AG"
    assert "The request is now matched" in text_body(message)


def test_accepting_a_written_ask_leads_straight_to_the_questions(app, client, asked):
    ask = asked(format="written")
    response = post(client, ask.id, "accept")
    with app.app_context():
        engagement = db.session.scalars(select(Engagement)).one()
    assert response.headers["Location"] == f"/portal/written/{engagement.id}"
    assert engagement.format_code == "written"


def test_accepting_over_quota_says_so_and_changes_nothing(app, client, advocate, asked, make_engagement):
    for _ in range(4):  # Active tier: 4 a quarter, all used
        make_engagement(advocate, status="awaiting_booking")
    ask = asked()
    before = snapshot(app, ask.request_id)

    response = post(client, ask.id, "accept")

    assert response.status_code == 409
    html = response.get_data(as_text=True)
    label = quota.QuarterUse(quota.current_quarter(), 4, 4).label
    assert f"You have already used all 4 of your calls for {label}" in html
    assert "Nothing was changed." in html
    assert snapshot(app, ask.request_id) == before


def test_over_a_personal_cap_the_message_says_it_can_be_raised(app, client, make_advocate, sign_in,
                                                               make_ask, make_engagement):
    capped = make_advocate(quarterly_cap=1)
    sign_in(capped.account)
    make_engagement(capped, status="awaiting_booking")
    ask = make_ask(capped)
    html = post(client, ask.id, "accept").get_data(as_text=True)
    assert "raise your personal limit on your availability page" in html


def test_accepting_an_ask_past_its_time_records_it_expired_and_refuses(app, client, asked):
    ask = asked(expires_at=utcnow() - timedelta(minutes=1))

    response = post(client, ask.id, "accept")

    assert response.status_code == 409
    assert "This ask expired on" in response.get_data(as_text=True)
    with app.app_context():
        request = db.session.get(ReferenceRequest, ask.request_id)
        assert db.session.get(Ask, ask.id).status is AskStatus.EXPIRED
        assert db.session.scalar(select(func.count(Engagement.id))) == 0
        assert request.status is RequestStatus.NEW  # no other pending ask: needs a next candidate
        assert [e.kind for e in request.events] == ["expired", "needs_candidate"]


def test_an_ask_past_its_time_is_not_offered_for_an_answer(client, asked):
    html = client.get(url(asked(expires_at=utcnow() - timedelta(hours=1)).id)).get_data(as_text=True)
    assert "This ask expired on" in html
    assert "/accept" not in html and "/decline" not in html


@pytest.mark.parametrize(
    "status, action, message",
    [
        ("declined", "accept", "You declined this ask. It can no longer be accepted."),
        ("withdrawn", "accept", "This ask was withdrawn"),
        ("expired", "accept", "This ask has expired"),
        ("accepted", "accept", "You have already accepted this ask. It can no longer be accepted."),
        ("accepted", "decline", "You have already accepted this ask. It can no longer be declined."),
        ("declined", "decline", "You declined this ask. It can no longer be declined."),
    ],
)
def test_an_illegal_transition_is_refused_with_409_and_changes_nothing(app, client, asked, status, action,
                                                                       message):
    ask = asked(status=status)
    before = snapshot(app, ask.request_id)

    response = post(client, ask.id, action, {"reason": "busy"})

    assert response.status_code == 409
    assert message in " ".join(flashed(response.get_data(as_text=True)))
    assert snapshot(app, ask.request_id) == before


def test_a_request_another_advocate_accepted_cannot_be_accepted_again(
    app, client, asked, make_advocate, make_ask, make_engagement
):
    ask = asked()
    other = make_advocate()
    taken = make_ask(other, request=db_request(app, ask.request_id), status="accepted")
    make_engagement(other, status="awaiting_booking", request_id=ask.request_id, ask_id=taken.id)
    before = snapshot(app, ask.request_id)

    response = post(client, ask.id, "accept")

    assert response.status_code == 409
    assert "Another advocate has already accepted this request" in response.get_data(as_text=True)
    assert snapshot(app, ask.request_id) == before


def test_a_cancelled_request_cannot_be_accepted(app, client, asked, make_request):
    ask = asked(request=make_request(status=RequestStatus.CANCELLED))
    response = post(client, ask.id, "accept")
    assert response.status_code == 409
    assert "called off" in response.get_data(as_text=True)


def test_the_database_refuses_a_second_live_engagement_when_the_checks_are_skipped(
    app, asked, advocate, make_advocate, make_ask, make_engagement, monkeypatch
):
    """The unique index uq_engagements_one_live_per_request backs the check up."""
    ask = asked()
    other = make_advocate()
    taken = make_ask(other, request=db_request(app, ask.request_id), status="accepted")
    make_engagement(other, status="awaiting_booking", request_id=ask.request_id, ask_id=taken.id)
    before = snapshot(app, ask.request_id)
    monkeypatch.setattr(flow, "_check_still_open", lambda request: None)

    with app.app_context(), pytest.raises(flow.AlreadyTaken, match="a moment ago"):
        flow.accept_ask(ask.id, advocate.id)

    assert snapshot(app, ask.request_id) == before


def test_two_advocates_accepting_one_request_at_once_only_one_gets_it(app, make_advocate, make_request,
                                                                      make_ask):
    request = make_request(status=RequestStatus.ASKING)
    advocates = [make_advocate() for _ in range(2)]
    asks = [make_ask(a, request=request) for a in advocates]
    barrier = threading.Barrier(2, timeout=30)
    results = []

    def accept(ask, advocate):
        with app.app_context():
            try:
                barrier.wait()
                results.append(flow.accept_ask(ask.id, advocate.id).id)
            except BaseException as error:
                results.append(error)
            finally:
                db.session.remove()

    pairs = zip(asks, advocates, strict=True)
    threads = [threading.Thread(target=accept, args=pair, daemon=True) for pair in pairs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)

    winners = [r for r in results if isinstance(r, int)]
    losers = [r for r in results if isinstance(r, flow.IllegalTransition)]
    assert (len(winners), len(losers)) == (1, 1), results
    # The loser waited for the request's lock, then found its own ask withdrawn by the winner.
    assert "withdrawn" in str(losers[0]) or "Another advocate" in str(losers[0])
    with app.app_context():
        assert db.session.scalar(select(func.count(Engagement.id))) == 1
        statuses = sorted(db.session.scalars(select(Ask.status)).all())
        assert statuses == sorted([AskStatus.ACCEPTED, AskStatus.WITHDRAWN])


# --- declining ---------------------------------------------------------------------------------


def test_declining_records_the_reason_and_sends_the_request_back_to_the_coordinator(
    app, client, advocate, asked
):
    ask = asked()

    response = post(client, ask.id, "decline", {"reason": "topic", "note": "  Not my area, sorry.  "})

    assert response.status_code == 302
    assert response.headers["Location"] == "/portal"
    with app.app_context():
        request = db.session.get(ReferenceRequest, ask.request_id)
        declined = db.session.get(Ask, ask.id)
        assert declined.status is AskStatus.DECLINED and declined.responded_at is not None
        assert (declined.decline_reason, declined.decline_note) == ("topic", "Not my area, sorry.")
        assert request.status is RequestStatus.NEW
        assert [(e.kind, e.actor_id, e.detail) for e in request.events] == [
            # The note stays on the ask (the coordinator's to read), never on the timeline.
            ("declined", advocate.account.id, {"advocate_id": advocate.id, "ask_id": ask.id,
                                               "reason": "topic"}),
            ("needs_candidate", None, {}),
        ]
        assert db.session.scalar(select(func.count(Engagement.id))) == 0
    home = client.get("/portal").get_data(as_text=True)
    assert "You declined this ask." in " ".join(flashed(home))
    assert "Nothing is asked of you right now" in home


def test_declining_while_another_ask_is_pending_keeps_the_request_asking(
    app, client, asked, make_advocate, make_ask
):
    ask = asked()
    make_ask(make_advocate(), request=db_request(app, ask.request_id))

    post(client, ask.id, "decline", {"reason": "busy"})

    with app.app_context():
        request = db.session.get(ReferenceRequest, ask.request_id)
        assert request.status is RequestStatus.ASKING
        assert [e.kind for e in request.events] == ["declined"]


def test_declining_tells_the_coordinator_the_reason(client, asked, coordinator, deliver, smtp):
    post(client, asked().id, "decline", {"reason": "company", "note": "We compete with them."})
    deliver()
    [message] = smtp.wait_for(coordinator.email)
    body = text_body(message)
    assert message["Subject"] == "Dana Whitfield declined the reference request for Zephyr Hospitals AG"
    assert "Reason: I would prefer not to speak with this company" in body
    assert "Note: We compete with them." in body
    assert "the request needs a next candidate" in body


@pytest.mark.parametrize(
    "data, error",
    [
        ({}, "Pick a reason from the list."),
        ({"reason": ""}, "Pick a reason from the list."),
        ({"reason": "bored"}, "Pick a reason from the list."),
        ({"reason": "other", "note": "x" * 501}, "Keep the note to 500 characters or fewer."),
    ],
)
def test_a_bad_decline_is_refused_beside_the_field_and_changes_nothing(app, client, asked, data, error):
    ask = asked()
    before = snapshot(app, ask.request_id)

    response = post(client, ask.id, "decline", data)

    assert response.status_code == 400
    assert error in response.get_data(as_text=True)
    assert snapshot(app, ask.request_id) == before


def test_a_note_of_exactly_500_characters_is_fine(app, client, asked):
    ask = asked()
    assert post(client, ask.id, "decline", {"reason": "other", "note": "x" * 500}).status_code == 302


def test_the_decline_rules_alone():
    flow.check_decline("busy", "")
    with pytest.raises(flow.RequestFlowError) as refused:
        flow.check_decline("nope", "")
    assert refused.value.field == "reason"
    with pytest.raises(flow.RequestFlowError) as refused:
        flow.check_decline("other", "y" * 501)
    assert refused.value.field == "note"


def test_the_transition_tables_allow_only_what_the_design_says():
    assert flow.ASK_TRANSITIONS[AskStatus.PENDING] == {
        AskStatus.ACCEPTED, AskStatus.DECLINED, AskStatus.EXPIRED, AskStatus.WITHDRAWN}
    assert all(not flow.ASK_TRANSITIONS[s] for s in AskStatus if s is not AskStatus.PENDING)
    assert set(flow.ASK_TRANSITIONS) == set(AskStatus)
    assert set(flow.REQUEST_TRANSITIONS) == set(RequestStatus)
    assert RequestStatus.NEW in flow.REQUEST_TRANSITIONS[RequestStatus.ASKING]
    assert not flow.REQUEST_TRANSITIONS[RequestStatus.COMPLETED]
    with pytest.raises(flow.IllegalTransition):
        flow.check_request_transition(RequestStatus.COMPLETED, RequestStatus.MATCHED)


# --- bounded queries ---------------------------------------------------------------------------


def test_the_ask_page_issues_the_same_number_of_queries_whatever_the_data(
    app, client, advocate, asked, make_advocate, make_ask, make_engagement, make_request, count_queries
):
    topics = ["Security", "ROI", "Implementation", "Integration", "Migration", "Compliance", "Adoption",
              "Pricing and contract", "Scalability", "Support quality", "Change management",
              "Executive sponsorship"]

    def measure(count: int) -> int:
        request = make_request(status=RequestStatus.ASKING, topics=topics[:count],
                               use_cases=[f"Use case {n}" for n in range(count)])
        ask = asked(request=request)
        for _ in range(count):
            make_ask(make_advocate(), request=db_request(app, request.id))
            make_engagement(advocate, status="awaiting_booking")
        with count_queries() as queries:
            response = client.get(url(ask.id))
        assert response.status_code == 200
        return len(queries)

    one, fifteen = measure(1), measure(15)
    assert one == fifteen
    assert fifteen <= 10
