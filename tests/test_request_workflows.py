"""The request workflows: submitting, asking (with the ask e-mail, really
sent), withdrawing, expiring, cancelling, the deal's outcome, who sees which request — every
transition allowed and refused, and two coordinators asking the same advocate at once."""

from __future__ import annotations

import threading
from datetime import time, timedelta

import pytest
import time_machine
from sqlalchemy import func, select

from mail.outbox import enqueue
from matching.engine import RULE_TEXT
from models import (
    Advocate,
    Ask,
    AskStatus,
    AuditEvent,
    Competitor,
    Engagement,
    EngagementStatus,
    Format,
    OutboxMessage,
    ReferenceRequest,
    RequestEvent,
    RequestOutcome,
    RequestStatus,
    Role,
    UseCase,
    WeeklyWindow,
    db,
)
from models.types import utcnow
from tests.conftest import first_link, html_body, text_body
from workflows import quota, request_mail, request_submission
from workflows import requests as flow
from workflows.matching import rank
from workflows.request_input import parse_request

TIMEOUT = 60
SECRETS = {
    "prospect_company": "Zephyr Hospitals AG",
    "contact_name": "Quentin Quaile",
    "contact_email": "quentin@zephyr-hospitals.example",
    "opportunity_name": "Zephyr EMEA rollout",
    "notes": "Their CIO, Ingrid Vale, is sceptical.",
}
# Request states reached without asking anybody, and the ones that no longer need an advocate.
CLOSED = (RequestStatus.MATCHED, RequestStatus.SCHEDULED, RequestStatus.COMPLETED, RequestStatus.CANCELLED)


# --- set-up ----------------------------------------------------------------------------------


@pytest.fixture()
def coordinator(make_account):
    return make_account(role=Role.COORDINATOR, name="Cora Ordinator", email="cora@vouch.example")


@pytest.fixture()
def seller(make_account):
    return make_account(role=Role.SALES, name="Sam Seller", email="sam@vouch.example")


@pytest.fixture()
def ready(app, make_advocate):
    """``ready(**profile)`` → an active advocate who takes calls, video calls and written
    references, free every day from 08:00 to 18:00 UTC: eligible for the default request."""

    def make(formats=("call", "video", "written"), **profile):
        advocate = make_advocate(**profile)
        with app.app_context():
            row = db.session.get(Advocate, advocate.id)
            row.formats = db.session.scalars(select(Format).where(Format.code.in_(formats))).all()
            row.windows = [WeeklyWindow(weekday=day, starts=time(8), ends=time(18)) for day in range(7)]
            db.session.commit()
            db.session.remove()
        return advocate

    return make


@pytest.fixture()
def new_request(make_request, seller):
    """``new_request(**fields)`` → a request for a call from ``seller`` holding ``SECRETS``."""

    def make(**fields):
        values = {**SECRETS, "topics": ["Security", "ROI"], "use_cases": ["Claims automation"],
                  "requested_by": seller, **fields}
        return make_request(**values)

    return make


def load(request_id: int) -> ReferenceRequest:
    return db.session.get(ReferenceRequest, request_id)


def events(request_id: int) -> list[tuple[str, dict]]:
    return [(e.kind, e.detail) for e in db.session.scalars(
        select(RequestEvent).where(RequestEvent.request_id == request_id).order_by(RequestEvent.id)
    )]


def audit_kinds() -> list[str]:
    return list(db.session.scalars(select(AuditEvent.kind).order_by(AuditEvent.id)))


def outbox(template: str) -> list[OutboxMessage]:
    return list(db.session.scalars(select(OutboxMessage).where(OutboxMessage.template == template)))


def count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def snapshot(request_id: int) -> dict:
    """Everything the workflows change, to show a refusal changed nothing."""
    db.session.expire_all()
    request = load(request_id)
    return {
        "request": (request.status, request.outcome, request.first_asked_at, request.cancelled_at,
                    request.outcome_at, request.updated_at),
        "asks": sorted((a.id, a.status, a.responded_at) for a in request.asks),
        "engagements": sorted((e.id, e.status) for e in db.session.scalars(select(Engagement))),
        "events": events(request_id),
        "outbox": count(OutboxMessage),
        "audit": count(AuditEvent),
    }


