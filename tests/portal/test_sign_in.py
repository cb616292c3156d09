"""Sign-in by e-mailed link, end to end through the real SMTP server (DESIGN.md §7 items 1–5, 8, 13).

Every test drives the app as a browser would: it asks for a link, reads the e-mail the SMTP
server received, opens the link and presses the button. The clock is moved with time_machine.
"""

from __future__ import annotations

import html
import json
import logging
import re
from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode, urlsplit

import pytest
import time_machine
from sqlalchemy import select

from mail.sender import WIPED
from models import Account, AuditEvent, LoginToken, OutboxMessage, db
from portal.auth import safe_next_path
from tests.conftest import csrf_token, first_link, html_body, text_body
from tests.helpers import give_second_factor
from workflows.links import Purpose, digest, load, sign

BASE_URL = "http://vouch.test"
SESSION_COOKIE = "vouch_session"
START = datetime(2030, 3, 4, 9, 0, tzinfo=UTC)
HOME = {"advocate": "/portal", "sales": "/admin/", "coordinator": "/admin/", "admin": "/admin/"}


# --- helpers -------------------------------------------------------------------------------------


def ask_for_link(http, email: str, next_path: str | None = None, **request_options):
    """Fill in and send the sign-in form, as a browser would (``request_options``: headers…)."""
    page = http.get("/sign-in", **request_options)
    data = {"email": email, "csrf_token": csrf_token(page.get_data(as_text=True))}
    if next_path is not None:
        data["next"] = next_path
    return http.post("/sign-in", data=data, **request_options)


def press_button(http, path: str):
    """Open a link's confirmation page and press its Sign in button."""
    page = http.get(path)
    assert page.status_code == 200, page.get_data(as_text=True)
    return http.post(path, data={"csrf_token": csrf_token(page.get_data(as_text=True))})


def sign_out(http):
    page = http.get("/")
    page = http.get(page.headers["Location"])
    response = http.post("/sign-out", data={"csrf_token": csrf_token(page.get_data(as_text=True))})
    assert response.status_code == 302
    return response


def redirects_to_sign_in(response) -> bool:
    return response.status_code == 302 and urlsplit(response.headers["Location"]).path == "/sign-in"


def is_signed_in(http) -> bool:
    """``/`` sends a signed-in person to their home and anybody else to the sign-in page."""
    return not redirects_to_sign_in(http.get("/"))


def session_cookie(http) -> str | None:
    cookie = http.get_cookie(SESSION_COOKIE)
    return cookie.value if cookie else None


def token_of(path: str) -> str:
    return path.rsplit("/", 1)[1]


def tampered(token: str) -> str:
    """The token with one character of its payload changed."""
    i = 3
    return token[:i] + ("A" if token[i] != "A" else "B") + token[i + 1 :]


def audit_rows(app, kind: str | None = None) -> list[dict]:
    with app.app_context():
        query = select(AuditEvent).order_by(AuditEvent.id)
        if kind:
            query = query.where(AuditEvent.kind == kind)
        rows = [
            {"kind": e.kind, "actor_id": e.actor_id, "subject": e.subject, "client_ip": e.client_ip,
             "detail": e.detail}
            for e in db.session.scalars(query)
        ]
        db.session.remove()
    return rows


def login_token_row(app) -> LoginToken:
    with app.app_context():
        row = db.session.scalars(select(LoginToken)).one()
        db.session.expunge(row)
        db.session.remove()
    return row


@pytest.fixture()
def receive_link(smtp, deliver):
    """``receive_link(email)`` → the path of the link in the newest e-mail to that address."""

    def run(email: str) -> str:
        deliver()
        link = first_link(smtp.wait_for(email)[-1])
        assert link.startswith(BASE_URL + "/sign-in/link/"), link
        return urlsplit(link).path

    return run


@pytest.fixture()
def link_for(client, receive_link):
    """``link_for(account)`` → the path of a fresh sign-in link asked for that account."""

    def run(account, http=None) -> str:
        assert ask_for_link(http or client, account.email).status_code == 302
        return receive_link(account.email)

    return run


@pytest.fixture()
def other_client(app):
    """A second browser."""
    return app.test_client()


# --- the round trip ------------------------------------------------------------------------------


