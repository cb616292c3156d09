"""The mail worker against a real SMTP server (aiosmtpd) that misbehaves on demand: down for a
while, answering 451 or 550, closing the session, stalling; two workers on one queue; a worker
stopped by SIGTERM and one killed outright (DESIGN.md §6, §7.12). Nothing is lost, nothing that
was taken is sent twice by the worker that took it, and every copy carries its outbox id.

Time moves with time_machine where a wait is involved (backoff, leases), never by sleeping."""

from __future__ import annotations

import asyncio
import email
import email.policy
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from email.message import EmailMessage
from pathlib import Path
from types import SimpleNamespace

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import select

from mail.outbox import enqueue
from mail.sender import Sender, drain
from models import OutboxMessage, OutboxStatus, db
from models.types import utcnow
from tests.conftest import free_port

ROOT = Path(__file__).resolve().parents[2]
LINK = "http://vouch.test/sign-in/link/a-test-token"


class FaultySMTP:
    """An aiosmtpd server on a port of its own, told how to answer.

    ``rcpt[address]`` / ``data[address]``: replies given to the next RCPT TO for that address /
    the next DATA of a message to it, one per attempt, then it accepts; ``refuse[address]``: a
    reply given to every RCPT TO for it. ``hold`` stalls the DATA of a message to that address
    until ``release`` is set. ``connections`` counts the SMTP sessions (EHLO)."""

    def __init__(self) -> None:
        self.port = free_port()
        self.lock = threading.Lock()
        self.controller: Controller | None = None
        self.reset()

    def reset(self) -> None:
        with self.lock:
            self.messages: list[EmailMessage] = []
            self.envelopes: list[tuple[str, list[str]]] = []
            self.connections = 0
            self.rcpt: dict[str, list[str]] = {}
            self.data: dict[str, list[str]] = {}
            self.refuse: dict[str, str] = {}
            self.delay = 0.0
            self.hold: str | None = None
            self.holding = threading.Event()
            self.release = threading.Event()

    def start(self) -> None:
        self.controller = Controller(self, hostname="127.0.0.1", port=self.port)
        self.controller.start()

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None

    # aiosmtpd handler hooks

    async def handle_EHLO(self, server, session, envelope, hostname, responses):
        session.host_name = hostname
        with self.lock:
            self.connections += 1
        return responses

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        with self.lock:
            reply = self.refuse.get(address) or _pop(self.rcpt, address)
        if reply:
            return reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        if self.hold is not None and self.hold in envelope.rcpt_tos:
            self.holding.set()
            while not self.release.is_set():
                await asyncio.sleep(0.01)
        if self.delay:
            await asyncio.sleep(self.delay)
        with self.lock:
            reply = next((r for r in (_pop(self.data, a) for a in envelope.rcpt_tos) if r), None)
        if reply:
            return reply
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        with self.lock:
            self.messages.append(message)
            self.envelopes.append((message["Message-ID"], list(envelope.rcpt_tos)))
        return "250 Message accepted for delivery"

    # what it received

    def message_ids(self) -> list[str]:
        with self.lock:
            return [m["Message-ID"] for m in self.messages]

    def wait_for(self, count: int, timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        while len(self.message_ids()) < count:
            assert time.monotonic() < deadline, f"{len(self.message_ids())} of {count} messages arrived"
            time.sleep(0.01)


def _pop(replies: dict[str, list[str]], address: str) -> str | None:
    waiting = replies.get(address)
    return waiting.pop(0) if waiting else None


@pytest.fixture(scope="module")
def faulty_server() -> Iterator[FaultySMTP]:
    server = FaultySMTP()
    server.start()
    yield server
    server.release.set()
    server.stop()


@pytest.fixture()
def faulty(app, faulty_server, monkeypatch) -> Iterator[FaultySMTP]:
    """The app sends to the faulty server (Flask-Mail copied MAIL_PORT at start-up: point its
    settings there), which starts each test accepting everything."""
    faulty_server.reset()
    if faulty_server.controller is None:
        faulty_server.start()
    monkeypatch.setattr(app.extensions["mail"], "port", faulty_server.port)
    yield faulty_server
    faulty_server.release.set()


@pytest.fixture()
def clock(time_machine) -> Callable:
    """``clock(moment=None)``: stop the clock (now, or at ``moment``) → that moment."""

    def freeze(moment=None):
        moment = moment or utcnow()
        time_machine.move_to(moment, tick=False)
        return moment

    return freeze


def address(n: int) -> str:
    return f"person{n}@example.com"


def queue(count: int, *, start: int = 0, to: Callable[[int], list[str]] | None = None) -> list[int]:
    """``count`` sign-in e-mails, each to its own person, committed → their outbox ids."""
    messages = [
        enqueue(
            template="sign_in_link",
            to=to(n) if to else [address(n)],
            context={"account": SimpleNamespace(name=f"Person {n}"), "link": LINK, "minutes": 10},
            idempotency_key=f"fault-test:{n}",
        )
        for n in range(start, start + count)
    ]
    db.session.flush()
    ids = [message.id for message in messages]
    db.session.commit()
    return ids


def stored(outbox_id: int) -> OutboxMessage:
    db.session.rollback()
    return db.session.get(OutboxMessage, outbox_id)


def all_stored() -> list[OutboxMessage]:
    db.session.rollback()
    return list(db.session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))


