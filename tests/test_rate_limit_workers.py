"""The per-address sign-in limit holds across gunicorn workers when the limiter's counts live in
Redis (RATELIMIT_STORAGE_URI=redis://…), and does not with the per-process memory store.

gunicorn serves the app with 2 sync workers on a scratch SQLite file; sign-in requests for one
address arrive each on a new connection, in turn on one worker and the other (one request waits
half-sent on one worker while the other serves the next). The access log names the worker (its
pid) that answered each attempt.
Skipped only when Redis does not answer on 127.0.0.1:6379.
"""

from __future__ import annotations

import http.client
import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlencode

import pytest

REDIS_DB = 7  # a database of this test's own, flushed before and after
REDIS_URI = f"redis://127.0.0.1:6379/{REDIS_DB}"
ROOT = Path(__file__).resolve().parent.parent
LIMIT = 5  # config.py's SIGN_IN_LIMIT_PER_ADDRESS, "5 per 15 minutes", set explicitly below
ATTEMPTS = 14  # more than the limit, and more than the limit twice over
ADDRESS = "someone.limited@example.com"


def redis_client():
    import redis

    client = redis.Redis(host="127.0.0.1", port=6379, db=REDIS_DB, socket_timeout=2)
    try:
        client.ping()
    except redis.exceptions.ConnectionError:
        pytest.skip("Redis does not answer on 127.0.0.1:6379")
    return client


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def database(tmp_path_factory) -> str:
    """A scratch SQLite file, migrated by the function behind ``flask db upgrade`` in a process of
    its own (not the ``flask`` command: that loads every installed command, whatever this tree has)."""
    url = f"sqlite:///{tmp_path_factory.mktemp('workers') / 'vouch.sqlite3'}"
    upgrade = ("from flask_migrate import upgrade\nfrom app import create_app\n"
               "with create_app().app_context():\n    upgrade()\n")
    subprocess.run([sys.executable, "-c", upgrade], cwd=ROOT, env=server_env(url, "memory://"), check=True,
                   capture_output=True, timeout=120)
    return url


def server_env(database_url: str, storage: str) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith(("RATELIMIT_", "SIGN_IN_"))}
    env.update(VOUCH_ENV="development", DATABASE_URL=database_url, RATELIMIT_STORAGE_URI=storage,
               SIGN_IN_LIMIT_PER_ADDRESS=f"{LIMIT} per 15 minutes", LOG_SIGN_IN_LINKS="false",
               MAIL_SERVER="127.0.0.1", MAIL_PORT="9")
    return env


class Served:
    def __init__(self, port: int, access_log: Path) -> None:
        self.port, self.access_log = port, access_log

    def workers_by_attempt(self) -> dict[int, tuple[int, int]]:
        """attempt number → (status, pid of the worker that answered), from the access log."""
        found = {}
        for line in self.access_log.read_text().splitlines():
            match = re.search(r'"POST /sign-in\?attempt=(\d+) [^"]*" (\d{3}) pid=<(\d+)>', line)
            if match:
                found[int(match.group(1))] = (int(match.group(2)), int(match.group(3)))
        return found


@pytest.fixture()
def serve(database, tmp_path):
    """Start gunicorn (2 workers) with the given limiter storage; → Served."""
    started = []

    def start(storage: str) -> Served:
        port, log = free_port(), tmp_path / f"access-{len(started)}.log"
        errors = tmp_path / f"error-{len(started)}.log"
        with errors.open("w") as error_log:
            process = subprocess.Popen(
                [sys.executable, "-m", "gunicorn", "--workers", "2", "--bind", f"127.0.0.1:{port}",
                 "--access-logfile", str(log), "--access-logformat", '%(h)s "%(r)s" %(s)s pid=%(p)s',
                 "app:create_app()"],
                cwd=ROOT, env=server_env(database, storage), stdout=subprocess.DEVNULL, stderr=error_log,
            )
        started.append(process)
        deadline = time.monotonic() + 60
        while True:
            try:
                connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
                try:
                    connection.request("GET", "/healthz")
                    answer = connection.getresponse()
                    answer.read()
                    if answer.status == 200:
                        break
                finally:
                    connection.close()
            except OSError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"gunicorn did not start: {errors.read_text()[-2000:]}")
            time.sleep(0.2)
        return Served(port, log)

    yield start
    for process in started:
        process.terminate()
        process.wait(20)