@pytest.mark.parametrize("role", ["advocate", "sales", "coordinator", "admin"])
def test_a_link_signs_in_through_a_confirmation_button(app, client, smtp, deliver, make_account, role):
    account = make_account(role=role, email="dana@example.com", name="Dana Example")

    asked = ask_for_link(client, "dana@example.com")
    assert asked.status_code == 302
    assert asked.headers["Location"] == "/sign-in/sent"
    deliver()
    messages = smtp.wait_for(account.email)
    assert len(smtp.messages) == 1 and len(messages) == 1
    message = messages[0]
    assert message["To"] == "dana@example.com"
    link = first_link(message)
    assert link.startswith(BASE_URL + "/sign-in/link/")
    assert link in html_body(message)
    path = urlsplit(link).path

    # Opening the link signs nobody in: it asks for a button press.
    page = client.get(path)
    assert page.status_code == 200
    assert page.headers["Referrer-Policy"] == "same-origin"
    body = page.get_data(as_text=True)
    assert "Sign in as d…@example.com?" in body
    assert "dana@example.com" not in body
    assert re.search(r'<form method="post">.*?<button type="submit">Sign in</button>', body, re.S)
    assert redirects_to_sign_in(client.get(HOME[role]))
    before = session_cookie(client)

    response = client.post(path, data={"csrf_token": csrf_token(body)})

    assert response.status_code == 302
    if role == "admin":
        # An admin gives a second factor next (tests/portal/test_second_factor.py): until then
        # no staff page opens.
        assert response.headers["Location"] == "/sign-in/second-factor"
        assert client.get(HOME[role]).headers["Location"] == "/sign-in/second-factor"
        response = give_second_factor(client, account.email)
        assert response.status_code == 200
        assert "Your recovery codes" in response.get_data(as_text=True)
    else:
        assert response.headers["Location"] == HOME[role]
    assert session_cookie(client) not in (None, before)
    assert client.get(HOME[role]).status_code == 200


def test_the_confirmation_page_names_the_account_masked(client, make_account, link_for):
    account = make_account(email="x.long-name@sub.example.org")
    body = client.get(link_for(account)).get_data(as_text=True)
    assert "Sign in as x…@sub.example.org?" in body
    assert "long-name" not in body


# --- refused links -------------------------------------------------------------------------------


def refusal(response, status: int, text: str) -> bool:
    body = response.get_data(as_text=True)
    assert response.status_code == status, body
    assert "This link cannot sign you in" in body
    assert text in body
    assert response.headers["Cache-Control"] == "no-store"
    return True


def test_a_used_link_is_refused_with_a_clear_page(client, other_client, make_account, link_for):
    account = make_account()
    path = link_for(account)
    assert press_button(client, path).status_code == 302

    page = other_client.get(path)
    assert refusal(page, 410, "already been used")
    posted = other_client.post(path, data={"csrf_token": csrf_token(page.get_data(as_text=True))})
    assert refusal(posted, 410, "already been used")
    assert not is_signed_in(other_client)


def test_a_link_is_refused_after_ten_minutes(client, make_account, link_for):
    account = make_account()
    with time_machine.travel(START, tick=False) as clock:
        path = link_for(account)
        page = client.get(path)
        clock.shift(timedelta(minutes=11))

        assert refusal(client.get(path), 410, "expired")
        posted = client.post(path, data={"csrf_token": csrf_token(page.get_data(as_text=True))})
        assert refusal(posted, 410, "expired")
        assert not is_signed_in(client)


def test_a_link_still_works_after_nine_minutes(client, make_account, link_for):
    account = make_account()
    with time_machine.travel(START, tick=False) as clock:
        path = link_for(account)
        clock.shift(timedelta(minutes=9))
        assert press_button(client, path).headers["Location"] == "/portal"


def test_a_tampered_link_is_refused(client, make_account, link_for):
    account = make_account()
    path = link_for(account)
    bad = path.replace(token_of(path), tampered(token_of(path)))
    assert bad != path

    page = client.get(bad)
    assert refusal(page, 400, "not valid")
    posted = client.post(bad, data={"csrf_token": csrf_token(page.get_data(as_text=True))})
    assert refusal(posted, 400, "not valid")
    assert not is_signed_in(client)
    assert press_button(client, path).status_code == 302  # the real link is untouched


@pytest.mark.parametrize("token", ["x", "a.b.c", "~" * 40, "é"])
def test_garbage_in_place_of_a_token_is_refused(client, token):
    assert refusal(client.get(f"/sign-in/link/{token}"), 400, "not valid")