def expected_ids(ids: list[int]) -> set[str]:
    return {f"<outbox-{outbox_id}@vouch.test>" for outbox_id in ids}


def latest_retry() -> object:
    return max(message.next_attempt_at for message in all_stored())


# The server is down, then back


def test_fifty_messages_queued_while_the_server_is_down_are_all_sent_once_when_it_is_back(
    app_context, faulty, clock
):
    start = clock()
    ids = queue(50)
    faulty.stop()

    result = drain()

    assert (result.sent, result.failed, result.dead) == (0, 50, 0)
    messages = all_stored()
    assert {(m.status, m.attempts, m.claimed_by) for m in messages} == {(OutboxStatus.QUEUED, 1, None)}
    assert all("ConnectionRefusedError" in m.last_error for m in messages)
    assert all(m.next_attempt_at > start for m in messages)

    faulty.start()
    clock(latest_retry())
    result = drain()

    assert (result.sent, result.failed) == (50, 0)
    received = faulty.message_ids()
    assert len(received) == 50 and set(received) == expected_ids(ids)
    assert faulty.connections == 1, "one SMTP session for the batch"
    assert {(m.status, m.attempts, m.last_error) for m in all_stored()} == {(OutboxStatus.SENT, 2, None)}
    assert drain().handled == 0


def test_a_server_that_never_answers_costs_one_time_out_for_the_whole_batch(
    app, app_context, faulty, monkeypatch
):
    import socket

    monkeypatch.setitem(app.config, "MAIL_TIMEOUT_SECONDS", 0.3)
    ids = queue(10)
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        monkeypatch.setattr(app.extensions["mail"], "port", silent.getsockname()[1])
        began = time.monotonic()
        result = drain()
        took = time.monotonic() - began

    assert result.failed == 10
    assert took < 3, f"{took:.1f} s: the batch waited once per message"
    assert all("timed out" in stored(i).last_error and stored(i).status == OutboxStatus.QUEUED for i in ids)


# Temporary and permanent refusals