class Attempt:
    """A sign-in request for ADDRESS on a connection of its own, sent in two parts: a sync worker
    that has taken the connection waits for the rest and serves nobody else meanwhile."""

    def __init__(self, port: int, number: int, cookie: str, token: str) -> None:
        body = urlencode({"email": ADDRESS, "csrf_token": token})
        self.request = (
            f"POST /sign-in?attempt={number} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
            f"Content-Type: application/x-www-form-urlencoded\r\nCookie: {cookie}\r\n"
            f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n{body}"
        ).encode()
        self.connection = socket.create_connection(("127.0.0.1", port), timeout=20)

    def begin(self) -> None:
        self.connection.sendall(self.request[:-1])

    def finish(self) -> int:
        """Send the rest; → the answer's status."""
        self.connection.sendall(self.request[-1:])
        answer = b""
        while chunk := self.connection.recv(65536):
            answer += chunk
        self.connection.close()
        return int(answer.split(b" ", 2)[1])


def sign_in_attempts(served: Served) -> list[tuple[int, int, int]]:
    """(attempt number, status, worker pid) of ATTEMPTS sign-in requests for one address, in
    rounds of two that each worker serves one of: the first waits half-sent on one worker while
    the second is served, whole, by the other; then the first is completed."""
    connection = http.client.HTTPConnection("127.0.0.1", served.port, timeout=20)
    connection.request("GET", "/sign-in")
    response = connection.getresponse()
    page = response.read().decode()
    connection.close()
    cookie = response.getheader("Set-Cookie").split(";", 1)[0]
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
    statuses = {}
    for second in range(2, ATTEMPTS + 1, 2):
        waiting = Attempt(served.port, second, cookie, token)
        waiting.begin()
        time.sleep(0.05)  # a worker has taken it and waits for the rest
        first = Attempt(served.port, second - 1, cookie, token)
        first.begin()
        statuses[second - 1] = first.finish()
        statuses[second] = waiting.finish()
    deadline = time.monotonic() + 10
    while len(logged := served.workers_by_attempt()) < ATTEMPTS and time.monotonic() < deadline:
        time.sleep(0.1)  # gunicorn writes the access log line just after the answer
    assert sorted(logged) == list(range(1, ATTEMPTS + 1))
    assert {number: status for number, (status, _pid) in logged.items()} == statuses
    return [(number, status, logged[number][1]) for number, status in sorted(statuses.items())]


def accepted(status: int) -> bool:
    return status == 302  # on to "a link is on its way"


def test_the_address_limit_holds_across_two_workers_with_redis(serve):
    store = redis_client()
    store.flushdb()
    try:
        served = serve(REDIS_URI)
        results = sign_in_attempts(served)
    finally:
        store.flushdb()
    print("\nattempt, status, worker pid:", results)
    workers = {pid for _number, _status, pid in results}
    assert len(workers) == 2, f"both workers must answer for the test to mean anything: {results}"
    assert [status for _n, status, _p in results].count(302) == LIMIT, results
    assert all(status in (302, 429) for _n, status, _p in results), results
    # Whichever worker answers, an attempt beyond the limit is refused — also by a worker that had
    # itself let fewer than LIMIT through, which only a shared count can explain.
    for pid in workers:
        own = [status for _n, status, worker in results if worker == pid]
        assert 429 in own, f"worker {pid} refused nothing: {results}"
    let_through = {pid: sum(accepted(status) for _n, status, worker in results if worker == pid)
                   for pid in workers}
    assert min(let_through.values()) < LIMIT, let_through
    assert [status for _n, status, _p in results] == [302] * LIMIT + [429] * (ATTEMPTS - LIMIT), results


def test_the_memory_store_counts_per_worker_so_more_get_through(serve):
    redis_client()  # the contrast belongs with the Redis test: skipped with it
    served = serve("memory://")
    results = sign_in_attempts(served)
    print("\nattempt, status, worker pid:", results)
    workers = {pid for _number, _status, pid in results}
    assert len(workers) == 2, f"both workers must answer for the contrast to mean anything: {results}"
    # Each worker lets LIMIT through on its own count: twice the limit in all.
    assert [status for _n, status, _p in results].count(302) == 2 * LIMIT, results
