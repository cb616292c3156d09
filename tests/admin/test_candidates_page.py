"""The candidates screen: customers' contacts who are not advocates yet, ranked by advocacy
signals with each signal's weight and part, the program invitation sent to the ones ticked, the
funnel, and an invitation that bounced shown as undeliverable (read from the outbox)."""

from __future__ import annotations

import re
from datetime import date, timedelta

import pytest
from sqlalchemy import func, select

from models import (
    Account,
    Advocate,
    AdvocateStatus,
    Company,
    Industry,
    Invitation,
    OutboxMessage,
    OutboxStatus,
    Role,
    db,
)
from models.types import utcnow
from tests.conftest import csrf_token, first_link, text_body
from tests.helpers import flashed, page, section, text
from workflows import outreach

TODAY = date.today()
URL = "/admin/candidates"


def add_candidate(app, name: str, *, nps=None, health=None, renewed_days_ago=None, customer_days=None,
                  industry: str | None = None, email: str | None = None) -> int:
    """A customer's contact as the customers import makes one (a candidate advocate at a company
    with these signals) → the advocate's id."""

    def ago(days: int | None) -> date | None:
        return TODAY - timedelta(days=days) if days is not None else None

    with app.app_context():
        company = Company(
            name=f"{name} Corp", nps=nps, health_score=health, renewal_date=ago(renewed_days_ago),
            customer_since=ago(customer_days),
            industry=db.session.scalar(select(Industry).where(Industry.name == industry)) if industry
            else None,
        )
        slug = re.sub(r"[^a-z0-9]+", ".", name.lower())
        account = Account(email=email or f"{slug}@{slug}.example", name=name, role=Role.ADVOCATE)
        advocate = Advocate(account=account, company=company, status=AdvocateStatus.CANDIDATE,
                            job_title="Head of Operations")
        db.session.add_all([company, account, advocate])
        db.session.commit()
        advocate_id = advocate.id
        db.session.remove()
    return advocate_id


@pytest.fixture()
def make_candidate(app):
    """``make_candidate(name, nps=…, health=…, renewed_days_ago=…, customer_days=…, industry=…)``"""
    return lambda name, **signals: add_candidate(app, name, **signals)


def invite(http, *advocate_ids, again: bool = False, follow: bool = True):
    token = csrf_token(page(http, URL))
    data = {"csrf_token": token, "advocate_id": [str(i) for i in advocate_ids]}
    if again:
        data["again"] = "y"
    return http.post(f"{URL}/invite", data=data, follow_redirects=follow)


def row_ids(html: str) -> list[int]:
    return [int(i) for i in re.findall(r'<tr id="candidate-(\d+)"', html)]


def row(html: str, advocate_id: int) -> str:
    return re.search(rf'<tr id="candidate-{advocate_id}"[^>]*>.*?</tr>', html, re.S).group(0)


# --- the ranking -----------------------------------------------------------------------------


@pytest.fixture()
def hand_made(make_candidate, make_advocate):
    """Four candidates whose order the weights decide, and people who are not candidates."""
    ids = {
        "Dana Happy": make_candidate("Dana Happy", nps=80, health=90, renewed_days_ago=30, customer_days=1500,
                                     industry="Healthcare"),
        "Pat Promoter": make_candidate("Pat Promoter", nps=90, health=40, industry="Retail"),
        "Hal Healthy": make_candidate("Hal Healthy", health=95, customer_days=800, industry="Healthcare"),
        "Nia New": make_candidate("Nia New", customer_days=10),
    }
    make_advocate(name="Ada Already")  # active: an advocate, not a candidate
    ids["Ivy Invited"] = make_advocate(name="Ivy Invited", status="invited").id  # not joined yet: still one
    return ids


