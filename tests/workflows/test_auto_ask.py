"""Asking automatically (the ``AUTO_ASK`` setting, DESIGN.md §2 step 3): a new request asks the
best eligible advocate at once, and the next one when an ask is declined or expires or the
accepted call is called off; when nobody is eligible the request waits in the coordinator's
queue. Every path is followed to the e-mails the real SMTP server receives."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import select

from models import Account, Ask, AskStatus, ReferenceRequest, RequestEvent, RequestStatus, Role, db
from models.types import utcnow
from tests.conftest import text_body
from tests.helpers import fit
from workflows import bookings, jobs, settings
from workflows import requests as flow

DANA = "dana@northwind.example"
ELI = "eli@initech.example"
CORA = "cora@vouch.example"


def request_body(**change) -> dict:
    return {"prospect_company": "Acme Health GmbH", "industry": "Healthcare", "employees": 800,
            "region": "Europe", "contact_name": "Pat Prospect", "contact_email": "pat@acme.example",
            "format": "call", "needed_by": (date.today() + timedelta(days=14)).isoformat(), **change}


@pytest.fixture()
def program(app, make_account, make_advocate, api_client):
    """Dana (healthcare, the best fit) and Eli (retail) take calls; a coordinator who gets an
    e-mail for each new request; a seller with an API token. → the seller's API client."""
    make_account(role=Role.COORDINATOR, email=CORA, name="Cora Coordinator")
    dana = make_advocate(name="Dana Whitfield", email=DANA)
    eli = make_advocate(name="Eli Next", email=ELI)
    fit(app, dana.id, formats=("call",), industry="Healthcare")
    fit(app, eli.id, formats=("call",), industry="Retail")
    api, _seller = api_client("sales")
    return api, dana, eli


def automatic(app, on: bool = True) -> None:
    with app.app_context():
        settings.update({"AUTO_ASK": on}, by=None)
        db.session.remove()


def submit(api, **change) -> int:
    response = api.post("/api/v1/requests", json=request_body(**change))
    assert response.status_code == 201, response.get_json()
    return response.get_json()["id"]


def asks_of(app, request_id: int) -> tuple[RequestStatus, dict[int, AskStatus]]:
    with app.app_context():
        request = db.session.get(ReferenceRequest, request_id)
        found = request.status, {a.advocate_id: a.status for a in db.session.scalars(
            select(Ask).where(Ask.request_id == request_id).order_by(Ask.id))}
        db.session.remove()
    return found


def ask_id(app, request_id: int, advocate_id: int) -> int:
    with app.app_context():
        return db.session.scalar(select(Ask.id).where(Ask.request_id == request_id,
                                                      Ask.advocate_id == advocate_id))


def asked_subject(app, request_id: int, advocate_id: int) -> str:
    """The subject of the ask e-mail as the outbox holds it."""
    from models import OutboxMessage

    with app.app_context():
        key = f"ask:{ask_id(app, request_id, advocate_id)}"
        return db.session.scalar(select(OutboxMessage.subject).where(OutboxMessage.idempotency_key == key))


def test_off_a_new_request_waits_for_the_coordinator(app, program, smtp, deliver):
    api, _dana, _eli = program

    request_id = submit(api)

    assert asks_of(app, request_id) == (RequestStatus.NEW, {})
    deliver()
    assert smtp.to(CORA) and not smtp.to(DANA) and not smtp.to(ELI)


def test_on_a_new_request_asks_the_best_eligible_advocate_at_once(app, program, smtp, deliver):
    api, dana, _eli = program
    automatic(app)

    request_id = submit(api)

    assert asks_of(app, request_id) == (RequestStatus.ASKING, {dana.id: AskStatus.PENDING})
    with app.app_context():
        asked = db.session.scalar(select(RequestEvent).where(RequestEvent.request_id == request_id,
                                                             RequestEvent.kind == "asked"))
        assert asked.actor_id is None  # Vouch asked, nobody in person
        db.session.remove()
    deliver()
    [ask_mail] = smtp.to(DANA)
    assert "/portal/asks/" in text_body(ask_mail)
    assert "Acme Health" not in ask_mail.as_string()  # the prospect stays unnamed, as ever
    assert smtp.to(CORA)  # the coordinator still hears of the request
    assert not smtp.to(ELI)


