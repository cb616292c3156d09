"""The invitation's page: the program explained from the database, joining (consent recorded, an
active advocate at the entry tier, signed in, the first-time setup), declining, and every link
that cannot be used refused with a page that says why."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from sqlalchemy import func, select

from models import (
    Account,
    Advocate,
    AdvocateStatus,
    AuditEvent,
    Company,
    Invitation,
    OutboxMessage,
    OutboxStatus,
    Perk,
    PerkKind,
    Role,
    Tier,
    db,
)
from models.types import utcnow
from tests.admin.test_candidates_page import add_candidate
from tests.conftest import csrf_token, first_link
from tests.helpers import flashed, page, section, text
from workflows import links, outreach, privacy, suppression

BASE = "http://vouch.test"


@pytest.fixture()
def invited(app, make_account, smtp, deliver):
    """``invited(name="Dana Example")`` → (the path of the invitation's link, read from the
    e-mail the real SMTP server received, and the advocate's id)."""
    coordinator = make_account(role=Role.COORDINATOR, name="Cora Coordinator")

    def make(name: str = "Dana Example", **signals):
        advocate_id = add_candidate(app, name, **signals)
        with app.app_context():
            outreach.invite([advocate_id], by=db.session.get(Account, coordinator.id))
            email = db.session.get(Advocate, advocate_id).account.email
            db.session.remove()
        deliver()
        return first_link(smtp.wait_for(email)[-1]).removeprefix(BASE), advocate_id

    return make


def accept(http, path: str, *, tick: bool = True):
    data = {"csrf_token": csrf_token(page(http, path))}
    if tick:
        data["accept_terms"] = "y"
    return http.post(path + "/accept", data=data)


def test_the_page_explains_the_tiers_what_is_asked_and_the_perks_from_the_database(app, client, invited):
    with app.app_context():
        occasional = db.session.scalar(select(Tier).where(Tier.name == "Occasional"))
        db.session.add_all([
            Perk(name="Branded hoodie", min_tier_id=occasional.id, kind=PerkKind.REDEEMABLE, points_cost=150),
            Perk(name="Old perk", min_tier_id=occasional.id, kind=PerkKind.BENEFIT, active=False),
        ])
        db.session.commit()
        db.session.remove()
    path, _advocate_id = invited("Dana Example")
    response = client.get(path)
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["Referrer-Policy"] == "same-origin"
    html = response.get_data(as_text=True)
    assert "Join our customer reference program, Dana Example" in text(html)
    tiers = text(section(html, "tiers"))
    assert "Everyone starts at the Occasional tier" in tiers
    assert "Premier tier up to 6 calls a quarter · from 1000 points" in tiers
    assert "Logo featured on our website" in tiers
    assert "Occasional tier (where you start)" in tiers
    asked = text(section(html, "asked"))
    assert "call, video call, written reference, site visit." in asked
    assert "at most 2 a quarter to begin with" in asked
    perks = text(section(html, "perks"))
    assert "Branded hoodie — Occasional tier and up, 150 points" in perks and "Old perk" not in perks
    assert '<label for="accept_terms">' in html  # the terms' checkbox has its label


def test_joining_records_consent_makes_an_active_advocate_at_the_entry_tier_and_signs_in(app, client,
                                                                                         invited):
    path, advocate_id = invited("Dana Example")
    before = utcnow()

    response = accept(client, path)

    assert response.status_code == 302
    assert response.headers["Location"] == "/portal/welcome"
    with app.app_context():
        advocate = db.session.get(Advocate, advocate_id)
        assert advocate.status is AdvocateStatus.ACTIVE
        assert advocate.tier.name == "Occasional"
        assert advocate.consent_at >= before
        assert advocate.consent_source == f"accepted the program invitation on {advocate.consent_at:%Y-%m-%d}"
        invitation = db.session.scalar(select(Invitation).where(Invitation.advocate_id == advocate_id))
        assert invitation.joined_at is not None and invitation.declined_at is None
        assert invitation.opened_at is not None
        kinds = set(db.session.scalars(
            select(AuditEvent.kind).where(AuditEvent.actor_id == advocate.account_id)))
        assert {"outreach.joined", "sign_in.succeeded"} <= kinds
        db.session.remove()

    welcome = client.get("/portal/welcome")  # signed in: the portal is open to them
    assert welcome.status_code == 200
    html = welcome.get_data(as_text=True)
    assert flashed(html) == [
        "Welcome to the reference program, Dana Example. Three short steps and you are set."]
    steps = text(section(html, "setup"))
    assert "Your availability" in steps and "Topics you are glad to talk about" in steps
    assert "The formats you accept" in steps
    assert steps.count("to do") == 3
    assert 'href="/portal/availability"' in html and 'href="/portal/topics#formats"' in html
    assert client.get("/portal").status_code == 200
    assert client.get("/portal/availability").status_code == 200


def test_the_setup_shows_each_step_done_once_it_is(app, client, invited):
    from tests.helpers import fit

    path, advocate_id = invited()
    accept(client, path)
    fit(app, advocate_id, glad=["ROI"])  # a window every day, formats, a topic
    html = page(client, "/portal/welcome")
    assert text(html).count("✓ done") == 3
    assert "All set." in text(html)


def test_joining_needs_the_terms_ticked(app, client, invited):
    path, advocate_id = invited()
    response = accept(client, path, tick=False)
    assert response.status_code == 422
    assert "Tick the box to accept the terms" in text(response.get_data(as_text=True))
    with app.app_context():
        advocate = db.session.get(Advocate, advocate_id)
        assert advocate.status is AdvocateStatus.INVITED and advocate.consent_at is None
        db.session.remove()
    assert client.get("/portal").status_code == 302  # not signed in


def test_a_link_is_used_once(app, client, invited):
    path, _advocate_id = invited()
    assert accept(client, path).status_code == 302
    other = app.test_client()
    again = other.get(path)
    assert again.status_code == 410
    assert "You have accepted this invitation already" in text(again.get_data(as_text=True))
    with app.app_context():
        token = csrf_token(page(other, "/sign-in"))
        db.session.remove()
    assert other.post(path + "/accept", data={"csrf_token": token, "accept_terms": "y"}).status_code == 410
    assert other.post(path + "/decline", data={"csrf_token": token}).status_code == 410
    assert other.get("/portal").status_code == 302


def test_declining_is_recorded_and_the_link_is_done(app, client, invited):
    path, advocate_id = invited()
    response = client.post(path + "/decline", data={"csrf_token": csrf_token(page(client, path))})
    assert response.status_code == 200
    assert "You declined the invitation" in text(response.get_data(as_text=True))
    with app.app_context():
        advocate = db.session.get(Advocate, advocate_id)
        assert advocate.status is AdvocateStatus.CANDIDATE and advocate.consent_at is None
        invitation = db.session.scalar(select(Invitation).where(Invitation.advocate_id == advocate_id))
        assert invitation.declined_at is not None and invitation.joined_at is None
        db.session.remove()
    refused = client.get(path)
    assert refused.status_code == 410
    assert "You declined this invitation on" in text(refused.get_data(as_text=True))
    assert client.get("/portal").status_code == 302


def test_opening_with_head_records_nothing(app, client, invited):
    path, advocate_id = invited()
    assert client.head(path).status_code == 200
    with app.app_context():
        opened = db.session.scalar(select(Invitation.opened_at).where(Invitation.advocate_id == advocate_id))
        assert opened is None
        db.session.remove()


@pytest.mark.parametrize("mangle", [
    lambda token: token[:-3] + ("AAA" if not token.endswith("AAA") else "BBB"),  # tampered
    lambda token: "x",
    lambda _token: links.sign(links.Purpose.SIGN_IN, {"i": 1}),  # another purpose's token
    lambda _token: links.sign(links.Purpose.INVITATION, {"i": 2**40}),  # an id past the database's
    lambda _token: links.sign(links.Purpose.INVITATION, ["i", 1]),
    lambda _token: links.sign(links.Purpose.INVITATION, {"i": True}),
])
def test_a_tampered_or_foreign_link_is_a_clear_400(app, client, invited, mangle):
    path, _advocate_id = invited()
    token = path.removeprefix("/join/")
    with app.app_context():
        bad = mangle(token)
    response = client.get(f"/join/{bad}")
    assert response.status_code == 400
    assert "This invitation link is not valid" in text(response.get_data(as_text=True))
    assert client.post(f"/join/{bad}/accept", data={
        "csrf_token": csrf_token(page(client, "/sign-in")), "accept_terms": "y"}).status_code == 400


def test_a_link_to_an_invitation_that_is_gone_is_a_404(app, client):
    with app.app_context():
        token = links.sign(links.Purpose.INVITATION, {"i": 12345})
    assert client.get(f"/join/{token}").status_code == 404


def test_an_expired_link_is_a_clear_410(app, client, invited):
    path, advocate_id = invited()
    with time_machine.travel(utcnow() + outreach.LINK_MAX_AGE + timedelta(minutes=1), tick=False):
        response = client.get(path)
        assert response.status_code == 410
        assert "This invitation has expired" in text(response.get_data(as_text=True))
        late = app.test_client()
        assert late.post(path + "/accept", data={"csrf_token": csrf_token(page(late, "/sign-in")),
                                                 "accept_terms": "y"}).status_code == 410
    with app.app_context():
        assert db.session.get(Advocate, advocate_id).status is AdvocateStatus.INVITED
        db.session.remove()


def test_a_newer_invitation_retires_the_older_link(app, client, invited, make_account):
    path, advocate_id = invited()
    coordinator = make_account(role=Role.COORDINATOR)
    with app.app_context():
        # The first one bounced, say: invited again.
        outreach.invite([advocate_id], by=db.session.get(Account, coordinator.id), again=True,
                        now=utcnow() + outreach.LINK_MAX_AGE)
        db.session.remove()
    response = client.get(path)
    assert response.status_code == 410
    assert "A newer invitation was sent to you" in text(response.get_data(as_text=True))


def test_someone_who_joined_by_another_way_gets_a_409(app, client, invited):
    path, advocate_id = invited()
    with app.app_context():
        advocate = db.session.get(Advocate, advocate_id)
        advocate.status = AdvocateStatus.ACTIVE  # e.g. the advocates import made them active meanwhile
        db.session.commit()
        db.session.remove()
    response = client.get(path)
    assert response.status_code == 409
    assert "You are in the reference program already" in text(response.get_data(as_text=True))


def test_someone_who_left_comes_back_themselves_through_an_invitation(
    app, client, make_advocate, make_account, signed_in, smtp, deliver
):
    """Leaving puts the address on the suppression list: staff cannot add it again, but may invite
    it, and the person's own acceptance lifts the suppression (``workflows.suppression``)."""
    fay = make_advocate(name="Fay Former", email="fay@customer.example", company="Fay Corp")
    with app.app_context():
        privacy.leave_program(fay.id, confirmation="LEAVE")
        assert suppression.is_suppressed("fay@customer.example")
        db.session.remove()
    deliver()  # the confirmation of leaving
    smtp.clear()

    http, _coordinator = signed_in("coordinator")
    response = http.post("/admin/candidates/invite-address", data={
        "csrf_token": csrf_token(page(http, "/admin/candidates")), "email": "fay@customer.example",
        "name": "Fay Former", "company": "Fay Corp",
    }, follow_redirects=True)
    assert flashed(response.get_data(as_text=True)) == ["Invitation sent to 1 person: Fay Former."]
    deliver()
    path = first_link(smtp.wait_for("fay@customer.example")[0]).removeprefix(BASE)
    with app.app_context():
        assert suppression.is_suppressed("fay@customer.example")  # inviting lifts nothing
        db.session.remove()

    assert "Join our customer reference program, Fay Former" in text(page(client, path))
    assert accept(client, path).headers["Location"] == "/portal/welcome"

    with app.app_context():
        assert not suppression.is_suppressed("fay@customer.example")
        account = db.session.scalar(select(Account).where(Account.email == "fay@customer.example"))
        assert account.role is Role.ADVOCATE and account.active
        advocate = account.advocate
        assert advocate.status is AdvocateStatus.ACTIVE and advocate.tier.name == "Occasional"
        assert advocate.consent_at is not None and advocate.id != fay.id
        assert advocate.company.name == "Fay Corp"
        invitation = db.session.scalar(select(Invitation))
        # The address is the account's, and no longer the invitation's.
        assert (invitation.advocate_id, invitation.email) == (advocate.id, None)
        db.session.remove()
    assert client.get("/portal").status_code == 200


def test_someone_invited_by_address_who_declines_leaves_no_address(app, client, signed_in, smtp, deliver):
    http, _coordinator = signed_in("coordinator")
    http.post("/admin/candidates/invite-address", data={
        "csrf_token": csrf_token(page(http, "/admin/candidates")), "email": "nope@example.com",
        "name": "No Pe",
    })
    deliver()
    path = first_link(smtp.wait_for("nope@example.com")[0]).removeprefix(BASE)
    declined = client.post(path + "/decline", data={"csrf_token": csrf_token(page(client, path))})
    assert declined.status_code == 200
    with app.app_context():
        invitation = db.session.scalar(select(Invitation))
        assert (invitation.email, invitation.name, invitation.advocate_id) == (None, "", None)
        assert invitation.declined_at is not None
        assert db.session.scalar(select(func.count()).select_from(Account)) == 1  # the coordinator
        assert db.session.scalar(select(func.count()).select_from(Company)) == 0
        db.session.remove()


def test_the_outbox_keeps_no_usable_link_once_the_invitation_is_sent(app, invited):
    """Joining signs the person in: nobody reading the outbox may join in their name."""
    invited()
    with app.app_context():
        [message] = db.session.scalars(select(OutboxMessage)).all()
        assert message.status is OutboxStatus.SENT
        assert "/join/" not in message.body_text and message.body_html is None
        db.session.remove()


def test_a_candidate_who_left_before_answering_cannot_use_the_link(app, client, invited):
    path, advocate_id = invited()
    with app.app_context():
        privacy.leave_program(advocate_id, confirmation="LEAVE")
        db.session.remove()
    response = client.get(path)
    assert response.status_code == 410
    assert "This invitation is no longer valid." in text(response.get_data(as_text=True))
