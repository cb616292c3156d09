"""Pages under load: gunicorn with 2 workers, 20 concurrent clients, against a bare Flask endpoint
and the sign-in page served in the same run (DESIGN.md §8).

A scratch SQLite file (and, when ``BENCH_DATABASE_URL`` or ``TEST_DATABASE_URL`` is set, a
PostgreSQL schema of its own, ``vouch_bench_http``, dropped afterwards) is migrated (``flask db
upgrade``'s own function), filled with ``BENCH_ADVOCATES`` advocates (default 10 000) by
``bench/reports.py``'s bulk builder, with ``BENCH_HTTP_ENGAGEMENTS`` engagements (default none:
the pool alone), then the demo program (``flask demo load``'s own function) on top. gunicorn then
serves ``bench/apps/http_app.py`` — the app in the development settings plus ``/bare`` — with 2
sync workers.

Sessions are made as a sign-in link makes them (``tests.helpers.sign_in_directly``) in a test
client of the same app and secret; the clients send that cookie. The pages:

- ``home``: the portal home of a demo advocate who has a pending ask; ``asks``: that advocate's
  asks inbox; ``ask``: the pending ask's own page;
- ``queue``, ``request`` (a demo request nobody has been asked for yet, so it ranks the whole
  pool), ``pool``: as the coordinator;
- ``booking``: a prospect's booking page for a demo engagement awaiting its booking;
- ``healthz``, ``bare`` and ``sign_in`` (GET, no cookie: the template and a CSRF token).

``BENCH_HTTP_CLIENTS`` threads (default 20), each with its own http.client connection (the sync
worker closes it after each answer; http.client opens the next) and its own cookie, which it
replaces with the one an answer sets, as a browser does (a client sending its first cookie for
ever would have the server write a new session for it on every page), send GETs one after another
for ``BENCH_HTTP_SECONDS`` per page (default 20), split into ``BENCH_HTTP_ROUNDS`` rounds
(default 2) with the pages' order reversed every other round, after a warm-up. Latency is from
sending to the last byte of the answer; p50/p95 over all of a page's requests; ``rps`` the median
of the rounds' completed requests per second. An answer other than 200 is an error. The clients
run in this process on the same 2 CPUs as the server: ``client_cpu`` is the share of a CPU they
used. Targets: p95 < 100 ms, every main page ≥ 0.5 of the sign-in page's throughput, 0 errors.
"""

from __future__ import annotations

import json
import logging
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# The project's root first, and not this folder: here ``http.py`` would stand in for the standard
# library's ``http``.
sys.path[:] = [str(Path(__file__).resolve().parent.parent),
               *(p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent)]

ADVOCATES = int(os.environ.get("BENCH_ADVOCATES", 10_000))
ENGAGEMENTS = int(os.environ.get("BENCH_HTTP_ENGAGEMENTS", 0))
SECONDS = float(os.environ.get("BENCH_HTTP_SECONDS", 20))
CLIENTS = int(os.environ.get("BENCH_HTTP_CLIENTS", 20))
ROUNDS = int(os.environ.get("BENCH_HTTP_ROUNDS", 2))
WORKERS = 2
SECRET = "bench-http-secret-key-" + "x" * 16
TARGET_P95_MS = 100
TARGET_RATIO_SIGN_IN = 0.5
FLOORS = ("bare", "sign_in")
SCHEMA = "vouch_bench_http"  # on PostgreSQL: a schema of its own, dropped afterwards