def test_candidates_are_ranked_by_their_signals_each_shown_with_its_weight(signed_in, hand_made):
    http, _coordinator = signed_in("coordinator")
    html = page(http, URL)

    # 88, 44, 40, then two at 0 in the order of their ids.
    assert row_ids(html) == [hand_made[n] for n in ("Dana Happy", "Pat Promoter", "Hal Healthy", "Nia New",
                                                     "Ivy Invited")]
    weights = text(section(html, "weights"))
    for words in ("NPS up to 35", "Health score up to 30", "Recent renewal up to 20",
                  "Time as a customer up to 15"):
        assert words in weights
    dana_row = row(html, hand_made["Dana Happy"])
    dana = text(dana_row)
    assert "Dana Happy" in dana and "Dana Happy Corp · Healthcare" in dana
    assert "Score 88 out of 100" in dana_row
    for part in ("NPS: +80 +28 of 35", "Health score: 90 of 100 +27 of 30",
                 "Recent renewal: renewed 1 month ago +18 of 20",
                 "Time as a customer: a customer for 4 years 1 month +15 of 15"):
        assert part in dana
    nia = text(row(html, hand_made["Nia New"]))
    assert "NPS: not in the CRM +0 of 35" in nia
    assert "Not invited yet" in nia
    assert "Ada Already" not in html


def test_the_industry_filter_and_the_empty_states(signed_in, hand_made, app):
    http, _coordinator = signed_in("coordinator")
    with app.app_context():
        healthcare = db.session.scalar(select(Industry.id).where(Industry.name == "Healthcare"))
        retail_free = db.session.scalar(select(Industry.id).where(Industry.name == "Energy"))
    assert row_ids(page(http, f"{URL}?industry={healthcare}")) == [hand_made["Dana Happy"],
                                                                   hand_made["Hal Healthy"]]
    empty = page(http, f"{URL}?industry={retail_free}")
    assert "No candidate matches this filter." in text(empty)


def test_no_candidates_says_where_they_come_from(signed_in):
    http, _coordinator = signed_in("coordinator")
    html = page(http, URL)
    assert "No candidates yet. Import the customers file" in text(section(html, "candidates"))
    assert 'href="/admin/imports"' in section(html, "candidates")


def test_candidates_from_the_customers_import_are_listed(app, signed_in, tmp_path):
    from workflows.imports import import_customers

    csv = tmp_path / "crm.csv"
    csv.write_text(
        "company,industry,employees,region,crm_id,contact_name,contact_email,contact_title,health_score,nps,"
        "renewal_date,customer_since\n"
        f"Zephyr Health,Healthcare,800,Europe,Z-1,Zoe Zephyr,zoe@zephyr.example,CIO,70,50,"
        f"{TODAY - timedelta(days=60)},{TODAY - timedelta(days=1000)}\n"
        "Orbit Retail,Retail,90,Europe,O-1,Otto Orbit,otto@orbit.example,COO,95,70,,\n"
    )
    with app.app_context():
        import_customers(str(csv))
        db.session.remove()
    http, _coordinator = signed_in("coordinator")
    html = text(page(http, URL))
    assert html.index("Zoe Zephyr") < html.index("Otto Orbit")  # 18+21+17+14 = 70 before 25+29 = 54
    assert "Score 70 out of 100" in page(http, URL)


def test_the_screen_is_paginated_and_its_query_count_does_not_grow(app, signed_in, make_candidate,
                                                                    count_queries):
    from workflows import candidates

    http, _coordinator = signed_in("coordinator")
    for n in range(3):
        make_candidate(f"Early {n}", nps=n)
    page(http, URL)
    with count_queries() as few:
        page(http, URL)
    for n in range(candidates.PAGE_SIZE + 2):
        make_candidate(f"Many {n}", nps=n % 100)
    with count_queries() as many:
        html = page(http, URL)
    assert len(many) == len(few)
    assert len(row_ids(html)) == candidates.PAGE_SIZE
    assert "page 1 of 2" in text(html)
    second = page(http, f"{URL}?page=2")
    assert len(row_ids(second)) == 5
    assert set(row_ids(second)).isdisjoint(row_ids(html))


