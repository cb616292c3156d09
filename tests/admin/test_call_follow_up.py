"""The coordinator's decisions after a call, on the request's page: a call that has begun cannot
be cancelled any more, but can be marked a no-show; a call one side says did not take place
waits for the coordinator (it never completes by itself), who marks it a no-show or completes it."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
import time_machine
from sqlalchemy import func, select

from models import (
    Advocate,
    EngagementStatus,
    FeedbackSide,
    OutboxMessage,
    PointsEntry,
    ReferenceRequest,
    RequestStatus,
    db,
)
from tests.calls import MONDAY, book_call, engagement_of
from tests.conftest import csrf_token
from tests.helpers import flashed, section, text
from workflows import bookings, feedback, jobs, quota


@pytest.fixture()
def call(app, make_account, make_advocate, make_request):
    with time_machine.travel(MONDAY, tick=False):
        return book_call(app, make_account, make_advocate, make_request)


def confirm_post(http, page_url: str, action: str):
    page = http.get(page_url).get_data(as_text=True)
    assert f'action="{action}"' in page, page
    return http.post(action, data={"csrf_token": csrf_token(page)})


def points_of(app, advocate_id: int) -> int:
    with app.app_context():
        total = db.session.scalar(select(func.coalesce(func.sum(PointsEntry.delta), 0))
                                  .where(PointsEntry.advocate_id == advocate_id))
        db.session.remove()
    return total


def test_a_past_call_cannot_be_cancelled_but_can_be_marked_a_no_show(app, call, signed_in):
    with time_machine.travel(call.starts_at + timedelta(minutes=40), tick=False):
        with app.app_context(), pytest.raises(bookings.NotMovable, match="can no longer be cancelled"):
            bookings.cancel_booking(call.engagement_id, side="coordinator")
        http, _coordinator = signed_in("coordinator")
        url = f"/admin/requests/{call.request_id}"
        page = http.get(url).get_data(as_text=True)
        assert "The call is booked: to call the request off, cancel the call first" in page
        follow_up = text(section(page, "call-follow-up"))
        assert "The call has begun or is over." in follow_up and "Mark it a no-show…" in follow_up

        response = confirm_post(http, url, f"{url}/call/no-show")

        assert response.status_code == 302
        assert flashed(http.get(url).get_data(as_text=True))[0].startswith("Marked a no-show")
    gone = engagement_of(app, call.engagement_id)
    assert gone.status is EngagementStatus.NO_SHOW
    assert gone.request.status is RequestStatus.CANCELLED
    assert points_of(app, call.advocate_id) == 0
    with app.app_context():
        request = db.session.get(ReferenceRequest, call.request_id)
        assert request.events[-1].kind == "no_show"
        assert quota.quarter_use(db.session.get(Advocate, call.advocate_id), gone.quarter).used == 0
        db.session.remove()
    with time_machine.travel(call.starts_at + timedelta(days=5), tick=False), app.app_context():
        done = jobs.run_due()
        done.pop("match_rows_refreshed")  # five days on, the match rows are recomputed: not about the call
        assert done == dict.fromkeys(done, 0)  # a no-show is asked nothing, completes never
        db.session.remove()


def test_a_call_that_has_not_begun_cannot_be_a_no_show(app, call, signed_in):
    with time_machine.travel(call.starts_at - timedelta(hours=1), tick=False):
        http, _coordinator = signed_in("coordinator")
        url = f"/admin/requests/{call.request_id}"
        assert 'id="call-follow-up"' not in http.get(url).get_data(as_text=True)  # nothing to decide yet
        token = csrf_token(http.get(url).get_data(as_text=True))
        response = http.post(f"{url}/call/no-show", data={"csrf_token": token})
        assert response.status_code == 409
        assert "has not begun: it cannot be marked a no-show yet" in response.get_data(as_text=True)
    assert engagement_of(app, call.engagement_id).status is EngagementStatus.BOOKED


def test_only_staff_decide_and_a_seller_reads_that_the_coordinator_looks_into_it(app, call, signed_in):
    with time_machine.travel(call.ends_at + timedelta(hours=2), tick=False):
        with app.app_context():
            feedback.give_feedback(call.engagement_id, FeedbackSide.PROSPECT,
                                   feedback.FeedbackInput(False, None, "Nobody joined.", None, True))
            db.session.remove()
        with app.app_context():
            seller = db.session.get(ReferenceRequest, call.request_id).requested_by
            db.session.expunge(seller)
        http, _seller = signed_in(account=seller)
        url = f"/admin/requests/{call.request_id}"
        page = http.get(url).get_data(as_text=True)
        said = "the prospect says the call did not take place. The coordinator is looking into it."
        assert said in text(page)
        assert "Mark it a no-show" not in page and "Nobody joined." not in page
        token = csrf_token(page)
        for action in ("no-show", "completed"):
            assert http.post(f"{url}/call/{action}", data={"csrf_token": token}).status_code == 403
    assert engagement_of(app, call.engagement_id).status is EngagementStatus.BOOKED


def test_a_call_one_side_doubts_waits_for_the_coordinator_who_may_complete_it(app, call, signed_in,
                                                                           count_queries):
    with time_machine.travel(call.ends_at + timedelta(hours=1), tick=False), app.app_context():
        assert jobs.run_due()["feedback_requests"] == 1
        db.session.remove()
    with time_machine.travel(call.ends_at + timedelta(hours=2), tick=False), app.app_context():
        feedback.give_feedback(call.engagement_id, FeedbackSide.ADVOCATE,
                               feedback.FeedbackInput(False, None, "", None, True))
        db.session.remove()
    later = call.ends_at + timedelta(days=6)
    with time_machine.travel(later, tick=False):
        with app.app_context():
            assert jobs.run_due()["completed"] == 0  # doubted: never by itself
            db.session.remove()
        http, _coordinator = signed_in("coordinator")
        url = f"/admin/requests/{call.request_id}"
        with count_queries() as queries:
            page = http.get(url).get_data(as_text=True)
        assert len(queries) <= 10, len(queries)  # the follow-up is one query more
        notice = text(section(page, "possible-no-show"))
        assert "Possible no-show: the advocate says the call did not take place." in notice
        timeline = text(section(page, "timeline"))
        assert "Dana Whitfield Gave feedback: the call did not take place" in timeline
        assert "Possible no-show: the advocate says the call did not take place" in timeline

        response = confirm_post(http, url, f"{url}/call/completed")

        assert response.status_code == 302
    done = engagement_of(app, call.engagement_id)
    assert done.status is EngagementStatus.COMPLETED and done.request.status is RequestStatus.COMPLETED
    assert points_of(app, call.advocate_id) == 100
    with app.app_context():
        templates = db.session.scalars(select(OutboxMessage.template)).all()
        assert {"thank_you", "outcome_request"} <= set(templates)
        last = db.session.get(ReferenceRequest, call.request_id).events[-1]
        assert (last.kind, last.detail["how"]) == ("completed", "coordinator") and last.actor_id is not None
        db.session.remove()


def test_the_timeline_shows_ratings_to_staff_only(app, call, signed_in):
    with time_machine.travel(call.ends_at + timedelta(hours=2), tick=False):
        with app.app_context():
            feedback.give_feedback(call.engagement_id, FeedbackSide.PROSPECT,
                                   feedback.FeedbackInput(True, 5, "Secret comment", True, True))
            seller = db.session.get(ReferenceRequest, call.request_id).requested_by
            db.session.expunge(seller)
        staff, _coordinator = signed_in("coordinator")
        sales, _ = signed_in(account=seller)
        url = f"/admin/requests/{call.request_id}"
        for_staff = text(section(staff.get(url).get_data(as_text=True), "timeline"))
        for_sales = text(section(sales.get(url).get_data(as_text=True), "timeline"))
    assert "The prospect Gave feedback: rated the call 5 out of 5, it helped the decision" in for_staff
    assert re.search(r"The prospect Gave feedback(?!:)", for_sales) and "5 out of 5" not in for_sales
    assert "Secret comment" not in for_staff + for_sales


def test_the_apis_timeline_carries_the_follow_up_as_each_viewer_may_see_it(app, call, api_client):
    with time_machine.travel(call.starts_at - timedelta(hours=23), tick=False), app.app_context():
        jobs.run_due()
        db.session.remove()
    with time_machine.travel(call.ends_at + timedelta(hours=1), tick=False), app.app_context():
        jobs.run_due()
        for side, rating in ((FeedbackSide.PROSPECT, 4), (FeedbackSide.ADVOCATE, 5)):
            answers = feedback.FeedbackInput(True, rating, "", None, True)
            feedback.give_feedback(call.engagement_id, side, answers)
        seller = db.session.get(ReferenceRequest, call.request_id).requested_by
        db.session.expunge(seller)
    with time_machine.travel(call.ends_at + timedelta(hours=2), tick=False):
        as_seller, _ = api_client(account=seller)
        as_staff, _ = api_client(role="coordinator")
        seen = {who: api.get(f"/api/v1/requests/{call.request_id}").get_json()["timeline"]
                for who, api in (("seller", as_seller), ("staff", as_staff))}
    for timeline in seen.values():
        kinds = [line["kind"] for line in timeline]
        assert kinds[-5:] == ["reminded", "feedback_requested", "feedback", "feedback", "completed"]
        assert timeline[-1]["text"] == "The reference took place (both sides said so)"
    prospect_line = {v: [line for line in t if line["kind"] == "feedback"][0] for v, t in seen.items()}
    assert prospect_line["staff"]["detail"]["rating"] == 4
    assert prospect_line["staff"]["actor"] == prospect_line["seller"]["actor"] == "The prospect"
    assert "rating" not in prospect_line["seller"]["detail"]
    assert prospect_line["seller"]["detail"]["call_happened"] is True
