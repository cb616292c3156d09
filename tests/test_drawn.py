"""Fragments drawn once and shown again (``pages.drawn``): the page header and the list rows show
each viewer what is theirs, their own CSRF token included, and are drawn again when what they
show changes."""

from __future__ import annotations

import re

from models import Account, Role, db
from pages import _drawn
from tests.conftest import csrf_token
from tests.helpers import page as get
from tests.helpers import sign_in_directly


def header(html: str) -> str:
    return re.search(r'<header class="container">.*?</header>', html, re.S).group(0)


def test_each_viewer_sees_their_own_name_sections_and_token_in_a_header_drawn_once(app, make_account):
    first, second, seller = (make_account(role=Role.COORDINATOR, name="Cora One"),
                             make_account(role=Role.COORDINATOR, name="Cory Two"),
                             make_account(role=Role.SALES, name="Sam Seller"))
    clients = {}
    for account in (first, second, seller):
        clients[account.id] = app.test_client()
        sign_in_directly(clients[account.id], account)

    drawn_before = _drawn.cache_info().misses
    one = get(clients[first.id], "/admin/requests")
    again = get(clients[first.id], "/admin/requests")
    assert _drawn.cache_info().misses - drawn_before <= 2  # the head and the header, once each
    assert header(one) == header(again).replace(csrf_token(again), csrf_token(one))

    two = get(clients[second.id], "/admin/requests")
    assert "Cory Two" in header(two) and "Cora One" not in header(two)
    assert csrf_token(two) != csrf_token(one)
    assert re.search(r'<a href="/admin/requests" aria-current="page">', header(two))
    assert 'href="/admin/advocates"' in header(two)  # a coordinator's sections
    other_page = get(clients[second.id], "/admin/advocates")
    assert re.search(r'<a href="/admin/advocates" aria-current="page">', header(other_page))
    assert not re.search(r'<a href="/admin/requests" aria-current', header(other_page))

    selling = get(clients[seller.id], "/admin/requests")
    assert "Sam Seller" in header(selling) and 'href="/admin/advocates"' not in header(selling)

    # The token in each copy is the viewer's own: signing out with it works.
    signed_out = clients[second.id].post("/sign-out", data={"csrf_token": csrf_token(two)})
    assert signed_out.status_code in (302, 303)
    assert clients[second.id].get("/admin/requests").status_code == 302  # to the sign-in page


def test_a_renamed_person_sees_their_new_name_at_once(app, client, make_account):
    account = make_account(role=Role.COORDINATOR, name="Cora Before")
    sign_in_directly(client, account)
    assert "Cora Before" in header(get(client, "/admin/requests"))
    with app.app_context():
        db.session.get(Account, account.id).name = "Cora After"
        db.session.commit()
    shown = header(get(client, "/admin/requests"))
    assert "Cora After" in shown and "Cora Before" not in shown


def test_nobody_signed_in_gets_the_sign_in_link_and_no_mark_is_left_in_a_page(client):
    for _ in range(2):  # drawn, then kept
        html = client.get("/sign-in").get_data(as_text=True)
        assert '<a href="/sign-in">Sign in</a>' in header(html)
        assert "\x00" not in html
        assert csrf_token(html)  # the sign-in form's own token
