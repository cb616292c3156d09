"""The outbox against a real SMTP server: written in the caller's transaction, sent at least once
and never twice, kept through an outage, given up on, expired, and wiped (DESIGN.md §6, §7.12)."""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from mail.outbox import enqueue
from mail.sender import WIPED
from models import OutboxMessage, OutboxStatus, db
from models.types import utcnow

LINK = "http://vouch.test/sign-in/link/a-test-token"


@pytest.fixture()
def recipient(make_account):
    return make_account(role="advocate", name="Dana Example", email="dana@example.com")


@pytest.fixture()
def queue(app_context, recipient) -> Callable[..., int]:
    """``queue(key, **options)``: a sign-in e-mail enqueued and committed → its outbox id."""

    def enqueue_sign_in_link(key: str = "sign-in:1", **options) -> int:
        message = enqueue(
            template="sign_in_link",
            to=[recipient.email],
            context={"account": recipient, "link": LINK, "minutes": 10},
            idempotency_key=key,
            **options,
        )
        db.session.commit()
        return message.id

    return enqueue_sign_in_link


@pytest.fixture()
def frozen_clock(time_machine) -> Callable:
    """``frozen_clock(moment=None)``: stop the clock (now, or at ``moment``) → that moment."""

    def freeze(moment=None):
        moment = moment or utcnow()
        time_machine.move_to(moment, tick=False)
        return moment

    return freeze


def stored(message_id: int) -> OutboxMessage:
    """The message as the database has it now (what the worker committed)."""
    db.session.rollback()
    return db.session.get(OutboxMessage, message_id)


def outbox_size() -> int:
    db.session.rollback()
    return db.session.scalar(select(func.count()).select_from(OutboxMessage))


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def smtp_unreachable(app) -> Iterator[None]:
    """The SMTP server is down. Flask-Mail copies MAIL_PORT from app.config when the app is
    created, so changing the config afterwards would not reach it: point its settings away."""
    settings = app.extensions["mail"]
    port, settings.port = settings.port, closed_port()
    try:
        yield
    finally:
        settings.port = port


@pytest.fixture()
def silent_smtp_port() -> Iterator[int]:
    """A server that accepts connections and never says a word."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        yield listener.getsockname()[1]


def finish_within(seconds: float, work: Callable):
    """``work()``'s result, failing the test instead of hanging if it takes longer."""
    outcome = {}
    thread = threading.Thread(target=lambda: outcome.setdefault("result", work()), daemon=True)
    thread.start()
    thread.join(seconds)
    assert not thread.is_alive(), f"still running after {seconds} s"
    return outcome["result"]


def test_a_message_enqueued_in_a_transaction_that_rolls_back_is_never_sent(
    app_context, recipient, deliver, smtp
):
    enqueue(
        template="sign_in_link",
        to=[recipient.email],
        context={"account": recipient, "link": LINK, "minutes": 10},
        idempotency_key="rolled-back",
    )
    db.session.rollback()

    assert deliver().handled == 0
    assert outbox_size() == 0
    assert smtp.to(recipient.email) == []


def test_draining_twice_sends_each_message_once(queue, deliver, smtp, recipient):
    message_id = queue()

    first, second = deliver(), deliver()

    assert (first.sent, second.sent, second.handled) == (1, 0, 0)
    assert len(smtp.to(recipient.email)) == 1
    message = stored(message_id)
    assert (message.status, message.attempts) == (OutboxStatus.SENT, 1)
    assert message.sent_at is not None


def test_enqueuing_again_with_the_same_key_keeps_one_message_and_sends_one_email(
    queue, deliver, smtp, recipient
):
    first = queue("sign-in:42")
    again = queue("sign-in:42")

    assert again == first
    assert outbox_size() == 1
    assert deliver().sent == 1
    assert len(smtp.to(recipient.email)) == 1


def test_the_email_has_its_outbox_id_as_message_id_and_a_text_and_an_html_part(
    queue, deliver, smtp, recipient
):
    message_id = queue()

    deliver()

    [email] = smtp.to(recipient.email)
    assert email["Message-ID"] == f"<outbox-{message_id}@vouch.test>"
    assert email["Subject"] == "Your Vouch sign-in link"
    [alternative] = [part for part in email.walk() if part.get_content_type() == "multipart/alternative"]
    assert [part.get_content_type() for part in alternative.iter_parts()] == ["text/plain", "text/html"]
    text = email.get_body(preferencelist=("plain",)).get_content()
    html = email.get_body(preferencelist=("html",)).get_content()
    assert "Hello Dana Example" in text and LINK in text
    assert f'href="{LINK}"' in html


