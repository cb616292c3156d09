"""Every account's API tokens (``/admin/tokens/all``), admins only: owner, name, prefix, made,
last used, revoked; by owner and state, a page at a time, a flat query count; any token revoked
behind a confirmation, audited, back to the same page of the list. The personal page stays
each person's own."""

from __future__ import annotations

import re
from datetime import timedelta
from html import unescape

import pytest
from sqlalchemy import select, update

from models import ApiToken, AuditEvent, Role, db
from models.types import utcnow
from tests.conftest import csrf_token
from tests.helpers import flashed, page, section
from tests.helpers import text as words
from tests.test_confirm_steps import opened, step
from tests.test_tables import assert_cells_labelled
from tests.test_tokens import make_token
from workflows import tokens

URL = "/admin/tokens/all"


def text(html: str) -> str:
    return unescape(words(html))


def post(http, url: str, form_page: str = URL):
    return http.post(url, data={"csrf_token": csrf_token(page(http, form_page))})


def test_an_admin_sees_every_accounts_tokens_with_owner_prefix_and_use(app, signed_in, make_account):
    http, _admin = signed_in("admin")
    olga = make_account(role=Role.SALES, name="Olga Other", email="olga@vouch.example")
    cora = make_account(role=Role.COORDINATOR, name="Cora Coordinator", email="cora@vouch.example")
    used, secret = make_token(app, olga, "Salesforce")
    unused, _ = make_token(app, cora, "Script")
    old, _ = make_token(app, cora, "Old CRM")
    with app.app_context():
        tokens.authenticate(secret)  # used once, just now
        tokens.revoke_token(old, by=db.session.get(type(cora), cora.id))
        db.session.remove()

    html = page(http, URL)

    rows = section(html, "tokens")
    salesforce = text(re.search(rf'<tr id="token-{used}">.*?</tr>', rows, re.S).group(0))
    assert "Olga Other olga@vouch.example · sales" in salesforce
    assert f"Salesforce {secret[:tokens.PREFIX_LENGTH]}…" in salesforce
    assert "never" not in salesforce and "Revoke…" in salesforce
    script = text(re.search(rf'<tr id="token-{unused}">.*?</tr>', rows, re.S).group(0))
    assert "never" in script
    revoked = text(re.search(rf'<tr id="token-{old}">.*?</tr>', rows, re.S).group(0))
    assert "revoked" in revoked and "Revoke…" not in revoked
    assert rows.index(f'id="token-{unused}"') < rows.index(f'id="token-{old}"')  # working first
    assert secret not in html
    assert_cells_labelled(html)
    assert 'href="/admin/tokens/all"' in page(http, "/admin/tokens")  # linked from the personal page


@pytest.mark.parametrize(("query", "expected"), [
    ("?owner=olga", {"Salesforce"}),
    ("?owner=CORA%40vouch", {"Script", "Old CRM"}),
    ("?state=working", {"Salesforce", "Script"}),
    ("?state=revoked", {"Old CRM"}),
    ("?owner=cora&state=working", {"Script"}),
    ("?owner=_", set()),
])
def test_the_list_filters_by_owner_and_state(app, signed_in, make_account, query, expected):
    http, _admin = signed_in("admin")
    olga = make_account(role=Role.SALES, name="Olga Other", email="olga@vouch.example")
    cora = make_account(role=Role.COORDINATOR, name="Cora Coordinator", email="cora@vouch.example")
    make_token(app, olga, "Salesforce")
    make_token(app, cora, "Script")
    old, _ = make_token(app, cora, "Old CRM")
    with app.app_context():
        tokens.revoke_token(old, by=db.session.get(type(cora), cora.id))
        db.session.remove()

    html = page(http, URL + query)

    names = {m.strip() for m in re.findall(r'<td data-label="Token">([^<]+)<code', html)}
    assert names == expected
    if not expected:
        assert "No token matches this search." in text(html)


@pytest.mark.parametrize("query", ["?state=lost", "?page=0", "?page=99999999999999999999", "?page=2x",
                                   "?owner=" + "x" * 101])
def test_a_bad_search_is_a_4xx(signed_in, query):
    http, _admin = signed_in("admin")
    assert http.get(URL + query).status_code in (400, 422)