def with_status(request_id: int, status: RequestStatus) -> None:
    request = load(request_id)
    request.status = status
    db.session.commit()


# --- submit ----------------------------------------------------------------------------------


def test_submitting_saves_a_new_request_with_its_timeline_and_audit(app_context, seller):
    data = parse_request({
        **SECRETS, "opportunity_id": "OPP-7", "amount": 125000, "industry": "healthcare",
        "employees": 800, "region": "Europe", "topics": ["Security", "roi"],
        "use_cases": ["Claims automation"], "competitors": ["Acme Cloud"], "format": "written",
        "needed_by": "2099-01-31",
        "questions": ["How long did the rollout take?"],
    })

    request = request_submission.submit_request(data, by=seller)

    db.session.expire_all()
    request = load(request.id)
    assert (request.status, request.outcome, request.requested_by_id) == (
        RequestStatus.NEW, RequestOutcome.OPEN, seller.id)
    assert (request.prospect_company, request.opportunity_id, str(request.amount)) == (
        "Zephyr Hospitals AG", "OPP-7", "125000.00")
    assert (request.industry.name, request.region.name, request.format_code) == (
        "Healthcare", "Europe", "written")
    assert sorted(t.name for t in request.topics) == ["ROI", "Security"]
    assert [u.name for u in request.use_cases] == ["Claims automation"]
    assert [c.name for c in request.competitors] == ["Acme Cloud"]
    assert request.questions == ["How long did the rollout take?"]
    assert request.notes == SECRETS["notes"]
    assert events(request.id) == [("submitted", {"format": "written"})]
    assert request.events[0].actor_id == seller.id
    assert audit_kinds() == ["request.submitted"]


def test_tags_are_reused_whatever_their_case_and_created_when_first_used(app_context, seller):
    db.session.add_all([UseCase(name="Claims automation"), Competitor(name="Acme Cloud")])
    db.session.commit()
    data = parse_request({
        "prospect_company": "Zephyr", "industry": "Retail", "format": "call",
        "use_cases": ["CLAIMS   automation", "Fraud detection"], "competitors": ["acme cloud", "Globex"],
    })

    request = request_submission.submit_request(data, by=seller)

    request = load(request.id)
    assert [u.name for u in request.use_cases] == ["Claims automation", "Fraud detection"]
    assert [c.name for c in request.competitors] == ["Acme Cloud", "Globex"]
    assert count(UseCase) == 2 and count(Competitor) == 2
    again = request_submission.submit_request(
        parse_request({"prospect_company": "Initech", "industry": "Retail", "format": "call",
                       "use_cases": ["fraud DETECTION"]}), by=seller)
    assert [u.id for u in load(again.id).use_cases] == [request.use_cases[1].id]
    assert count(UseCase) == 2


def test_a_failed_submission_leaves_nothing_behind(app_context, seller, monkeypatch):
    data = parse_request({"prospect_company": "Zephyr", "industry": "Retail", "format": "call",
                          "use_cases": ["Brand new"]})

    def broken(*_args, **_kwargs):
        raise RuntimeError("the disk is full")

    monkeypatch.setattr(request_submission, "add_event", broken)
    with pytest.raises(RuntimeError):
        request_submission.submit_request(data, by=seller)

    assert (count(ReferenceRequest), count(UseCase), count(RequestEvent)) == (0, 0, 0)


# --- ask -------------------------------------------------------------------------------------


