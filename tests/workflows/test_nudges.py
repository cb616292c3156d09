"""The e-mails that nudge an advocate (DESIGN.md §6), through ``flask jobs run``'s jobs and a real
SMTP server: the quarterly "is your availability still right?" with its one-click confirmation
(GET shows, POST stamps) and its unsubscribe headers, and the reminder of an unanswered ask."""

from __future__ import annotations

import re
from datetime import UTC, datetime, time, timedelta

import pytest
from sqlalchemy import func, select

from models import Advocate, AuditEvent, OutboxMessage, WeeklyWindow, db
from models.types import utcnow
from tests.conftest import csrf_token, text_body
from tests.helpers import text
from workflows import jobs, nudges

DAY = timedelta(days=1)


def run_jobs(app, now=None) -> dict[str, int]:
    with app.app_context():
        counts = jobs.run_due(now=now)
        db.session.remove()
    return counts


def reviewed_at(app, advocate_id: int):
    with app.app_context():
        value = db.session.get(Advocate, advocate_id).last_reviewed_at
        db.session.remove()
    return value


def nudges_queued(app) -> int:
    with app.app_context():
        count = db.session.scalar(select(func.count()).select_from(OutboxMessage)
                                  .where(OutboxMessage.template == "availability_nudge"))
        db.session.remove()
    return count


def path_of(link: str) -> str:
    return "/" + link.split("://", 1)[1].split("/", 1)[1]


def confirm_path(message) -> str:
    return path_of(re.search(r"http://vouch\.test/review/\S+", text_body(message)).group(0))


@pytest.fixture()
def stale(make_advocate, app):
    """An advocate whose profile was last reviewed 91 days ago, with a weekly window."""
    advocate = make_advocate(name="Dana Stale", email="dana@example.com", timezone="Europe/Berlin",
                             last_reviewed_at=utcnow() - 91 * DAY)
    with app.app_context():
        db.session.add(WeeklyWindow(advocate_id=advocate.id, weekday=1, starts=time(9), ends=time(12)))
        db.session.commit()
        db.session.remove()
    return advocate


# --- who is nudged, and once -------------------------------------------------------------------


def test_a_profile_not_reviewed_for_90_days_gets_one_nudge_however_often_the_jobs_run(
    app, stale, make_advocate, deliver, smtp
):
    make_advocate(email="fresh@example.com", last_reviewed_at=utcnow() - 10 * DAY)

    assert run_jobs(app)["nudges"] == 1
    assert run_jobs(app)["nudges"] == 0
    assert run_jobs(app, now=utcnow() + 30 * DAY)["nudges"] == 0  # the same review period
    deliver()

    [message] = smtp.wait_for("dana@example.com")
    assert message["Subject"] == "Is your availability still right?"
    body = text_body(message)
    assert "Tuesdays 09:00–12:00" in body and "Europe/Berlin" in body
    assert "http://vouch.test/portal/availability" in body
    assert smtp.to("fresh@example.com") == []


def test_a_second_period_unreviewed_gets_a_second_nudge(app, stale):
    """Periods of 90 days from the last review: the first nudge came on day 91, the second on
    day 180."""
    assert run_jobs(app)["nudges"] == 1
    assert run_jobs(app, now=utcnow() + 88 * DAY)["nudges"] == 0
    assert run_jobs(app, now=utcnow() + 90 * DAY)["nudges"] == 1
    assert nudges_queued(app) == 2


def joined(app, advocate, when) -> None:
    with app.app_context():
        db.session.get(Advocate, advocate.id).consent_at = when
        db.session.commit()
        db.session.remove()


def test_a_profile_never_reviewed_counts_from_joining(app, make_advocate):
    joined(app, make_advocate(email="joined-long-ago@example.com"), utcnow() - 120 * DAY)
    joined(app, make_advocate(email="joined-last-week@example.com"), utcnow() - 7 * DAY)

    assert run_jobs(app)["nudges"] == 1
    with app.app_context():
        [message] = db.session.scalars(select(OutboxMessage)).all()
        assert message.to == ["joined-long-ago@example.com"]
        assert "since you joined" in message.body_text
        db.session.remove()


@pytest.mark.parametrize("status", ["paused", "retired", "candidate", "invited"])
def test_only_advocates_in_the_program_are_nudged(app, make_advocate, status):
    make_advocate(status=status, last_reviewed_at=utcnow() - 200 * DAY)
    assert run_jobs(app)["nudges"] == 0


def test_a_deactivated_account_is_not_nudged(app, stale):
    from models import Account

    with app.app_context():
        db.session.get(Account, stale.account_id).active = False
        db.session.commit()
        db.session.remove()
    assert run_jobs(app)["nudges"] == 0


# --- the e-mail: program mail, with its unsubscribe link and headers ----------------------------