# --- inviting --------------------------------------------------------------------------------


def test_the_ticked_candidates_get_a_personal_invitation_whose_link_opens_the_program(
    app, signed_in, hand_made, smtp, deliver, client
):
    http, coordinator = signed_in("coordinator", name="Cora Coordinator")
    response = invite(http, hand_made["Dana Happy"], hand_made["Nia New"])
    assert response.status_code == 200
    assert flashed(response.get_data(as_text=True))[0] == "Invitation sent to 2 people: Dana Happy, Nia New."

    deliver()
    with app.app_context():
        dana = db.session.get(Advocate, hand_made["Dana Happy"])
        email = dana.account.email
        assert dana.status is AdvocateStatus.INVITED
        invitation = db.session.scalar(select(Invitation).where(Invitation.advocate_id == dana.id))
        assert invitation.by_id == coordinator.id and invitation.sent_at is not None
        db.session.remove()
    [message] = smtp.wait_for(email)
    assert message["Subject"] == "An invitation to our customer reference program"
    body = text_body(message)
    assert "Hello Dana Happy," in body and "You and Dana Happy Corp" in body
    assert "at most 2 calls a quarter to begin with, at the Occasional tier" in body
    assert "Cora Coordinator" in body
    link = first_link(message)
    assert link.startswith("http://vouch.test/join/")

    program = page(client, link.removeprefix("http://vouch.test"))
    assert "Join our customer reference program, Dana Happy" in text(program)
    for tier in ("Premier tier", "Active tier", "Occasional tier"):
        assert tier in text(section(program, "tiers"))
    assert "Quarterly executive briefings" in program  # a tier's benefits, from the database

    html = page(http, URL)
    row = text(re.search(rf'<tr id="candidate-{hand_made["Dana Happy"]}".*?</tr>', html, re.S).group(0))
    assert "Opened the invitation, no answer yet" in row
    assert re.search(rf'value="{hand_made["Dana Happy"]}"[^>]*disabled', html)  # waiting: not ticked again


def test_inviting_twice_sends_once_and_says_who_was_left_out(app, signed_in, hand_made, smtp, deliver):
    http, _coordinator = signed_in("coordinator")
    invite(http, hand_made["Pat Promoter"])
    response = invite(http, hand_made["Pat Promoter"])
    assert flashed(response.get_data(as_text=True)) == [
        "Not invited: Pat Promoter — invited already, waiting for an answer."
    ]
    deliver()
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Invitation)) == 1
        db.session.remove()


def test_an_invitation_that_bounced_shows_as_undeliverable_and_is_not_sent_again_by_default(
    app, signed_in, make_candidate, smtp, deliver, monkeypatch
):
    """The SMTP server refuses the address with a 550: the message is dead in the outbox, and the
    screen reads that as undeliverable."""
    bounced = make_candidate("Bo Bounce", nps=50, email="bo@nowhere.example")
    fine = make_candidate("Fi Fine", nps=40, email="fi@customer.example")

    async def refuse_nowhere(server, session, envelope, address, rcpt_options):
        if address.endswith("@nowhere.example"):
            return "550 5.1.1 No such mailbox"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    monkeypatch.setattr(smtp, "handle_RCPT", refuse_nowhere, raising=False)
    monkeypatch.setitem(app.config, "MAIL_MAX_ATTEMPTS", 1)  # the worker gives a 5xx no second try
    http, _coordinator = signed_in("coordinator")
    invite(http, bounced, fine)
    deliver()
    smtp.wait_for("fi@customer.example")
    with app.app_context():
        statuses = {m.to[0]: m.status for m in db.session.scalars(select(OutboxMessage))}
        assert statuses == {"bo@nowhere.example": OutboxStatus.DEAD, "fi@customer.example": OutboxStatus.SENT}
        db.session.remove()

    html = page(http, URL)
    bo = row(html, bounced)
    assert 'class="undeliverable"' in bo
    assert "Undeliverable: the invitation bounced" in text(bo)
    assert "Invited, no answer yet" in text(row(html, fine))
    assert "Undeliverable 1" in text(section(html, "funnel"))
    assert row_ids(page(http, f"{URL}?state=undeliverable")) == [bounced]

    response = invite(http, bounced)
    assert flashed(response.get_data(as_text=True)) == [
        "Not invited: Bo Bounce — the earlier invitation could not be delivered."
    ]
    response = invite(http, bounced, again=True)
    assert flashed(response.get_data(as_text=True)) == ["Invitation sent to 1 person: Bo Bounce."]
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Invitation)) == 3
        db.session.remove()


