"""Twenty prospects book the same time of one advocate at the same moment, over real HTTP:
exactly one gets it, the others are told it was just taken and shown fresh times, never a 500.
On PostgreSQL the exclusion constraint backs the row lock up; on SQLite the write lock."""

from __future__ import annotations

import http.client
import re
import threading
from urllib.parse import urlencode

import pytest
from sqlalchemy import func, select
from werkzeug.serving import make_server

from models import Advocate, Engagement, EngagementStatus, RequestStatus, db, quarter_of
from models.types import utcnow
from tests.conftest import csrf_token
from tests.helpers import fit
from workflows.links import Purpose
from workflows.prospect_links import token
from workflows.slots import booking_rules, open_slots

PROSPECTS = 20


@pytest.fixture()
def served(app):
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_port
    server.shutdown()
    thread.join(10)
    server.server_close()


def test_twenty_bookings_of_one_slot_at_once_let_exactly_one_through(
    app, served, make_advocate, make_request, make_ask, make_engagement
):
    dana = make_advocate(tier="Premier")
    fit(app, dana.id, formats=("call",))
    with app.app_context():
        advocate = db.session.get(Advocate, dana.id)
        slot = open_slots(advocate, now=utcnow(), rules=booking_rules())[0]
        db.session.remove()
    paths = []
    for number in range(PROSPECTS):
        request = make_request(format="call", contact_email=f"prospect{number}@example.com",
                               status=RequestStatus.MATCHED)
        ask = make_ask(dana, request=request, status="accepted")
        engagement = make_engagement(dana, status="awaiting_booking", request_id=request.id, ask_id=ask.id,
                                     quarter=quarter_of(slot.start),
                                     prospect_email=f"prospect{number}@example.com")
        with app.test_request_context():
            paths.append(f"/book/{token(engagement, Purpose.BOOK)}")

    barrier = threading.Barrier(PROSPECTS, timeout=60)
    answers: list[tuple[int, str]] = []
    lock = threading.Lock()

    def prospect(path: str) -> None:
        connection = http.client.HTTPConnection("127.0.0.1", served, timeout=60)
        connection.request("GET", path)
        page = connection.getresponse()
        html = page.read().decode()
        cookie = page.getheader("Set-Cookie").split(";", 1)[0]
        body = urlencode({"csrf_token": csrf_token(html), "slot": slot.start.isoformat(), "tz": "UTC"})
        barrier.wait()
        connection.request("POST", path, body=body, headers={
            "Content-Type": "application/x-www-form-urlencoded", "Cookie": cookie})
        answer = connection.getresponse()
        text = answer.read().decode()
        connection.close()
        with lock:
            answers.append((answer.status, text))

    threads = [threading.Thread(target=prospect, args=(path,)) for path in paths]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)

    statuses = sorted(status for status, _ in answers)
    assert len(answers) == PROSPECTS
    assert statuses == [302] + [409] * (PROSPECTS - 1), statuses
    for status, text in answers:
        if status == 409:
            assert "That time was just taken" in text
            assert re.search(r'name="slot" value="[^"]+"', text)  # fresh times to pick from
            assert slot.start.isoformat() not in text  # the taken one is gone
    with app.app_context():
        booked = db.session.scalar(select(func.count()).select_from(Engagement).where(
            Engagement.advocate_id == dana.id, Engagement.status == EngagementStatus.BOOKED,
            Engagement.starts_at == slot.start))
        assert booked == 1
        db.session.remove()
