"""Personal API tokens: made (page and command line), kept only as a digest, shown
once, revoked by their owner or an admin, refused to advocates; and their page."""

from __future__ import annotations

import re
from datetime import timedelta
from html import unescape

import pytest
from sqlalchemy import func, select

from models import Account, ApiToken, AuditEvent, Role, db
from models.types import utcnow
from tests.conftest import csrf_token
from workflows import tokens
from workflows.links import digest

# --- helpers -----------------------------------------------------------------------------------


def make_token(app, account, name="CRM") -> tuple[int, str]:
    with app.app_context():
        token, secret = tokens.create_token(account.email, name=name)
        token_id = token.id
        db.session.remove()
    return token_id, secret


def token_row(app, token_id: int) -> ApiToken:
    with app.app_context():
        row = db.session.get(ApiToken, token_id)
        db.session.expunge(row)
    return row


def audit(app, kind: str) -> list[AuditEvent]:
    with app.app_context():
        query = select(AuditEvent).where(AuditEvent.kind == kind).order_by(AuditEvent.id)
        rows = list(db.session.scalars(query))
        db.session.expunge_all()
    return rows


def token_count(app) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(ApiToken))


def text(html: str) -> str:
    return unescape(" ".join(re.sub(r"<[^>]+>", " ", html).split()))


def flashed(html: str) -> list[str]:
    found = re.findall(r'class="flash[^"]*" role="status">(.*?)</p>', html, re.S)
    return [unescape(" ".join(m.split())) for m in found]


def post(http, url: str, data: dict | None = None):
    token = csrf_token(http.get("/admin/tokens").get_data(as_text=True))
    return http.post(url, data={"csrf_token": token, **(data or {})})


@pytest.fixture()
def signed_in(app, make_account, sign_in):
    """``signed_in(role)`` → (a client signed in with a new account of that role, the account)."""

    def run(role: str, **values):
        account = make_account(role=role, **values)
        http = app.test_client()
        sign_in(account, http=http)
        return http, account

    return run


# --- making a token ----------------------------------------------------------------------------


@pytest.mark.parametrize("role", ["sales", "coordinator", "admin"])
def test_a_token_is_kept_only_as_its_digest_and_a_short_prefix(app, make_account, role):
    account = make_account(role=role)
    with app.app_context():
        token, secret = tokens.create_token(account.email.upper(), name="  Our   CRM ")
        row = db.session.get(ApiToken, token.id)
        assert row.account_id == account.id
        assert row.name == "Our CRM"
        assert row.token_hash == digest(secret) != secret
        assert row.prefix == secret[: tokens.PREFIX_LENGTH]
        assert len(secret) >= 40 and secret not in (row.name, row.prefix, row.token_hash)
        assert row.revoked_at is None and row.last_used_at is None


def test_two_tokens_are_never_the_same(app, make_account):
    account = make_account(role="sales")
    secrets = {make_token(app, account)[1] for _ in range(5)}
    assert len(secrets) == 5


def test_making_a_token_is_audited_without_the_token(app, make_account):
    account = make_account(role="sales", email="sam@vouch.example")
    token_id, secret = make_token(app, account, name="Pipedrive")
    [event] = audit(app, "api_token.created")
    assert event.subject == "sam@vouch.example"
    assert event.detail == {"token_id": token_id, "name": "Pipedrive"}
    assert secret not in repr(event.detail) and secret[: tokens.PREFIX_LENGTH] not in repr(event.detail)


@pytest.mark.parametrize(
    ("email", "role", "active", "message"),
    [
        ("nobody@example.com", None, True, "There is no account for nobody@example.com."),
        ("adele@example.com", "advocate", True, "only sales, coordinator and admin accounts"),
        ("gone@example.com", "sales", False, "is deactivated"),
    ],
)
def test_only_active_sales_and_staff_accounts_get_tokens(app, make_account, email, role, active, message):
    if role:
        make_account(role=role, email=email, active=active)
    with app.app_context(), pytest.raises(tokens.TokenError, match=message):
        tokens.create_token(email)
    assert token_count(app) == 0
    assert audit(app, "api_token.created") == []


@pytest.mark.parametrize(
    ("name", "message"), [("   ", "Give the token a name"), ("x" * 121, "120 characters")]
)
def test_a_token_needs_a_short_name(app, make_account, name, message):
    account = make_account(role="sales")
    with app.app_context(), pytest.raises(tokens.TokenError, match=message):
        tokens.create_token(account.email, name=name)
    assert token_count(app) == 0


def test_only_an_admin_makes_a_token_for_somebody_else(app, make_account):
    seller, other, admin = make_account(role="sales"), make_account(role="sales"), make_account(role="admin")
    with app.app_context():
        by = db.session.get(Account, other.id)
        with pytest.raises(tokens.TokenError, match="only make API tokens for yourself"):
            tokens.create_token(seller.email, by=by)
        token, _secret = tokens.create_token(seller.email, by=db.session.get(Account, admin.id))
        assert token.account_id == seller.id
    assert token_count(app) == 1


# --- the command line --------------------------------------------------------------------------


