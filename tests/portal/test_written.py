"""Written references: the advocate answers the request's questions, saves drafts, submits once."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from models import Engagement, RequestEvent, Role, WrittenAnswer, db
from models.types import utcnow
from tests.conftest import csrf_token, text_body
from workflows import written as flow

QUESTIONS = ["How long did the roll-out take?", "What changed for your team?", "Would you choose us again?"]


@pytest.fixture()
def advocate(make_advocate, sign_in):
    advocate = make_advocate(name="Dana Whitfield", timezone="Europe/Berlin")
    sign_in(advocate.account)
    return advocate


@pytest.fixture()
def coordinator(make_account):
    return make_account(role=Role.COORDINATOR, name="Cora Ordinator", email="cora@vouch.example")


@pytest.fixture()
def written(advocate, coordinator, make_request, make_ask, make_engagement):
    """An accepted written ask of ``advocate`` and its engagement, awaiting the answers."""

    def make(questions=QUESTIONS, owner=None, **fields):
        owner = owner or advocate
        request = make_request(format="written", questions=list(questions),
                               prospect_company="Zephyr Hospitals AG")
        ask = make_ask(owner, request=request, status="accepted", asked_by_id=coordinator.id)
        return make_engagement(owner, status=fields.pop("status", "awaiting_booking"), format="written",
                               request_id=request.id, ask_id=ask.id, **fields)

    return make


def url(engagement_id: int) -> str:
    return f"/portal/written/{engagement_id}"


def post(client, engagement_id: int, answers: list[str], button: str = "save_draft"):
    token = csrf_token(client.get("/portal").get_data(as_text=True))
    data = {"csrf_token": token, button: "1"}
    data.update({f"answer_{i}": answer for i, answer in enumerate(answers)})
    return client.post(url(engagement_id), data=data)


def stored(app, engagement_id: int) -> tuple[list[tuple[int, str, str]], object]:
    with app.app_context():
        engagement = db.session.get(Engagement, engagement_id)
        rows = [(a.position, a.question, a.answer) for a in engagement.answers]
        submitted = engagement.answers_submitted_at
        db.session.remove()
    return rows, submitted


def test_the_page_lists_each_question_as_the_label_of_its_answer(client, written):
    engagement = written()

    response = client.get(url(engagement.id))

    html = response.get_data(as_text=True)
    assert response.status_code == 200
    for position, question in enumerate(QUESTIONS):
        assert f'<label for="answer_{position}">{question}</label>' in html
        assert re.search(rf'<textarea[^>]*id="answer_{position}"', html)
    assert 'value="Save draft"' in html and 'value="Submit answers"' in html
    assert "Zephyr Hospitals AG" in html  # accepted: the prospect is known


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_another_advocates_engagement_is_not_found(app, client, written, make_advocate, method):
    theirs = written(owner=make_advocate())
    response = client.get(url(theirs.id)) if method == "GET" else post(client, theirs.id, ["x", "y", "z"])
    assert response.status_code == 404
    assert stored(app, theirs.id) == ([], None)


def test_a_call_engagement_has_no_written_page(client, advocate, make_engagement):
    call = make_engagement(advocate, status="awaiting_booking")
    assert client.get(url(call.id)).status_code == 404


def test_a_draft_is_saved_as_often_as_wanted_empty_answers_included(app, client, written):
    engagement = written()

    first = post(client, engagement.id, ["Six weeks.", "", ""])
    assert first.status_code == 302 and first.headers["Location"] == url(engagement.id)
    assert stored(app, engagement.id) == (
        [(0, QUESTIONS[0], "Six weeks."), (1, QUESTIONS[1], ""), (2, QUESTIONS[2], "")], None)

    post(client, engagement.id, ["Six weeks, in fact.", "Fewer\r\nspreadsheets.", ""])
    assert stored(app, engagement.id) == ([
        (0, QUESTIONS[0], "Six weeks, in fact."),
        (1, QUESTIONS[1], "Fewer\nspreadsheets."),
        (2, QUESTIONS[2], ""),
    ], None)
    html = client.get(url(engagement.id)).get_data(as_text=True)
    assert "Draft saved." in html
    assert "Six weeks, in fact." in html  # the draft comes back in the form
    with app.app_context():
        assert len(db.session.scalars(select(WrittenAnswer)).all()) == 3


def test_submitting_needs_every_question_answered_and_saves_nothing_otherwise(app, client, written):
    engagement = written()
    post(client, engagement.id, ["Six weeks.", "", ""])
    before = stored(app, engagement.id)

    response = post(client, engagement.id, ["Six weeks.", "Less work.", "   "], button="submit_answers")

    assert response.status_code == 400
    assert "Question 3 has no answer yet" in response.get_data(as_text=True)
    assert stored(app, engagement.id) == before


def test_an_answer_over_5000_characters_is_refused(app, client, written):
    engagement = written()
    response = post(client, engagement.id, ["x" * 5001, "", ""])
    assert response.status_code == 400
    assert "Keep each answer to 5000 characters or fewer." in response.get_data(as_text=True)
    assert stored(app, engagement.id) == ([], None)
    assert post(client, engagement.id, ["x" * 5000, "", ""]).status_code == 302


def test_the_length_rule_alone_names_the_question():
    flow.check_lengths(["a" * 5000])
    with pytest.raises(flow.WrittenError) as refused:
        flow.check_lengths(["ok", "b" * 5001])
    assert refused.value.position == 1


def test_submitting_stores_the_answers_and_makes_them_read_only(app, client, written, coordinator, deliver,
                                                                 smtp):
    engagement = written()
    answers = ["Six weeks.", "Fewer spreadsheets.", "Yes, <gladly>."]

    response = post(client, engagement.id, answers, button="submit_answers")

    assert response.status_code == 302
    rows, submitted = stored(app, engagement.id)
    assert [r[2] for r in rows] == answers and submitted is not None
    with app.app_context():
        events = db.session.scalars(
            select(RequestEvent).where(RequestEvent.request_id == engagement.request_id)
        ).all()
        assert [(e.kind, e.detail, e.actor.name) for e in events] == [
            ("answers_submitted", {"advocate_id": engagement.advocate_id}, "Dana Whitfield")
        ]

    html = client.get(url(engagement.id)).get_data(as_text=True)
    assert "Your answers are submitted." in html
    assert "<textarea" not in html and "Save draft" not in html
    assert "Yes, &lt;gladly&gt;." in html

    again = post(client, engagement.id, ["Changed.", "Changed.", "Changed."])
    assert again.status_code == 409
    assert "they can no longer be changed" in again.get_data(as_text=True)
    assert stored(app, engagement.id) == (rows, submitted)

    deliver()
    [message] = smtp.wait_for(coordinator.email)
    assert message["Subject"] == "Dana Whitfield submitted written answers for Zephyr Hospitals AG"
    assert "waiting for your approval" in text_body(message)


def test_a_cancelled_written_reference_takes_no_answers(app, client, written):
    engagement = written(status="cancelled")
    response = post(client, engagement.id, ["a", "b", "c"], button="submit_answers")
    assert response.status_code == 409
    assert "This reference was cancelled" in response.get_data(as_text=True)
    assert stored(app, engagement.id) == ([], None)


def test_a_request_without_questions_says_the_coordinator_will_be_in_touch(client, written):
    engagement = written(questions=[])
    html = client.get(url(engagement.id)).get_data(as_text=True)
    assert "No questions came with this request yet" in html
    assert "<textarea" not in html


def test_the_home_page_shows_a_submitted_reference_as_waiting_for_approval(client, written):
    engagement = written()
    post(client, engagement.id, ["a", "b", "c"], button="submit_answers")
    html = client.get("/portal").get_data(as_text=True)
    assert "waiting for approval" in html
    assert "See your answers" in html


def test_the_workflow_directly_refuses_a_second_submit(app, written, advocate):
    engagement = written()
    with app.app_context():
        flow.submit_answers(engagement.id, advocate.id, ["a", "b", "c"], now=utcnow())
        with pytest.raises(flow.AlreadySubmitted):
            flow.save_draft(engagement.id, advocate.id, ["d", "e", "f"])
        db.session.remove()
    assert [r[2] for r in stored(app, engagement.id)[0]] == ["a", "b", "c"]


def test_the_written_page_issues_the_same_number_of_queries_whatever_the_questions(
    client, written, count_queries
):
    def measure(count: int) -> int:
        engagement = written(questions=[f"Question number {n}?" for n in range(count)])
        post(client, engagement.id, [f"Answer {n}" for n in range(count)])
        with count_queries() as queries:
            response = client.get(url(engagement.id))
        assert response.status_code == 200
        return len(queries)

    one, fifteen = measure(1), measure(15)
    assert one == fifteen
    assert fifteen <= 6
