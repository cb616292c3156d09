"""Every prospect link is refused with a clear page and a 4xx, never a 500 (DESIGN.md §7.9):
tampered, made for another purpose, expired, past the day its engagement closes it, already used
where it is single-use, or for an engagement that is gone. The pages that exist here (book,
manage, read) are walked over HTTP; the feedback link, whose page lives elsewhere, is checked
where every page reads it, ``prospect_links.read``."""

from __future__ import annotations

import base64
import json
from datetime import timedelta

import pytest
import time_machine
from itsdangerous import URLSafeTimedSerializer

from models import Engagement, RequestStatus, WrittenAnswer, db
from models.types import utcnow
from tests.conftest import csrf_token
from workflows import prospect_links
from workflows.links import Purpose, sign
from workflows.prospect_links import MAX_AGE, LinkRefused

# The routes each purpose's link opens: (method, path with {t} for the token).
ROUTES = {
    Purpose.BOOK: [("GET", "/book/{t}"), ("POST", "/book/{t}")],
    Purpose.MANAGE_BOOKING: [("GET", "/booking/{t}"), ("POST", "/booking/{t}/move"),
                             ("POST", "/booking/{t}/cancel")],
    Purpose.READ_ANSWERS: [("GET", "/read/{t}")],
}
CASES = [(purpose, method, path) for purpose, routes in ROUTES.items() for method, path in routes]
CASE_IDS = [f"{method} {path.format(t='TOKEN')}" for _purpose, method, path in CASES]
ALL_PROSPECT_PURPOSES = (Purpose.BOOK, Purpose.MANAGE_BOOKING, Purpose.FEEDBACK, Purpose.READ_ANSWERS)
# What a link of one purpose is never accepted as: every other purpose there is.
OTHERS = {purpose: [other for other in Purpose if other is not purpose] for purpose in ALL_PROSPECT_PURPOSES}


@pytest.fixture()
def engagements(app, make_advocate, make_request, make_ask, make_engagement):
    """One engagement in the state each purpose's link is made for: → {purpose: engagement id}."""
    dana = make_advocate(name="Dana Whitfield")

    def engagement(status: str, fmt: str = "call", request_status=RequestStatus.MATCHED, **fields):
        questions = ["Why?"] if fmt == "written" else []
        request = make_request(format=fmt, status=request_status, questions=questions)
        ask = make_ask(dana, request=request, status="accepted")
        return make_engagement(dana, status=status, format=fmt, request_id=request.id, ask_id=ask.id,
                               **fields).id

    ids = {
        Purpose.BOOK: engagement("awaiting_booking"),
        Purpose.MANAGE_BOOKING: engagement("booked", request_status=RequestStatus.SCHEDULED),
        Purpose.FEEDBACK: engagement("completed", request_status=RequestStatus.COMPLETED,
                                     starts_at=utcnow() - timedelta(hours=3)),
        Purpose.READ_ANSWERS: engagement("completed", fmt="written", request_status=RequestStatus.COMPLETED,
                                         answers_submitted_at=utcnow(), answers_approved_at=utcnow()),
    }
    with app.app_context():
        db.session.add(WrittenAnswer(engagement_id=ids[Purpose.READ_ANSWERS], position=0, question="Why?",
                                     answer="Because it works."))
        db.session.commit()
        db.session.remove()
    return ids


def token_for(app, engagement_id: int, purpose: Purpose) -> str:
    with app.app_context():
        engagement = db.session.get(Engagement, engagement_id)
        made = prospect_links.token(engagement, purpose)
        db.session.remove()
    return made


def open_link(app, method: str, path: str, token: str):
    http = app.test_client()
    url = path.format(t=token)
    if method == "GET":
        return http.get(url)
    form = csrf_token(http.get("/sign-in").get_data(as_text=True))
    return http.post(url, data={"csrf_token": form, "slot": utcnow().isoformat(), "tz": "UTC"})


def assert_refused(response, status: int, words: str) -> None:
    html = response.get_data(as_text=True)
    assert response.status_code == status, html[:1500]
    assert "This link cannot be used" in html
    assert words in html
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["Referrer-Policy"] == "same-origin"


