"""Written references after the advocate submits: the coordinator sends them back with a note
or approves them; approval completes the reference, earns the points once, thanks the advocate
and sends the prospect (the seller in copy) the link to read the answers for 30 days. Every
e-mail is read back from the real SMTP server and its links followed."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
import time_machine
from sqlalchemy import select

from models import (
    Account,
    Engagement,
    EngagementStatus,
    PointsEntry,
    PointsReason,
    ReferenceRequest,
    RequestStatus,
    db,
)
from models.types import utcnow
from tests.conftest import csrf_token, text_body
from tests.helpers import fit, flashed, section, text
from workflows import privacy
from workflows import requests as request_flow
from workflows import written as flow

QUESTIONS = ["How long did the roll-out take?", "What changed for your team?"]
PROSPECT = "pat@prospect.example"
SELLER = "sam@vouch.example"
ADVOCATE = "dana@northwind.example"
COORDINATOR = "cora@vouch.example"


def path_of(link: str) -> str:
    return "/" + link.split("://", 1)[1].split("/", 1)[1]


def link_in(message, pattern: str) -> str:
    found = re.search(rf"https?://\S*{pattern}\S*", text_body(message))
    assert found, text_body(message)
    return path_of(found.group(0))


@pytest.fixture()
def people(app, make_account, make_advocate):
    seller = make_account(role="sales", email=SELLER, name="Sam Seller")
    coordinator = make_account(role="coordinator", email=COORDINATOR, name="Cora Ordinator")
    dana = make_advocate(name="Dana Whitfield", email=ADVOCATE, job_title="VP Operations",
                         company="Northwind Health", timezone="Europe/Berlin")
    fit(app, dana.id, formats=("written",))
    return seller, coordinator, dana


@pytest.fixture()
def accepted(app, people, make_request):
    """Dana accepted a written reference for Globex; → (request id, engagement id)."""

    def make(contact_email: str = PROSPECT, questions=QUESTIONS):
        seller, coordinator, dana = people
        request = make_request(format="written", requested_by=seller, contact_name="Pat Prospect",
                               contact_email=contact_email, prospect_company="Globex Corp",
                               questions=list(questions))
        with app.app_context():
            ask = request_flow.ask(request.id, dana.id, by=db.session.get(Account, coordinator.id))
            engagement = request_flow.accept_ask(ask.id, dana.id)
            ids = request.id, engagement.id
            db.session.remove()
        return ids

    return make


@pytest.fixture()
def submitted(app, accepted, people):
    """Answers submitted by Dana; → (request id, engagement id)."""

    def make(**kwargs):
        request_id, engagement_id = accepted(**kwargs)
        with app.app_context():
            flow.submit_answers(engagement_id, people[2].id,
                                [f"Answer to {q}" for q in kwargs.get("questions", QUESTIONS)])
            db.session.remove()
        return request_id, engagement_id

    return make


def submit_in_portal(client, engagement_id: int, answers: list[str]):
    page = client.get(f"/portal/written/{engagement_id}")
    assert page.status_code == 200
    data = {"csrf_token": csrf_token(page.get_data(as_text=True)), "submit_answers": "1"}
    data.update({f"answer_{i}": answer for i, answer in enumerate(answers)})
    return client.post(f"/portal/written/{engagement_id}", data=data)


def act(http, request_id: int, action: str, **data):
    page = http.get(f"/admin/requests/{request_id}").get_data(as_text=True)
    return http.post(f"/admin/requests/{request_id}/answers/{action}",
                     data={"csrf_token": csrf_token(page), **data})


def state(app, engagement_id: int):
    with app.app_context():
        engagement = db.session.get(Engagement, engagement_id)
        request = db.session.get(ReferenceRequest, engagement.request_id)
        ledger = db.session.execute(
            select(PointsEntry.delta, PointsEntry.reason, PointsEntry.source_type, PointsEntry.source_id)
            .where(PointsEntry.advocate_id == engagement.advocate_id)
        ).all()
        result = (engagement.status, request.status, engagement.answers_submitted_at is not None,
                  engagement.answers_approved_at is not None, [tuple(row) for row in ledger],
                  [e.kind for e in request.events])
        db.session.remove()
    return result


def test_sent_back_with_a_note_then_approved_and_read_by_the_prospect(
    app, client, people, accepted, sign_in, signed_in, smtp, deliver
):
    seller, coordinator, dana = people
    request_id, engagement_id = accepted()
    sign_in(dana.account)  # the advocate, on ``client``
    staff, _ = signed_in(account=coordinator)
    deliver()  # the acceptance's own e-mails
    smtp.clear()

    # The advocate submits; the coordinator who asked is told, and follows the e-mail's link.
    assert submit_in_portal(client, engagement_id, ["Six weeks.", "Less work."]).status_code == 302
    smtp.clear()
    deliver()
    [told] = smtp.wait_for(COORDINATOR)
    page = staff.get(link_in(told, "/admin/requests/"))
    html = page.get_data(as_text=True)
    written = section(html, "written")
    assert "waiting for your approval" in written
    assert "Six weeks." in written and "Less work." in written
    assert "Approve the answers…" in written and "Send back to the advocate…" in written
    assert '<label for="note">' in written

    # Sending back needs a note: refused beside the field, nothing changed.
    refused = act(staff, request_id, "return", note="   ")
    assert refused.status_code == 422
    assert "Tell the advocate what to change" in section(refused.get_data(as_text=True), "written")
    assert state(app, engagement_id)[2] is True

    # Sent back with a note: the advocate is e-mailed it, with the link to their answers.
    smtp.clear()
    returned = act(staff, request_id, "return", note="Please name the team that ran the roll-out.")
    assert returned.status_code == 302
    assert returned.headers["Location"].endswith(f"/admin/requests/{request_id}#written")
    after = staff.get(f"/admin/requests/{request_id}").get_data(as_text=True)
    assert "Sent back to the advocate" in flashed(after)[0]
    assert "Please name the team that ran the roll-out." in section(after, "written")
    assert "Approve the answers…" not in after
    deliver()
    [note_mail] = smtp.wait_for(ADVOCATE)
    assert note_mail["Subject"] == "Your written answers for Globex Corp need another look"
    assert "Please name the team that ran the roll-out." in text_body(note_mail)
    written_path = link_in(note_mail, "/portal/written/")
    assert written_path == f"/portal/written/{engagement_id}"

    # The advocate sees the note, the answers as they left them, and submits again.
    own = client.get(written_path).get_data(as_text=True)
    assert "Please name the team that ran the roll-out." in section(own, "returned-note")
    assert "<textarea" in own and "Six weeks." in own
    assert "sent back to you with a note" in client.get("/portal").get_data(as_text=True)
    smtp.clear()
    assert submit_in_portal(client, engagement_id, ["Six weeks, with the ops team.", "Less work."]
                            ).status_code == 302
    deliver()
    [again] = smtp.wait_for(COORDINATOR)
    assert again["Subject"] == "Dana Whitfield submitted written answers for Globex Corp again"
    assert "returned-note" not in client.get(written_path).get_data(as_text=True)

    # Approval: completed, points once, thanked, the prospect sent the link with the seller in copy.
    smtp.clear()
    approved = act(staff, request_id, "approve")
    assert approved.status_code == 302
    assert flashed(staff.get(f"/admin/requests/{request_id}").get_data(as_text=True))[0] == (
        f"Answers approved, and the advocate thanked. The link to read them went to {PROSPECT}.")
    status, request_status, _, is_approved, ledger, kinds = state(app, engagement_id)
    assert (status, request_status, is_approved) == (
        EngagementStatus.COMPLETED, RequestStatus.COMPLETED, True)
    assert ledger == [(60, PointsReason.WRITTEN_REFERENCE.value, "engagement", engagement_id)]
    assert kinds[-5:] == ["answers_submitted", "answers_returned", "answers_submitted",
                          "answers_approved", "answers_sent"]

    deliver()
    [thanks] = smtp.wait_for(ADVOCATE)
    assert thanks["Subject"] == "Thank you for your written reference for Globex Corp"
    body = text_body(thanks)
    assert "You earned 60 points for them. Your balance is now 60 points." in body
    assert "more points over the last 12 months bring you to the Premier tier" in body
    [ready] = smtp.wait_for(PROSPECT)
    assert ready["Cc"] == SELLER
    assert ready["Subject"] == "Dana Whitfield, Northwind Health answered your questions"
    assert ADVOCATE not in ready.as_string()
    until = (utcnow() + timedelta(days=30)).strftime("%d %B %Y")
    assert f"until {until}" in text_body(ready)
    # The seller, who asked for the reference, is asked for the deal's outcome, one click each.
    [asked] = [m for m in smtp.to(SELLER) if m["Subject"].endswith("how did the deal end?")]
    won = app.test_client().get(link_in(asked, "/outcome/"))
    assert won.status_code == 200

    assert "Your coordinator approved these answers on" in client.get(written_path).get_data(as_text=True)

    # The prospect opens the link without an account: the questions, the answers, who wrote them.
    reader = app.test_client()
    response = reader.get(link_in(ready, "/read/"))
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["Referrer-Policy"] == "same-origin"
    page_text = text(response.get_data(as_text=True))
    assert "Dana Whitfield answers your questions" in page_text
    assert "VP Operations, Northwind Health" in page_text
    for question in QUESTIONS:
        assert question in page_text
    assert "Six weeks, with the ops team." in page_text
    assert ADVOCATE not in response.get_data(as_text=True)

    # The seller sees on their request that the answers were approved and sent, and reads them.
    sales, _ = signed_in(account=seller)
    theirs = sales.get(f"/admin/requests/{request_id}").get_data(as_text=True)
    approved_line = text(section(theirs, "written-approved"))
    assert approved_line.startswith("Approved ") and f"sent to {PROSPECT}" in approved_line
    assert "Six weeks, with the ops team." in section(theirs, "written")
    assert "Approve the answers…" not in theirs
    timeline = text(section(theirs, "timeline"))
    for words in ("Submitted the written answers", "Sent the written answers back to the advocate",
                  "Approved the written answers", "Sent the prospect the link to read the answers"):
        assert words in timeline
    assert "Please name the team" not in theirs  # the note is between the coordinator and the advocate


def test_approving_twice_or_too_early_is_refused_and_earns_the_points_once(
    app, people, accepted, submitted, signed_in
):
    _seller, coordinator, _dana = people
    staff, _ = signed_in(account=coordinator)
    early_request, early_engagement = accepted()
    too_early = act(staff, early_request, "approve")
    assert too_early.status_code == 409
    assert "has not submitted their answers yet" in too_early.get_data(as_text=True)
    assert state(app, early_engagement)[0] is EngagementStatus.AWAITING_BOOKING

    request_id, engagement_id = submitted()
    assert act(staff, request_id, "approve").status_code == 302
    again = act(staff, request_id, "approve")
    assert again.status_code == 409 and "were approved on" in again.get_data(as_text=True)
    assert act(staff, request_id, "return", note="Too late").status_code == 409
    assert len(state(app, engagement_id)[4]) == 1


def test_the_workflow_awards_through_the_ledgers_unique_source(app, people, submitted):
    """The ledger row's source is the engagement: awarding it again adds nothing."""
    from workflows import points

    _seller, coordinator, dana = people
    request_id, engagement_id = submitted()
    with app.app_context():
        flow.approve_answers(request_id, by=db.session.get(Account, coordinator.id))
        with pytest.raises(flow.NotReviewable):
            flow.approve_answers(request_id, by=db.session.get(Account, coordinator.id))
        assert points.award(dana.id, 60, PointsReason.WRITTEN_REFERENCE, source_type="engagement",
                            source_id=engagement_id) is None
        assert points.balance(dana.id) == 60
        db.session.remove()