def test_a_token_made_for_another_purpose_is_refused(app, client, make_account, link_for):
    account = make_account()
    path = link_for(account)
    with app.test_request_context():
        payload = load(Purpose.SIGN_IN, token_of(path), 600)
        other_purpose = sign(Purpose.BOOK, payload)
    bad = f"/sign-in/link/{other_purpose}"

    page = client.get(bad)
    assert refusal(page, 400, "not valid")
    posted = client.post(bad, data={"csrf_token": csrf_token(page.get_data(as_text=True))})
    assert refusal(posted, 400, "not valid")
    assert not is_signed_in(client)


def test_a_link_sent_before_sign_out_is_refused(client, other_client, make_account, link_for, sign_in):
    account = make_account()
    old_path = link_for(account, http=other_client)
    sign_in(account)
    sign_out(client)

    page = other_client.get(old_path)
    assert refusal(page, 400, "not valid")
    posted = other_client.post(old_path, data={"csrf_token": csrf_token(page.get_data(as_text=True))})
    assert refusal(posted, 400, "not valid")
    assert not is_signed_in(other_client)


def test_a_link_of_a_deactivated_account_is_refused(app, client, make_account, link_for):
    account = make_account()
    path = link_for(account)
    set_active(app, account, False)

    assert refusal(client.get(path), 400, "not active")
    assert not is_signed_in(client)


def test_opening_a_link_with_head_changes_nothing(app, client, other_client, make_account, link_for):
    account = make_account()
    path = link_for(account)

    # A mail scanner fetches the link, with and without HEAD.
    assert other_client.head(path).status_code == 200
    assert other_client.get(path).status_code == 200
    assert login_token_row(app).used_at is None
    assert not is_signed_in(other_client)

    assert press_button(client, path).headers["Location"] == "/portal"
    assert login_token_row(app).used_at is not None


# --- asking for a link ---------------------------------------------------------------------------


def link_sent_page(http, response, address: str) -> str:
    return http.get(response.headers["Location"]).get_data(as_text=True).replace(address, "ADDRESS")


@pytest.mark.parametrize("stranger", ["nobody@example.com", "gone@example.com"])
def test_an_unknown_address_gets_the_same_answer_and_no_mail(
    app, client, other_client, smtp, deliver, make_account, stranger
):
    make_account(email="dana@example.com")
    make_account(email="gone@example.com", active=False)

    unknown = ask_for_link(other_client, stranger)
    deliver()
    assert smtp.messages == []
    known = ask_for_link(client, "dana@example.com")
    deliver()
    assert len(smtp.wait_for("dana@example.com")) == 1

    assert unknown.status_code == known.status_code == 302
    assert unknown.headers["Location"] == known.headers["Location"]
    unknown_page = link_sent_page(other_client, unknown, stranger)
    assert unknown_page == link_sent_page(client, known, "dana@example.com")
    requested = audit_rows(app, "sign_in.link_requested")
    assert [row["subject"] for row in requested] == [stranger, "dana@example.com"]


def test_the_address_is_matched_whatever_its_case(client, smtp, deliver, make_account):
    make_account(email="dana@example.com")
    assert ask_for_link(client, "  Dana@Example.COM ").status_code == 302
    deliver()
    assert len(smtp.wait_for("dana@example.com")) == 1


def test_an_invalid_address_shows_the_form_again(client, smtp, deliver):
    response = ask_for_link(client, "not an address")
    assert response.status_code == 400
    assert "does not look like an e-mail address" in response.get_data(as_text=True)
    deliver()
    assert smtp.messages == []


def test_the_link_is_built_from_base_url_not_from_the_host_header(client, smtp, deliver, make_account):
    make_account(email="dana@example.com")
    evil = {"headers": {"Host": "evil.example"}}
    assert ask_for_link(client, "dana@example.com", **evil).status_code == 302
    deliver()
    message = smtp.wait_for("dana@example.com")[0]
    assert first_link(message).startswith(BASE_URL + "/sign-in/link/")
    assert "evil.example" not in text_body(message) + html_body(message)


# --- rate limits ---------------------------------------------------------------------------------


def from_address(n: int) -> dict:
    return {"environ_base": {"REMOTE_ADDR": f"10.0.0.{n}"}}


