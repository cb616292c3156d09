"""The periodic jobs around a booked call: reminders the day before, feedback requests after it,
completion when nobody says otherwise in time. Each is safe to run twice and in two threads at
once (on PostgreSQL too, with TEST_DATABASE_URL): one e-mail per engagement and side."""

from __future__ import annotations

import re
import threading
from collections import Counter
from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from sqlalchemy import func, select

from models import (
    Advocate,
    Engagement,
    EngagementStatus,
    FeedbackSide,
    OutboxMessage,
    PointsEntry,
    ReferenceRequest,
    RequestEvent,
    RequestStatus,
    db,
)
from tests.calls import ADVOCATE, MONDAY, PROSPECT, SELLER, book_call, booked_calls, engagement_of
from tests.conftest import text_body
from workflows import bookings, feedback, jobs, points
from workflows.slots import booking_rules, open_slots

CALLS = 3


def outbox(app) -> Counter:
    """How many messages of each template the outbox holds."""
    with app.app_context():
        found = Counter(db.session.scalars(select(OutboxMessage.template)).all())
        db.session.remove()
    return found


def run(app, moment) -> dict[str, int]:
    with time_machine.travel(moment, tick=False), app.app_context():
        counts = jobs.run_due()
        db.session.remove()
    del counts["match_rows_refreshed"]  # time moves the match rows on too: not what these tests count
    return counts


def nothing_but(**counts) -> dict[str, int]:
    return {**{job: 0 for job in jobs.JOBS if job != "match_rows_refreshed"}, **counts}


@pytest.fixture()
def calls(app, make_account, make_advocate, make_request, make_ask, make_engagement):
    with time_machine.travel(MONDAY, tick=False):
        return booked_calls(app, make_account, make_advocate, make_request, make_ask, make_engagement, CALLS,
                            starts_at=MONDAY + timedelta(days=2))


def test_each_job_run_twice_sends_one_email_per_engagement_and_side(app, calls):
    start, end = calls[0].starts_at, calls[0].ends_at

    assert run(app, start - timedelta(hours=25)) == nothing_but()  # not due yet
    assert run(app, start - timedelta(hours=23)) == nothing_but(reminders=CALLS)
    assert run(app, start - timedelta(hours=22)) == nothing_but()
    assert outbox(app) == {"reminder": 2 * CALLS}

    assert run(app, end + timedelta(minutes=59)) == nothing_but()
    assert run(app, end + timedelta(hours=1)) == nothing_but(feedback_requests=CALLS)
    assert run(app, end + timedelta(hours=2)) == nothing_but()
    assert outbox(app) == {"reminder": 2 * CALLS, "feedback_request": 2 * CALLS}

    asked = end + timedelta(hours=1)
    assert run(app, asked + timedelta(days=3) - timedelta(minutes=1)) == nothing_but()
    assert run(app, asked + timedelta(days=3)) == nothing_but(completed=CALLS)
    assert run(app, asked + timedelta(days=4)) == nothing_but()
    assert outbox(app) == {"reminder": 2 * CALLS, "feedback_request": 2 * CALLS, "thank_you": CALLS,
                           "outcome_request": CALLS}
    with app.app_context():
        for call in calls:
            engagement = db.session.get(Engagement, call.engagement_id)
            assert engagement.status is EngagementStatus.COMPLETED
            assert engagement.request.status is RequestStatus.COMPLETED
            kinds = [e.kind for e in engagement.request.events]
            assert kinds == ["reminded", "feedback_requested", "completed"]
            assert engagement.request.events[-1].detail["how"] == "by_itself"
        assert db.session.scalar(select(func.count(PointsEntry.id))) == CALLS  # no bonus: nobody rated
        db.session.remove()