def test_sales_may_not_approve_or_send_back(app, people, submitted, signed_in):
    seller, _coordinator, _dana = people
    request_id, engagement_id = submitted()
    sales, _ = signed_in(account=seller)
    token = csrf_token(sales.get(f"/admin/requests/{request_id}").get_data(as_text=True))
    for action in ("approve", "return"):
        response = sales.post(f"/admin/requests/{request_id}/answers/{action}",
                              data={"csrf_token": token, "note": "x"})
        assert response.status_code == 403
    page = sales.get(f"/admin/requests/{request_id}").get_data(as_text=True)
    assert "Answer to" not in page  # submitted, not approved: the seller does not read them yet
    assert state(app, engagement_id)[3] is False


def test_without_a_contact_e_mail_the_link_goes_to_the_seller_to_pass_on(
    app, people, submitted, signed_in, smtp, deliver
):
    request_id, _engagement_id = submitted(contact_email="")
    staff, _ = signed_in(account=people[1])
    smtp.clear()
    assert act(staff, request_id, "approve").status_code == 302
    deliver()
    [to_seller] = [m for m in smtp.wait_for(SELLER) if m["Subject"].endswith("answered your questions")]
    assert to_seller["Cc"] is None
    assert "named no contact e-mail, so this link comes to you" in text_body(to_seller)
    assert app.test_client().get(link_in(to_seller, "/read/")).status_code == 200