def test_on_with_nobody_eligible_the_request_stays_in_the_queue(app, program, smtp, deliver):
    api, _dana, _eli = program
    automatic(app)

    request_id = submit(api, format="site_visit")  # nobody accepts site visits

    assert asks_of(app, request_id) == (RequestStatus.NEW, {})
    deliver()
    assert smtp.to(CORA) and not smtp.to(DANA) and not smtp.to(ELI)


def test_a_declined_ask_asks_the_next_candidate(app, program, smtp, deliver):
    api, dana, eli = program
    automatic(app)
    request_id = submit(api)
    deliver()
    smtp.clear()

    with app.app_context():
        flow.decline_ask(ask_id(app, request_id, dana.id), dana.id, "busy")
        db.session.remove()

    assert asks_of(app, request_id) == (RequestStatus.ASKING,
                                        {dana.id: AskStatus.DECLINED, eli.id: AskStatus.PENDING})
    deliver()
    [ask_mail] = smtp.to(ELI)
    assert "/portal/asks/" in text_body(ask_mail)
    assert not smtp.to(DANA)


def test_the_last_candidate_declining_leaves_the_request_to_the_coordinator(app, program, smtp, deliver):
    api, dana, eli = program
    automatic(app)
    request_id = submit(api)
    with app.app_context():
        flow.decline_ask(ask_id(app, request_id, dana.id), dana.id, "busy")
        flow.decline_ask(ask_id(app, request_id, eli.id), eli.id, "busy")
        db.session.remove()

    assert asks_of(app, request_id) == (RequestStatus.NEW,
                                        {dana.id: AskStatus.DECLINED, eli.id: AskStatus.DECLINED})
    deliver()
    assert len(smtp.to(DANA)) == 1 and len(smtp.to(ELI)) == 1  # each asked once, never again


def test_an_expired_ask_asks_the_next_candidate_in_the_jobs_run(app, program, smtp, deliver):
    api, dana, eli = program
    automatic(app)
    request_id = submit(api)
    deliver()
    smtp.clear()

    with app.app_context():
        counts = jobs.run_due(utcnow() + timedelta(hours=49))
        db.session.remove()

    assert counts["asks_expired"] == 1
    status, asks = asks_of(app, request_id)
    assert asks == {dana.id: AskStatus.EXPIRED, eli.id: AskStatus.PENDING}
    deliver()
    assert any("expired" in m["Subject"].lower() for m in smtp.to(DANA))
    # (the same run also nudges both to review their availability: never reviewed)
    [ask_mail] = [m for m in smtp.to(ELI) if "/portal/asks/" in text_body(m)]
    assert ask_mail["Subject"] == asked_subject(app, request_id, eli.id)


def test_an_ask_answered_too_late_asks_the_next_candidate(app, program, smtp, deliver):
    api, dana, eli = program
    automatic(app)
    request_id = submit(api)
    deliver()
    smtp.clear()

    with app.app_context(), pytest.raises(flow.AskExpired):
        flow.accept_ask(ask_id(app, request_id, dana.id), dana.id, now=utcnow() + timedelta(hours=49))

    assert asks_of(app, request_id)[1] == {dana.id: AskStatus.EXPIRED, eli.id: AskStatus.PENDING}
    deliver()
    assert smtp.to(ELI)


def test_a_call_called_off_asks_the_next_candidate(app, program, smtp, deliver, make_account):
    api, dana, eli = program
    automatic(app)
    request_id = submit(api)
    with app.app_context():
        engagement = flow.accept_ask(ask_id(app, request_id, dana.id), dana.id)
        bookings.cancel_booking(engagement.id, side="coordinator", reason="The advocate is travelling.",
                                by=db.session.scalar(select(Account).where(Account.email == CORA)))
        db.session.remove()

    assert asks_of(app, request_id) == (RequestStatus.ASKING,
                                        {dana.id: AskStatus.ACCEPTED, eli.id: AskStatus.PENDING})
    deliver()
    assert smtp.to(ELI)
