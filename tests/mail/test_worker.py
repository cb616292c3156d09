"""The worker's own rules, on the test SMTP server: claims and leases, backoff with jitter, which
failures are permanent, idempotency keys, ``flask mail drain``'s output and ``flask mail worker``'s
loop (the periodic jobs on their timer, errors survived, a prompt stop). What happens when the
server misbehaves, and to real worker processes, is in test_worker_faults.py."""

from __future__ import annotations

import smtplib
import socket
import threading
import time
from collections.abc import Callable
from datetime import timedelta
from types import SimpleNamespace

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError, OperationalError

from mail import cli as mail_cli
from mail.outbox import enqueue
from mail.sender import Sender, ServerUnreachable, drain, due_count, is_permanent, retry_delay
from mail.worker import Worker
from models import OutboxMessage, OutboxStatus, db
from models.locking import begin_write
from models.types import utcnow

LINK = "http://vouch.test/sign-in/link/a-test-token"


@pytest.fixture()
def clock(time_machine) -> Callable:
    """``clock(moment=None)``: stop the clock (now, or at ``moment``) → that moment."""

    def freeze(moment=None):
        moment = moment or utcnow()
        time_machine.move_to(moment, tick=False)
        return moment

    return freeze


def queue(count: int, *, start: int = 0, key: str = "worker-test") -> list[int]:
    """``count`` sign-in e-mails committed, as a workflow writes them (under the write lock on
    SQLite, which a worker running beside it needs) → their outbox ids."""
    begin_write()
    messages = [
        enqueue(
            template="sign_in_link",
            to=[f"person{n}@example.com"],
            context={"account": SimpleNamespace(name=f"Person {n}"), "link": LINK, "minutes": 10},
            idempotency_key=f"{key}:{n}",
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


def rows() -> int:
    db.session.rollback()
    return db.session.scalar(select(func.count()).select_from(OutboxMessage))


# Claims and leases


def test_two_senders_claim_different_messages_each_for_the_lease(app, app_context, clock):
    ids = queue(5)
    now = clock()
    first, second = Sender(name="first"), Sender(name="second")

    assert first.claim(limit=3) == ids[:3]
    assert second.claim(limit=3) == ids[3:]
    assert Sender(name="third").claim() == []

    lease = timedelta(seconds=app.config["MAIL_LEASE_SECONDS"])
    holders = [(stored(i).claimed_by, stored(i).claimed_until) for i in ids]
    assert holders == [("first", now + lease)] * 3 + [("second", now + lease)] * 2
    assert due_count() == 0


def test_stopping_mid_batch_gives_the_claims_on_the_rest_back(app_context, smtp):
    ids = queue(4)
    sent = []

    result = Sender().drain(should_stop=lambda: len(sent) >= 1, on_progress=sent.append)

    assert result.sent == 1
    assert [(stored(i).status, stored(i).claimed_by) for i in ids] == [(OutboxStatus.SENT, None)] + [
        (OutboxStatus.QUEUED, None)
    ] * 3
    assert due_count() == 3
    assert drain().sent == 3
    assert len(smtp.messages) == 4


def test_a_long_batch_renews_its_lease_so_no_message_is_left_to_run_out(app, app_context, smtp, clock):
    lease = app.config["MAIL_LEASE_SECONDS"]
    ids = queue(4)
    now = clock()
    moments = iter(now + timedelta(seconds=step * 0.4 * lease) for step in range(1, 10))

    result = Sender().drain(on_progress=lambda _n: clock(next(moments)))  # 0.4 of the lease a message

    assert result.sent == 4
    assert {stored(i).status for i in ids} == {OutboxStatus.SENT}


def test_a_sender_whose_lease_ran_out_does_not_send_what_another_took_over(app, app_context, smtp, clock):
    lease = timedelta(seconds=app.config["MAIL_LEASE_SECONDS"])
    ids = queue(2)
    start = clock()
    slow = Sender(name="slow")
    assert slow.claim() == ids

    clock(start + lease)
    assert Sender(name="other").drain().sent == 2
    result = Sender().drain()

    assert slow.send_one(ids[0], connection=None) is None
    assert result.handled == 0
    assert len(smtp.messages) == 2


def test_each_message_is_sent_under_its_outbox_id_as_message_id(app_context, smtp):
    ids = queue(3)

    drain()

    assert sorted(m["Message-ID"] for m in smtp.messages) == sorted(f"<outbox-{i}@vouch.test>" for i in ids)


# Backoff


def test_the_wait_doubles_up_to_the_cap_with_up_to_the_jitter_more(app, app_context, monkeypatch):
    monkeypatch.setitem(app.config, "MAIL_RETRY_BASE_SECONDS", 10)
    monkeypatch.setitem(app.config, "MAIL_RETRY_MAX_SECONDS", 300)
    monkeypatch.setitem(app.config, "MAIL_RETRY_JITTER", 0.25)

    for attempts, nominal in [(1, 10), (2, 20), (3, 40), (5, 160), (6, 300), (12, 300)]:
        waits = [retry_delay(attempts).total_seconds() for _ in range(50)]
        assert all(nominal <= wait <= nominal * 1.25 for wait in waits), (attempts, waits)
        assert len(set(waits)) > 1, "messages that failed together would all come back together"

    monkeypatch.setitem(app.config, "MAIL_RETRY_JITTER", 0)
    assert retry_delay(3) == timedelta(seconds=40)


@pytest.mark.parametrize(
    ("error", "permanent"),
    [
        (ConnectionRefusedError(111, "Connection refused"), False),
        (TimeoutError("timed out"), False),
        (smtplib.SMTPServerDisconnected("Connection unexpectedly closed"), False),
        (ServerUnreachable(smtplib.SMTPAuthenticationError(535, b"5.7.8 Bad credentials")), False),
        (smtplib.SMTPDataError(451, b"4.3.0 Try later"), False),
        (smtplib.SMTPDataError(554, b"5.6.0 Rejected"), True),
        (smtplib.SMTPSenderRefused(553, b"5.7.1 Sender not allowed", "vouch@localhost"), True),
        (smtplib.SMTPRecipientsRefused({"a@x.example": (550, b"no"), "b@x.example": (550, b"no")}), True),
        (smtplib.SMTPRecipientsRefused({"a@x.example": (550, b"no"), "b@x.example": (451, b"later")}), False),
        (ValueError("the message has no recipients"), True),
    ],
)
def test_which_failures_are_permanent(error, permanent):
    assert is_permanent(error) is permanent


def test_a_message_that_cannot_be_built_is_dead_at_once_and_the_batch_goes_on(app_context, smtp):
    bad, *good = queue(3)
    message = stored(bad)
    message.headers = {"X-Broken": "a header\r\nBcc: everyone@example.com"}
    db.session.commit()

    result = drain()

    assert (result.sent, result.dead) == (2, 1)
    message = stored(bad)
    assert (message.status, message.attempts) == (OutboxStatus.DEAD, 1)
    assert "BadHeaderError" in message.last_error and "X-Broken" in message.last_error
    assert len(smtp.messages) == 2
    assert not any("everyone@example.com" in str(envelope.rcpt_tos) for envelope in smtp.envelopes)


# Idempotency keys


def test_the_same_event_queued_twice_gives_one_row_and_one_email(app_context, smtp):
    first = queue(1, key="booking-confirmed:17")
    again = queue(1, key="booking-confirmed:17")

    assert first == again
    assert rows() == 1
    assert drain().sent == 1
    assert len(smtp.messages) == 1


def test_the_same_event_queued_in_two_transactions_at_once_gives_one_row(app, app_context, smtp):
    """Two requests enqueue the same event at once. On PostgreSQL both look for the key, find
    none, and the unique key refuses the second insert; on SQLite the workflows take the write
    lock first (``begin_write``), so the second waits, then finds the first one's message."""
    sqlite = db.engine.dialect.name == "sqlite"
    outcomes = []
    barrier = threading.Barrier(2, timeout=30)

    def enqueue_in_a_transaction_of_its_own():
        with app.app_context():
            if sqlite:
                barrier.wait()
                begin_write()
            enqueue(
                template="sign_in_link",
                to=["person@example.com"],
                context={"account": SimpleNamespace(name="Person"), "link": LINK, "minutes": 10},
                idempotency_key="booking-confirmed:18",
            )
            if not sqlite:
                barrier.wait()  # both have looked for the key and found none
            try:
                db.session.commit()
                outcomes.append("committed")
            except IntegrityError:
                db.session.rollback()
                outcomes.append("refused")
            finally:
                db.session.remove()

    threads = [threading.Thread(target=enqueue_in_a_transaction_of_its_own) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)

    assert sorted(outcomes) == (["committed", "committed"] if sqlite else ["committed", "refused"])
    assert rows() == 1
    assert drain().sent == 1
    assert len(smtp.messages) == 1


# flask mail drain


def test_flask_mail_drain_prints_a_summary_alone_when_not_on_a_terminal(app_context, runner, smtp):
    queue(3)
    db.session.remove()

    result = runner.invoke(args=["mail", "drain"])

    assert result.exit_code == 0, result.output
    assert result.output == "sent 3, failed 0, expired 0\n"


def test_flask_mail_drain_shows_a_progress_bar_on_a_terminal(app_context, runner, smtp, monkeypatch):
    queue(3)
    db.session.remove()
    monkeypatch.setattr(mail_cli, "on_a_terminal", lambda: True)

    result = runner.invoke(args=["mail", "drain"])

    assert result.exit_code == 0, result.output
    assert "Sending" in result.output
    assert result.output.strip().splitlines()[-1] == "sent 3, failed 0, expired 0"


def test_flask_mail_drain_says_how_many_were_given_up_on(app_context, runner, smtp, app, monkeypatch):
    queue(2)
    db.session.remove()
    monkeypatch.setitem(app.config, "MAIL_MAX_ATTEMPTS", 1)
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        monkeypatch.setattr(app.extensions["mail"], "port", closed.getsockname()[1])
        result = runner.invoke(args=["mail", "drain", "--limit", "1"])

    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == [
        "1 of the failed given up on (dead): the outbox keeps their errors",
        "sent 0, failed 1, expired 0",
    ]


# flask mail worker


def test_flask_mail_worker_once_runs_the_jobs_and_sends_what_is_due(app_context, runner, smtp, monkeypatch):
    import workflows.jobs

    runs = []
    monkeypatch.setattr(workflows.jobs, "run_due", lambda now=None: runs.append(now) or {"reminders": 0})
    queue(2)
    db.session.remove()

    result = runner.invoke(args=["mail", "worker", "--once"])

    assert result.exit_code == 0, result.output
    last = result.output.splitlines()[-1]
    assert last == "mail worker stopped after 1 round(s): sent 2, failed 0, expired 0"
    assert len(runs) == 1
    assert len(smtp.messages) == 2


def test_the_worker_sends_mail_queued_while_it_runs_and_runs_the_jobs_on_their_timer(
    app, smtp, monkeypatch
):
    import workflows.jobs

    runs = []
    monkeypatch.setattr(workflows.jobs, "run_due", lambda now=None: runs.append(time.monotonic()) or {})
    def run_worker():
        with app.app_context():
            Worker(poll_seconds=0.02, jobs_interval=0.2, max_seconds=1.0).run()

    with app.app_context():
        thread = threading.Thread(target=run_worker, daemon=True)
        thread.start()
        time.sleep(0.1)
        queue(3)
        smtp.wait_for("person2@example.com", timeout=5)
        thread.join(10)
        db.session.remove()

    assert not thread.is_alive()
    assert len(smtp.messages) == 3
    assert 3 <= len(runs) <= 7, runs  # at 0, 0.2, 0.4, 0.6, 0.8 s


def test_the_worker_survives_a_round_that_fails_and_goes_on(app, app_context, smtp, monkeypatch):
    import workflows.jobs

    def failing_jobs(now=None):
        raise RuntimeError("the database went away for a moment")

    monkeypatch.setattr(workflows.jobs, "run_due", failing_jobs)
    queue(1)

    run = Worker(poll_seconds=0.01, jobs_interval=0.05, max_seconds=0.2).run()

    assert run.errors >= 2
    assert run.mail.sent == 1


def test_a_worker_whose_round_failed_mid_batch_takes_its_own_claims_again_next_round(
    app_context, smtp, monkeypatch
):
    ids = queue(3)
    record, calls = Sender._record, []

    def database_gone_at_the_second(sender, message, outcome, now):
        calls.append(message.id)
        if len(calls) == 2:
            raise OperationalError("UPDATE outbox_messages …", {}, Exception("the database went away"))
        return record(sender, message, outcome, now)

    monkeypatch.setattr(Sender, "_record", database_gone_at_the_second)
    worker = Worker(run_jobs=False, once=True)

    assert worker.run().errors == 1
    assert Sender(name="another").claim() == [], "the rest are still leased to the worker"
    assert worker.run().mail.sent == 2

    assert {stored(i).status for i in ids} == {OutboxStatus.SENT}
    received = sorted(m["Message-ID"] for m in smtp.messages)
    assert received == sorted(f"<outbox-{i}@vouch.test>" for i in [ids[0], ids[1], ids[1], ids[2]]), (
        "the one sent but not recorded goes out again, under the same Message-ID"
    )


def test_the_worker_stops_at_once_when_told_to_while_it_waits(app, app_context):
    stop = threading.Event()
    worker = Worker(stop, poll_seconds=60, run_jobs=False)
    threading.Timer(0.2, stop.set).start()
    began = time.monotonic()

    run = worker.run()

    assert time.monotonic() - began < 5
    assert run.rounds == 1
