"""Staff and sales accounts (``/admin/accounts``), admins only: the list (by role, state, name
or address, paged, a flat query count), a new account (the suppression rule of ``flask users
create``, a one-time submission key), a role change, deactivation behind a confirmation (which
signs the account out at its next request, DESIGN.md §7.5) and reactivation; an admin cannot
demote or deactivate themself nor the last active admin; every change audited."""

from __future__ import annotations

import re
import threading
from html import unescape

import pytest
from sqlalchemy import select

from models import Account, AuditEvent, Role, db
from tests.conftest import csrf_token
from tests.helpers import flashed as flashes
from tests.helpers import page, section
from tests.helpers import text as words
from tests.test_confirm_steps import opened, step
from tests.test_tables import assert_cells_labelled
from workflows import accounts as flow
from workflows import privacy

URL = "/admin/accounts"


def text(html: str) -> str:
    return unescape(words(html))


def flashed(html: str) -> list[str]:
    return [unescape(message) for message in flashes(html)]


def post(http, url: str, data: dict | None = None, *, form_page: str = URL):
    return http.post(url, data={"csrf_token": csrf_token(page(http, form_page)), **(data or {})})


def new_account_form(html: str) -> dict[str, str]:
    key = re.search(r'name="submission_key" type="hidden" value="([^"]+)"', html).group(1)
    return {"csrf_token": csrf_token(html), "submission_key": key}


def account(app, account_id: int) -> Account:
    with app.app_context():
        found = db.session.get(Account, account_id)
        db.session.expunge(found)
    return found


def events(app, kind: str) -> list[AuditEvent]:
    with app.app_context():
        found = list(db.session.scalars(select(AuditEvent).where(AuditEvent.kind == kind)
                                        .order_by(AuditEvent.id)))
        db.session.expunge_all()
    return found


# --- the list --------------------------------------------------------------------------------


def test_the_list_shows_staff_and_sales_but_no_advocate_and_says_where_advocates_are(
        signed_in, make_account, make_advocate):
    http, _admin = signed_in("admin", name="Ada Admin")
    make_account(role=Role.SALES, name="Sam Seller", email="sam@vouch.example")
    make_account(role=Role.COORDINATOR, name="Cora Coordinator", active=False)
    make_advocate(name="Dana Advocate")

    html = page(http, URL)

    found = text(section(html, "accounts"))
    assert "Sam Seller sam@vouch.example Sales" in found
    assert "Cora Coordinator" in found and "Deactivated" in found
    assert "Ada Admin" in found
    assert "Dana Advocate" not in found
    assert "Advocates are not managed here" in text(html)
    assert 'href="/admin/advocates"' in html
    assert_cells_labelled(html)
    assert 'href="/admin/accounts"' in html  # in the menu


@pytest.mark.parametrize(("query", "expected"), [
    ("?role=sales", {"Sam Seller", "Sue Seller"}),
    ("?role=coordinator", {"Cora Coordinator"}),
    ("?status=deactivated", {"Sue Seller"}),
    ("?status=active&role=sales", {"Sam Seller"}),
    ("?q=CORA", {"Cora Coordinator"}),
    ("?q=sue%40", {"Sue Seller"}),
    ("?q=%25", set()),  # a LIKE wildcard is a character like any other
])
def test_the_list_filters_by_role_state_and_text(signed_in, make_account, query, expected):
    http, _admin = signed_in("admin", name="Ada Admin", email="ada@vouch.example")
    make_account(role=Role.SALES, name="Sam Seller", email="sam@vouch.example")
    make_account(role=Role.SALES, name="Sue Seller", email="sue@vouch.example", active=False)
    make_account(role=Role.COORDINATOR, name="Cora Coordinator", email="cora@vouch.example")

    html = page(http, URL + query)

    names = set(re.findall(r'<a href="/admin/accounts/\d+">([^<]+)</a>', section(html, "accounts")))
    assert names == expected
    if not expected:
        assert "No account matches this search." in text(html)


@pytest.mark.parametrize("query", ["?role=advocate", "?role=superuser", "?status=maybe", "?page=0",
                                   "?page=99999999999999999999", "?page=x", "?q=" + "x" * 101])
def test_a_bad_search_is_a_4xx_never_a_500(signed_in, query):
    http, _admin = signed_in("admin")
    assert http.get(URL + query).status_code in (400, 422)