def test_the_funnel_counts_invited_opened_joined_and_declined(app, signed_in, make_candidate, smtp, deliver,
                                                               client):
    ids = [make_candidate(f"Person {n}", nps=90 - n) for n in range(5)]
    http, _coordinator = signed_in("coordinator")
    invite(http, *ids)
    with app.app_context():
        invitations = {i.advocate_id: i for i in db.session.scalars(select(Invitation))}
        links = {advocate_id: outreach.link(invitation) for advocate_id, invitation in invitations.items()}
        db.session.remove()

    def path(advocate_id) -> str:
        return links[advocate_id].removeprefix("http://vouch.test")

    for advocate_id in ids[:3]:
        page(client, path(advocate_id))
    joining, declining = app.test_client(), app.test_client()
    joining.post(path(ids[0]) + "/accept",
                 data={"csrf_token": csrf_token(page(joining, path(ids[0]))), "accept_terms": "y"})
    declining.post(path(ids[1]) + "/decline", data={"csrf_token": csrf_token(page(declining, path(ids[1])))})

    funnel = text(section(page(http, URL), "funnel"))
    assert "Invited 5" in funnel and "Opened the page 3" in funnel
    assert "Joined 1" in funnel and "Declined 1" in funnel
    assert "Undeliverable" not in funnel
    with app.app_context():
        assert outreach.funnel() == outreach.Funnel(invited=5, opened=3, joined=1, declined=1,
                                                    undeliverable=0)
        db.session.remove()


def test_someone_not_in_the_list_is_invited_by_address_and_nothing_is_created(app, signed_in, smtp, deliver):
    http, _coordinator = signed_in("coordinator")
    with app.app_context():
        db.session.add(Company(name="Zephyr Health"))
        db.session.commit()
        db.session.remove()
    token = csrf_token(page(http, URL))
    response = http.post(f"{URL}/invite-address", data={
        "csrf_token": token, "email": "Newcomer@Zephyr.example", "name": "Nell Newcomer",
        "company": "zephyr health",
    }, follow_redirects=True)
    assert flashed(response.get_data(as_text=True)) == ["Invitation sent to 1 person: Nell Newcomer."]
    deliver()
    body = text_body(smtp.wait_for("newcomer@zephyr.example")[0])
    assert "Hello Nell Newcomer," in body and "You and Zephyr Health" in body
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Account).where(
            Account.email == "newcomer@zephyr.example")) == 0
        db.session.remove()

    again = http.post(f"{URL}/invite-address", data={"csrf_token": token, "email": "newcomer@zephyr.example"})
    assert again.status_code == 409
    assert "was invited already and has not answered yet" in text(again.get_data(as_text=True))


@pytest.mark.parametrize(("data", "status", "words"), [
    ({"email": "not an address"}, 422, "e-mail address, like dana@example.com"),
    ({"email": "x@example.com", "company": "Nobody Ltd"}, 422, "No company named Nobody Ltd is in Vouch"),
    ({"email": "x@example.com", "name": "n" * 121}, 422, "Keep it under 120 characters."),
])
def test_a_bad_address_form_says_what_is_wrong(signed_in, data, status, words):
    http, _coordinator = signed_in("coordinator")
    response = http.post(f"{URL}/invite-address", data={"csrf_token": csrf_token(page(http, URL)), **data})
    assert response.status_code == status
    assert words in text(response.get_data(as_text=True))