def prepare(url: str, database: str) -> dict[str, tuple[str, str | None]]:
    """Build the program; → page → (path, session cookie or None)."""
    from flask import url_for
    from flask_migrate import upgrade
    from sqlalchemy import select, text

    from app import create_app
    from bench import reports
    from demo.loader import load_demo
    from models import (
        Account,
        Advocate,
        Ask,
        AskStatus,
        Engagement,
        EngagementStatus,
        ReferenceRequest,
        RequestStatus,
        db,
    )
    from tests.helpers import sign_in_directly
    from workflows.links import Purpose
    from workflows.prospect_links import token

    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": SECRET})
    with app.app_context():
        upgrade()
        reports.ADVOCATES, reports.ENGAGEMENTS = ADVOCATES, ENGAGEMENTS  # read when build() runs
        coordinator_id = reports.build(random.Random(20261202), datetime.now(UTC))
        if database == "postgresql":
            # The builder writes its ids itself: the sequences must start after them for the demo.
            for table in db.metadata.sorted_tables:
                if "id" in table.c and table.c.id.primary_key:
                    db.session.execute(text(
                        f"SELECT setval(pg_get_serial_sequence('{table.name}', 'id'), "
                        f"coalesce(max(id), 0) + 1, false) FROM {table.name}"))
            db.session.commit()
        load_demo()
        if database == "postgresql":
            db.session.execute(text("ANALYZE"))  # as autovacuum would have, on a live database
            db.session.commit()
        ask = db.session.scalars(
            select(Ask).join(Advocate).where(Ask.status == AskStatus.PENDING, Advocate.id > ADVOCATES)
            .order_by(Ask.id.desc())).first()
        advocate = db.session.get(Account, ask.advocate.account_id)
        coordinator = db.session.get(Account, coordinator_id)
        fresh = db.session.scalars(
            select(ReferenceRequest).where(ReferenceRequest.status == RequestStatus.NEW)
            .order_by(ReferenceRequest.id.desc())).first()
        waiting = db.session.scalars(select(Engagement).where(
            Engagement.status == EngagementStatus.AWAITING_BOOKING, Engagement.advocate_id > ADVOCATES)
            .order_by(Engagement.id.desc())).first()
        with app.test_request_context():
            paths = {
                "home": (url_for("portal.home"), advocate),
                "asks": (url_for("portal.asks"), advocate),
                "ask": (url_for("portal.ask", ask_id=ask.id), advocate),
                "queue": (url_for("admin.requests"), coordinator),
                "request": (url_for("admin.request", request_id=fresh.id), coordinator),
                "pool": (url_for("admin.pool"), coordinator),
                "booking": (url_for("portal.book", token_text=token(waiting, Purpose.BOOK)), None),
                "healthz": ("/healthz", None),
                "bare": ("/bare", None),
                "sign_in": (url_for("portal.sign_in"), None),
            }
        cookies = {}
        for account in {account for _path, account in paths.values() if account}:
            client = app.test_client()
            sign_in_directly(client, account)
            cookies[account.id] = client.get_cookie(app.config["SESSION_COOKIE_NAME"]).value
        name = app.config["SESSION_COOKIE_NAME"]
        found = {page: (path, f"{name}={cookies[account.id]}" if account else None)
                 for page, (path, account) in paths.items()}
        db.session.remove()
        db.engine.dispose()
    return found


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_server(url: str, scratch: str) -> tuple[subprocess.Popen, int, Path]:
    port, errors = free_port(), Path(scratch) / "gunicorn.log"
    env = {key: value for key, value in os.environ.items() if key not in ("TEST_DATABASE_URL",)}
    env.update(VOUCH_ENV="development", DATABASE_URL=url, SECRET_KEY=SECRET, LOG_SIGN_IN_LINKS="false",
               RATELIMIT_STORAGE_URI="memory://")
    with errors.open("w") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "--workers", str(WORKERS), "--bind", f"127.0.0.1:{port}",
             "--timeout", "120", "--log-level", "warning", "bench.apps.http_app:app"],
            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=log)
    deadline = time.monotonic() + 60
    while True:
        try:
            status, _ = get(port, "/healthz", None)
            if status == 200:
                return process, port, errors
        except OSError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise SystemExit(f"gunicorn did not start:\n{errors.read_text()[-3000:]}")
        time.sleep(0.2)


def get(port: int, path: str, cookie: str | None) -> tuple[int, bytes]:
    from http.client import HTTPConnection

    connection = HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        connection.request("GET", path, headers={"Cookie": cookie} if cookie else {})
        answer = connection.getresponse()
        return answer.status, answer.read()
    finally:
        connection.close()


