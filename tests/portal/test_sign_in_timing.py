"""Asking for a sign-in link takes the same time whether or not the address is known
(DESIGN.md §7.3): the lookup and the e-mail happen after the answer has been sent.

Measured over real HTTP against the app served in a thread, known and unknown addresses in a
shuffled order, medians compared. Skipped only where timing is meaningless: under a tracer
(coverage, a debugger) or when VOUCH_SKIP_TIMING is set.
"""

from __future__ import annotations

import http.client
import os
import random
import re
import statistics
import sys
import threading
import time
from urllib.parse import urlencode

import pytest
from werkzeug.serving import make_server

from extensions import limiter
from models import AuditEvent, LoginToken, OutboxMessage, db

TRIES = 100  # of each kind
PAUSE = 0.04  # seconds between tries, so that work after one answer never overlaps the next

pytestmark = [
    pytest.mark.timing,
    pytest.mark.skipif(sys.gettrace() is not None or bool(os.environ.get("VOUCH_SKIP_TIMING")),
                       reason="timing is meaningless under a tracer or when VOUCH_SKIP_TIMING is set"),
]


@pytest.fixture()
def served(app):
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_port
    server.shutdown()
    thread.join(10)
    server.server_close()


def open_form(port: int) -> tuple[str, str]:
    """(the session cookie, the form's CSRF token) of a freshly opened sign-in page."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    connection.request("GET", "/sign-in")
    response = connection.getresponse()
    page = response.read().decode()
    cookie = response.getheader("Set-Cookie").split(";", 1)[0]
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
    connection.close()
    return cookie, token


def ask(connection: http.client.HTTPConnection, cookie: str, token: str, email: str) -> float:
    body = urlencode({"email": email, "csrf_token": token})
    started = time.perf_counter()
    connection.request("POST", "/sign-in", body=body, headers={
        "Content-Type": "application/x-www-form-urlencoded", "Cookie": cookie,
    })
    response = connection.getresponse()
    response.read()
    elapsed = time.perf_counter() - started
    assert response.status == 302
    return elapsed


def test_a_known_address_is_answered_in_the_same_time_as_an_unknown_one(app, served, make_account,
                                                                         monkeypatch):
    monkeypatch.setattr(limiter, "enabled", False)  # hundreds of tries from one client
    known = make_account(role="advocate", email="dana@example.com")
    cookie, token = open_form(served)
    kinds = ["known"] * TRIES + ["unknown"] * TRIES
    random.Random(2026).shuffle(kinds)
    times: dict[str, list[float]] = {"known": [], "unknown": []}
    connection = http.client.HTTPConnection("127.0.0.1", served, timeout=10)
    for _ in range(10):  # warm up both paths
        ask(connection, cookie, token, "nobody@example.com")
        ask(connection, cookie, token, known.email)
    for number, kind in enumerate(kinds):
        time.sleep(PAUSE)
        email = known.email if kind == "known" else f"nobody{number}@example.com"
        times[kind].append(ask(connection, cookie, token, email))
    connection.close()
    time.sleep(0.2)

    known_median = statistics.median(times["known"])
    unknown_median = statistics.median(times["unknown"])
    tolerance = max(0.001, 0.25 * min(known_median, unknown_median))
    assert abs(known_median - unknown_median) <= tolerance, (
        f"known {known_median * 1000:.2f} ms, unknown {unknown_median * 1000:.2f} ms "
        f"(tolerance {tolerance * 1000:.2f} ms)"
    )
    # The work was done all the same, after each answer.
    with app.app_context():
        assert db.session.query(LoginToken).count() == TRIES + 10
        assert db.session.query(OutboxMessage).count() == TRIES + 10
        requested = db.session.query(AuditEvent).filter_by(kind="sign_in.link_requested").count()
        assert requested == 2 * (TRIES + 10)
        db.session.remove()