def test_asking_records_the_score_of_the_moment_and_queues_the_email(
    app, app_context, ready, new_request, coordinator
):
    advocate = ready(name="Dana Whitfield")
    request = new_request()
    now = utcnow()
    [expected] = [c for c in rank(load(request.id), now=now).candidates if c.advocate_id == advocate.id]
    db.session.rollback()

    the_ask = flow.ask(request.id, advocate.id, by=coordinator, now=now)

    db.session.expire_all()
    the_ask = db.session.get(Ask, the_ask.id)
    assert (the_ask.status, the_ask.asked_by_id, the_ask.score) == (AskStatus.PENDING, coordinator.id,
                                                                   expected.score)
    assert the_ask.explanation == [{"label": r.label, "points": r.points} for r in expected.reasons]
    assert sum(r["points"] for r in the_ask.explanation) == the_ask.score
    assert the_ask.created_at == now
    assert app.config["ASK_EXPIRY_HOURS"] == 48
    assert the_ask.expires_at == now + timedelta(hours=48)
    request = load(request.id)
    assert (request.status, request.first_asked_at) == (RequestStatus.ASKING, now)
    # The timeline keeps ids, never names: names are looked up when it is shown.
    assert events(request.id) == [("asked", {"advocate_id": advocate.id, "score": expected.score,
                                             "ask_id": the_ask.id})]
    assert audit_kinds() == ["request.asked"]
    [message] = outbox("ask")
    assert (message.idempotency_key, message.to) == (f"ask:{the_ask.id}", [advocate.account.email])


def test_the_ask_email_reaches_the_advocate_with_the_portal_link_and_no_prospect_identity(
    app_context, ready, new_request, coordinator, smtp, deliver
):
    advocate = ready(name="Dana Whitfield", timezone="America/New_York")
    request = new_request(format="video", employees=800, competitors=["Acme Cloud"])

    the_ask = flow.ask(request.id, advocate.id, by=coordinator)
    deliver()

    [message] = smtp.wait_for(advocate.account.email)
    text, html = text_body(message), html_body(message)
    assert message["Subject"] == "Could you help? A video call with a prospect in Healthcare"
    assert first_link(message) == f"http://vouch.test/portal/asks/{the_ask.id}"
    assert f'href="http://vouch.test/portal/asks/{the_ask.id}"' in html
    for shown in ("Healthcare", "201–1000 employees", "Europe", "Security", "ROI", "Claims automation",
                  "Video call", load(request.id).needed_by.strftime("%d %B %Y"), "Why we thought of you",
                  "Same company size", "(America/New_York)"):
        assert shown in text, shown
    assert "Same company size" in html and "201–1000 employees" in html
    for secret in (*SECRETS.values(), "Zephyr", "Quaile", "Acme Cloud", "Sam Seller"):
        assert secret not in text and secret not in html and secret not in message["Subject"]


def test_the_ask_email_is_enqueued_once_per_ask(app_context, ready, new_request, coordinator):
    advocate = ready()
    request = new_request()
    the_ask = flow.ask(request.id, advocate.id, by=coordinator)
    [first] = outbox("ask")

    again = enqueue(template="ask", to=["someone@else.example"], context={},
                    idempotency_key=f"ask:{the_ask.id}")
    db.session.commit()
    with pytest.raises(flow.AlreadyAsked):
        flow.ask(request.id, advocate.id, by=coordinator)

    assert again.id == first.id
    assert [m.id for m in outbox("ask")] == [first.id]


def test_when_the_email_cannot_be_queued_nobody_is_asked(
    app_context, ready, new_request, coordinator, monkeypatch
):
    advocate = ready()
    request = new_request()
    before = snapshot(request.id)

    def broken(**_kwargs):
        raise RuntimeError("the template is broken")

    monkeypatch.setattr(request_mail, "enqueue", broken)  # where the ask e-mail is queued
    with pytest.raises(RuntimeError):
        flow.ask(request.id, advocate.id, by=coordinator)

    assert snapshot(request.id) == before
    assert count(Ask) == 0


def test_a_written_request_says_how_many_questions(
    app_context, smtp, deliver, ready, new_request, coordinator
):
    advocate = ready()
    request = new_request(format="written", questions=["Why?", "How long?"])

    flow.ask(request.id, advocate.id, by=coordinator)
    deliver()

    assert "Written reference (2 questions to answer in writing)" in text_body(
        smtp.wait_for(advocate.account.email)[0])