def test_the_reading_link_works_for_30_days_after_the_approval(app, people, submitted, signed_in, smtp,
                                                               deliver):
    request_id, _engagement_id = submitted()
    staff, _ = signed_in(account=people[1])
    smtp.clear()
    act(staff, request_id, "approve")
    deliver()
    path = link_in(smtp.wait_for(PROSPECT)[0], "/read/")
    reader = app.test_client()
    with time_machine.travel(utcnow() + timedelta(days=29, hours=23), tick=False):
        assert reader.get(path).status_code == 200
    with time_machine.travel(utcnow() + timedelta(days=30, minutes=1), tick=False):
        late = reader.get(path)
    assert late.status_code == 410
    assert "This link expired on" in late.get_data(as_text=True)
    assert "This link cannot be used" in late.get_data(as_text=True)


def test_answers_withdrawn_when_the_advocate_leaves_are_no_longer_readable(
    app, people, submitted, signed_in, smtp, deliver
):
    request_id, _engagement_id = submitted()
    staff, _ = signed_in(account=people[1])
    smtp.clear()
    act(staff, request_id, "approve")
    deliver()
    path = link_in(smtp.wait_for(PROSPECT)[0], "/read/")
    with app.app_context():
        privacy.leave_program(people[2].id, confirmation=privacy.LEAVE_WORD)
        db.session.remove()
    response = app.test_client().get(path)
    assert response.status_code == 410
    assert "withdrawn" in response.get_data(as_text=True)


def test_the_request_page_with_written_answers_issues_a_fixed_number_of_queries(
    app, people, submitted, signed_in, count_queries
):
    staff, _ = signed_in(account=people[1])

    def measure(count: int) -> int:
        request_id, _ = submitted(questions=[f"Question {n}?" for n in range(count)])
        with count_queries() as queries:
            response = staff.get(f"/admin/requests/{request_id}")
        assert response.status_code == 200
        return len(queries)

    assert measure(1) == measure(12)