def tampered(token: str) -> list[str]:
    """The same token with its signature, its payload or its length changed."""
    payload, timestamp, signature = token.split(".")
    # A character in the middle: the last one also carries bits that base64 decoding drops.
    middle = len(signature) // 2
    flipped = signature[:middle] + ("A" if signature[middle] != "A" else "B") + signature[middle + 1:]
    other_payload = base64.urlsafe_b64encode(json.dumps({"e": 999}).encode()).decode().rstrip("=")
    return [f"{payload}.{timestamp}.{flipped}", f"{other_payload}.{timestamp}.{signature}",
            token[:-5], token + "x", "x", "a.b.c", "%00", "é" * 3]


@pytest.mark.parametrize(("purpose", "path"), [(p, path) for p, m, path in CASES if m == "GET"])
def test_a_valid_link_opens_its_page(app, engagements, purpose, path):
    """The matrix below means something: the same pages open with a good link. (A good link's
    POSTs change the engagement: tests/portal/test_booking.py follows them.)"""
    response = open_link(app, "GET", path, token_for(app, engagements[purpose], purpose))
    assert response.status_code == 200


@pytest.mark.parametrize(("purpose", "method", "path"), CASES, ids=CASE_IDS)
def test_a_tampered_link_is_refused(app, engagements, purpose, method, path):
    good = token_for(app, engagements[purpose], purpose)
    for bad in tampered(good):
        assert_refused(open_link(app, method, path, bad), 400, "This link is not valid")


@pytest.mark.parametrize(("purpose", "method", "path"), CASES, ids=CASE_IDS)
def test_a_link_made_for_another_purpose_is_refused(app, engagements, purpose, method, path):
    for other in OTHERS[purpose]:
        with app.app_context():
            foreign = sign(other, {"e": engagements[purpose]})
        assert_refused(open_link(app, method, path, foreign), 400, "This link is not valid")


@pytest.mark.parametrize(("purpose", "method", "path"), CASES, ids=CASE_IDS)
def test_a_link_signed_with_another_key_or_holding_no_engagement_is_refused(app, engagements, purpose,
                                                                            method, path):
    forged = URLSafeTimedSerializer("not-our-key", salt=f"vouch/{purpose}").dumps({"e": engagements[purpose]})
    assert_refused(open_link(app, method, path, forged), 400, "This link is not valid")
    for payload in ({"e": "1"}, {"e": 0}, {"e": 2**63}, {"e": None}, [1], "1", {}):
        with app.app_context():
            odd = sign(purpose, payload)
        assert_refused(open_link(app, method, path, odd), 400, "This link is not valid")


@pytest.mark.parametrize(("purpose", "method", "path"), CASES, ids=CASE_IDS)
def test_a_link_older_than_any_engagement_lives_is_refused_as_expired(app, engagements, purpose, method,
                                                                      path):
    old = token_for(app, engagements[purpose], purpose)
    with time_machine.travel(utcnow() + MAX_AGE + timedelta(days=1), tick=False):
        assert_refused(open_link(app, method, path, old), 410, "This link ")
        assert "expired" in open_link(app, method, path, old).get_data(as_text=True)


CLOSING = [(case, name) for case, name in zip(CASES, CASE_IDS, strict=True) if case[0] is not Purpose.BOOK]


@pytest.mark.parametrize(("purpose", "method", "path"), [c for c, _ in CLOSING], ids=[i for _, i in CLOSING])
def test_a_link_past_the_day_its_engagement_closes_it_is_refused(app, engagements, purpose, method, path):
    """A managing link once feedback on the call is no longer taken; a reading link 30 days after
    the approval. (A booking link closes when it is used: below.)"""
    engagement_id = engagements[purpose]
    good = token_for(app, engagement_id, purpose)
    with app.app_context():
        closes = prospect_links.closes_at(db.session.get(Engagement, engagement_id), purpose)
        db.session.remove()
    assert closes is not None
    with time_machine.travel(closes + timedelta(minutes=1), tick=False):
        assert_refused(open_link(app, method, path, good), 410, f"This link expired on {closes:%d %B %Y}.")