def test_the_command_prints_the_token_alone_on_its_last_line(app, runner, make_account):
    account = make_account(role="coordinator", email="cora@vouch.example")
    result = runner.invoke(args=["tokens", "create", "cora@vouch.example", "--name", "HubSpot"])
    assert result.exit_code == 0, result.output
    secret = result.output.rstrip("\n").splitlines()[-1]
    assert secret.strip() == secret and " " not in secret
    with app.app_context():
        assert tokens.authenticate(secret).id == account.id
        assert db.session.scalar(select(ApiToken.name)) == "HubSpot"


def test_the_command_refuses_an_advocate(runner, make_account):
    make_account(role="advocate", email="adele@example.com")
    result = runner.invoke(args=["tokens", "create", "adele@example.com"])
    assert result.exit_code != 0
    assert "only sales, coordinator and admin accounts can have API tokens" in result.output


# --- authenticating ----------------------------------------------------------------------------


def test_a_token_authenticates_its_account_and_notes_when_it_was_used(app, make_account):
    account = make_account(role="sales")
    token_id, secret = make_token(app, account)
    with app.app_context():
        assert tokens.authenticate(secret).id == account.id
    first_use = token_row(app, token_id).last_used_at
    assert first_use is not None and utcnow() - first_use < timedelta(minutes=1)

    with app.app_context():  # used again at once: not written again (at most once a minute)
        assert tokens.authenticate(secret).id == account.id
    assert token_row(app, token_id).last_used_at == first_use

    with app.app_context():
        db.session.get(ApiToken, token_id).last_used_at = utcnow() - timedelta(minutes=5)
        db.session.commit()
        assert tokens.authenticate(secret).id == account.id
    assert token_row(app, token_id).last_used_at > first_use


@pytest.mark.parametrize("secret", [None, "", "not-a-token", "x" * 5000])
def test_anything_but_a_token_authenticates_nobody(app, make_account, secret):
    make_token(app, make_account(role="sales"))
    with app.app_context():
        assert tokens.authenticate(secret) is None


def test_a_revoked_token_or_a_deactivated_account_authenticates_nobody(app, make_account):
    seller, other = make_account(role="sales"), make_account(role="sales")
    revoked_id, revoked = make_token(app, seller)
    _id, deactivated = make_token(app, other)
    with app.app_context():
        tokens.revoke_token(revoked_id, by=db.session.get(Account, seller.id))
        db.session.get(Account, other.id).deactivate()
        db.session.commit()
        assert tokens.authenticate(revoked) is None
        assert tokens.authenticate(deactivated) is None


def test_a_token_stops_working_when_its_account_becomes_an_advocate(app, make_account):
    account = make_account(role="sales")
    _id, secret = make_token(app, account)
    with app.app_context():
        db.session.get(Account, account.id).role = Role.ADVOCATE
        db.session.commit()
        assert tokens.authenticate(secret) is None


# --- revoking ----------------------------------------------------------------------------------


def test_the_owner_revokes_their_token_once_and_it_is_audited(app, make_account):
    account = make_account(role="sales", email="sam@vouch.example")
    token_id, _secret = make_token(app, account, name="CRM")
    with app.app_context():
        owner = db.session.get(Account, account.id)
        revoked = tokens.revoke_token(token_id, by=owner)
        assert revoked.revoked_at is not None
        with pytest.raises(tokens.TokenAlreadyRevoked, match="already revoked"):
            tokens.revoke_token(token_id, by=owner)
    [event] = audit(app, "api_token.revoked")
    assert (event.actor_id, event.subject, event.detail) == (
        account.id, "sam@vouch.example", {"token_id": token_id, "name": "CRM"}
    )


@pytest.mark.parametrize("role", ["sales", "coordinator"])
def test_nobody_but_the_owner_or_an_admin_revokes_a_token(app, make_account, role):
    owner, stranger, admin = make_account(role="sales"), make_account(role=role), make_account(role="admin")
    token_id, secret = make_token(app, owner)
    with app.app_context():
        with pytest.raises(tokens.TokenNotFound):
            tokens.revoke_token(token_id, by=db.session.get(Account, stranger.id))
        with pytest.raises(tokens.TokenNotFound):
            tokens.revoke_token(token_id + 100, by=db.session.get(Account, stranger.id))
        assert tokens.authenticate(secret) is not None
        tokens.revoke_token(token_id, by=db.session.get(Account, admin.id))
        assert tokens.authenticate(secret) is None


def test_everybody_sees_their_own_tokens_and_an_admin_sees_all_on_another_page(app, make_account):
    seller, coordinator, admin = (make_account(role=r) for r in ("sales", "coordinator", "admin"))
    first, _ = make_token(app, seller, "first")
    second, _ = make_token(app, seller, "second")
    theirs, _ = make_token(app, coordinator, "theirs")
    with app.app_context():
        tokens.revoke_token(first, by=db.session.get(Account, seller.id))
        assert [t.id for t in tokens.visible_tokens(db.session.get(Account, seller.id))] == [second, first]
        assert [t.id for t in tokens.visible_tokens(db.session.get(Account, coordinator.id))] == [theirs]
        assert tokens.visible_tokens(db.session.get(Account, admin.id)) == []
        everything, total = tokens.every_token()
        assert [t.id for t in everything] == [theirs, second, first] and total == 3