def test_the_list_pages_and_reads_the_same_number_of_queries_for_3_and_60_accounts(
        app, signed_in, make_account, count_queries):
    http, admin = signed_in("admin")

    def measure() -> int:
        with count_queries() as statements:
            assert http.get(URL).status_code == 200
        return len(statements)

    from tests.test_tokens import make_token

    for n in range(2):
        make_token(app, make_account(role=Role.SALES, name=f"Seller {n:02}"))
    small = measure()
    for n in range(2, 59):
        make_token(app, make_account(role=Role.COORDINATOR, name=f"Seller {n:02}"))
    large = measure()
    assert small == large <= 5

    html = page(http, URL)
    assert "60 accounts · page 1 of 2" in text(html)
    assert 'href="/admin/accounts?page=2" rel="next"' in html
    second = page(http, URL + "?page=2")
    assert len(re.findall(r'<tr id="account-', second)) == 10


# --- a new account ---------------------------------------------------------------------------


def test_an_admin_adds_an_account_and_sending_the_form_twice_adds_one(app, signed_in):
    http, admin = signed_in("admin")
    html = page(http, URL)
    assert '<label for="name">Name</label>' in html and '<label for="email">E-mail address</label>' in html
    assert '<label for="new-role">Role</label>' in html and '<label for="timezone">Time zone</label>' in html
    assert len(re.findall(r'\bid="([^"]+)"', html)) == len(set(re.findall(r'\bid="([^"]+)"', html)))
    data = {**new_account_form(html), "name": "Sam Seller", "email": "Sam@Vouch.Example",
            "role": "coordinator", "timezone": "berlin"}

    response = http.post(URL, data=data)

    assert response.status_code == 302
    with app.app_context():
        made = db.session.scalar(select(Account).where(Account.email == "sam@vouch.example"))
        assert (made.name, made.role, made.timezone, made.active) == (
            "Sam Seller", Role.COORDINATOR, "Europe/Berlin", True)
        made_id = made.id
        db.session.remove()
    assert response.headers["Location"] == f"/admin/accounts/{made_id}"
    assert flashed(page(http, response.headers["Location"])) == [
        "Sam Seller has a coordinator account now. They sign in on the sign-in page with "
        "sam@vouch.example: Vouch e-mails them a link."]
    [event] = events(app, "account.created")
    assert event.actor_id == admin.id and event.detail == {"role": "coordinator"}

    again = http.post(URL, data=data)
    assert again.status_code == 302 and again.headers["Location"] == f"/admin/accounts/{made_id}"
    assert flashed(page(http, again.headers["Location"])) == [
        "This form was already sent: nothing new was saved."]
    assert len(events(app, "account.created")) == 1


@pytest.mark.parametrize(("change", "field", "message"), [
    ({"email": "not an address"}, "email", "is not a valid e-mail address"),
    ({"role": "advocate"}, "new-role", "unknown role 'advocate': use one of sales, coordinator, admin"),
    ({"role": "superuser"}, "new-role", "unknown role 'superuser'"),
    ({"timezone": "Mars/Olympus"}, "timezone", "is not a time zone"),
    ({"name": ""}, "name", "Give the person's name."),
    ({"name": "x" * 121}, "name", "Keep the name to 120 characters or fewer."),
    ({"email": "ada@vouch.example"}, "email", "an account for ada@vouch.example already exists"),
])
def test_a_refused_account_shows_why_beside_the_field_and_makes_nothing(app, signed_in, change, field,
                                                                         message):
    http, _admin = signed_in("admin", email="ada@vouch.example")
    html = page(http, URL)
    data = {**new_account_form(html), "name": "Sam Seller", "email": "sam@vouch.example", "role": "sales",
            "timezone": "UTC", **change}

    response = http.post(URL, data=data)

    assert response.status_code == 422
    answer = response.get_data(as_text=True)
    assert message in unescape(re.search(rf'<small id="{field}-error" class="error">(.*?)</small>',
                                         answer, re.S).group(1))
    assert flashed(answer)[0].startswith("No account was made.")
    with app.app_context():
        assert db.session.scalar(select(Account).where(Account.email == "sam@vouch.example")) is None \
            or change.get("email") == "ada@vouch.example"
        assert len(list(db.session.scalars(select(Account)))) == 1
        db.session.remove()


def test_an_address_erased_when_its_owner_left_is_refused_like_users_create_refuses_it(
        app, signed_in, make_advocate, runner):
    http, _admin = signed_in("admin")
    gone = make_advocate(email="dana@northwind.example")
    with app.app_context():
        privacy.leave_program(gone.id, confirmation="LEAVE")
        db.session.remove()
    html = page(http, URL)

    response = http.post(URL, data={**new_account_form(html), "name": "Dana", "role": "sales",
                                    "email": "dana@northwind.example", "timezone": "UTC"})

    assert response.status_code == 422
    refusal = re.search(r'<small id="email-error" class="error">(.*?)</small>',
                        response.get_data(as_text=True), re.S).group(1)
    cli = runner.invoke(args=["users", "create", "dana@northwind.example", "--role", "sales"])
    assert cli.exit_code != 0
    assert unescape(refusal) in cli.output  # the one rule, worded once


