"""The tier named Active and the status "active" never read the same: where an advocate's tier
and status share a line, the tier reads "Active tier" and the status is in words."""

from __future__ import annotations

import re

import pytest

from models import AdvocateStatus, Role
from pages import ADVOCATE_STATUS_WORDS, advocate_status
from tests.helpers import text

WORDS = {
    "candidate": "Candidate",
    "invited": "Invited",
    "active": "In the program",
    "paused": "Paused",
    "retired": "Retired",
}


def page(http, url: str) -> str:
    response = http.get(url)
    assert response.status_code == 200, response.get_data(as_text=True)[:2000]
    return response.get_data(as_text=True)


def test_every_status_has_its_words_and_none_is_the_bare_value():
    assert set(ADVOCATE_STATUS_WORDS) == set(AdvocateStatus)
    assert {status.value: advocate_status(status) for status in AdvocateStatus} == WORDS
    assert advocate_status("active") == "In the program"


@pytest.mark.parametrize("status", sorted(WORDS))
def test_the_pool_and_the_advocate_page_show_the_tier_and_the_status_apart(client, make_account, sign_in,
                                                                            make_advocate, status):
    dana = make_advocate(name="Dana Example", company="Acme Health", tier="Active", status=status)
    sign_in(make_account(role=Role.COORDINATOR))

    pool = page(client, "/admin/advocates")
    cells = re.search(rf'<tr id="advocate-{dana.id}".*?</tr>', pool, re.S).group(0)
    assert '<td data-label="Tier">Active tier</td>' in cells
    assert f'<span class="status status-{status}">{WORDS[status]}</span>' in cells
    assert f'<option value="{status}">{WORDS[status]}</option>' in pool  # the status filter says the same

    heading = page(client, f"/admin/advocates/{dana.id}").split("</hgroup>", 1)[0]
    assert text(heading).endswith(f"Acme Health · {WORDS[status]} · Active tier")


@pytest.mark.parametrize("status", ["active", "paused"])
def test_the_advocates_home_shows_their_tier_and_their_status_apart(client, make_advocate, sign_in, status):
    dana = make_advocate(name="Dana Example", company="Acme Health", tier="Active", status=status)
    sign_in(dana.account)

    lede = page(client, "/portal").split('<p class="lede">', 1)[1].split("</p>", 1)[0]

    assert text(lede) == f"Acme Health · Active tier · {WORDS[status]}"


def test_an_advocate_without_a_tier_reads_so(client, make_account, sign_in, make_advocate):
    lone = make_advocate(tier=None, company="Acme Health")
    sign_in(make_account(role=Role.COORDINATOR))
    heading = page(client, f"/admin/advocates/{lone.id}").split("</hgroup>", 1)[0]
    assert text(heading).endswith("Acme Health · In the program · No tier")