def test_two_runs_at_once_send_one_email_per_engagement_and_side(app, calls):
    start, end = calls[0].starts_at, calls[0].ends_at
    asked = end + timedelta(hours=1)
    for moment, job, template in [
        (start - timedelta(hours=23), "reminders", "reminder"),
        (asked, "feedback_requests", "feedback_request"),
        (asked + timedelta(days=3), "completed", "thank_you"),
    ]:
        barrier = threading.Barrier(2, timeout=30)
        results: list[dict[str, int]] = []
        errors: list[BaseException] = []

        def worker(moment=moment, barrier=barrier, results=results, errors=errors):
            try:
                with time_machine.travel(moment, tick=False), app.app_context():
                    barrier.wait()
                    results.append(jobs.run_due())
                    db.session.remove()
            except BaseException as exc:  # reported below, in the test's thread
                errors.append(exc)

        threads = [threading.Thread(target=worker) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        assert errors == []
        assert sum(result[job] for result in results) == CALLS, results
        assert outbox(app)[template] == (CALLS if template == "thank_you" else 2 * CALLS)
    with app.app_context():
        assert db.session.scalar(select(func.count(PointsEntry.id))) == CALLS
        completed = select(func.count(RequestEvent.id)).where(RequestEvent.kind == "completed")
        assert db.session.scalar(completed) == CALLS
        db.session.remove()


def test_reminders_reach_both_sides_in_their_zones_with_the_join_details(
    app, client, make_account, make_advocate, make_request, smtp, deliver
):
    with time_machine.travel(MONDAY, tick=False):
        call = book_call(app, make_account, make_advocate, make_request)
        deliver()  # the introduction and the booking confirmations
    smtp.clear()
    with time_machine.travel(call.starts_at - timedelta(hours=23), tick=False):
        with app.app_context():
            assert jobs.run_due()["reminders"] == 1
            db.session.remove()
        deliver()
        [to_advocate] = smtp.to(ADVOCATE)
        [to_prospect] = smtp.to(PROSPECT)
        berlin = call.starts_at.astimezone(ZoneInfo("Europe/Berlin"))
        los_angeles = call.starts_at.astimezone(ZoneInfo("America/Los_Angeles"))
        assert to_advocate["Subject"] == (f"Reminder: your reference phone call with Pat Prospect on "
                                          f"{berlin:%a %d %b %Y, %H:%M} (Europe/Berlin)")
        assert to_prospect["Subject"] == (f"Reminder: your reference phone call with Dana Whitfield on "
                                          f"{los_angeles:%a %d %b %Y, %H:%M} (America/Los_Angeles)")
        for message in (to_advocate, to_prospect):
            assert "Join: https://meet.example/dana" in text_body(message)
        assert "Globex Corp" in text_body(to_advocate)
        manage = re.search(r"https?://\S+/booking/\S+", text_body(to_prospect)).group(0)
        page = client.get(manage.split("vouch.test", 1)[1])
        assert page.status_code == 200 and "Move it to another time" in page.get_data(as_text=True)
        portal = re.search(r"https?://\S+/portal/calls/(\d+)", text_body(to_advocate))
        assert int(portal.group(1)) == call.engagement_id  # the call's own page in the portal
    with app.app_context():
        kinds = [e.kind for e in db.session.get(ReferenceRequest, call.request_id).events]
        assert kinds[-1] == "reminded"
        db.session.remove()


def test_a_rescheduled_call_is_reminded_again_for_its_new_time(
    app, make_account, make_advocate, make_request, smtp, deliver
):
    with time_machine.travel(MONDAY, tick=False):
        call = book_call(app, make_account, make_advocate, make_request)
    reminded_at = call.starts_at - timedelta(hours=23)
    assert run(app, reminded_at)["reminders"] == 1
    with time_machine.travel(reminded_at, tick=False), app.app_context():
        advocate = db.session.get(Advocate, call.advocate_id)
        later = [s.start for s in open_slots(advocate, now=reminded_at, rules=booking_rules(),
                                             ignore_engagement=call.engagement_id)
                 if s.start >= call.starts_at + timedelta(days=2)][0]
        db.session.remove()
        bookings.reschedule(call.engagement_id, later)
        db.session.remove()
    assert engagement_of(app, call.engagement_id).reminded_at is None
    assert run(app, reminded_at + timedelta(minutes=5))["reminders"] == 0  # not due for the new time
    assert run(app, later - timedelta(hours=23))["reminders"] == 1
    assert run(app, later - timedelta(hours=22))["reminders"] == 0
    with time_machine.travel(later - timedelta(hours=22), tick=False):
        deliver()
    reminders = [m for m in smtp.to(PROSPECT) if m["Subject"].startswith("Reminder:")]
    assert len(reminders) == 2
    los_angeles = later.astimezone(ZoneInfo("America/Los_Angeles"))
    assert reminders[-1]["Subject"].endswith(f"{los_angeles:%a %d %b %Y, %H:%M} (America/Los_Angeles)")


def test_no_reminder_for_a_call_that_has_begun_or_was_cancelled(app, calls):
    with time_machine.travel(MONDAY, tick=False), app.app_context():
        bookings.cancel_booking(calls[0].engagement_id, side="prospect")
        db.session.remove()
    assert run(app, calls[0].starts_at + timedelta(minutes=1))["reminders"] == 0  # begun: too late
    assert run(app, calls[0].starts_at - timedelta(hours=1))["reminders"] == CALLS - 1


def test_the_cli_runs_every_due_job_once_and_says_what_it_did(app, runner, calls):
    with time_machine.travel(calls[0].starts_at - timedelta(hours=23), tick=False):
        first = runner.invoke(args=["jobs", "run"])
        again = runner.invoke(args=["jobs", "run"])
    assert first.exit_code == 0, first.output
    assert first.output.splitlines() == ["expired 0 asks", "reminded advocates of 0 asks",
                                         f"reminded {CALLS} calls", "asked for feedback on 0 calls",
                                         "completed 0 calls",
                                         "nudged 0 advocates to review their availability",
                                         "reminded 0 invitations to the program",
                                         "suggested 0 tier changes",
                                         "refreshed 0 match rows time had overtaken"]
    assert "reminded 0 calls" in again.output


def test_a_seller_is_asked_for_the_outcome_once_with_links_to_each_choice(
    app, make_account, make_advocate, make_request, smtp, deliver
):
    with time_machine.travel(MONDAY, tick=False):
        call = book_call(app, make_account, make_advocate, make_request)
    asked = call.ends_at + timedelta(hours=1)
    run(app, asked)
    run(app, asked + timedelta(days=3))
    with time_machine.travel(asked + timedelta(days=3), tick=False):
        deliver()
    [message] = [m for m in smtp.to(SELLER) if "deal" in m["Subject"]]
    body = text_body(message)
    assert message["Subject"] == "The reference for Globex Corp took place: how did the deal end?"
    assert re.search(r"Won: http://vouch\.test/outcome/\S+", body)
    assert re.search(r"Lost: http://vouch\.test/outcome/\S+", body)
    assert f"http://vouch.test/admin/requests/{call.request_id}" in body


def test_a_good_rating_given_after_the_call_completed_by_itself_still_earns_the_bonus_once(app, calls):
    [first, *_others] = calls
    asked = first.ends_at + timedelta(hours=1)
    run(app, asked)
    run(app, asked + timedelta(days=3))
    assert engagement_of(app, first.engagement_id).status is EngagementStatus.COMPLETED
    with time_machine.travel(asked + timedelta(days=4), tick=False), app.app_context():
        answers = feedback.FeedbackInput(True, 5, "", True, True)
        feedback.give_feedback(first.engagement_id, FeedbackSide.PROSPECT, answers)
        with pytest.raises(feedback.AlreadyGiven):
            feedback.give_feedback(first.engagement_id, FeedbackSide.PROSPECT, answers)
        assert points.balance(first.advocate_id) == 120
        db.session.remove()


def test_jobs_that_did_not_run_for_days_ask_no_feedback_too_late_and_complete_after_their_days(app, calls):
    end = calls[0].ends_at
    late = end + timedelta(days=11)  # past the feedback window: a link would be refused
    assert run(app, late) == nothing_but(feedback_requests=CALLS)  # the reminders' time has passed
    assert outbox(app) == {}
    assert run(app, late + timedelta(days=3)) == nothing_but(completed=CALLS)
