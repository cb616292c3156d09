"""After the call: every e-mail of the follow-up read back from the real SMTP server and its links
followed — the reminders, both feedback pages submitted, the thank-you with its figures, the
seller's one-click outcome — and the feedback page's refusals: bad answers, a second use, a
cancelled call, a closed window, a tampered link."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
import time_machine
from sqlalchemy import func, select

from models import (
    EngagementStatus,
    Feedback,
    FeedbackSide,
    PointsEntry,
    ReferenceRequest,
    RequestOutcome,
    RequestStatus,
    db,
)
from tests.calls import ADVOCATE, MONDAY, PROSPECT, SELLER, book_call, engagement_of
from tests.conftest import csrf_token, html_body, text_body
from tests.helpers import flashed, text
from workflows import bookings, jobs
from workflows.links import Purpose
from workflows.prospect_links import token


def path_of(link: str) -> str:
    return "/" + link.split("://", 1)[1].split("/", 1)[1]


def link_in(message, pattern: str = r"https?://\S+/feedback/\S+") -> str:
    found = re.search(pattern, text_body(message))
    assert found, text_body(message)
    return path_of(found.group(0))


def feedback_count(app) -> int:
    with app.app_context():
        count = db.session.scalar(select(func.count(Feedback.id)))
        db.session.remove()
    return count


def answer(client, path: str, **answers):
    page = client.get(path)
    assert page.status_code == 200, page.get_data(as_text=True)
    return client.post(path, data={"csrf_token": csrf_token(page.get_data(as_text=True)), **answers})


@pytest.fixture()
def call(app, make_account, make_advocate, make_request, smtp, deliver):
    with time_machine.travel(MONDAY, tick=False):
        booked = book_call(app, make_account, make_advocate, make_request)
        deliver()
    smtp.clear()
    return booked


@pytest.fixture()
def after_the_call(app, call, smtp, deliver):
    """An hour after the call: both sides were asked for feedback; → (advocate's, prospect's) link."""
    traveller = time_machine.travel(call.ends_at + timedelta(hours=1), tick=False)
    traveller.start()
    with app.app_context():
        assert jobs.run_due()["feedback_requests"] == 1
        db.session.remove()
    deliver()
    [to_advocate] = smtp.to(ADVOCATE)
    [to_prospect] = smtp.to(PROSPECT)
    yield link_in(to_advocate), link_in(to_prospect)
    traveller.stop()


def test_the_whole_follow_up_from_the_reminder_to_the_deal_outcome(app, client, call, smtp, deliver):
    # The day before: both sides are reminded.
    with time_machine.travel(call.starts_at - timedelta(hours=23), tick=False):
        with app.app_context():
            assert jobs.run_due()["reminders"] == 1
            db.session.remove()
        deliver()
    assert [m["Subject"].split(":")[0] for m in smtp.messages] == ["Reminder", "Reminder"]
    smtp.clear()

    # An hour after the call: a feedback link each.
    with time_machine.travel(call.ends_at + timedelta(hours=1), tick=False):
        with app.app_context():
            assert jobs.run_due()["feedback_requests"] == 1
            db.session.remove()
        deliver()
        [to_advocate] = smtp.to(ADVOCATE)
        [to_prospect] = smtp.to(PROSPECT)
        assert to_prospect["Subject"] == "How was your phone call with Dana Whitfield?"
        assert to_advocate["Subject"] == "How was your phone call with Pat Prospect?"
        prospect_link, advocate_link = link_in(to_prospect), link_in(to_advocate)
        assert prospect_link != advocate_link
        assert path_of(re.search(r'href="([^"]+)"', html_body(to_prospect)).group(1)) == prospect_link

        # The prospect: it took place, 5 out of 5, it helped.
        page = client.get(prospect_link)
        html = page.get_data(as_text=True)
        assert page.headers["Referrer-Policy"] == "same-origin"
        assert "How was your phone call with Dana Whitfield?" in text(html)
        assert "Did it help your decision?" in html
        for n, words in enumerate(["Poor", "Fair", "Good", "Very good", "Excellent"]):  # labelled radios
            assert (f'<label for="rating-{n}"><input id="rating-{n}" name="rating" type="radio" '
                    f'value="{n + 1}"> {n + 1} – {words}</label>') in html
        sent = answer(client, prospect_link, call_happened="yes", rating="5", helped_decision="yes",
                      comment="Very candid about the rollout.", shared_with_advocate="y")
        assert sent.status_code == 302
        thanks = client.get(prospect_link).get_data(as_text=True)
        assert flashed(thanks) == ["Thank you for your feedback!"]
        assert "The link works once" in text(thanks)
        assert engagement_of(app, call.engagement_id).status is EngagementStatus.BOOKED  # Dana has not said

        # A second use of the prospect's link keeps the first answer.
        again = client.post(prospect_link, data={"csrf_token": csrf_token(html), "call_happened": "no"})
        assert again.status_code == 409 and "The link works once" in text(again.get_data(as_text=True))
        assert feedback_count(app) == 1

        # The advocate: it took place, 4 out of 5. Both said so: the call completes at once.
        assert "Did it help your decision?" not in client.get(advocate_link).get_data(as_text=True)
        assert answer(client, advocate_link, call_happened="yes", rating="4",
                      comment="Sharp questions.").status_code == 302
        done = engagement_of(app, call.engagement_id)
        assert done.status is EngagementStatus.COMPLETED
        assert done.request.status is RequestStatus.COMPLETED

        smtp.clear()
        deliver()
        [thank_you] = smtp.to(ADVOCATE)
        [outcome] = smtp.to(SELLER)

    # The thank-you: 100 for the call, 20 for the prospect's 5; Occasional → Active at 400.
    assert thank_you["Subject"] == "Thank you for your reference phone call: 120 points"
    body = text_body(thank_you)
    assert "You earned 120 points for it. Your balance is now 120 points." in body
    assert "120 points over the last 12 months: 280 more to reach the Active tier (30% of the way)." in body
    assert path_of(re.search(r"https?://\S+/portal/history", body).group(0)) == "/portal/history"
    with app.app_context():
        ledger = sorted((e.reason, e.delta) for e in db.session.scalars(select(PointsEntry)))
        assert ledger == [("call_completed", 100), ("prospect_feedback", 20)]
        db.session.remove()

    # The seller records the outcome with one click, through a page that names it.
    won = path_of(re.search(r"Won: (\S+)", text_body(outcome)).group(1))
    lost = path_of(re.search(r"Lost: (\S+)", text_body(outcome)).group(1))
    page = client.get(won)
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "Globex rollout" in html and "Record that the deal was won" in text(html)
    with app.app_context():
        assert db.session.get(ReferenceRequest, call.request_id).outcome is RequestOutcome.OPEN  # unchanged
        db.session.remove()
    recorded = client.post(won, data={"csrf_token": csrf_token(html)})
    assert recorded.status_code == 302
    assert "The outcome is recorded: the deal was won" in text(client.get(won).get_data(as_text=True))
    refused = client.get(lost)
    assert refused.status_code == 409 and "already recorded" in refused.get_data(as_text=True)
    with app.app_context():
        request = db.session.get(ReferenceRequest, call.request_id)
        assert request.outcome is RequestOutcome.WON
        kinds = [e.kind for e in request.events]
        db.session.remove()
    assert kinds[-6:] == ["reminded", "feedback_requested", "feedback", "feedback", "completed", "outcome"]


@pytest.mark.parametrize(("answers", "field", "message"), [
    ({"call_happened": "yes", "rating": "0"}, "rating", "Pick a rating from 1 (poor) to 5 (excellent)."),
    ({"call_happened": "yes", "rating": "6"}, "rating", "Pick a rating from 1 (poor) to 5 (excellent)."),
    ({"call_happened": "yes", "rating": "x"}, "rating", "Pick a rating from 1 (poor) to 5 (excellent)."),
    ({"call_happened": "no", "rating": "x"}, "rating", "Pick a rating from 1 (poor) to 5 (excellent)."),
    ({"call_happened": "yes"}, "rating", "so we know how it went"),
    ({"rating": "4"}, "call_happened", "Say whether the call took place."),
    ({"call_happened": "maybe", "rating": "4"}, "call_happened", "Say whether the call took place."),
    ({"call_happened": "yes", "rating": "4", "helped_decision": "perhaps"}, "helped_decision",
     "Pick yes, no or not sure yet."),
    ({"call_happened": "yes", "rating": "4", "comment": "x" * 2001}, "comment", "2000 characters or fewer"),
])
def test_bad_answers_are_refused_beside_the_field_and_nothing_is_saved(app, client, after_the_call, answers,
                                                                     field, message):
    _advocate_link, prospect_link = after_the_call
    response = answer(client, prospect_link, **answers)
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert re.search(rf'id="{field}-error" class="error">[^<]*{re.escape(message)}', html), html
    assert "Nothing was saved" in html
    assert feedback_count(app) == 0
    assert client.get(prospect_link).status_code == 200  # the link still works


def test_a_nul_character_is_refused_and_nothing_is_saved(app, client, after_the_call):
    _advocate_link, prospect_link = after_the_call
    response = answer(client, prospect_link, call_happened="yes", rating="4", comment="bad\x00text")
    assert response.status_code == 422
    assert "cannot be stored" in response.get_data(as_text=True)
    assert feedback_count(app) == 0


def test_a_rating_for_a_call_that_did_not_take_place_is_not_kept(app, client, after_the_call):
    advocate_link, _prospect_link = after_the_call
    assert answer(client, advocate_link, call_happened="no", rating="2").status_code == 302
    with app.app_context():
        [given] = db.session.scalars(select(Feedback)).all()
        assert (given.side, given.call_happened, given.rating) == (FeedbackSide.ADVOCATE, False, None)
        db.session.remove()


def test_a_link_without_its_csrf_token_saves_nothing(app, client, after_the_call):
    _advocate_link, prospect_link = after_the_call
    response = client.post(prospect_link, data={"call_happened": "yes", "rating": "5"})
    assert response.status_code == 400
    assert feedback_count(app) == 0


def test_the_feedback_page_issues_a_fixed_number_of_queries(client, after_the_call, count_queries):
    _advocate_link, prospect_link = after_the_call
    with count_queries() as queries:
        assert client.get(prospect_link).status_code == 200
    assert len(queries) <= 3, queries


def test_a_feedback_link_is_refused_before_the_call_and_for_a_cancelled_one(app, client, call):
    with time_machine.travel(call.starts_at - timedelta(hours=2), tick=False):
        with app.test_request_context():
            engagement = engagement_of(app, call.engagement_id)
            path = f"/feedback/{token(engagement, Purpose.FEEDBACK, side=FeedbackSide.PROSPECT)}"
        early = client.get(path)
        assert early.status_code == 409 and "has not taken place yet" in early.get_data(as_text=True)
        with app.app_context():
            bookings.cancel_booking(call.engagement_id, side="advocate", reason="Something came up.")
            db.session.remove()
        cancelled = client.get(path)
        assert cancelled.status_code == 410 and "This call was cancelled" in cancelled.get_data(as_text=True)
        page_token = csrf_token(client.get("/sign-in").get_data(as_text=True))
        posted = client.post(path, data={"csrf_token": page_token, "call_happened": "yes", "rating": "5"})
        assert posted.status_code == 410
    assert feedback_count(app) == 0


def test_a_feedback_link_is_refused_after_the_window_and_when_tampered(app, client, call, after_the_call):
    _advocate_link, prospect_link = after_the_call
    feedback_token = prospect_link.rsplit("/", 1)[1]
    assert client.get(f"/feedback/{feedback_token[:-2]}xx").status_code == 400
    assert client.get(f"/booking/{feedback_token}").status_code == 400  # a feedback link manages nothing
    with app.test_request_context():
        manage = token(engagement_of(app, call.engagement_id), Purpose.MANAGE_BOOKING)
    assert client.get(f"/feedback/{manage}").status_code == 400  # nor does a managing link give feedback
    with time_machine.travel(call.ends_at + timedelta(days=10, minutes=1), tick=False):
        closed = client.get(prospect_link)
    assert closed.status_code == 410 and "Feedback on this call closed on" in closed.get_data(as_text=True)


def test_the_database_keeps_one_answer_per_side_even_past_the_check(app, client, after_the_call, monkeypatch):
    """Two answers racing past the check (it reads none yet): the one-per-side constraint keeps
    the first, and the second gets the "already given" page, never a 500."""
    from workflows import followup

    _advocate_link, prospect_link = after_the_call
    assert answer(client, prospect_link, call_happened="yes", rating="3").status_code == 302
    monkeypatch.setattr(followup, "feedback_of", lambda *_args: None)
    again = answer(client, prospect_link, call_happened="no")
    assert again.status_code == 409 and "The link works once" in again.get_data(as_text=True)
    with app.app_context():
        [kept] = db.session.scalars(select(Feedback)).all()
        assert (kept.call_happened, kept.rating) == (True, 3)
        db.session.remove()