def test_a_staff_address_or_an_advocate_already_in_the_program_is_refused(signed_in, make_advocate):
    http, coordinator = signed_in("coordinator")
    ada = make_advocate(name="Ada Already", email="ada@customer.example")
    token = csrf_token(page(http, URL))
    staff = http.post(f"{URL}/invite-address", data={"csrf_token": token, "email": coordinator.email})
    assert staff.status_code == 422
    assert "belongs to a coordinator account" in text(staff.get_data(as_text=True))
    member = http.post(f"{URL}/invite-address", data={"csrf_token": token, "email": ada.account.email})
    assert member.status_code == 409
    assert "is an advocate already (in the program)" in text(member.get_data(as_text=True))


# --- bad input -------------------------------------------------------------------------------


@pytest.mark.parametrize("value", [str(2**31), "99999999999999999999", "-1", "abc", "", "1.5"])
def test_a_selection_with_an_id_no_database_holds_is_refused(app, signed_in, make_candidate, value):
    real = make_candidate("Real Person")
    http, _coordinator = signed_in("coordinator")
    response = http.post(f"{URL}/invite", data={"csrf_token": csrf_token(page(http, URL)),
                                               "advocate_id": [str(real), value]})
    assert response.status_code == 422
    assert "names a candidate that does not exist" in text(response.get_data(as_text=True))
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Invitation)) == 0
        db.session.remove()


def test_an_unknown_id_in_range_is_a_404_and_an_empty_selection_is_asked_again(app, signed_in,
                                                                                make_candidate):
    real = make_candidate("Real Person")
    http, _coordinator = signed_in("coordinator")
    token = csrf_token(page(http, URL))
    assert http.post(f"{URL}/invite", data={"csrf_token": token, "advocate_id": [str(real), "999999"]}
                     ).status_code == 404
    empty = http.post(f"{URL}/invite", data={"csrf_token": token}, follow_redirects=True)
    assert flashed(empty.get_data(as_text=True)) == ["Tick at least one candidate to invite."]
    too_many = http.post(f"{URL}/invite", data={"csrf_token": token,
                                               "advocate_id": [str(n) for n in range(1, 203)]})
    assert too_many.status_code == 422 and "at most 200" in text(too_many.get_data(as_text=True))
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Invitation)) == 0
        db.session.remove()


@pytest.mark.parametrize("query", ["page=0", f"page={2**31}", "page=abc", "industry=999999", "state=nope"])
def test_a_bad_filter_or_page_is_a_4xx(signed_in, query):
    http, _coordinator = signed_in("coordinator")
    assert 400 <= http.get(f"{URL}?{query}").status_code < 500


def test_an_advocate_already_active_is_not_invited(app, signed_in, make_advocate):
    ada = make_advocate(name="Ada Already")
    http, _coordinator = signed_in("coordinator")
    response = invite(http, ada.id)
    assert flashed(response.get_data(as_text=True)) == ["Not invited: Ada Already — in the program already."]
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Invitation)) == 0
        assert db.session.scalar(select(func.count()).select_from(OutboxMessage)) == 0
        db.session.remove()


def test_the_time_the_invitation_was_sent_is_shown(app, signed_in, make_candidate):
    person = make_candidate("Sue Sent")
    http, coordinator = signed_in("coordinator")
    with app.app_context():
        outreach.invite([person], by=db.session.get(Account, coordinator.id),
                        now=utcnow() - timedelta(days=40))
        db.session.remove()
    shown = text(row(page(http, URL), person))
    assert "No answer: the invitation expired" in shown
    assert f"sent {(utcnow() - timedelta(days=40)):%d %b %Y}" in shown