@pytest.mark.parametrize("stage", ["rcpt", "data"])
def test_a_451_for_a_while_is_retried_with_growing_waits_then_sent(app, app_context, faulty, clock, stage):
    base, jitter = app.config["MAIL_RETRY_BASE_SECONDS"], app.config["MAIL_RETRY_JITTER"]
    ids = queue(3)
    getattr(faulty, stage)[address(1)] = ["451 4.7.1 Greylisted, please try again later"] * 2

    now = clock()
    result = drain()
    assert (result.sent, result.failed) == (2, 1)
    first = stored(ids[1])
    assert (first.status, first.attempts) == (OutboxStatus.QUEUED, 1)
    assert "451 4.7.1 Greylisted" in first.last_error
    assert base <= (first.next_attempt_at - now).total_seconds() <= base * (1 + jitter)

    assert drain().handled == 0, "retried before its time"
    now = clock(first.next_attempt_at)
    assert drain().failed == 1
    second = stored(ids[1])
    assert second.attempts == 2
    assert 2 * base <= (second.next_attempt_at - now).total_seconds() <= 2 * base * (1 + jitter)

    clock(second.next_attempt_at)
    assert drain().sent == 1
    message = stored(ids[1])
    assert (message.status, message.attempts, message.last_error) == (OutboxStatus.SENT, 3, None)
    assert sorted(faulty.message_ids()) == sorted(expected_ids(ids))


@pytest.mark.parametrize(
    ("stage", "reply"),
    [("rcpt", "550 5.1.1 <person1@example.com>: Recipient address rejected: User unknown"),
     ("data", "554 5.6.0 Message content rejected")],
)
def test_a_5xx_reply_marks_the_message_dead_at_once_and_the_others_still_go_out(
    app_context, faulty, stage, reply
):
    ids = queue(5)
    if stage == "rcpt":
        faulty.refuse[address(1)] = reply
    else:
        faulty.data[address(1)] = [reply]

    result = drain()

    assert (result.sent, result.failed, result.dead) == (4, 1, 1)
    dead = stored(ids[1])
    assert (dead.status, dead.attempts) == (OutboxStatus.DEAD, 1)
    assert reply in dead.last_error
    assert set(faulty.message_ids()) == expected_ids(ids[:1] + ids[2:])
    assert faulty.connections == 1, "a refused message does not end the SMTP session"
    assert drain().handled == 0


def test_the_last_attempt_marks_the_message_dead_with_the_reply(app, app_context, faulty, clock, monkeypatch):
    monkeypatch.setitem(app.config, "MAIL_MAX_ATTEMPTS", 2)
    [outbox_id] = queue(1)
    faulty.rcpt[address(0)] = ["452 4.2.2 Mailbox full"] * 5

    clock()
    assert drain().failed == 1
    clock(stored(outbox_id).next_attempt_at)
    result = drain()

    assert (result.failed, result.dead) == (1, 1)
    message = stored(outbox_id)
    assert (message.status, message.attempts) == (OutboxStatus.DEAD, 2)
    assert "452 4.2.2 Mailbox full" in message.last_error
    assert faulty.message_ids() == []


def test_a_recipient_refused_for_now_is_retried_alone_and_the_others_get_one_copy(app_context, faulty, clock):
    [outbox_id] = queue(1, to=lambda n: [address(n), "sales@example.com"])
    faulty.rcpt[address(0)] = ["450 4.2.0 Greylisted"]

    clock()
    assert drain().failed == 1
    message = stored(outbox_id)
    assert (message.status, message.retry_recipients) == (OutboxStatus.QUEUED, [address(0)])
    assert "450 4.2.0 Greylisted" in message.last_error
    clock(message.next_attempt_at)
    assert drain().sent == 1

    assert [rcpt for _id, rcpt in faulty.envelopes] == [["sales@example.com"], [address(0)]]
    assert faulty.message_ids() == [f"<outbox-{outbox_id}@vouch.test>"] * 2
    first, again = faulty.messages
    assert first["To"] == again["To"], "the headers name everyone: only the envelope changes"
    message = stored(outbox_id)
    assert (message.status, message.attempts, message.retry_recipients) == (OutboxStatus.SENT, 2, None)


def test_a_recipient_refused_for_good_while_the_others_took_it_is_noted_on_a_sent_message(
    app_context, faulty
):
    [outbox_id] = queue(1, to=lambda n: [address(n), "gone@example.com"])
    faulty.refuse["gone@example.com"] = "550 5.1.1 No such user"

    assert drain().sent == 1

    message = stored(outbox_id)
    assert message.status == OutboxStatus.SENT
    assert "gone@example.com: 550 5.1.1 No such user" in message.last_error