def test_nul_bytes_in_the_new_account_are_refused(app, signed_in):
    http, _admin = signed_in("admin")
    html = page(http, URL)
    response = http.post(URL, data={**new_account_form(html), "name": "Sam\x00", "email": "sam@vouch.example",
                                    "role": "sales", "timezone": "UTC"})
    assert response.status_code == 422
    with app.app_context():
        assert db.session.scalar(select(Account).where(Account.email == "sam@vouch.example")) is None


# --- one account -----------------------------------------------------------------------------


def test_the_account_page_changes_the_role_audited(app, signed_in, make_account):
    http, admin = signed_in("admin")
    sam = make_account(role=Role.SALES, name="Sam Seller")
    url = f"{URL}/{sam.id}"
    html = page(http, url)
    assert '<label for="role">New role</label>' in html

    response = post(http, f"{url}/role", {"role": "coordinator"}, form_page=url)

    assert response.status_code == 302 and response.headers["Location"] == url
    assert flashed(page(http, url)) == ["Sam Seller is a coordinator now."]
    assert account(app, sam.id).role is Role.COORDINATOR
    [event] = events(app, "account.role_changed")
    assert event.actor_id == admin.id and event.detail == {"before": "sales", "after": "coordinator"}

    same = post(http, f"{url}/role", {"role": "coordinator"}, form_page=url)
    assert same.status_code == 409
    assert "Sam Seller is a coordinator already." in text(same.get_data(as_text=True))


@pytest.mark.parametrize("role", ["advocate", "superuser", ""])
def test_an_unknown_role_is_refused_beside_the_field(app, signed_in, make_account, role):
    http, _admin = signed_in("admin")
    sam = make_account(role=Role.SALES)
    url = f"{URL}/{sam.id}"
    response = post(http, f"{url}/role", {"role": role}, form_page=url)
    assert response.status_code == 422
    assert 'id="role-error"' in response.get_data(as_text=True)
    assert account(app, sam.id).role is Role.SALES


def test_deactivating_asks_first_and_signs_the_account_out_at_its_next_request(app, signed_in, make_account):
    http, admin = signed_in("admin")
    seller_http, sam = signed_in("sales", name="Sam Seller")
    assert seller_http.get("/admin/requests").status_code == 200
    url = f"{URL}/{sam.id}"

    deactivate = step(page(http, url), f"{url}/deactivate")
    assert not opened(deactivate)
    assert "<summary>Deactivate this account…</summary>" in deactivate
    assert "Yes, deactivate the account" in deactivate

    response = post(http, f"{url}/deactivate", form_page=url)

    assert response.status_code == 302
    assert flashed(page(http, url)) == [
        "Sam Seller's account is deactivated: they are signed out everywhere, their sign-in links and "
        "API tokens no longer work."]
    gone = account(app, sam.id)
    assert not gone.active and gone.session_version == sam.session_version + 1
    [event] = events(app, "account.deactivated")
    assert event.actor_id == admin.id
    # The seller's own session, signed in before, ends at its next request.
    answer = seller_http.get("/admin/requests")
    assert answer.status_code == 302 and "/sign-in" in answer.headers["Location"]

    again = post(http, f"{url}/deactivate", form_page=url)
    assert again.status_code == 409

    reactivate = step(page(http, url), f"{url}/reactivate")
    assert "Yes, reactivate the account" in reactivate
    assert post(http, f"{url}/reactivate", form_page=url).status_code == 302
    assert flashed(page(http, url)) == ["Sam Seller's account is active again: they sign in with a new link."]
    back = account(app, sam.id)
    assert back.active and back.session_version == gone.session_version  # the old session stays ended
    assert seller_http.get("/admin/requests").status_code == 302
    assert len(events(app, "account.reactivated")) == 1


def test_deactivating_stops_the_accounts_api_tokens(app, signed_in, api_client):
    http, _admin = signed_in("admin")
    api, sam = api_client("sales")
    assert api.get("/api/v1/requests/1").status_code == 404  # signed in, no such request
    url = f"{URL}/{sam.id}"
    assert post(http, f"{url}/deactivate", form_page=url).status_code == 302
    assert api.get("/api/v1/requests/1").status_code == 401