def friendly_429(response) -> bool:
    assert response.status_code == 429
    assert "Too many attempts in a short time" in response.get_data(as_text=True)
    assert "Retry-After" in response.headers
    return True


def test_asking_is_limited_per_address(app, client, smtp, deliver, make_account):
    assert app.config["SIGN_IN_LIMIT_PER_ADDRESS"] == "5 per 15 minutes"
    make_account(email="dana@example.com")
    with time_machine.travel(START, tick=False) as clock:
        for n in range(5):
            assert ask_for_link(client, "dana@example.com", **from_address(n)).status_code == 302

        assert friendly_429(ask_for_link(client, "DANA@example.com", **from_address(99)))
        assert ask_for_link(client, "eve@example.com", **from_address(99)).status_code == 302

        deliver()
        assert len(smtp.wait_for("dana@example.com", count=5)) == 5

        clock.shift(timedelta(minutes=15, seconds=1))
        assert ask_for_link(client, "dana@example.com", **from_address(99)).status_code == 302
        deliver()
        assert len(smtp.wait_for("dana@example.com", count=6)) == 6


def test_asking_is_limited_per_client(app, client):
    assert app.config["SIGN_IN_LIMIT_PER_CLIENT"] == "20 per hour"
    for n in range(20):
        assert ask_for_link(client, f"person{n}@example.com").status_code == 302

    assert friendly_429(ask_for_link(client, "someone-else@example.com"))
    assert ask_for_link(client, "someone-else@example.com", **from_address(7)).status_code == 302


def test_lowered_limits_apply_at_once(app, client):
    saved = app.config["SIGN_IN_LIMIT_PER_CLIENT"]
    app.config["SIGN_IN_LIMIT_PER_CLIENT"] = "2 per hour"
    try:
        assert ask_for_link(client, "a@example.com").status_code == 302
        assert ask_for_link(client, "b@example.com").status_code == 302
        assert friendly_429(ask_for_link(client, "c@example.com"))
    finally:
        app.config["SIGN_IN_LIMIT_PER_CLIENT"] = saved


# --- where to go after sign-in -------------------------------------------------------------------

FOREIGN_NEXT = [
    "//evil.example",
    "\\\\evil.example",
    "/\\evil.example",
    "%5C%5Cevil.example",
    "https://evil.example",
    "/%2F%2Fevil.example",
    "/\t/evil.example",
    "///evil.example",
    "/%5Cevil.example",
    "/%09/evil.example",
    "https:evil.example",
    "javascript:alert(1)",
    " //evil.example",
    "http://vouch.test@evil.example/",
]


def next_field(page_html: str) -> str:
    found = re.search(r'<input id="next" name="next" type="hidden" value="([^"]*)">', page_html)
    assert found, "no next field on the sign-in page"
    return html.unescape(found.group(1))


def sign_in_from(http, sign_in_url: str, email: str, receive_link) -> str:
    """Follow a sign-in page URL (with its ``next``) through to the redirect after sign-in."""
    page = http.get(sign_in_url).get_data(as_text=True)
    data = {"email": email, "next": next_field(page), "csrf_token": csrf_token(page)}
    assert http.post("/sign-in", data=data).status_code == 302
    return press_button(http, receive_link(email)).headers["Location"]


@pytest.mark.parametrize("target", FOREIGN_NEXT)
def test_a_foreign_next_in_the_sign_in_url_is_ignored(client, make_account, receive_link, target):
    account = make_account(role="coordinator")
    sign_in_url = "/sign-in?" + urlencode({"next": target})
    assert sign_in_from(client, sign_in_url, account.email, receive_link) == "/admin/"


@pytest.mark.parametrize("target", FOREIGN_NEXT)
def test_a_foreign_next_posted_with_the_form_is_ignored(make_account, sign_in, target):
    account = make_account()
    assert sign_in(account, next_path=target).headers["Location"] == "/portal"


def test_a_local_next_is_honoured(client, make_account, receive_link):
    account = make_account()
    asked_for = client.get("/portal?tab=asks")
    assert redirects_to_sign_in(asked_for)

    landed = sign_in_from(client, asked_for.headers["Location"], account.email, receive_link)

    assert landed == "/portal?tab=asks"


def test_next_portal_is_honoured_for_staff_too(make_account, sign_in):
    account = make_account(role="coordinator")  # an admin's next: tests/portal/test_second_factor.py
    assert sign_in(account, next_path="/portal").headers["Location"] == "/portal"