def drive(port: int, path: str, cookie: str | None, seconds: float) -> tuple[list[float], int, float, float]:
    """CLIENTS threads sending GET path for ``seconds``; → (latencies, errors, wall s, client CPU s)."""
    from http.client import HTTPConnection, HTTPException  # here: see the note on sys.path above
    latencies: list[list[float]] = [[] for _ in range(CLIENTS)]
    errors = [0] * CLIENTS
    ready = threading.Barrier(CLIENTS + 1)
    headers = {"Cookie": cookie} if cookie else {}
    stop = [0.0]

    def client(number: int) -> None:
        connection = HTTPConnection("127.0.0.1", port, timeout=60)
        own = dict(headers)  # this client's cookies, kept as a browser keeps them
        jar = dict(part.strip().partition("=")[::2] for part in cookie.split(";")) if cookie else {}
        ready.wait()
        while time.perf_counter() < stop[0]:
            began = time.perf_counter()
            try:
                connection.request("GET", path, headers=own)
                answer = connection.getresponse()
                answer.read()
                failed = answer.status != 200
                for cookie_set in answer.msg.get_all("Set-Cookie") or ():
                    name, _, value = cookie_set.split(";", 1)[0].partition("=")
                    jar[name.strip()] = value
                if jar:
                    own["Cookie"] = "; ".join(f"{name}={value}" for name, value in jar.items())
            except (OSError, HTTPException):
                connection.close()
                failed = True
            latencies[number].append(time.perf_counter() - began)
            errors[number] += failed
        connection.close()

    threads = [threading.Thread(target=client, args=(number,)) for number in range(CLIENTS)]
    for thread in threads:
        thread.start()
    cpu = time.process_time()
    started = time.perf_counter()
    stop[0] = started + seconds
    ready.wait()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - started
    return [value for own in latencies for value in own], sum(errors), wall, time.process_time() - cpu


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def bench(url: str, database: str, scratch: str) -> list[dict]:
    started = time.perf_counter()
    pages = prepare(url, database)
    build_s = time.perf_counter() - started
    process, port, log = start_server(url, scratch)
    try:
        for page, (path, cookie) in pages.items():  # warm-up, and every page must answer
            for _ in range(2 * WORKERS):
                status, body = get(port, path, cookie)
                if status != 200:
                    raise SystemExit(f"{page} {path}: {status} {body[:300]!r}")
        names = list(pages)
        latencies = {page: [] for page in names}
        errors = dict.fromkeys(names, 0)
        rates: dict[str, list[float]] = {page: [] for page in names}
        cpu_share: dict[str, list[float]] = {page: [] for page in names}
        for number in range(ROUNDS):
            for page in names if number % 2 == 0 else reversed(names):
                path, cookie = pages[page]
                found, failed, wall, cpu = drive(port, path, cookie, SECONDS / ROUNDS)
                latencies[page] += found
                errors[page] += failed
                rates[page].append((len(found) - failed) / wall)
                cpu_share[page].append(cpu / wall)
    finally:
        process.terminate()
        process.wait(30)
    rps = {page: statistics.median(rates[page]) for page in names}
    results = []
    for page in names:
        p95 = percentile(latencies[page], 0.95) * 1000
        ratio_sign_in = rps[page] / rps["sign_in"]
        fast_enough = page in FLOORS or ratio_sign_in >= TARGET_RATIO_SIGN_IN
        ok = p95 < TARGET_P95_MS and errors[page] == 0 and fast_enough
        results.append({
            "bench": "http", "page": page, "p50_ms": round(percentile(latencies[page], 0.5) * 1000, 1),
            "p95_ms": round(p95, 1), "rps": round(rps[page], 1),
            "ratio_bare": round(rps[page] / rps["bare"], 3), "ratio_sign_in": round(ratio_sign_in, 3),
            "errors": errors[page], "requests": len(latencies[page]),
            "client_cpu": round(statistics.median(cpu_share[page]), 2),
            "path": "/book/<token>" if page == "booking" else pages[page][0], "database": database,
            "advocates": ADVOCATES,
            "engagements": ENGAGEMENTS, "clients": CLIENTS, "seconds": SECONDS, "workers": WORKERS,
            "build_s": round(build_s, 1), "target_p95_ms": TARGET_P95_MS,
            "target_ratio_sign_in": None if page in FLOORS else TARGET_RATIO_SIGN_IN, "ok": ok,
        })
        print(json.dumps(results[-1]), flush=True)
    return results


def main() -> None:
    logging.disable(logging.WARNING)
    with tempfile.TemporaryDirectory() as scratch:
        bench(f"sqlite:///{scratch}/bench.sqlite3", "sqlite", scratch)
        from bench.reports import postgres_url, scratch_schema

        url = postgres_url()
        if url:
            with scratch_schema(url, SCHEMA) as scoped:
                bench(scoped, "postgresql", scratch)

if __name__ == "__main__":
    main()