def test_an_admin_cannot_demote_or_deactivate_themself(app, signed_in, make_account):
    http, admin = signed_in("admin")
    make_account(role=Role.ADMIN)  # not the last admin: the rule is about oneself
    url = f"{URL}/{admin.id}"
    html = page(http, url)
    assert "This is your own account" in text(html)
    assert f'action="{url}/deactivate"' not in html and f'action="{url}/role"' not in html

    demoted = post(http, f"{url}/role", {"role": "sales"}, form_page=url)
    assert demoted.status_code == 409
    assert "You cannot change your own role" in text(demoted.get_data(as_text=True))
    gone = post(http, f"{url}/deactivate", form_page=url)
    assert gone.status_code == 409
    assert "You cannot deactivate your own account" in text(gone.get_data(as_text=True))
    me = account(app, admin.id)
    assert me.active and me.role is Role.ADMIN


def test_the_last_active_admin_can_be_neither_demoted_nor_deactivated(app, make_account):
    ada = make_account(role=Role.ADMIN, name="Ada Admin")
    bea = make_account(role=Role.ADMIN, name="Bea Admin", active=False)
    with app.app_context():
        # Bea, deactivated, does not count; the workflow refuses whoever asks.
        by = db.session.get(Account, bea.id)
        with pytest.raises(flow.AccountRefused, match="Ada Admin is the last active admin"):
            flow.change_role(ada.id, "coordinator", by=by)
        with pytest.raises(flow.AccountRefused, match="last active admin"):
            flow.deactivate_account(ada.id, by=by)
        flow.reactivate_account(bea.id, by=db.session.get(Account, ada.id))
        flow.change_role(ada.id, "coordinator", by=db.session.get(Account, bea.id))
        assert db.session.get(Account, ada.id).role is Role.COORDINATOR
        db.session.remove()


def test_two_admins_deactivating_each_other_at_once_leave_one_admin(app, make_account):
    """Each change locks the active admins first: the second waits, then sees the first."""
    ada = make_account(role=Role.ADMIN, name="Ada Admin")
    bea = make_account(role=Role.ADMIN, name="Bea Admin")
    outcomes: list[str] = []
    start = threading.Barrier(2)

    def deactivate(target: int, actor: int) -> None:
        with app.app_context():
            by = db.session.get(Account, actor)
            db.session.rollback()
            start.wait()
            try:
                flow.deactivate_account(target, by=by)
                outcomes.append("done")
            except flow.AccountRefused:
                outcomes.append("refused")
            finally:
                db.session.remove()

    threads = [threading.Thread(target=deactivate, args=(ada.id, bea.id)),
               threading.Thread(target=deactivate, args=(bea.id, ada.id))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sorted(outcomes) == ["done", "refused"]
    with app.app_context():
        assert len(list(db.session.scalars(select(Account).where(Account.role == Role.ADMIN,
                                                                 Account.active.is_(True))))) == 1


def test_an_advocates_account_or_an_unknown_id_is_a_404(app, signed_in, make_advocate):
    http, _admin = signed_in("admin")
    dana = make_advocate()
    for account_id in (dana.account_id, 999_999, 2_147_483_647):
        assert http.get(f"{URL}/{account_id}").status_code == 404
        assert post(http, f"{URL}/{account_id}/deactivate").status_code == 404
        assert post(http, f"{URL}/{account_id}/role", {"role": "sales"}).status_code == 404
    assert http.get(f"{URL}/99999999999999999999").status_code == 404
    assert account(app, dana.account_id).active


def test_changes_need_the_forms_csrf_token(app, signed_in, make_account):
    http, _admin = signed_in("admin")
    sam = make_account(role=Role.SALES)
    assert http.post(f"{URL}/{sam.id}/deactivate").status_code == 400
    assert http.post(URL, data={"name": "X", "email": "x@vouch.example", "role": "sales"}).status_code == 400
    assert account(app, sam.id).active


# --- who may -----------------------------------------------------------------------------------


@pytest.mark.parametrize("role", ["coordinator", "sales", "advocate"])
def test_only_admins_manage_accounts(app, signed_in, make_account, role):
    http, _account = signed_in(role)
    sam = make_account(role=Role.SALES)
    token = csrf_token(http.get("/portal" if role == "advocate" else "/admin/").get_data(as_text=True))
    assert http.get(URL).status_code == 403
    assert http.get(f"{URL}/{sam.id}").status_code == 403
    assert http.post(f"{URL}/{sam.id}/deactivate", data={"csrf_token": token}).status_code == 403
    assert http.post(f"{URL}/{sam.id}/role", data={"csrf_token": token, "role": "admin"}).status_code == 403
    assert http.post(URL, data={"csrf_token": token, "name": "X", "email": "x@vouch.example",
                                "role": "admin"}).status_code == 403
    assert account(app, sam.id).active and account(app, sam.id).role is Role.SALES
    assert 'href="/admin/accounts"' not in http.get("/").get_data(as_text=True)