def test_asking_a_second_advocate_keeps_the_request_asking(app_context, ready, new_request, coordinator):
    first, second = ready(), ready()
    request = new_request()
    earlier = utcnow() - timedelta(hours=2)
    flow.ask(request.id, first.id, by=coordinator, now=earlier)

    flow.ask(request.id, second.id, by=coordinator)

    request = load(request.id)
    assert (request.status, request.first_asked_at) == (RequestStatus.ASKING, earlier)
    assert sorted(a.advocate_id for a in request.asks) == [first.id, second.id]


@pytest.mark.parametrize("status", CLOSED)
def test_a_request_that_no_longer_needs_an_advocate_cannot_be_asked_for(
    app_context, ready, new_request, coordinator, status
):
    advocate = ready()
    request = new_request(status=status)
    before = snapshot(request.id)

    with pytest.raises(flow.IllegalTransition) as refused:
        flow.ask(request.id, advocate.id, by=coordinator)

    assert str(refused.value) == (
        f"This request is {status.value}: it no longer needs an advocate, so nobody can be asked for it. "
        "Nothing was changed."
    )
    assert snapshot(request.id) == before


@pytest.mark.parametrize(
    ("profile", "rule"),
    [({"status": "paused"}, "not_active"), ({"status": "retired"}, "not_active"),
     ({"formats": ("written",)}, "format_not_accepted"), ({"quarterly_cap": 0}, "quota_reached"),
     ({"company": "Zephyr Hospitals AG"}, "own_company"),
     ({"refused_companies": ["zephyr hospitals ag"]}, "refused_company")],
)
def test_an_advocate_who_is_not_eligible_now_is_refused_naming_the_rule(
    app_context, ready, new_request, coordinator, profile, rule
):
    advocate = ready(name="Dana Whitfield", **profile)
    request = new_request()
    before = snapshot(request.id)

    with pytest.raises(flow.NotEligible) as refused:
        flow.ask(request.id, advocate.id, by=coordinator)

    assert refused.value.rule == rule and refused.value.field == "advocate_id"
    message = str(refused.value)
    assert message.startswith(f"Dana Whitfield cannot be asked for this request right now: {RULE_TEXT[rule]}")
    assert message.endswith(". Nothing was changed.")
    assert refused.value.rule == rule
    assert snapshot(request.id) == before


def test_an_advocate_is_asked_at_most_once_per_request(
    app_context, ready, new_request, coordinator, make_ask
):
    advocate = ready(name="Dana Whitfield")
    request = new_request()
    earlier = make_ask(advocate, request=request, status="declined")
    before = snapshot(request.id)

    with pytest.raises(flow.AlreadyAsked) as refused:
        flow.ask(request.id, advocate.id, by=coordinator)

    on = f"{db.session.get(Ask, earlier.id).created_at:%d %B %Y}"
    assert str(refused.value) == (
        f"Dana Whitfield was already asked for this request on {on} (they declined): an advocate is asked "
        "at most once per request. Nothing was changed."
    )
    assert snapshot(request.id) == before


def test_asking_for_an_unknown_request_or_advocate(app_context, ready, new_request, coordinator):
    advocate, request = ready(), new_request()

    with pytest.raises(flow.RequestNotFound):
        flow.ask(999_999, advocate.id, by=coordinator)
    with pytest.raises(flow.RequestFlowError, match="There is no advocate with id 999999") as refused:
        flow.ask(request.id, 999_999, by=coordinator)
    assert refused.value.field == "advocate_id"
    assert count(Ask) == 0


# --- withdraw --------------------------------------------------------------------------------


def test_withdrawing_the_last_pending_ask_puts_the_request_back_to_new(
    app_context, ready, new_request, coordinator
):
    advocate = ready(name="Dana Whitfield")
    request = new_request()
    the_ask = flow.ask(request.id, advocate.id, by=coordinator)

    flow.withdraw_ask(the_ask.id, by=coordinator)

    assert db.session.get(Ask, the_ask.id).status is AskStatus.WITHDRAWN
    assert load(request.id).status is RequestStatus.NEW
    assert [kind for kind, _ in events(request.id)] == ["asked", "withdrawn", "needs_candidate"]
    assert events(request.id)[1][1] == {"advocate_id": advocate.id, "ask_id": the_ask.id,
                                        "reason": "withdrawn by the coordinator"}
    assert audit_kinds() == ["request.asked", "request.ask_withdrawn"]


