"""The advocate's asks inbox (/portal/asks): the asks waiting for an answer first, soonest due
first, never naming the prospect; then the others, newest first, a page at a time; empty states;
in the portal's navigation; a fixed number of queries whatever the number of asks."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest

import portal.asks
from models import Ask, RequestStatus, Role, db
from models.types import utcnow
from tests.helpers import section, text

PROSPECT = {"prospect_company": "Zephyr Hospitals AG", "contact_name": "Quentin Quaile",
            "contact_email": "quentin@zephyr-hospitals.example"}


@pytest.fixture()
def advocate(make_advocate, sign_in):
    """An advocate in New York, signed in on ``client``."""
    advocate = make_advocate(name="Dana Whitfield", timezone="America/New_York")
    sign_in(advocate.account)
    return advocate


def inbox(client, query: str = "", status: int = 200) -> str:
    response = client.get("/portal/asks" + query)
    assert response.status_code == status
    return response.get_data(as_text=True)


def listed(html: str, part: str) -> list[int]:
    return [int(found) for found in re.findall(r'id="ask-(\d+)"', section(html, part))]


def asked_at(app, ask_id: int, moment: datetime, responded: datetime | None = None) -> None:
    with app.app_context():
        ask = db.session.get(Ask, ask_id)
        ask.created_at = moment
        ask.responded_at = responded
        db.session.commit()


def test_the_asks_waiting_for_an_answer_come_first_soonest_due_first_without_the_prospect(
    client, advocate, make_ask, make_request
):
    request = make_request(format="video", industry="Financial Services", employees=2500,
                           topics=["Security"], status=RequestStatus.ASKING, **PROSPECT)
    later = make_ask(advocate, request=request, expires_at=datetime(2099, 1, 10, 17, 0, tzinfo=UTC))
    sooner = make_ask(advocate, expires_at=datetime(2099, 1, 9, 17, 0, tzinfo=UTC))
    declined = make_ask(advocate, status="declined")

    html = inbox(client)

    assert html.index('id="pending"') < html.index('id="answered"')
    assert listed(html, "pending") == [sooner.id, later.id]
    assert listed(html, "answered") == [declined.id]
    words = text(section(html, "pending"))
    assert "Waiting for your answer (2)" in words
    assert "Video call with a prospect in Financial Services" in words
    assert "1001–5000 employees" in words
    assert "Please answer by Fri 09 Jan 2099, 12:00" in words  # 17:00 UTC, in New York
    assert f'href="/portal/asks/{sooner.id}"' in html
    for secret in PROSPECT.values():
        assert secret not in html


def test_answered_withdrawn_and_expired_asks_say_what_became_of_them_newest_first(
    app, client, advocate, make_ask, make_request, make_advocate
):
    accepted = make_ask(advocate, status="accepted", request=make_request(**PROSPECT))
    declined = make_ask(advocate, status="declined",
                        request=make_request(industry="Retail", **PROSPECT))
    expired = make_ask(advocate, status="expired")
    withdrawn = make_ask(advocate, status="withdrawn")
    overdue = make_ask(advocate, expires_at=utcnow() - timedelta(minutes=5))  # pending, past its time
    theirs = make_ask(make_advocate(), status="declined")
    days = {accepted.id: 1, declined.id: 2, expired.id: 3, withdrawn.id: 4, overdue.id: 5}
    for ask_id, ago in days.items():
        asked_at(app, ask_id, utcnow() - timedelta(days=ago),
                 datetime(2026, 3, 2, 15, 30, tzinfo=UTC) if ask_id in (accepted.id, declined.id) else None)

    html = inbox(client)

    assert listed(html, "answered") == [accepted.id, declined.id, expired.id, withdrawn.id, overdue.id]
    assert listed(html, "pending") == []
    assert f"/portal/asks/{theirs.id}" not in html
    rows = {ask_id: text(re.search(rf'<li id="ask-{ask_id}">(.*?)</li>', html, re.S).group(1))
            for ask_id in days}
    assert rows[accepted.id].startswith("You accepted on Mon 02 Mar 2026, 10:30")  # New York
    assert "Phone call for Zephyr Hospitals AG" in rows[accepted.id]  # theirs once accepted
    assert rows[declined.id].startswith("You declined on")
    assert "for a prospect in Retail" in rows[declined.id] and "Zephyr" not in rows[declined.id]
    assert rows[expired.id].startswith("Expired unanswered")
    assert rows[withdrawn.id].startswith("Withdrawn")
    assert rows[overdue.id].startswith("Expired unanswered")
    assert f'href="/portal/asks/{accepted.id}"' in html


def test_empty_states_say_so(client, advocate):
    words = text(inbox(client))
    assert "Nothing is asked of you right now." in words
    assert "No answered asks yet." in words


def test_the_inbox_is_in_the_portal_navigation_and_linked_from_the_home_page(client, advocate):
    html = inbox(client)
    assert '<a href="/portal/asks" aria-current="page">Asks</a>' in html
    assert 'href="/portal/asks"' in client.get("/portal").get_data(as_text=True)


def test_the_answered_asks_come_a_page_at_a_time(app, client, advocate, make_ask, monkeypatch):
    monkeypatch.setattr(portal.asks, "ANSWERED_PER_PAGE", 2)
    pending = make_ask(advocate)
    answered = [make_ask(advocate, status="declined") for _ in range(5)]
    for ago, ask in enumerate(answered):
        asked_at(app, ask.id, utcnow() - timedelta(days=ago + 1))
    ids = [ask.id for ask in answered]

    first = inbox(client)
    assert listed(first, "answered") == ids[:2]
    assert listed(first, "pending") == [pending.id]
    assert 'href="/portal/asks?page=2" rel="next"' in first
    second = inbox(client, "?page=2")
    assert listed(second, "answered") == ids[2:4]
    assert 'id="pending"' not in second  # the waiting ones are on the first page
    assert 'rel="prev"' in second and 'rel="next"' in second
    assert listed(inbox(client, "?page=3"), "answered") == ids[4:]
    assert "There are no more asks." in text(inbox(client, "?page=9"))
    for page in ("0", "x", "99999999999"):
        assert "The page is a whole number" in text(inbox(client, f"?page={page}", status=422))


def test_only_an_advocate_opens_the_inbox(app, make_account, sign_in, make_advocate):
    for role in (Role.SALES, Role.COORDINATOR):
        http = app.test_client()
        sign_in(make_account(role=role), http=http)
        assert http.get("/portal/asks").status_code == 403
    assert app.test_client().get("/portal/asks").status_code == 302  # to the sign-in page
    http = app.test_client()
    sign_in(make_account(role=Role.ADVOCATE), http=http)  # no profile yet
    assert http.get("/portal/asks").status_code == 404


def test_the_inbox_issues_the_same_number_of_queries_whatever_the_number_of_asks(
    client, advocate, make_ask, make_request, count_queries
):
    def add(count: int) -> None:
        for n in range(count):
            request = make_request(topics=["Security", "ROI"], use_cases=[f"Use case {n}"])
            make_ask(advocate, request=request)
            make_ask(advocate, request=make_request(**PROSPECT), status="accepted")
            make_ask(advocate, status="declined")

    def measure() -> int:
        with count_queries() as queries:
            inbox(client)
        return len(queries)

    add(1)
    one = measure()
    add(14)
    assert len(listed(inbox(client), "pending")) == 15
    assert measure() == one
    assert one <= 7  # account, profile, the waiting asks and their tags, the others