@pytest.mark.parametrize("target", [*FOREIGN_NEXT, None, "", "portal", "evil.example", "/" + "a" * 500,
                                    "/portal\n", "/portal\x00", "/\x7fevil"])
def test_safe_next_path_refuses_anything_but_a_local_path(target):
    assert safe_next_path(target) is None


@pytest.mark.parametrize("target", ["/", "/portal", "/admin/", "/portal?tab=asks&x=1", "/portal#asks",
                                    "/a%20b", "/admin/requests/12"])
def test_safe_next_path_keeps_a_local_path(target):
    assert safe_next_path(target) == target


# --- CSRF ----------------------------------------------------------------------------------------


def test_the_sign_in_form_needs_its_csrf_token(app, client, smtp, deliver, make_account):
    make_account(email="dana@example.com")
    client.get("/sign-in")
    response = client.post("/sign-in", data={"email": "dana@example.com"})
    assert response.status_code == 400
    assert "This form has expired" in response.get_data(as_text=True)
    deliver()
    assert smtp.messages == []
    assert audit_rows(app, "sign_in.link_requested") == []


def test_the_sign_in_button_needs_its_csrf_token(app, client, make_account, link_for):
    account = make_account()
    path = link_for(account)
    client.get(path)

    assert client.post(path).status_code == 400
    assert client.post(path, data={"csrf_token": "forged"}).status_code == 400

    assert not is_signed_in(client)
    assert login_token_row(app).used_at is None


# --- sessions ------------------------------------------------------------------------------------


def test_sign_out_ends_the_session_on_the_server(app, client, make_account, sign_in):
    account = make_account()
    sign_in(account)
    copied = session_cookie(client)
    thief = app.test_client()
    thief.set_cookie(SESSION_COOKIE, copied)
    assert thief.get("/portal").status_code == 200

    sign_out(client)

    thief.set_cookie(SESSION_COOKIE, copied)
    assert redirects_to_sign_in(thief.get("/portal"))
    assert not is_signed_in(client)


def test_sign_out_is_a_post_only(client, make_account, sign_in):
    sign_in(make_account())
    assert client.get("/sign-out").status_code == 405
    assert is_signed_in(client)


def set_active(app, account, active: bool) -> None:
    with app.app_context():
        db.session.get(Account, account.id).active = active
        db.session.commit()
        db.session.remove()


def test_a_deactivated_account_loses_its_session_at_the_next_request(app, client, make_account, sign_in):
    account = make_account()
    sign_in(account)
    assert client.get("/portal").status_code == 200

    set_active(app, account, False)

    assert redirects_to_sign_in(client.get("/portal"))


@pytest.mark.parametrize("role", ["advocate", "sales", "coordinator", "admin"])
def test_sessions_end_after_twelve_hours_even_when_active(client, make_account, sign_in, role):
    with time_machine.travel(START, tick=False) as clock:
        sign_in(make_account(role=role))
        for _ in range(28):  # 11 h 40 min of activity, a request every 25 minutes
            clock.shift(timedelta(minutes=25))
            assert is_signed_in(client)

        clock.shift(timedelta(minutes=21))  # 12 h 01 min after sign-in

        response = client.get(HOME[role])
        assert redirects_to_sign_in(response)
        assert "Your session has ended" in client.get(response.headers["Location"]).get_data(as_text=True)


@pytest.mark.parametrize("role", ["coordinator", "admin"])
def test_staff_sessions_end_after_thirty_idle_minutes(client, make_account, sign_in, role):
    with time_machine.travel(START, tick=False) as clock:
        sign_in(make_account(role=role))
        clock.shift(timedelta(minutes=31))
        assert redirects_to_sign_in(client.get("/admin/"))


@pytest.mark.parametrize("role", ["coordinator", "admin"])
def test_staff_activity_within_thirty_minutes_keeps_the_session(client, make_account, sign_in, role):
    with time_machine.travel(START, tick=False) as clock:
        sign_in(make_account(role=role))
        for _ in range(4):
            clock.shift(timedelta(minutes=29))
            assert client.get("/admin/").status_code == 200