def test_a_server_closing_the_session_mid_batch_costs_one_retry_and_a_new_session(
    app_context, faulty, clock
):
    ids = queue(6)
    faulty.data[address(2)] = ["421 4.3.2 Service shutting down"]

    clock()
    result = drain()

    assert (result.sent, result.failed) == (5, 1)
    assert stored(ids[2]).status == OutboxStatus.QUEUED and "421" in stored(ids[2]).last_error
    assert faulty.connections == 2
    clock(stored(ids[2]).next_attempt_at)
    assert drain().sent == 1
    assert sorted(faulty.message_ids()) == sorted(expected_ids(ids))


def test_one_smtp_session_carries_a_whole_drain_of_several_batches(app_context, faulty):
    ids = queue(25)

    result = Sender(batch_size=10).drain()

    assert result.sent == 25
    assert faulty.connections == 1
    assert set(faulty.message_ids()) == expected_ids(ids)


# Several workers


def test_two_workers_draining_one_queue_of_200_send_every_message_exactly_once(app, faulty):
    with app.app_context():
        ids = queue(200)
        db.session.remove()
    faulty.delay = 0.002  # long enough for the two to overlap
    barrier = threading.Barrier(2, timeout=30)
    results, errors = {}, []

    def worker(name: str) -> None:
        try:
            with app.app_context():
                sender = Sender(name=name, batch_size=10)
                barrier.wait()
                results[name] = sender.drain()
                db.session.remove()
        except BaseException as exc:  # reported in the test's thread
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(name,)) for name in ("one", "two")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)

    assert errors == []
    received = faulty.message_ids()
    assert len(received) == 200 and set(received) == expected_ids(ids)
    assert results["one"].sent + results["two"].sent == 200
    assert results["one"].sent > 0 and results["two"].sent > 0, results
    assert faulty.connections == 2, "one SMTP session per worker"
    with app.app_context():
        assert {(m.status, m.attempts, m.claimed_by) for m in all_stored()} == {(OutboxStatus.SENT, 1, None)}
        db.session.remove()


def test_a_worker_that_claimed_and_died_leaves_its_messages_to_go_out_after_the_lease(
    app, app_context, faulty, clock
):
    lease = timedelta(seconds=app.config["MAIL_LEASE_SECONDS"])
    ids = queue(5)
    start = clock()
    dead_worker = Sender(name="killed-before-sending")
    assert dead_worker.claim() == ids  # … and never sends them

    assert drain().handled == 0
    clock(start + lease - timedelta(seconds=1))
    assert drain().handled == 0

    clock(start + lease)
    assert drain().sent == 5

    assert set(faulty.message_ids()) == expected_ids(ids)
    assert dead_worker.send_one(ids[0], connection=None) is None, "its claim is gone: nothing sent"
    assert len(faulty.message_ids()) == 5


# The worker as a process


def start_worker(database_url: str, port: int, *args: str, **settings) -> subprocess.Popen:
    env = {
        **os.environ,
        "VOUCH_ENV": "testing",
        "TEST_DATABASE_URL": database_url,
        "MAIL_PORT": str(port),
        "MAIL_WORKER_POLL_SECONDS": "0.05",
        "PYTHONUNBUFFERED": "1",
        **{name: str(value) for name, value in settings.items()},
    }
    return subprocess.Popen(
        [sys.executable, "-m", "flask", "--app", "app", "mail", "worker", *args],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )


class Lines:
    """A stream of a process read line by line in a thread, to wait for a line without hanging."""

    def __init__(self, stream) -> None:
        self.lines: list[str] = []
        self.thread = threading.Thread(target=self._read, args=(stream,), daemon=True)
        self.thread.start()

    def _read(self, stream) -> None:
        with stream:
            for line in stream:
                self.lines.append(line)

    def wait_for(self, text: str, timeout: float = 20.0) -> None:
        deadline = time.monotonic() + timeout
        while not any(text in line for line in self.lines):
            assert time.monotonic() < deadline, f"no line with {text!r} in:\n{''.join(self.lines)}"
            time.sleep(0.01)

    def text(self) -> str:
        """Everything, once the process has ended."""
        self.thread.join(10)
        return "".join(self.lines)