def test_revoking_any_token_asks_first_is_audited_and_comes_back_to_the_same_list(app, signed_in,
                                                                                 make_account):
    http, admin = signed_in("admin")
    olga = make_account(role=Role.SALES, name="Olga Other", email="olga@vouch.example")
    token_id, secret = make_token(app, olga, "Salesforce")
    listing = URL + "?owner=olga&state=working"
    action = f"/admin/tokens/all/{token_id}/revoke?owner=olga&state=working"

    confirm = step(page(http, listing), action.replace("&", "&amp;"))
    assert not opened(confirm)
    assert "Yes, revoke the token" in confirm
    assert "Revoke Salesforce" in unescape(confirm)

    response = post(http, action, form_page=listing)

    assert response.status_code == 302 and response.headers["Location"] == listing
    after = page(http, listing)
    assert [unescape(m) for m in flashed(after)] == [
        "The token “Salesforce” of Olga Other (olga@vouch.example) is revoked: it no longer works."]
    assert "No token matches this search." in text(after)  # it is no longer working
    with app.app_context():
        assert tokens.authenticate(secret) is None
        [event] = db.session.scalars(select(AuditEvent).where(AuditEvent.kind == "api_token.revoked"))
        assert event.actor_id == admin.id and event.subject == "olga@vouch.example"
        db.session.remove()

    again = post(http, action, form_page=listing)
    assert again.status_code == 302
    assert [unescape(m) for m in flashed(page(http, listing))] == [
        "Nothing was changed. The token “Salesforce” was already revoked."]


def test_an_unknown_token_is_a_404(signed_in):
    http, _admin = signed_in("admin")
    assert post(http, "/admin/tokens/all/999999/revoke").status_code == 404
    assert post(http, "/admin/tokens/all/99999999999999999999/revoke").status_code == 404


def test_the_list_pages_and_reads_the_same_number_of_queries_for_2_and_60_tokens(app, signed_in, make_account,
                                                                                 count_queries):
    http, _admin = signed_in("admin")

    def measure() -> int:
        with count_queries() as statements:
            assert http.get(URL).status_code == 200
        return len(statements)

    for _ in range(2):
        make_token(app, make_account(role=Role.SALES))
    small = measure()
    for _ in range(58):
        make_token(app, make_account(role=Role.COORDINATOR))
    with app.app_context():  # some were used, at different times
        db.session.execute(update(ApiToken).where(ApiToken.id % 3 == 0).values(last_used_at=utcnow()
                                                                              - timedelta(days=2)))
        db.session.commit()
    large = measure()
    assert small == large <= 4

    html = page(http, URL)
    assert "60 tokens · page 1 of 2" in text(html)
    assert len(re.findall(r'<tr id="token-', page(http, URL + "?page=2"))) == 10
    assert 'href="/admin/tokens/all?page=2" rel="next"' in html


def test_the_personal_page_shows_an_admin_only_their_own_tokens(app, signed_in, make_account):
    http, admin = signed_in("admin")
    mine, _ = make_token(app, admin, "My script")
    make_token(app, make_account(role=Role.SALES), "Somebody's CRM")
    html = page(http, "/admin/tokens")
    assert "My script" in html and "Somebody's CRM" not in unescape(html)
    revoke = step(html, f"/admin/tokens/{mine}/revoke")
    assert not opened(revoke) and "Yes, revoke the token" in revoke


@pytest.mark.parametrize("role", ["coordinator", "sales", "advocate"])
def test_only_admins_see_every_accounts_tokens(app, signed_in, make_account, role):
    http, account = signed_in(role)
    other, secret = make_token(app, make_account(role=Role.SALES), "Somebody's CRM")
    token = csrf_token(http.get("/portal" if role == "advocate" else "/admin/").get_data(as_text=True))
    assert http.get(URL).status_code == 403
    assert http.post(f"{URL}/{other}/revoke", data={"csrf_token": token}).status_code == 403
    with app.app_context():
        assert tokens.authenticate(secret) is not None
    if role != "advocate":
        assert 'href="/admin/tokens/all"' not in http.get("/admin/tokens").get_data(as_text=True)