def test_the_session_cookie_is_written_again_only_when_the_time_last_seen_moves_on(
    client, make_account, sign_in
):
    with time_machine.travel(START, tick=False) as clock:
        sign_in(make_account(role="coordinator"))
        client.get("/admin/")  # the first answer after sign-in writes the time last seen
        clock.shift(timedelta(seconds=30))
        assert "Set-Cookie" not in client.get("/admin/").headers
        clock.shift(timedelta(seconds=31))
        assert "Set-Cookie" in client.get("/admin/").headers
        for _ in range(3):  # a minute at a time, the idle time keeps up with the activity
            clock.shift(timedelta(minutes=29))
            assert client.get("/admin/").status_code == 200


@pytest.mark.parametrize("role", ["advocate", "sales"])
def test_other_sessions_survive_idle_time(client, make_account, sign_in, role):
    with time_machine.travel(START, tick=False) as clock:
        sign_in(make_account(role=role))
        clock.shift(timedelta(hours=11))
        assert client.get(HOME[role]).status_code == 200


# --- audit and secrecy ---------------------------------------------------------------------------


def test_every_attempt_is_audited_without_tokens(app, client, other_client, make_account, link_for, caplog):
    caplog.set_level(logging.DEBUG)
    account = make_account(email="dana@example.com")
    with time_machine.travel(START, tick=False) as clock:
        path = link_for(account)
        assert press_button(client, path).status_code == 302  # succeeded
        page = other_client.get(path)
        form = {"csrf_token": csrf_token(page.get_data(as_text=True))}
        other_client.post(path, data=form)  # used
        other_client.post(path.replace(token_of(path), tampered(token_of(path))), data=form)  # invalid
        expiring = link_for(account, http=other_client)
        clock.shift(timedelta(minutes=11))
        other_client.post(expiring, data=form)  # expired
        ask_for_link(other_client, "nobody@example.com")
        secrets = [token_of(path), token_of(expiring), "sign-in/link"]
        secrets += [load_secret(app, p) for p in (path, expiring)]

    rows = audit_rows(app)
    assert [(row["kind"], row["detail"].get("reason")) for row in rows] == [
        ("sign_in.link_requested", None),
        ("sign_in.succeeded", None),
        ("sign_in.failed", "used"),
        ("sign_in.failed", "invalid"),
        ("sign_in.link_requested", None),
        ("sign_in.failed", "expired"),
        ("sign_in.link_requested", None),
    ]
    assert rows[0]["actor_id"] == rows[1]["actor_id"] == account.id
    assert rows[1]["subject"] == "dana@example.com"
    assert rows[2]["actor_id"] == rows[5]["actor_id"] == account.id
    assert rows[3]["actor_id"] is None
    assert rows[-1]["subject"] == "nobody@example.com" and rows[-1]["actor_id"] is None
    assert all(row["client_ip"] == "127.0.0.1" for row in rows)

    dumped = json.dumps(rows)
    logged = app_log_text(caplog)
    for secret in secrets:
        assert secret not in dumped
        assert secret not in logged


def app_log_text(caplog) -> str:
    """What the application logged; the test SMTP server (aiosmtpd, logger "mail.log") aside."""
    return "\n".join(
        f"{record.name}: {record.getMessage()} {record.exc_text or ''}"
        for record in caplog.records
        if record.name != "mail.log"
    )


def load_secret(app, path: str) -> str:
    with app.test_request_context():
        return load(Purpose.SIGN_IN, token_of(path), 10**6)["s"]


def test_only_a_hash_of_the_link_is_stored(app, make_account, link_for):
    path = link_for(make_account())
    secret = load_secret(app, path)
    row = login_token_row(app)
    assert row.token_hash == digest(secret)
    assert secret not in json.dumps({c: str(getattr(row, c)) for c in ("token_hash", "next_path", "purpose")})


def test_the_sent_message_body_is_wiped_from_the_outbox(app, make_account, link_for):
    path = link_for(make_account())
    with app.app_context():
        message = db.session.scalars(select(OutboxMessage)).one()
        assert message.sensitive
        assert message.body_text == WIPED
        assert message.body_html is None
        assert token_of(path) not in f"{message.subject} {message.headers} {message.to}"
        db.session.remove()


def test_a_link_whose_time_is_up_is_not_mailed_late(client, smtp, deliver, make_account):
    make_account(email="dana@example.com")
    with time_machine.travel(START, tick=False) as clock:
        ask_for_link(client, "dana@example.com")
        clock.shift(timedelta(minutes=11))
        assert deliver().expired == 1
    assert smtp.messages == []