def test_withdrawing_one_of_two_pending_asks_keeps_the_request_asking(
    app_context, ready, new_request, coordinator
):
    first, second = ready(), ready()
    request = new_request()
    ask_one = flow.ask(request.id, first.id, by=coordinator)
    flow.ask(request.id, second.id, by=coordinator)

    flow.withdraw_ask(ask_one.id, by=coordinator)

    assert load(request.id).status is RequestStatus.ASKING


@pytest.mark.parametrize("status", ["accepted", "declined", "expired", "withdrawn"])
def test_only_a_pending_ask_can_be_withdrawn(app_context, ready, new_request, coordinator, make_ask, status):
    advocate = ready()
    request = new_request(status=RequestStatus.MATCHED if status == "accepted" else RequestStatus.NEW)
    the_ask = make_ask(advocate, request=request, status=status)
    before = snapshot(request.id)

    with pytest.raises(flow.IllegalTransition) as refused:
        flow.withdraw_ask(the_ask.id, by=coordinator)

    assert str(refused.value) == (
        f"This ask is already {status}: only a pending ask can be withdrawn. Nothing was changed."
    )
    assert snapshot(request.id) == before


def test_withdrawing_an_unknown_ask(app_context, coordinator):
    with pytest.raises(flow.AskNotFound):
        flow.withdraw_ask(999_999, by=coordinator)


# --- expire ----------------------------------------------------------------------------------


def test_an_unanswered_ask_expires_after_48_hours_and_the_advocate_is_told(
    app, ready, new_request, coordinator, smtp, deliver
):
    advocate = ready(name="Dana Whitfield")
    other = ready(name="Next Candidate")
    request = new_request()
    start = utcnow()
    with time_machine.travel(start, tick=False), app.app_context():
        ask_id = flow.ask(request.id, advocate.id, by=coordinator).id

    with time_machine.travel(start + timedelta(hours=47, minutes=59), tick=False), app.app_context():
        assert flow.expire_overdue_asks() == 0
        assert load(request.id).status is RequestStatus.ASKING

    with time_machine.travel(start + timedelta(hours=48), tick=False), app.app_context():
        assert flow.expire_overdue_asks() == 1
        assert flow.expire_overdue_asks() == 0  # again: nothing left to do
        assert db.session.get(Ask, ask_id).status is AskStatus.EXPIRED
        assert load(request.id).status is RequestStatus.NEW
        assert [kind for kind, _ in events(request.id)] == ["asked", "expired", "needs_candidate"]
        # The next candidate: the asked advocate is out (already asked), the other one is in.
        result = rank(load(request.id))
        assert [c.advocate_id for c in result.candidates] == [other.id]
        assert {e.advocate_id: e.rule for e in result.excluded} == {advocate.id: "already_asked"}
        db.session.remove()
        deliver()  # the notice is due from the (moved) clock's now

    notice = [m for m in smtp.wait_for(advocate.account.email, count=2) if "expired" in m["Subject"]]
    assert len(notice) == 1
    assert "The ask has expired unanswered" in text_body(notice[0])
    assert first_link(notice[0]) == "http://vouch.test/portal/availability"
    assert "Zephyr" not in text_body(notice[0])


def test_expiring_handles_every_overdue_ask_and_leaves_the_others(
    app, app_context, ready, new_request, coordinator, make_ask
):
    one, two, three = ready(), ready(), ready()
    shared, single = new_request(), new_request()
    past = utcnow() - timedelta(minutes=1)
    for advocate in (one, two):
        make_ask(advocate, request=shared, expires_at=past)
    fresh = make_ask(three, request=shared)
    make_ask(one, request=single, expires_at=past)
    with_status(shared.id, RequestStatus.ASKING)
    with_status(single.id, RequestStatus.ASKING)

    assert flow.expire_overdue_asks() == 3

    assert load(shared.id).status is RequestStatus.ASKING  # ``fresh`` is still pending
    assert db.session.get(Ask, fresh.id).status is AskStatus.PENDING
    assert load(single.id).status is RequestStatus.NEW
    assert len(outbox("ask_expired")) == 3