def test_the_nudge_carries_the_one_click_unsubscribe_headers_and_transactional_mail_does_not(
    app, stale, deliver, smtp, client
):
    from workflows import auth

    run_jobs(app)
    with app.app_context():
        auth.request_link(stale.account.email)
        db.session.remove()
    deliver()

    nudge, sign_in = sorted(smtp.wait_for("dana@example.com", 2), key=lambda m: "sign-in" in m["Subject"])
    assert sign_in["Subject"].endswith("sign-in link")
    unsubscribe = re.fullmatch(r"<(http://vouch\.test/unsubscribe/[^>\s]+)>", nudge["List-Unsubscribe"])
    assert unsubscribe, nudge["List-Unsubscribe"]
    assert nudge["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert unsubscribe.group(1) in text_body(nudge)  # the footer shows the same link
    assert sign_in["List-Unsubscribe"] is None and sign_in["List-Unsubscribe-Post"] is None
    assert "unsubscribe" not in text_body(sign_in).lower()


def test_an_unsubscribed_advocate_gets_no_nudge_but_still_gets_a_sign_in_link(
    app, stale, deliver, smtp, client
):
    from workflows import auth, unsubscribe

    with app.app_context():
        link = unsubscribe.link(stale.account.email)
    response = client.post(path_of(link), data={"List-Unsubscribe": "One-Click"})
    assert response.status_code == 200

    assert run_jobs(app)["nudges"] == 0
    with app.app_context():
        auth.request_link(stale.account.email)
        db.session.remove()
    deliver()
    [message] = smtp.wait_for("dana@example.com")
    assert message["Subject"].endswith("sign-in link")
    assert nudges_queued(app) == 0


# --- the one-click confirmation -----------------------------------------------------------------


def test_opening_the_confirm_link_changes_nothing_and_its_button_stamps_the_review(
    app, stale, deliver, smtp, client
):
    before = reviewed_at(app, stale.id)
    run_jobs(app)
    deliver()
    path = confirm_path(smtp.wait_for("dana@example.com")[0])

    opened = client.get(path)
    assert opened.status_code == 200
    assert opened.headers["Cache-Control"] == "no-store"
    assert "Tuesdays 09:00–12:00" in text(opened.get_data(as_text=True))
    assert client.head(path).status_code == 200
    assert reviewed_at(app, stale.id) == before  # a mail scanner opening it changes nothing

    response = client.post(path, data={"csrf_token": csrf_token(opened.get_data(as_text=True))})
    assert response.status_code == 302 and response.headers["Location"] == path
    after = reviewed_at(app, stale.id)
    assert after > before + 90 * DAY
    page = client.get(path).get_data(as_text=True)
    assert "Thank you: your availability is confirmed." in page
    assert "nothing more to do" in page and "<button" not in page.split("</nav>")[-1].split("Sign in")[0]
    with app.app_context():
        kinds = db.session.scalars(select(AuditEvent.kind)).all()
        db.session.remove()
    assert "profile.reviewed" in kinds
    assert run_jobs(app)["nudges"] == 0  # reviewed: a new period, not due


def test_the_confirm_button_needs_its_csrf_token(app, stale, deliver, smtp, client):
    run_jobs(app)
    deliver()
    path = confirm_path(smtp.wait_for("dana@example.com")[0])
    assert client.post(path).status_code == 400
    assert reviewed_at(app, stale.id) < utcnow() - 90 * DAY


def test_a_link_whose_period_was_reviewed_otherwise_says_so(app, stale, deliver, smtp, client):
    from workflows import profiles

    run_jobs(app)
    deliver()
    path = confirm_path(smtp.wait_for("dana@example.com")[0])
    with app.app_context():
        profiles.mark_reviewed(stale.id, now=utcnow())
        db.session.remove()
    page = client.get(path).get_data(as_text=True)
    assert "nothing more to do" in page
    assert 'aria-label="Confirm your availability"' not in page


@pytest.mark.parametrize("mangle", [lambda t: t[:-2] + ("AA" if not t.endswith("AA") else "BB"),
                                    lambda t: "not-a-token", lambda t: t.split(".")[0]])
def test_a_tampered_confirm_link_is_refused_with_a_page(app, stale, deliver, smtp, client, mangle):
    run_jobs(app)
    deliver()
    token = confirm_path(smtp.wait_for("dana@example.com")[0]).removeprefix("/review/")
    response = client.get(f"/review/{mangle(token)}")
    assert response.status_code == 400
    assert "This link is not valid" in response.get_data(as_text=True)


def test_a_confirm_link_from_another_period_has_expired(app, stale, deliver, smtp, client, time_machine):
    run_jobs(app)
    deliver()
    path = confirm_path(smtp.wait_for("dana@example.com")[0])
    time_machine.move_to(datetime.now(UTC) + 91 * DAY)
    response = client.get(path)
    assert response.status_code == 410
    assert "This link has expired" in response.get_data(as_text=True)


# --- the ask reminder ---------------------------------------------------------------------------


def test_an_ask_unanswered_half_way_to_its_expiry_is_reminded_once(
    app, make_advocate, make_ask, deliver, smtp
):
    advocate = make_advocate(email="asked@example.com", last_reviewed_at=utcnow())
    ask = make_ask(advocate)  # made now, 48 hours to answer
    make_ask(make_advocate(last_reviewed_at=utcnow()), status="accepted")

    assert run_jobs(app, now=utcnow() + 23 * timedelta(hours=1))["ask_reminders"] == 0  # not half-way
    assert run_jobs(app, now=utcnow() + 25 * timedelta(hours=1))["ask_reminders"] == 1
    assert run_jobs(app, now=utcnow() + 30 * timedelta(hours=1))["ask_reminders"] == 0  # once
    deliver()
    [message] = smtp.wait_for("asked@example.com")
    assert "Reminder: could you help with a phone call? Answer by" in message["Subject"]
    assert f"http://vouch.test/portal/asks/{ask.id}" in text_body(message)
    assert message["List-Unsubscribe"] is None  # about an ask: transactional


def test_an_answered_ask_is_not_reminded(app, make_advocate, make_ask):
    make_ask(make_advocate(last_reviewed_at=utcnow()), status="declined")
    assert run_jobs(app, now=utcnow() + 25 * timedelta(hours=1))["ask_reminders"] == 0


def test_the_jobs_say_what_they_did():
    counts = dict.fromkeys(jobs.JOBS, 1)
    described = jobs.describe(counts)
    assert "reminded advocates of 1 ask" in described
    assert "nudged 1 advocate to review their availability" in described
    assert nudges.TEMPLATE == "availability_nudge"