@pytest.mark.parametrize(("method", "path"), ROUTES[Purpose.BOOK])
def test_a_booking_link_once_used_is_refused(app, engagements, method, path):
    engagement_id = engagements[Purpose.BOOK]
    good = token_for(app, engagement_id, Purpose.BOOK)
    with app.app_context():
        row = db.session.get(Engagement, engagement_id)
        row.status = "booked"
        row.starts_at = utcnow() + timedelta(days=2)
        row.ends_at = row.starts_at + timedelta(minutes=30)
        db.session.commit()
    assert_refused(open_link(app, method, path, good), 409, "This call is booked already")
    with app.app_context():
        db.session.get(Engagement, engagement_id).status = "cancelled"
        db.session.commit()
    assert_refused(open_link(app, method, path, good), 410, "This reference was cancelled")


@pytest.mark.parametrize(("purpose", "method", "path"), CASES, ids=CASE_IDS)
def test_a_link_whose_engagement_is_gone_is_refused(app, engagements, purpose, method, path):
    good = token_for(app, engagements[purpose], purpose)
    with app.app_context():
        db.session.delete(db.session.get(Engagement, engagements[purpose]))
        db.session.commit()
    assert_refused(open_link(app, method, path, good), 410, "This reference no longer exists.")


def test_a_reading_link_for_answers_not_approved_is_refused(app, engagements):
    engagement_id = engagements[Purpose.READ_ANSWERS]
    good = token_for(app, engagement_id, Purpose.READ_ANSWERS)
    with app.app_context():
        row = db.session.get(Engagement, engagement_id)
        row.status, row.answers_approved_at = "awaiting_booking", None
        db.session.commit()
    assert_refused(app.test_client().get(f"/read/{good}"), 409, "not ready to read yet")


# --- the feedback link, where every page reads it -----------------------------------------------


def refusal(app, token: str, purpose: Purpose = Purpose.FEEDBACK) -> LinkRefused:
    with app.app_context(), pytest.raises(LinkRefused) as refused:
        prospect_links.read(token, purpose)
    return refused.value


def test_a_feedback_link_reads_its_engagement(app, engagements):
    good = token_for(app, engagements[Purpose.FEEDBACK], Purpose.FEEDBACK)
    with app.app_context():
        engagement, payload = prospect_links.read(good, Purpose.FEEDBACK)
        assert engagement.id == engagements[Purpose.FEEDBACK] and payload == {"e": engagement.id}


def test_a_feedback_link_tampered_or_made_for_another_purpose_is_refused(app, engagements):
    engagement_id = engagements[Purpose.FEEDBACK]
    for bad in tampered(token_for(app, engagement_id, Purpose.FEEDBACK)):
        assert refusal(app, bad).status == 400
    for other in OTHERS[Purpose.FEEDBACK]:
        with app.app_context():
            foreign = sign(other, {"e": engagement_id})
        assert refusal(app, foreign).status == 400
    # …and a feedback link opens no other purpose's page either.
    feedback = token_for(app, engagement_id, Purpose.FEEDBACK)
    for purpose in (Purpose.BOOK, Purpose.MANAGE_BOOKING, Purpose.READ_ANSWERS):
        assert refusal(app, feedback, purpose).status == 400


def test_a_feedback_link_expires_with_its_signature_and_with_the_feedback_window(app, engagements):
    engagement_id = engagements[Purpose.FEEDBACK]
    good = token_for(app, engagement_id, Purpose.FEEDBACK)
    with app.app_context():
        closes = prospect_links.feedback_closes(db.session.get(Engagement, engagement_id))
        db.session.remove()
    with time_machine.travel(closes - timedelta(minutes=1), tick=False), app.app_context():
        prospect_links.read(good, Purpose.FEEDBACK)
    with time_machine.travel(closes, tick=False):
        late = refusal(app, good)
    assert (late.status, late.message) == (
        410, f"Feedback on this call closed on {closes:%d %B %Y}. Thank you all the same.")
    with time_machine.travel(utcnow() + MAX_AGE + timedelta(days=1), tick=False):
        assert refusal(app, good).status == 410


def test_a_feedback_link_whose_engagement_is_gone_is_refused(app, engagements):
    engagement_id = engagements[Purpose.FEEDBACK]
    good = token_for(app, engagement_id, Purpose.FEEDBACK)
    with app.app_context():
        db.session.delete(db.session.get(Engagement, engagement_id))
        db.session.commit()
    assert refusal(app, good).status == 410