def test_flask_asks_expire_prints_the_count(app, runner, ready, new_request, coordinator, make_ask):
    request = new_request(status=RequestStatus.ASKING)
    for _ in range(2):
        make_ask(ready(), request=request, expires_at=utcnow() + timedelta(hours=1))

    assert runner.invoke(args=["asks", "expire"]).output == "expired 0 asks\n"
    with time_machine.travel(utcnow() + timedelta(hours=2), tick=False):
        result = runner.invoke(args=["asks", "expire"])
        assert (result.exit_code, result.output) == (0, "expired 2 asks\n")
        assert runner.invoke(args=["asks", "expire"]).output == "expired 0 asks\n"
    with app.app_context():
        assert load(request.id).status is RequestStatus.NEW


def test_after_a_decline_the_next_candidate_is_ranked_and_the_decliner_is_not(
    app_context, ready, new_request, coordinator
):
    first, second = ready(), ready()
    request = new_request()
    the_ask = flow.ask(request.id, first.id, by=coordinator)

    flow.decline_ask(the_ask.id, first.id, "busy")

    request = load(request.id)
    assert request.status is RequestStatus.NEW
    result = rank(request)
    assert [c.advocate_id for c in result.candidates] == [second.id]
    assert {e.advocate_id: e.rule for e in result.excluded} == {first.id: "already_asked"}
    flow.ask(request.id, second.id, by=coordinator)
    assert load(request.id).status is RequestStatus.ASKING


def test_two_expiry_runs_at_once_expire_each_ask_once(app, ready, new_request, make_ask):
    request = new_request(status=RequestStatus.ASKING)
    past = utcnow() - timedelta(minutes=1)
    asks = [make_ask(ready(), request=request, expires_at=past) for _ in range(3)]
    barrier = threading.Barrier(2, timeout=TIMEOUT)
    results: list[object] = []

    def run() -> None:
        with app.app_context():
            try:
                barrier.wait()
                results.append(flow.expire_overdue_asks())
            except BaseException as error:  # handed to the test's thread below
                results.append(error)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=run, daemon=True) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(TIMEOUT)

    assert all(isinstance(r, int) for r in results) and len(results) == 2, results
    assert sum(results) == 3  # each ask expired by exactly one of the runs
    with app.app_context():
        assert all(db.session.get(Ask, a.id).status is AskStatus.EXPIRED for a in asks)
        assert len(outbox("ask_expired")) == 3
        assert [kind for kind, _ in events(request.id)].count("expired") == 3
        db.session.remove()


# --- cancel ----------------------------------------------------------------------------------


def test_cancelling_withdraws_the_pending_asks(app_context, ready, new_request, coordinator):
    request = new_request()
    asks = [flow.ask(request.id, ready().id, by=coordinator) for _ in range(2)]

    flow.cancel_request(request.id, by=coordinator, reason="  The deal   is off. ")

    request = load(request.id)
    assert request.status is RequestStatus.CANCELLED and request.cancelled_at is not None
    assert {db.session.get(Ask, a.id).status for a in asks} == {AskStatus.WITHDRAWN}
    kinds = [kind for kind, _ in events(request.id)]
    assert kinds == ["asked", "asked", "withdrawn", "withdrawn", "cancelled"]
    assert events(request.id)[-1][1] == {"reason": "The deal is off."}
    assert audit_kinds()[-1] == "request.cancelled"


def test_cancelling_a_matched_request_gives_the_advocates_place_back(
    app_context, ready, new_request, coordinator
):
    advocate = ready(tier="Occasional")  # 2 calls a quarter
    request = new_request()
    the_ask = flow.ask(request.id, advocate.id, by=coordinator)
    engagement = flow.accept_ask(the_ask.id, advocate.id)
    assert quota.quarter_use(db.session.get(Advocate, advocate.id)).used == 1

    flow.cancel_request(request.id, by=coordinator)

    engagement = db.session.get(Engagement, engagement.id)
    assert (engagement.status, engagement.cancel_reason) == (
        EngagementStatus.CANCELLED, "The request was cancelled.")
    assert engagement.cancelled_at is not None
    assert quota.quarter_use(db.session.get(Advocate, advocate.id)).used == 0
    assert load(request.id).status is RequestStatus.CANCELLED