@dataclass
class WorkerProcess:
    process: subprocess.Popen
    out: Lines
    err: Lines


@pytest.fixture()
def worker_process(database_url, faulty) -> Iterator[Callable[..., WorkerProcess]]:
    """``worker_process(*args, **settings)``: ``flask mail worker`` running in a process of its
    own on the test database, sending to the faulty server."""
    started: list[WorkerProcess] = []

    def start(*args: str, **settings) -> WorkerProcess:
        process = start_worker(database_url, faulty.port, *args, **settings)
        worker = WorkerProcess(process, Lines(process.stdout), Lines(process.stderr))
        started.append(worker)
        return worker

    yield start
    faulty.release.set()
    for worker in started:
        if worker.process.poll() is None:
            worker.process.kill()
        worker.process.wait(10)
        worker.out.text(), worker.err.text()


def test_sigterm_stops_the_worker_after_the_message_in_hand_which_is_recorded_sent(
    app_context, faulty, worker_process
):
    ids = queue(5)
    db.session.remove()
    faulty.hold = address(0)

    worker = worker_process()
    assert faulty.holding.wait(20), f"the worker never began sending:\n{worker.err.text()}"
    worker.process.send_signal(signal.SIGTERM)
    worker.err.wait_for("SIGTERM: stopping after the message in hand")
    faulty.release.set()

    assert worker.process.wait(20) == 0, worker.err.text()
    assert "stopped after 1 round(s): sent 1, failed 0, expired 0" in worker.out.text()
    assert faulty.message_ids() == [f"<outbox-{ids[0]}@vouch.test>"]
    in_hand, *rest = (stored(i) for i in ids)
    assert (in_hand.status, in_hand.attempts, in_hand.claimed_by) == (OutboxStatus.SENT, 1, None)
    assert {(m.status, m.attempts, m.claimed_by) for m in rest} == {(OutboxStatus.QUEUED, 0, None)}, (
        "the claims on the rest are given back, for the next worker to take at once"
    )
    assert drain().sent == 4
    assert set(faulty.message_ids()) == expected_ids(ids)


def test_sigterm_stops_an_idle_worker_at_once(app_context, faulty, worker_process):
    worker = worker_process(MAIL_WORKER_POLL_SECONDS=60, JOBS_INTERVAL_SECONDS=60)
    worker.out.wait_for("polling every 60 s")
    time.sleep(0.2)  # into the wait between rounds
    began = time.monotonic()
    worker.process.send_signal(signal.SIGTERM)

    assert worker.process.wait(10) == 0, worker.err.text()
    assert time.monotonic() - began < 5
    assert "mail worker stopped" in worker.out.text()


def test_a_worker_killed_mid_send_leaves_the_message_to_go_out_after_the_lease(
    app_context, faulty, worker_process, time_machine
):
    ids = queue(3)
    db.session.remove()
    faulty.hold = address(0)

    worker = worker_process(MAIL_LEASE_SECONDS=300)
    assert faulty.holding.wait(20), f"the worker never began sending:\n{worker.err.text()}"
    worker.process.kill()
    worker.process.wait(10)
    faulty.release.set()

    in_hand = stored(ids[0])
    assert (in_hand.status, in_hand.attempts) == (OutboxStatus.QUEUED, 0)
    assert in_hand.claimed_by is not None
    assert drain().handled == 0, "the killed worker's lease still runs"

    time_machine.move_to(in_hand.claimed_until, tick=False)
    assert drain().sent == 3

    assert sorted(faulty.message_ids()) == sorted(expected_ids(ids)), (
        "the server dropped the half-sent copy with the session; the retry carries the same id"
    )
    assert {(m.status, m.attempts) for m in all_stored()} == {(OutboxStatus.SENT, 1)}
