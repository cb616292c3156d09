"""The admin's outbox (``/admin/outbox``): every message with its status, filtered and paginated in a
fixed number of queries; a dead message sent again (to the real SMTP server) or discarded, each
confirmed, flashed and audited; no credential ever shown."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from mail.outbox import enqueue
from models import AuditEvent, OutboxMessage, OutboxStatus, db
from models.types import utcnow
from tests.conftest import text_body
from tests.helpers import flashed, page, post_form, section, text

SIGN_IN = "http://vouch.test/sign-in/link/SECRET-SIGN-IN-TOKEN"
BOOKING = "http://vouch.test/book/SECRET-BOOKING-TOKEN"
DANA = {"name": "Dana Example", "job_title": "", "company": "", "talking_points": ""}


@pytest.fixture()
def admin(signed_in):
    http, _account = signed_in("admin")
    return http


@pytest.fixture()
def add(app):
    """``add(template="introduction", to="pat@…", status="queued", attempts=0, error=None)`` → id."""
    counter = iter(range(1, 100_000))

    def make(template: str = "introduction", to: str = "pat@prospect.example", status: str = "queued",
             attempts: int = 0, error: str | None = None) -> int:
        n = next(counter)
        with app.app_context():
            if template == "sign_in_link":
                message = enqueue(template=template, to=[to], idempotency_key=f"test:{n}", sensitive=True,
                                  context={"account": {"name": "Dana"}, "link": SIGN_IN, "minutes": 10},
                                  expires_at=utcnow() + timedelta(minutes=10))
            else:
                message = enqueue(template="introduction", to=[to], idempotency_key=f"test:{n}",
                                  context={"prospect_name": "Pat", "seller": None, "format_name": "Call",
                                           "minutes": 30, "link": BOOKING, "advocate": DANA})
            message.status, message.attempts, message.last_error = OutboxStatus(status), attempts, error
            db.session.commit()
            message_id = message.id
            db.session.remove()
        return message_id

    return make


def stored(app, message_id: int) -> OutboxMessage:
    with app.app_context():
        message = db.session.get(OutboxMessage, message_id)
        db.session.expunge(message)
    return message


def audit(app, kind: str) -> list[AuditEvent]:
    with app.app_context():
        found = db.session.scalars(select(AuditEvent).where(AuditEvent.kind == kind)).all()
        db.session.expunge_all()
    return found


def listed(html: str) -> list[int]:
    import re

    return [int(n) for n in re.findall(r'<tr id="message-(\d+)"', html)]


# --- the list --------------------------------------------------------------------------------


def test_the_list_shows_status_template_recipients_attempts_and_last_error(admin, add):
    dead = add(status="dead", attempts=8, error="SMTPServerDisconnected: Connection unexpectedly closed")
    html = page(admin, "/admin/outbox")
    row = text(section(html, "messages").split(f'id="message-{dead}"')[1].split("</tr>")[0])
    assert "introduction" in row and "Dead" in row and "pat@prospect.example" in row
    assert " 8 " in f" {row} " and "SMTPServerDisconnected" in row


def test_filters_by_status_template_and_recipient(admin, add):
    queued = add(to="ann@example.com")
    dead = add(to="bob@example.com", status="dead")
    sign_in = add(template="sign_in_link", to="Cat@Example.com", status="sent")

    assert listed(page(admin, "/admin/outbox")) == [sign_in, dead, queued]  # newest first
    assert listed(page(admin, "/admin/outbox?status=dead")) == [dead]
    assert listed(page(admin, "/admin/outbox?template=sign_in_link")) == [sign_in]
    assert listed(page(admin, "/admin/outbox?q=cat@exa")) == [sign_in]  # case-insensitive
    assert listed(page(admin, "/admin/outbox?q=example.com&status=queued")) == [queued]
    assert listed(page(admin, "/admin/outbox?q=%25")) == []  # a LIKE wildcard is a plain character
    assert "No message matches" in page(admin, "/admin/outbox?template=ask")


@pytest.mark.parametrize("query", ["status=bogus", "page=0", "page=x", "page=99999999999"])
def test_bad_filters_are_refused_naming_them(admin, query):
    assert admin.get(f"/admin/outbox?{query}").status_code == 422


def test_paginated_fifty_a_page(admin, add):
    ids = [add() for _ in range(53)]
    first = page(admin, "/admin/outbox?status=queued")
    assert listed(first) == ids[::-1][:50]
    assert 'rel="next"' in first and "page 1 of 2" in first
    second = page(admin, "/admin/outbox?status=queued&page=2")
    assert listed(second) == ids[::-1][50:]
    assert "status=queued" in second.split('rel="prev"')[0].rsplit("href=", 1)[1]


def test_the_list_reads_the_same_number_of_queries_for_3_and_60_messages(admin, add, count_queries):
    def measure() -> list[int]:
        counts = []
        for url in ("/admin/outbox", "/admin/outbox?status=dead&q=example",
                    "/admin/outbox?template=introduction"):
            with count_queries() as queries:
                page(admin, url)
            counts.append(len(queries))
        return counts

    for n in range(3):
        add(status=["queued", "dead", "sent"][n % 3])
    few = measure()
    for n in range(57):
        add(status=["queued", "dead", "sent"][n % 3], to=f"p{n}@example.com")
    assert measure() == few
    assert max(few) <= 6


def test_credentials_are_never_shown(admin, add):
    add(template="sign_in_link", status="dead", attempts=8, error="refused")
    add()
    html = page(admin, "/admin/outbox")
    assert "SECRET-SIGN-IN-TOKEN" not in html and "SECRET-BOOKING-TOKEN" not in html
    assert "Body not shown: it holds a one-time sign-in link." in html
    assert "[link]" in html  # the other body, its link hidden


# --- send again, discard ---------------------------------------------------------------------


def test_a_dead_message_is_sent_again_after_confirming(app, admin, add, deliver, smtp):
    dead = add(status="dead", attempts=8, error="SMTPConnectError")
    html = page(admin, "/admin/outbox?status=dead")
    assert f'aria-label="Send message {dead} again…"' in html  # behind a confirmation step

    response = post_form(admin, f"/admin/outbox/{dead}/requeue?status=dead", follow=False)
    assert response.status_code == 302 and response.headers["Location"] == "/admin/outbox?status=dead"
    message = stored(app, dead)
    assert (message.status, message.attempts) == (OutboxStatus.QUEUED, 0)
    assert message.next_attempt_at <= utcnow()
    assert flashed(page(admin, "/admin/outbox")) == [
        f"Message {dead} (introduction) is queued again: the worker sends it on its next round."]
    [event] = audit(app, "outbox.requeued")
    assert (event.subject, event.detail) == (f"outbox:{dead}", {"template": "introduction", "attempts": 8})

    assert deliver().sent == 1
    [sent] = smtp.wait_for("pat@prospect.example")
    assert BOOKING in text_body(sent)


def test_a_message_is_discarded_after_confirming_and_never_sent(app, admin, add, deliver, smtp):
    dead, queued = add(status="dead", attempts=8), add(to="q@example.com")
    html = page(admin, "/admin/outbox")
    assert f'aria-label="Discard message {dead}…"' in html

    for message_id in (dead, queued):
        post_form(admin, f"/admin/outbox/{message_id}/discard")
        assert stored(app, message_id).status is OutboxStatus.DISCARDED
    assert deliver().handled == 0
    assert smtp.messages == []
    assert [e.detail["status"] for e in audit(app, "outbox.discarded")] == ["dead", "queued"]
    told = flashed(page(admin, "/admin/outbox"))
    assert f"Message {queued} (introduction) is discarded: it will not be sent." in told


def test_a_discarded_sign_in_e_mail_loses_its_link(app, admin, add):
    message_id = add(template="sign_in_link")
    post_form(admin, f"/admin/outbox/{message_id}/discard")
    message = stored(app, message_id)
    assert SIGN_IN not in message.body_text and message.body_html is None


@pytest.mark.parametrize("status", ["sent", "queued", "expired", "discarded"])
def test_only_a_dead_message_is_sent_again(app, admin, add, status):
    message_id = add(status=status)
    assert f"Send message {message_id} again" not in page(admin, "/admin/outbox")
    post_form(admin, f"/admin/outbox/{message_id}/requeue")
    assert stored(app, message_id).status is OutboxStatus(status)
    assert flashed(page(admin, "/admin/outbox"))[0].startswith("Nothing was changed. Only a dead message")
    assert audit(app, "outbox.requeued") == []


def test_a_dead_sign_in_e_mail_is_not_sent_again(app, admin, add):
    message_id = add(template="sign_in_link", status="dead", attempts=8)
    post_form(admin, f"/admin/outbox/{message_id}/requeue")
    assert stored(app, message_id).status is OutboxStatus.DEAD
    assert "the person asks for a new link instead" in flashed(page(admin, "/admin/outbox"))[0]


@pytest.mark.parametrize("status", ["sent", "expired", "discarded"])
def test_a_message_already_done_is_not_discarded(app, admin, add, status):
    message_id = add(status=status)
    post_form(admin, f"/admin/outbox/{message_id}/discard")
    assert stored(app, message_id).status is OutboxStatus(status)


def test_an_unknown_message_is_a_404(admin):
    assert post_form(admin, "/admin/outbox/999/requeue").status_code == 404
    assert post_form(admin, "/admin/outbox/999/discard").status_code == 404


def test_an_action_without_its_csrf_token_changes_nothing(app, admin, add):
    message_id = add(status="dead")
    assert admin.post(f"/admin/outbox/{message_id}/requeue").status_code in (302, 400)
    assert stored(app, message_id).status is OutboxStatus.DEAD


@pytest.mark.parametrize("role", ["coordinator", "sales", "advocate"])
def test_only_admins_see_the_outbox(signed_in, add, role):
    message_id = add(status="dead")
    http, _account = signed_in(role)
    assert http.get("/admin/outbox").status_code == 403
    assert post_form(http, f"/admin/outbox/{message_id}/requeue").status_code == 403


def test_admins_find_the_mail_pages_in_their_menu_and_coordinators_do_not(signed_in):
    admin_http, _a = signed_in("admin")
    coordinator_http, _c = signed_in("coordinator")
    assert 'href="/admin/outbox"' in page(admin_http, "/admin/")
    assert 'href="/admin/mail/preview"' in page(admin_http, "/admin/")
    assert 'href="/admin/outbox"' not in page(coordinator_http, "/admin/")