def test_a_seller_cancels_their_own_request_only(app_context, new_request, seller, make_account):
    mine = new_request()
    theirs = new_request(requested_by=make_account(role=Role.SALES))

    flow.cancel_request(mine.id, by=seller)
    before = snapshot(theirs.id)
    with pytest.raises(flow.RequestNotFound):
        flow.cancel_request(theirs.id, by=seller)

    assert load(mine.id).status is RequestStatus.CANCELLED
    assert snapshot(theirs.id) == before


@pytest.mark.parametrize("status", [RequestStatus.COMPLETED, RequestStatus.CANCELLED])
def test_a_completed_or_cancelled_request_cannot_be_cancelled(app_context, new_request, coordinator, status):
    request = new_request(status=status)
    before = snapshot(request.id)

    with pytest.raises(flow.IllegalTransition, match=f"This request is already {status.value}"):
        flow.cancel_request(request.id, by=coordinator)

    assert snapshot(request.id) == before


def test_a_request_with_a_booked_call_is_not_cancelled_behind_the_prospects_back(
    app_context, ready, new_request, coordinator, make_engagement
):
    advocate = ready()
    request = new_request(status=RequestStatus.SCHEDULED)
    make_engagement(advocate, status="booked", request_id=request.id)
    before = snapshot(request.id)

    with pytest.raises(flow.IllegalTransition, match="cancel the call first"):
        flow.cancel_request(request.id, by=coordinator)

    assert snapshot(request.id) == before


def test_a_cancel_reason_has_a_length_limit(app_context, new_request, coordinator):
    request = new_request()
    with pytest.raises(flow.RequestFlowError, match="500 characters or fewer") as refused:
        flow.cancel_request(request.id, by=coordinator, reason="x" * 501)
    assert refused.value.field == "reason"
    assert load(request.id).status is RequestStatus.NEW


# --- outcome ---------------------------------------------------------------------------------


@pytest.mark.parametrize("status", list(RequestStatus))
def test_the_outcome_is_recorded_in_any_state(app_context, new_request, seller, status):
    request = new_request(status=status)

    flow.record_outcome(request.id, RequestOutcome.WON, by=seller)

    request = load(request.id)
    assert (request.outcome, request.status) == (RequestOutcome.WON, status)
    assert request.outcome_at is not None
    assert events(request.id) == [("outcome", {"outcome": "won"})]
    assert audit_kinds() == ["request.outcome"]


def test_recording_the_same_outcome_again_changes_nothing_a_different_one_is_refused(
    app_context, new_request, seller
):
    request = new_request()
    flow.record_outcome(request.id, "lost", by=seller)
    before = snapshot(request.id)

    again = flow.record_outcome(request.id, "lost", by=seller)
    assert again.id == request.id
    assert snapshot(request.id) == before
    with pytest.raises(flow.IllegalTransition) as refused:
        flow.record_outcome(request.id, RequestOutcome.WON, by=seller)

    on = f"{load(request.id).outcome_at:%d %B %Y}"
    assert str(refused.value) == (
        f"The outcome was already recorded as lost on {on}; it cannot become won. Nothing was changed."
    )
    assert snapshot(request.id) == before


@pytest.mark.parametrize("outcome", ["open", "maybe", "", None, RequestOutcome.OPEN])
def test_only_won_or_lost_is_an_outcome(app_context, new_request, seller, outcome):
    request = new_request()
    with pytest.raises(flow.RequestFlowError) as refused:
        flow.record_outcome(request.id, outcome, by=seller)
    assert refused.value.field == "outcome"
    assert str(refused.value) == f"unknown outcome '{outcome}': use one of won, lost"
    assert load(request.id).outcome is RequestOutcome.OPEN