# --- the page ----------------------------------------------------------------------------------


@pytest.mark.parametrize("role", ["sales", "coordinator", "admin"])
def test_the_page_says_when_there_are_no_tokens_and_offers_to_make_one(signed_in, role):
    http, _account = signed_in(role)
    response = http.get("/admin/tokens")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "no API tokens yet" in html or "Nobody has an API token yet" in html
    assert '<label for="name">What is it for?</label>' in html
    assert 'href="/admin/tokens"' in html  # in the menu


def test_an_advocate_may_not_open_the_page(signed_in):
    http, _account = signed_in("advocate")
    assert http.get("/admin/tokens").status_code == 403


def test_the_new_token_is_shown_once_and_never_again(app, signed_in):
    http, account = signed_in("sales")
    response = post(http, "/admin/tokens", {"name": "Salesforce"})
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    html = response.get_data(as_text=True)
    secret = re.search(r'id="new-token-value" type="text" readonly value="([^"]+)"', html).group(1)
    assert '<label for="new-token-value">' in html
    assert flashed(html) == ["Your token “Salesforce” is ready. Copy it now: it is shown only this once."]
    with app.app_context():
        assert tokens.authenticate(secret).id == account.id

    again = http.get("/admin/tokens").get_data(as_text=True)
    assert secret not in again
    assert "Salesforce" in again and secret[: tokens.PREFIX_LENGTH] + "…" in again
    assert secret not in (http.get_cookie("vouch_session").value if http.get_cookie("vouch_session") else "")


def test_a_bad_name_makes_nothing_and_says_why(app, signed_in):
    http, _account = signed_in("coordinator")
    response = post(http, "/admin/tokens", {"name": ""})
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert flashed(html) == ["No token was made. Give the token a name, such as the CRM that will use it."]
    assert 'aria-invalid="true"' in html
    assert token_count(app) == 0


def test_making_a_token_needs_the_forms_csrf_token(app, signed_in):
    http, _account = signed_in("sales")
    assert http.post("/admin/tokens", data={"name": "CRM"}).status_code == 400
    assert token_count(app) == 0


def test_the_owner_revokes_on_the_page(app, signed_in):
    http, account = signed_in("sales")
    token_id, secret = make_token(app, account, name="CRM")
    response = post(http, f"/admin/tokens/{token_id}/revoke")
    assert response.status_code == 302 and response.headers["Location"] == "/admin/tokens"
    html = http.get("/admin/tokens").get_data(as_text=True)
    assert flashed(html) == ["The token “CRM” is revoked: it no longer works."]
    assert "revoked" in text(html) and f'action="/admin/tokens/{token_id}/revoke"' not in html
    with app.app_context():
        assert tokens.authenticate(secret) is None

    response = post(http, f"/admin/tokens/{token_id}/revoke")
    html = http.get("/admin/tokens").get_data(as_text=True)
    assert flashed(html) == ["Nothing was changed. The token “CRM” was already revoked."]


def test_a_seller_cannot_see_or_revoke_somebody_elses_token(app, signed_in, make_account):
    http, _account = signed_in("sales")
    other = make_account(role="sales", name="Olga Other")
    token_id, secret = make_token(app, other, name="Olga's CRM")
    assert "Olga's CRM" not in http.get("/admin/tokens").get_data(as_text=True)
    assert post(http, f"/admin/tokens/{token_id}/revoke").status_code == 404
    with app.app_context():
        assert tokens.authenticate(secret) is not None


def test_an_admin_revokes_anybodys_token_from_their_own_page_too(app, signed_in, make_account):
    """Every account's tokens have their page (tests/admin/test_all_tokens.py); the personal
    page's revoke still takes an admin's revocation of anybody's token."""
    http, _admin = signed_in("admin")
    other = make_account(role="sales", name="Olga Other", email="olga@vouch.example")
    token_id, secret = make_token(app, other, name="Olga's CRM")
    html = http.get("/admin/tokens").get_data(as_text=True)
    assert "Olga's CRM" not in html and 'href="/admin/tokens/all"' in html
    assert post(http, f"/admin/tokens/{token_id}/revoke").status_code == 302
    html = http.get("/admin/tokens").get_data(as_text=True)
    assert flashed(html) == ["The token “Olga's CRM” of Olga Other is revoked: it no longer works."]
    with app.app_context():
        assert tokens.authenticate(secret) is None


def test_the_page_reads_the_same_number_of_queries_for_2_and_30_tokens(app, signed_in, make_account,
                                                                      count_queries):
    http, admin = signed_in("admin")

    def measure() -> int:
        with count_queries() as statements:
            assert http.get("/admin/tokens").status_code == 200
        return len(statements)

    for _ in range(2):
        make_token(app, admin)
    small = measure()
    for _ in range(28):
        make_token(app, admin)
    large = measure()
    assert small == large <= 4
