"""The staff second factor (ASVS 5.0 §6.3.3): after the e-mailed link, admins (and coordinators
when the setting says so) set up an authenticator app from a QR code the server draws, then
give a code from it at every sign-in, or a recovery code.

Everything here goes through the real flow: the sign-in link read from the e-mail the test SMTP
server received, the key read off the enrolment page as a person types it into their app, and
codes computed from it with pyotp.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

import pyotp
import pytest
import segno
import time_machine
from sqlalchemy import func, select

from models import Account, AuditEvent, RecoveryCode, SecondFactor, Setting, db
from tests.admin.test_settings_page import save
from tests.conftest import csrf_token
from tests.helpers import (
    TOTP_SECRETS,
    enrolment_secret,
    flashed,
    give_second_factor,
    page,
    post_form,
    sign_in_directly,
    text,
    totp_code,
)
from tests.test_access import call, declared_public, every_route, is_api
from workflows import second_factor

STEP = "/sign-in/second-factor"
SET_UP = "/sign-in/second-factor/set-up"
CODE_PATTERN = re.compile(r"<code>([0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4})</code>")


# --- helpers -------------------------------------------------------------------------------------


@pytest.fixture()
def half_signed_in(app, sign_in):
    """``half_signed_in(account)`` → a client that used the e-mailed link and stands at the
    second step (the account's own enrolment page, or its code page)."""

    def run(account, next_path=None):
        http = app.test_client()
        if next_path:
            response = sign_in(account, http=http, next_path=next_path, second_factor=False)
        else:
            response = sign_in(account, http=http, by_email=True, second_factor=False)
        assert response.headers["Location"] == STEP
        return http

    return run


def enrol(http, email: str):
    """Set the app up on the enrolment page → (the response with the recovery codes, the key)."""
    html = page(http, STEP)
    secret = enrolment_secret(html)
    TOTP_SECRETS[email] = secret
    response = http.post(SET_UP, data={"csrf_token": csrf_token(html), "code": totp_code(secret)})
    return response, secret


def give(http, code: str):
    html = page(http, STEP)
    return http.post(STEP, data={"csrf_token": csrf_token(html), "code": code})


def reaches_staff_pages(http) -> bool:
    return http.get("/admin/").status_code == 200


def audit(app, kind: str) -> list[AuditEvent]:
    with app.app_context():
        rows = list(db.session.scalars(
            select(AuditEvent).where(AuditEvent.kind == kind).order_by(AuditEvent.id)))
        db.session.expunge_all()
        db.session.remove()
    return rows


def set_coordinator_setting(app, on: bool) -> None:
    with app.app_context():
        row = db.session.get(Setting, "COORDINATOR_SECOND_FACTOR")
        if row is None:
            db.session.add(Setting(key="COORDINATOR_SECOND_FACTOR", value=on))
        else:
            row.value = on
        db.session.commit()
        db.session.remove()


def enrolled_admin(app, make_account, half_signed_in, **values):
    """A new admin who set up their app (signed in once) → (the account, its key, the codes)."""
    account = make_account(role="admin", **values)
    http = half_signed_in(account)
    response, secret = enrol(http, account.email)
    return account, secret, CODE_PATTERN.findall(response.get_data(as_text=True))


# --- enrolment -----------------------------------------------------------------------------------


def test_an_admin_sets_up_the_app_from_the_qr_page_at_the_first_sign_in(app, make_account, half_signed_in):
    admin = make_account(role="admin", name="Priya Raman", email="priya@example.com")
    http = half_signed_in(admin)

    # Half signed in: the link was used, yet no staff page opens.
    assert http.get("/admin/").headers["Location"] == STEP
    enrolment = http.get(STEP)
    assert enrolment.status_code == 200
    assert enrolment.headers["Cache-Control"] == "no-store"
    html = enrolment.get_data(as_text=True)
    assert "Set up your authenticator app" in html
    # The QR code is drawn on the server, inline: no image from elsewhere, no script.
    qr = re.search(r'<figure class="qr">(.*?)</figure>', html, re.S).group(1)
    assert qr.strip().startswith("<svg") and "<path" in qr and "QR code for your authenticator app" in qr
    assert "<img" not in qr and "<script" not in html.split("<body>", 1)[1]
    secret = enrolment_secret(html)
    assert len(secret) == 32 and pyotp.TOTP(secret).now()  # a base32 key as apps take it
    # The QR code holds the otpauth URI of that key: its modules are those of that URI's code.
    uri = pyotp.TOTP(secret).provisioning_uri(name=admin.email, issuer_name="Vouch")
    assert uri.startswith("otpauth://totp/Vouch:priya%40example.com?secret=" + secret)
    expected = segno.make(uri, error="m").svg_inline(scale=5)
    dark_modules = re.compile(r'stroke="#000" d="([^"]+)"')
    assert dark_modules.search(qr).group(1) == dark_modules.search(expected).group(1)
    # Reloading the page shows the same key (it waits, sealed, in the session).
    assert enrolment_secret(page(http, STEP)) == secret
    assert secret not in (http.get_cookie("vouch_session").value)

    response = http.post(SET_UP, data={"csrf_token": csrf_token(html), "code": pyotp.TOTP(secret).now()})

    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    shown = response.get_data(as_text=True)
    codes = CODE_PATTERN.findall(shown)
    assert len(codes) == 10 and len(set(codes)) == 10
    assert "Your authenticator app is set up, Priya Raman, and you are signed in." in flashed(shown)
    assert 'href="/admin/"' in shown
    assert reaches_staff_pages(http)
    with app.app_context():
        factor = db.session.get(SecondFactor, admin.id)
        assert secret not in factor.sealed_secret and second_factor.unseal(factor.sealed_secret) == secret
        hashes = db.session.scalars(
            select(RecoveryCode.code_hash).where(RecoveryCode.account_id == admin.id)).all()
        assert len(hashes) == 10
        assert not {c.replace("-", "") for c in codes} & set(hashes)
        assert not any(c.replace("-", "").lower() in h for c in codes for h in hashes)
        db.session.remove()
    [event] = audit(app, "second_factor.enrolled")
    assert event.actor_id == admin.id


def test_a_wrong_code_at_enrolment_sets_nothing_up(app, make_account, half_signed_in):
    admin = make_account(role="admin")
    http = half_signed_in(admin)
    html = page(http, STEP)
    secret = enrolment_secret(html)
    wrong = f"{(int(pyotp.TOTP(secret).now()) + 1) % 1_000_000:06d}"

    response = http.post(SET_UP, data={"csrf_token": csrf_token(html), "code": wrong})

    assert response.status_code == 422
    assert "That code does not match" in text(response.get_data(as_text=True))
    assert enrolment_secret(response.get_data(as_text=True)) == secret  # the same key, to try again
    assert not reaches_staff_pages(http)
    with app.app_context():
        assert db.session.get(SecondFactor, admin.id) is None
        db.session.remove()
    assert len(audit(app, "second_factor.enrolment_failed")) == 1


def test_an_enrolled_admin_signs_in_with_a_code_and_goes_where_they_were_going(app, make_account,
                                                                               half_signed_in):
    admin, secret, _codes = enrolled_admin(app, make_account, half_signed_in)
    http = half_signed_in(admin, next_path="/admin/settings")

    html = page(http, STEP)
    assert 'id="totp-secret"' not in html  # no new key: the set-up app is asked for
    assert "Code from your authenticator app" in html
    response = http.post(STEP, data={"csrf_token": csrf_token(html), "code": totp_code(secret)})

    assert response.status_code == 302 and response.headers["Location"] == "/admin/settings"
    assert reaches_staff_pages(http)
    assert [e.detail["method"] for e in audit(app, "second_factor.passed")] == ["app"]


def test_a_wrong_code_is_refused_and_the_session_stays_half_signed_in(app, make_account, half_signed_in,
                                                                     monkeypatch):
    monkeypatch.setitem(app.config, "SECOND_FACTOR_LIMIT_PER_ACCOUNT", "100 per minute")
    admin, secret, _codes = enrolled_admin(app, make_account, half_signed_in)
    http = half_signed_in(admin)
    right = pyotp.TOTP(secret).now()

    for wrong in ("000000" if right != "000000" else "111111", "12345", "abcdef", "", "١٢٣٤٥٦", "9" * 5000):
        response = give(http, wrong)
        assert response.status_code == 422, wrong
        assert "class=\"error\"" in response.get_data(as_text=True)
        assert not reaches_staff_pages(http)
    refusals = audit(app, "second_factor.refused")
    assert [r.detail["reason"] for r in refusals] == ["wrong code"] + ["malformed"] * 5
    assert all(r.actor_id == admin.id for r in refusals)


def test_a_code_given_once_is_refused_the_second_time_in_its_time_step(app, make_account, half_signed_in):
    with time_machine.travel(datetime(2030, 3, 4, 9, 0, 5, tzinfo=UTC), tick=False):
        admin = make_account(role="admin")
        http = half_signed_in(admin)
        html = page(http, STEP)
        totp = pyotp.TOTP(enrolment_secret(html))
        now_code = totp.now()
        assert http.post(SET_UP, data={"csrf_token": csrf_token(html), "code": now_code}).status_code == 200

        # The same code again, at the next sign-in in the same 30 seconds: a replay.
        again = half_signed_in(admin)
        response = give(again, now_code)
        assert response.status_code == 422
        assert "That code was used already" in text(response.get_data(as_text=True))
        assert not reaches_staff_pages(again)
        # The code before it is older still: refused too.
        assert give(again, totp.at(datetime(2030, 3, 4, 9, 0, 5, tzinfo=UTC) - timedelta(seconds=30))
                    ).status_code == 422
        # The next step's code (a phone clock a little ahead) is new: it signs in.
        next_code = totp.at(datetime(2030, 3, 4, 9, 0, 35, tzinfo=UTC))
        assert give(again, next_code).status_code == 302
        assert reaches_staff_pages(again)
        # ...and is then used up as well.
        third = half_signed_in(admin)
        assert give(third, next_code).status_code == 422
    assert [r.detail["reason"] for r in audit(app, "second_factor.refused")] == [
        "replayed code", "replayed code", "replayed code"]


def test_code_attempts_are_rate_limited_per_account(app, make_account, half_signed_in):
    admin, secret, _codes = enrolled_admin(app, make_account, half_signed_in)
    http = half_signed_in(admin)
    limit = int(app.config["SECOND_FACTOR_LIMIT_PER_ACCOUNT"].split()[0])
    wrong = "000000" if pyotp.TOTP(secret).now() != "000000" else "111111"

    statuses = [give(http, wrong).status_code for _ in range(limit)]
    limited = give(http, pyotp.TOTP(secret).now())  # the right code, yet not looked at

    assert statuses == [422] * limit
    assert limited.status_code == 429
    assert "Too many attempts" in limited.get_data(as_text=True)
    assert not reaches_staff_pages(http)
    # Another browser of the same account is limited too: the count is the account's.
    other = half_signed_in(admin)
    assert give(other, pyotp.TOTP(secret).now()).status_code == 429


def test_too_many_wrong_codes_in_a_row_lock_the_second_factor_for_a_while(app, make_account,
                                                                         half_signed_in, monkeypatch):
    monkeypatch.setitem(app.config, "SECOND_FACTOR_LIMIT_PER_ACCOUNT", "100 per minute")
    start = datetime(2030, 3, 4, 9, 0, 5, tzinfo=UTC)
    with time_machine.travel(start, tick=False) as clock:
        admin, secret, _codes = enrolled_admin(app, make_account, half_signed_in)
        totp = pyotp.TOTP(secret)
        wrong = "000000" if totp.now() != "000000" else "111111"
        clock.shift(timedelta(minutes=1))
        http = half_signed_in(admin)
        answers = [give(http, wrong) for _ in range(app.config["SECOND_FACTOR_LOCK_AFTER"])]

        assert [a.status_code for a in answers] == [422] * 9 + [409]
        warning = text(answers[-2].get_data(as_text=True))
        assert "1 more wrong code and it is locked for 15 minutes." in warning
        assert "locked until 09:16 UTC" in text(answers[-1].get_data(as_text=True))
        # Locked: even the right code is refused, with the same clear message.
        locked = give(http, totp.now())
        assert locked.status_code == 409 and "ask an admin to reset" in text(locked.get_data(as_text=True))
        assert not reaches_staff_pages(http)
        [event] = audit(app, "second_factor.locked")
        assert event.actor_id == admin.id

        clock.shift(timedelta(minutes=16))
        later = half_signed_in(admin)
        assert give(later, totp.now()).status_code == 302
        assert reaches_staff_pages(later)


def test_a_recovery_code_signs_in_once_only(app, make_account, half_signed_in):
    admin, _secret, codes = enrolled_admin(app, make_account, half_signed_in)
    http = half_signed_in(admin)

    response = give(http, codes[3].lower().replace("-", " "))  # as typed from paper

    assert response.status_code == 302
    messages = flashed(page(http, "/admin/"))
    assert "You used a recovery code: 9 left." in messages[1]
    again = half_signed_in(admin)
    refused = give(again, codes[3])
    assert refused.status_code == 422
    assert not reaches_staff_pages(again)
    assert give(again, codes[4]).status_code == 302
    assert [e.detail["method"] for e in audit(app, "second_factor.passed")] == ["recovery code"] * 2
    with app.app_context():
        used = db.session.scalar(select(func.count(RecoveryCode.id)).where(RecoveryCode.used_at.is_not(None)))
        assert used == 2
        db.session.remove()


def test_a_half_signed_in_session_ends_after_ten_minutes(app, make_account, half_signed_in):
    start = datetime(2030, 3, 4, 9, 0, 5, tzinfo=UTC)
    with time_machine.travel(start, tick=False) as clock:
        admin, secret, _codes = enrolled_admin(app, make_account, half_signed_in)
        clock.shift(timedelta(minutes=1))
        http = half_signed_in(admin)
        clock.shift(timedelta(minutes=11))
        response = http.post(STEP, data={"csrf_token": csrf_token(page(http, "/sign-in")),
                                         "code": pyotp.TOTP(secret).now()})
        assert response.status_code == 302 and response.headers["Location"] == "/sign-in"
        assert "Sign in again: ask for a new link." in flashed(page(http, "/sign-in"))[0]
        assert not reaches_staff_pages(http)


def test_cancelling_at_the_second_step_signs_out(make_account, half_signed_in):
    admin = make_account(role="admin")
    http = half_signed_in(admin)
    html = page(http, STEP)
    assert "Cancel and sign out" in html
    assert http.post("/sign-out", data={"csrf_token": csrf_token(html)}).headers["Location"] == "/sign-in"
    assert urlsplit(http.get("/admin/").headers["Location"]).path == "/sign-in"
    assert http.get(STEP).headers["Location"] == "/sign-in"


# --- a half-signed-in session opens nothing ------------------------------------------------------


def test_a_half_signed_in_session_reaches_no_staff_page_and_no_api(app, make_account, half_signed_in):
    """Every route of the app, walked with the session of an admin who used the link but gave no
    code: each page sends them to the second step, the API answers 401 (it takes bearer tokens,
    never the session)."""
    admin = make_account(role="admin")
    http = half_signed_in(admin)
    reached = []
    for endpoint, method, url in every_route(app):
        if declared_public(app, endpoint):
            continue
        response = call(http, method, url)
        if is_api(url):
            if response.status_code != 401:
                reached.append(f"{method} {url}: {response.status}")
        elif (response.status_code, response.headers.get("Location")) != (302, STEP):
            reached.append(f"{method} {url}: {response.status}")
    assert reached == []
    assert not audit(app, "access.denied")  # nobody was recognised, so nobody was refused
    # And the session still stands at the second step, ready for the code.
    assert http.get(STEP).status_code == 200


def test_the_walk_covers_the_staff_pages(app):
    endpoints = {endpoint for endpoint, _method, _url in every_route(app)}
    assert {"admin.home", "admin.accounts", "admin.settings", "admin.second_factor",
            "admin.reset_second_factor", "api.create_request"} <= endpoints
    assert {"portal.second_factor", "portal.give_second_factor", "portal.enrol_second_factor"} == {
        e for e in endpoints if e.startswith("portal.") and "second_factor" in e}
    assert all(declared_public(app, e) for e in ("portal.second_factor", "portal.give_second_factor",
                                                 "portal.enrol_second_factor"))


# --- coordinators: a setting ---------------------------------------------------------------------


def test_coordinators_sign_in_with_the_link_alone_while_the_setting_is_off(app, make_account, sign_in):
    coordinator = make_account(role="coordinator")
    http = app.test_client()
    response = sign_in(coordinator, http=http, by_email=True, second_factor=False)
    assert response.headers["Location"] == "/admin/"
    assert reaches_staff_pages(http)


def test_with_the_setting_on_coordinators_set_up_the_app_too(app, make_account, signed_in, half_signed_in,
                                                             sign_in):
    admin_http, _admin = signed_in("admin")
    settings_page = page(admin_http, "/admin/settings")
    assert "Second factor for coordinators" in settings_page
    saved = save(admin_http, settings_page, COORDINATOR_SECOND_FACTOR="y")
    assert saved.status_code == 302, saved.get_data(as_text=True)
    with app.app_context():
        assert db.session.get(Setting, "COORDINATOR_SECOND_FACTOR").value is True
        db.session.remove()

    coordinator = make_account(role="coordinator")
    http = half_signed_in(coordinator)
    assert not reaches_staff_pages(http)
    response, _secret = enrol(http, coordinator.email)
    assert response.status_code == 200 and len(CODE_PATTERN.findall(response.get_data(as_text=True))) == 10
    assert reaches_staff_pages(http)

    # Off again: the link alone signs coordinators in, this one too (the app is kept, for when
    # it is back on).
    set_coordinator_setting(app, False)
    again = app.test_client()
    response = sign_in(coordinator, http=again, by_email=True, second_factor=False)
    assert response.headers["Location"] == "/admin/"
    assert reaches_staff_pages(again)
    assert reaches_staff_pages(http)  # and the session that gave the code goes on


def test_a_coordinator_signed_in_before_the_setting_was_turned_on_gives_the_code_next(app, make_account):
    coordinator = make_account(role="coordinator")
    http = app.test_client()
    sign_in_directly(http, coordinator, second_factor_given=False)
    assert reaches_staff_pages(http)

    set_coordinator_setting(app, True)

    response = http.get("/admin/requests")
    assert response.status_code == 302 and response.headers["Location"] == STEP
    assert 'id="totp-secret"' in page(http, STEP)
    response = give_second_factor(http, coordinator.email)
    assert response.status_code == 200
    assert 'href="/admin/requests"' in response.get_data(as_text=True)  # back where they were
    assert reaches_staff_pages(http)


def test_an_account_made_admin_gives_a_second_factor_at_its_next_request(app, make_account, signed_in):
    coordinator = make_account(role="coordinator")
    http = app.test_client()
    sign_in_directly(http, coordinator, second_factor_given=False)
    admin_http, _admin = signed_in("admin")
    assert post_form(admin_http, f"/admin/accounts/{coordinator.id}/role", {"role": "admin"},
                     form_page=f"/admin/accounts/{coordinator.id}").status_code == 302

    assert http.get("/admin/").headers["Location"] == STEP


# --- losing the device: an admin's reset ---------------------------------------------------------


def test_an_admin_resets_a_lost_second_factor_which_is_audited_and_asks_for_a_new_app(
        app, make_account, half_signed_in, signed_in):
    lost, old_secret, old_codes = enrolled_admin(app, make_account, half_signed_in, name="Sam Lost")
    lost_http = half_signed_in(lost)
    assert give(lost_http, totp_code(old_secret)).status_code == 302
    assert reaches_staff_pages(lost_http)
    admin_http, admin = signed_in("admin")

    account_page = page(admin_http, f"/admin/accounts/{lost.id}")
    assert "Reset the second factor" in account_page and "10 of 10 recovery codes left" in text(account_page)
    response = post_form(admin_http, f"/admin/accounts/{lost.id}/second-factor/reset",
                         form_page=f"/admin/accounts/{lost.id}")

    assert response.status_code == 302
    done = flashed(page(admin_http, response.headers["Location"]))
    assert ("Sam Lost&#39;s second factor is reset: they are signed out everywhere, and set up a new "
            "authenticator app at their next sign-in.") in done
    [event] = audit(app, "second_factor.reset")
    assert (event.actor_id, event.subject) == (admin.id, lost.email)
    # Their session ended at once.
    assert urlsplit(lost_http.get("/admin/").headers["Location"]).path == "/sign-in"
    with app.app_context():
        assert db.session.get(SecondFactor, lost.id) is None
        assert not db.session.scalars(select(RecoveryCode).where(RecoveryCode.account_id == lost.id)).all()
        db.session.remove()
    # The next sign-in sets up a new app; the old recovery codes and key are gone for good.
    http = half_signed_in(lost)
    html = page(http, STEP)
    assert 'id="totp-secret"' in html and enrolment_secret(html) != old_secret
    assert http.post(SET_UP, data={"csrf_token": csrf_token(html), "code": old_codes[0]}).status_code == 422
    response, _new_secret = enrol(http, lost.email)
    assert response.status_code == 200 and reaches_staff_pages(http)


def test_an_admin_cannot_reset_their_own_second_factor_nor_one_never_set_up(app, make_account, half_signed_in,
                                                                             signed_in):
    admin, _secret, _codes = enrolled_admin(app, make_account, half_signed_in)
    http = app.test_client()
    sign_in_directly(http, admin)
    own = post_form(http, f"/admin/accounts/{admin.id}/second-factor/reset",
                    form_page=f"/admin/accounts/{admin.id}")
    assert own.status_code == 409
    assert "You cannot reset your own second factor: ask another admin." in text(own.get_data(as_text=True))

    _other_http, fresh = signed_in("coordinator")
    none = post_form(http, f"/admin/accounts/{fresh.id}/second-factor/reset",
                     form_page=f"/admin/accounts/{fresh.id}")
    assert none.status_code == 409 and "has no second factor set up" in text(none.get_data(as_text=True))
    assert not audit(app, "second_factor.reset")
    with app.app_context():
        assert db.session.get(SecondFactor, admin.id) is not None
        db.session.remove()


def test_coordinators_cannot_reset_anybodys_second_factor(app, make_account, half_signed_in, signed_in):
    admin, _secret, _codes = enrolled_admin(app, make_account, half_signed_in)
    http, _coordinator = signed_in("coordinator")
    refused = post_form(http, f"/admin/accounts/{admin.id}/second-factor/reset")
    assert refused.status_code == 403
    with app.app_context():
        assert db.session.get(SecondFactor, admin.id) is not None
        db.session.remove()


# --- one's own second factor ---------------------------------------------------------------------


def test_staff_see_their_second_factor_and_make_new_recovery_codes_with_a_current_code(
        app, make_account, half_signed_in, count_queries):
    admin, secret, old_codes = enrolled_admin(app, make_account, half_signed_in)
    http = app.test_client()
    sign_in_directly(http, admin)

    with count_queries() as queries:
        html = page(http, "/admin/second-factor")
    assert len(queries) <= 6, queries
    assert "Recovery codes left 10 of 10" in text(html)
    wrong = post_form(http, "/admin/second-factor/recovery-codes", {"code": old_codes[0]},
                      form_page="/admin/second-factor")
    assert wrong.status_code == 422  # a recovery code does not make new ones
    assert "No new recovery codes were made" in text(wrong.get_data(as_text=True))

    made = post_form(http, "/admin/second-factor/recovery-codes", {"code": totp_code(secret)},
                     form_page="/admin/second-factor")

    assert made.status_code == 200 and made.headers["Cache-Control"] == "no-store"
    new_codes = CODE_PATTERN.findall(made.get_data(as_text=True))
    assert len(new_codes) == 10 and not set(new_codes) & set(old_codes)
    assert len(audit(app, "second_factor.recovery_codes_replaced")) == 1
    # The old codes stop working; the new ones work.
    later = half_signed_in(admin)
    assert give(later, old_codes[1]).status_code == 422
    assert give(later, new_codes[0]).status_code == 302


def test_a_coordinator_without_the_setting_reads_that_the_link_alone_signs_them_in(signed_in):
    http, _coordinator = signed_in("coordinator")
    html = page(http, "/admin/second-factor")
    assert "Your account signs in with the e-mailed link alone." in text(html)
    assert "Make new recovery codes" not in html
    assert '<a href="/admin/second-factor"' in page(http, "/admin/")  # in the navigation


def test_the_account_page_shows_the_second_factor_in_a_bounded_number_of_queries(
        app, make_account, half_signed_in, signed_in, count_queries):
    admin, _secret, _codes = enrolled_admin(app, make_account, half_signed_in)
    http, _me = signed_in("admin")
    with count_queries() as queries:
        html = page(http, f"/admin/accounts/{admin.id}")
    assert len(queries) <= 8, queries
    assert "10 of 10 recovery codes left" in text(html)


# --- what the database keeps ---------------------------------------------------------------------


def test_the_secret_is_sealed_with_a_key_derived_from_the_secret_key(app, make_account, half_signed_in,
                                                                     monkeypatch):
    admin, secret, _codes = enrolled_admin(app, make_account, half_signed_in)
    with app.app_context():
        sealed = db.session.get(SecondFactor, admin.id).sealed_secret
        assert secret not in sealed and second_factor.unseal(sealed) == secret
        old_key = app.config["SECRET_KEY"]
        monkeypatch.setitem(app.config, "SECRET_KEY", "another key altogether, 32+ characters long")
        assert second_factor.unseal(sealed) is None  # a dump without the key gives nothing away
        monkeypatch.setitem(app.config, "SECRET_KEY_FALLBACKS", [old_key])
        assert second_factor.unseal(sealed) == secret  # a rotated key still opens it
        monkeypatch.setitem(app.config, "SECOND_FACTOR_KEY", "a key of its own for the second factor!")
        assert second_factor.unseal(second_factor.seal(secret)) == secret
        db.session.remove()


def test_the_accounts_table_is_untouched_and_deleting_an_account_deletes_its_factor(app, make_account,
                                                                                    half_signed_in):
    admin, _secret, _codes = enrolled_admin(app, make_account, half_signed_in)
    with app.app_context():
        db.session.delete(db.session.get(Account, admin.id))
        db.session.commit()
        assert db.session.get(SecondFactor, admin.id) is None
        assert db.session.scalar(select(func.count(RecoveryCode.id))) == 0
        db.session.remove()


# --- the command line and the development log ----------------------------------------------------


def test_a_lone_admin_s_second_factor_is_reset_from_the_command_line(app, runner, make_account,
                                                                     half_signed_in):
    admin, _secret, _codes = enrolled_admin(app, make_account, half_signed_in, email="lone@example.com")

    result = runner.invoke(args=["users", "reset-second-factor", "LONE@example.com"])

    assert result.exit_code == 0, result.output
    assert "Reset the second factor of lone@example.com" in result.output
    [event] = audit(app, "second_factor.reset")
    assert (event.actor_id, event.subject, event.detail["via"]) == (None, admin.email, "command line")
    assert 'id="totp-secret"' in page(half_signed_in(admin), STEP)
    again = runner.invoke(args=["users", "reset-second-factor", "lone@example.com"])
    assert again.exit_code == 1 and "has no second factor set up" in again.output
    nobody = runner.invoke(args=["users", "reset-second-factor", "nobody@example.com"])
    assert nobody.exit_code == 1
    assert "There is no staff or sales account for nobody@example.com" in nobody.output
    assert "Traceback" not in again.output + nobody.output


def test_the_development_log_line_says_a_code_follows_for_admins(app, client, make_account, monkeypatch,
                                                                 caplog):
    import logging

    monkeypatch.setitem(app.config, "LOG_SIGN_IN_LINKS", True)
    caplog.set_level(logging.WARNING, logger="workflows.auth")
    admin = make_account(role="admin", email="boss@example.com")
    sales = make_account(role="sales", email="seller@example.com")
    for account in (admin, sales):
        html = page(client, "/sign-in")
        client.post("/sign-in", data={"csrf_token": csrf_token(html), "email": account.email})
    lines = [r.getMessage() for r in caplog.records if "Development sign-in link" in r.getMessage()]
    [for_admin] = [line for line in lines if "boss@example.com" in line]
    [for_sales] = [line for line in lines if "seller@example.com" in line]
    assert "then a code from an authenticator app" in for_admin
    assert "authenticator" not in for_sales
