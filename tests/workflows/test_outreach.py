"""The invitation's one reminder: a periodic job of ``flask jobs run``, sent once 7 days after an
unanswered invitation, never again, and not at all to an answer, a bounce or someone who joined
by another way."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from sqlalchemy import select

from models import Account, Advocate, AdvocateStatus, Invitation, OutboxMessage, OutboxStatus, Role, db
from models.types import utcnow
from tests.admin.test_candidates_page import add_candidate
from tests.conftest import csrf_token, first_link, text_body
from tests.helpers import page
from workflows import jobs, outreach

BASE = "http://vouch.test"


@pytest.fixture()
def sent(app, make_account):
    """``sent(name)`` → (advocate id, e-mail, the moment the invitation went) — sent now."""
    coordinator = make_account(role=Role.COORDINATOR, name="Cora Coordinator")

    def make(name: str = "Dana Example"):
        advocate_id = add_candidate(app, name)
        now = utcnow()
        with app.app_context():
            outreach.invite([advocate_id], by=db.session.get(Account, coordinator.id), now=now)
            email = db.session.get(Advocate, advocate_id).account.email
            db.session.remove()
        return advocate_id, email, now

    return make


def run(app, at) -> int:
    with app.app_context():
        counts = jobs.run_due(now=at)
        db.session.remove()
    return counts["invitations_reminded"]


def test_one_reminder_after_seven_days_then_never_again(app, sent, smtp, deliver, client):
    _advocate_id, email, at = sent()
    deliver()
    smtp.wait_for(email)

    assert run(app, at + timedelta(days=6, hours=23)) == 0
    with time_machine.travel(at + timedelta(days=7, minutes=1), tick=False):  # the link is signed then
        assert run(app, None) == 1
        deliver()
    assert run(app, at + timedelta(days=7, minutes=2)) == 0  # run twice: still one
    assert run(app, at + timedelta(days=20)) == 0  # and later on: still one

    [invitation_mail, reminder] = smtp.wait_for(email, count=2)
    assert reminder["Subject"] == "A reminder: your invitation to our customer reference program"
    body = text_body(reminder)
    assert f"On {at:%d %B %Y} we invited you" in body
    assert "This is the only reminder" in body
    assert "Cora Coordinator" in body
    with app.app_context():
        invitation = db.session.scalar(select(Invitation))
        assert invitation.reminded_at == at + timedelta(days=7, minutes=1)
        keys = sorted(db.session.scalars(select(OutboxMessage.idempotency_key)))
        assert keys == [f"invitation-reminder:{invitation.id}", f"invitation:{invitation.id}"]
        db.session.remove()

    # The reminder's own link, signed a week later, opens the page and works.
    path = first_link(reminder).removeprefix(BASE)
    assert path != first_link(invitation_mail).removeprefix(BASE)
    with time_machine.travel(at + timedelta(days=8), tick=False):
        response = client.post(path + "/accept", data={"csrf_token": csrf_token(page(client, path)),
                                                       "accept_terms": "y"})
    assert response.headers["Location"] == "/portal/welcome"
    deliver()
    assert len(smtp.to(email)) == 2  # the invitation and its one reminder, nothing else


def test_the_cli_says_how_many_invitations_were_reminded(app, sent, runner):
    sent()
    with app.app_context():
        db.session.execute(
            Invitation.__table__.update().values(sent_at=utcnow() - timedelta(days=8))
        )
        db.session.commit()
        db.session.remove()
    result = runner.invoke(args=["jobs", "run"])
    assert result.exit_code == 0, result.output
    assert "reminded 1 invitation to the program" in result.output
    assert "reminded 0 invitations to the program" in runner.invoke(args=["jobs", "run"]).output


def test_an_answer_means_no_reminder(app, sent, client, smtp, deliver):
    declined_id, declined_email, at = sent("Declining Dee")
    joined_id, joined_email, _at = sent("Joining Jo")
    deliver()
    for email, action in ((declined_email, "decline"), (joined_email, "accept")):
        path = first_link(smtp.wait_for(email)[0]).removeprefix(BASE)
        http = app.test_client()
        data = {"csrf_token": csrf_token(page(http, path)), "accept_terms": "y"}
        assert http.post(f"{path}/{action}", data=data).status_code in (200, 302)
    assert run(app, at + timedelta(days=8)) == 0


def test_a_bounced_invitation_or_someone_already_in_gets_no_reminder(app, sent):
    bounced_id, _email, at = sent("Bo Bounce")
    active_id, _email2, _at = sent("Al Ready")
    with app.app_context():
        invitation = db.session.scalar(select(Invitation).where(Invitation.advocate_id == bounced_id))
        message = db.session.scalar(select(OutboxMessage).where(
            OutboxMessage.idempotency_key == invitation.message_key))
        message.status = OutboxStatus.DEAD  # as the worker marks a 5xx
        db.session.get(Advocate, active_id).status = AdvocateStatus.ACTIVE
        db.session.commit()
        db.session.remove()
    assert run(app, at + timedelta(days=8)) == 0


def test_an_invitation_whose_link_expired_gets_no_reminder(app, sent):
    _advocate_id, _email, at = sent()
    assert run(app, at + outreach.LINK_MAX_AGE + timedelta(days=1)) == 0


def test_an_address_that_unsubscribed_is_not_invited_and_the_coordinator_is_told_why(app, make_account):
    from workflows import errors, unsubscribe

    coordinator = make_account(role=Role.COORDINATOR, name="Cora Coordinator")
    advocate_id = add_candidate(app, "Una Subscribed")
    with app.app_context():
        email = db.session.get(Advocate, advocate_id).account.email
        unsubscribe.unsubscribe(unsubscribe.token(email))
        by = db.session.get(Account, coordinator.id)
        sent = outreach.invite([advocate_id], by=by)
        assert sent.invited == [] and sent.skipped == [("Una Subscribed", outreach.UNSUBSCRIBED)]
        unsubscribe.unsubscribe(unsubscribe.token("someone@elsewhere.example"))
        with pytest.raises(errors.Conflict, match="unsubscribed from program mail"):
            outreach.invite_address("someone@elsewhere.example", by=by)
        assert db.session.scalars(select(Invitation)).all() == []
        assert db.session.scalars(select(OutboxMessage)).all() == []
        db.session.remove()