def test_a_message_stays_queued_through_an_smtp_outage_and_is_sent_when_the_server_is_back(
    app, queue, deliver, smtp, recipient, frozen_clock, monkeypatch
):
    monkeypatch.setitem(app.config, "MAIL_RETRY_JITTER", 0)  # the jitter: tests/mail/test_worker.py
    start = frozen_clock()
    message_id = queue()

    with smtp_unreachable(app):
        result = deliver()

    assert (result.sent, result.failed) == (0, 1)
    message = stored(message_id)
    assert (message.status, message.attempts) == (OutboxStatus.QUEUED, 1)
    assert "ConnectionRefusedError" in message.last_error
    assert message.next_attempt_at == start + timedelta(seconds=app.config["MAIL_RETRY_BASE_SECONDS"])

    assert deliver().handled == 0, "retried before its time"
    frozen_clock(message.next_attempt_at)
    assert deliver().sent == 1

    message = stored(message_id)
    assert (message.status, message.attempts, message.last_error) == (OutboxStatus.SENT, 2, None)
    assert len(smtp.to(recipient.email)) == 1


def test_a_message_is_dead_after_the_last_attempt_with_the_wait_doubling_in_between(
    app, queue, deliver, smtp, recipient, frozen_clock, monkeypatch
):
    monkeypatch.setitem(app.config, "MAIL_MAX_ATTEMPTS", 3)
    monkeypatch.setitem(app.config, "MAIL_RETRY_JITTER", 0)
    base = app.config["MAIL_RETRY_BASE_SECONDS"]
    message_id = queue(sensitive=True)
    waits = []

    with smtp_unreachable(app):
        for _attempt in range(3):
            now = frozen_clock()
            assert deliver().failed == 1
            message = stored(message_id)
            waits.append((message.next_attempt_at - now).total_seconds())
            frozen_clock(max(message.next_attempt_at, now))

    message = stored(message_id)
    assert (message.status, message.attempts) == (OutboxStatus.DEAD, 3)
    assert "ConnectionRefusedError" in message.last_error
    assert waits[:2] == [base, 2 * base]
    assert message.body_text == WIPED and message.body_html is None
    assert deliver().handled == 0
    assert smtp.to(recipient.email) == []


def test_a_message_past_its_expiry_is_marked_expired_and_never_sent(queue, deliver, smtp, recipient):
    message_id = queue(expires_at=utcnow() - timedelta(seconds=1), sensitive=True)

    result = deliver()

    assert (result.expired, result.sent) == (1, 0)
    message = stored(message_id)
    assert (message.status, message.attempts) == (OutboxStatus.EXPIRED, 0)
    assert message.body_text == WIPED
    assert smtp.to(recipient.email) == []


def test_a_sign_in_email_whose_link_expired_during_an_outage_is_not_sent_late(
    app, queue, deliver, smtp, recipient, frozen_clock, monkeypatch
):
    monkeypatch.setitem(app.config, "MAIL_RETRY_BASE_SECONDS", 3600)
    start = frozen_clock()
    message_id = queue(expires_at=start + timedelta(minutes=10), sensitive=True)
    with smtp_unreachable(app):
        assert deliver().failed == 1

    frozen_clock(start + timedelta(minutes=10))  # expired, while the retry is an hour away
    result = deliver()

    assert (result.expired, result.sent) == (1, 0)
    message = stored(message_id)
    assert message.status == OutboxStatus.EXPIRED
    assert message.body_text == WIPED and message.body_html is None
    assert smtp.to(recipient.email) == []


def test_a_sensitive_message_body_is_wiped_once_sent_and_others_are_kept(queue, deliver, smtp, recipient):
    sensitive_id = queue("sign-in:1", sensitive=True)
    ordinary_id = queue("sign-in:2")

    assert deliver().sent == 2

    assert all(LINK in email.get_body(("plain",)).get_content() for email in smtp.to(recipient.email))
    sensitive, ordinary = stored(sensitive_id), stored(ordinary_id)
    assert (sensitive.body_text, sensitive.body_html) == (WIPED, None)
    assert LINK in ordinary.body_text and LINK in ordinary.body_html


def test_a_server_that_never_answers_fails_the_attempt_after_the_mail_timeout(
    app, queue, deliver, monkeypatch, silent_smtp_port
):
    monkeypatch.setitem(app.config, "MAIL_TIMEOUT_SECONDS", 0.3)
    monkeypatch.setattr(app.extensions["mail"], "port", silent_smtp_port)
    message_id = queue()

    result = finish_within(10, deliver)

    assert result.failed == 1
    message = stored(message_id)
    assert (message.status, message.attempts) == (OutboxStatus.QUEUED, 1)
    assert "timed out" in message.last_error


def test_enqueue_refuses_a_single_string_as_the_recipients(app_context, recipient):
    with pytest.raises(TypeError, match="lists of addresses"):
        enqueue(
            template="sign_in_link",
            to=recipient.email,
            context={"account": recipient, "link": LINK, "minutes": 10},
            idempotency_key="one-string",
        )


def test_flask_mail_drain_sends_what_is_due_and_prints_the_counts(queue, runner, smtp, recipient):
    queue("sign-in:1")
    queue("sign-in:2")
    queue("sign-in:3", expires_at=utcnow() - timedelta(seconds=1))

    result = runner.invoke(args=["mail", "drain"])

    assert result.exit_code == 0, result.output
    assert result.output.strip().splitlines()[-1] == "sent 2, failed 0, expired 1"
    assert len(smtp.to(recipient.email)) == 2