def test_a_seller_records_the_outcome_of_their_own_requests_only(
    app_context, new_request, seller, coordinator, make_account
):
    theirs = new_request(requested_by=make_account(role=Role.SALES))

    with pytest.raises(flow.RequestNotFound):
        flow.record_outcome(theirs.id, "won", by=seller)
    with pytest.raises(flow.RequestNotFound):
        flow.record_outcome(999_999, "won", by=seller)
    assert load(theirs.id).outcome is RequestOutcome.OPEN
    flow.record_outcome(theirs.id, "won", by=coordinator)  # staff may
    assert load(theirs.id).outcome is RequestOutcome.WON


# --- who sees which request ------------------------------------------------------------------


def test_request_for_staff_any_sales_their_own_others_none(app_context, new_request, seller, make_account):
    mine = new_request()
    theirs = new_request(requested_by=make_account(role=Role.SALES))

    for role in (Role.COORDINATOR, Role.ADMIN):
        staff = make_account(role=role)
        assert {flow.request_for(staff, r.id).id for r in (mine, theirs)} == {mine.id, theirs.id}
    assert flow.request_for(seller, mine.id).id == mine.id
    with pytest.raises(flow.RequestNotFound):
        flow.request_for(seller, theirs.id)
    with pytest.raises(flow.RequestNotFound):
        flow.request_for(make_account(role=Role.ADVOCATE), mine.id)
    with pytest.raises(flow.RequestNotFound):
        flow.request_for(seller, 999_999)


def test_request_for_loads_the_request_in_a_fixed_number_of_queries(
    app, ready, new_request, coordinator, count_queries
):
    def measure(request_id: int, asks: int) -> int:
        with app.app_context(), count_queries() as statements:
            request = flow.request_for(coordinator, request_id)
            # Everything the page and the API show, read after the request: no query more.
            assert (request.industry.name, request.region.name) == ("Healthcare", "Europe")
            assert request.format.name and request.requested_by.name
            assert sorted(t.name for t in request.topics) == ["ROI", "Security"]
            assert [u.name for u in request.use_cases] == ["Claims automation"]
            assert "Acme Cloud" in [c.name for c in request.competitors]
            assert len([(a.advocate.account.name, a.advocate.company.name) for a in request.asks]) == asks
            assert [e.kind for e in request.events if e.actor is not None] == ["asked"] * asks
            db.session.remove()
        return len(statements)

    small = new_request(competitors=["Acme Cloud"])
    with app.app_context():
        flow.ask(small.id, ready().id, by=coordinator)
    large = new_request(competitors=["Acme Cloud", "Globex"])
    with app.app_context():
        for _ in range(5):
            flow.ask(large.id, ready().id, by=coordinator)
        db.session.remove()

    assert measure(small.id, 1) == measure(large.id, 5) <= 8


# --- two coordinators at once ----------------------------------------------------------------


def test_two_coordinators_asking_the_same_advocate_at_once_make_one_ask(
    app, ready, new_request, make_account
):
    advocate = ready()
    request = new_request()
    coordinators = [make_account(role=Role.COORDINATOR) for _ in range(2)]
    barrier = threading.Barrier(len(coordinators), timeout=TIMEOUT)
    results: list[object] = []

    def ask_now(coordinator) -> None:
        with app.app_context():
            try:
                barrier.wait()
                results.append(flow.ask(request.id, advocate.id, by=coordinator).id)
            except BaseException as error:  # handed to the test's thread below
                results.append(error)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=ask_now, args=(c,), daemon=True) for c in coordinators]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(TIMEOUT)
    assert not any(t.is_alive() for t in threads), "an ask still runs: a lock was never released"

    made = [r for r in results if isinstance(r, int)]
    refused = [r for r in results if isinstance(r, flow.AlreadyAsked)]
    assert (len(made), len(refused)) == (1, 1), results
    with app.app_context():
        assert db.session.scalars(select(Ask.id).where(Ask.request_id == request.id)).all() == made
        assert [m.idempotency_key for m in outbox("ask")] == [f"ask:{made[0]}"]
        assert [kind for kind, _ in events(request.id)] == ["asked"]
        db.session.remove()
