"""The request page keeps its ranking while nothing it depends on changes, and shows a change
made through any workflow at once: the kept ranking is checked against the pool version."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from models import Advocate, Role, Tier, db
from models.types import utcnow
from tests.admin.test_requests_pages import ZEPHYR, candidate_ids
from tests.helpers import fit
from tests.helpers import page as get
from workflows import availability


@pytest.fixture()
def coordinator(make_account, sign_in):
    account = make_account(role=Role.COORDINATOR, name="Cora Ordinator")
    sign_in(account)
    return account


@pytest.fixture()
def seller(make_account):
    return make_account(role=Role.SALES, name="Sam Seller")


def excluded_ids(html: str) -> list[int]:
    return [int(n) for n in re.findall(r'<li id="excluded-(\d+)"', html)]


def test_a_change_to_an_advocate_shows_on_the_request_page_at_once(
    app, client, coordinator, seller, make_request, make_advocate, restore_tiers
):
    request = make_request(requested_by=seller, format="call", industry="Healthcare", **ZEPHYR)
    dana = make_advocate(name="Dana Example", company="Acme Health", tier="Premier")
    fit(app, dana.id, glad=("Security",))
    eli = make_advocate(name="Eli Other", company="Bolt Retail")
    fit(app, eli.id)
    url = f"/admin/requests/{request.id}"
    assert set(candidate_ids(get(client, url))) == {dana.id, eli.id}
    assert set(candidate_ids(get(client, url))) == {dana.id, eli.id}  # the kept ranking

    with app.app_context():  # availability: every window gone
        windows = [w.id for w in db.session.get(Advocate, eli.id).windows]
        for window_id in windows:
            availability.remove_window(eli.id, window_id)
    html = get(client, url)
    assert candidate_ids(html) == [dana.id]
    assert eli.id in excluded_ids(html)
    assert "no weekly availability windows on their profile" in html

    with app.app_context():  # the profile
        availability.snooze(dana.id, utcnow().date() + timedelta(days=3), now=utcnow())
    html = get(client, url)
    assert candidate_ids(html) == []
    assert "snoozed until" in html

    with app.app_context():
        availability.clear_snooze(dana.id)
    assert candidate_ids(get(client, url)) == [dana.id]
    with app.app_context():  # the tier's quota, as an admin edits it
        db.session.scalar(select(Tier).where(Tier.name == "Premier")).quarterly_quota = 0
        db.session.commit()
    html = get(client, url)
    assert candidate_ids(html) == []
    assert "0 of 0 calls this quarter" in html


def test_a_kept_ranking_reads_no_match_rows_and_as_many_queries_for_5_as_for_40_advocates(
    app, client, coordinator, seller, make_request, make_advocate, count_queries
):
    request = make_request(requested_by=seller, format="call", industry="Healthcare", **ZEPHYR)
    url = f"/admin/requests/{request.id}"

    def add(count: int) -> None:
        for n in range(count):
            advocate = make_advocate(status=["active", "paused"][n % 2])
            fit(app, advocate.id, glad=("Security",) if n % 3 else ())

    def measure() -> tuple[int, int]:
        with count_queries() as queries:
            get(client, url)
        return len(queries), sum("match_rows" in statement for statement in queries)

    add(5)
    first, first_matching = measure()
    kept, kept_matching = measure()
    add(35)
    again, again_matching = measure()  # the pool changed: ranked again
    assert len(candidate_ids(get(client, f"{url}?candidates=all"))) > 10
    kept_forty, kept_forty_matching = measure()
    assert first_matching == again_matching > 0
    assert kept_matching == kept_forty_matching == 0
    assert first == again and kept == kept_forty < first


def test_the_candidates_drawn_for_one_coordinator_carry_the_next_ones_own_token(
    app, signed_in, seller, make_request, make_advocate
):
    request = make_request(requested_by=seller, format="call", industry="Healthcare", **ZEPHYR)
    dana = make_advocate(name="Dana Example", company="Acme Health", tier="Premier")
    fit(app, dana.id, glad=("Security",))
    url = f"/admin/requests/{request.id}"
    first, _ = signed_in("coordinator")
    second, _ = signed_in("coordinator")

    def ask_tokens(html: str) -> set[str]:
        found = re.search(r'<section id="candidates".*?</section>', html, re.S).group(0)
        return set(re.findall(r'name="csrf_token" value="([^"]+)"', found))

    drawn = get(first, url)
    shown = get(second, url)  # the kept drawing, for someone else
    assert candidate_ids(shown) == candidate_ids(drawn) == [dana.id]
    sign_out_token = re.search(r'name="csrf_token" value="([^"]+)"', shown).group(1)  # the page's own
    assert ask_tokens(shown) == {sign_out_token} != ask_tokens(drawn)

    token = ask_tokens(shown).pop()
    answer = second.post(f"{url}/asks", data={"csrf_token": token, "advocate_id": dana.id})
    assert answer.status_code == 302
    # The ask is pending now: the candidates are drawn again, with the second step.
    assert candidate_ids(get(first, url)) == []
