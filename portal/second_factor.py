"""The second step of a staff sign-in: after the e-mailed link, a code from an authenticator app
(or a recovery code) for an account that needs one (``workflows.second_factor.required``).

Until the code is given the session is half signed in (``access.HALF_SIGNED_IN``): Flask-Login
sees nobody, so no page but these opens. The first time, the page sets the app up: a QR code
drawn on the server (an inline SVG) and the secret as text; the secret waits in the session,
sealed, until a code from the app confirms it, and the ten recovery codes are shown once, in
the answer to that confirmation. Code attempts are rate-limited per account and per client
address, and too many wrong codes in a row lock the account's second factor for a while.
"""

from __future__ import annotations

from flask import flash, make_response, redirect, render_template, session, url_for
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import StringField

from access import HALF_SIGNED_IN, public
from pages import CodeForm, limit_code_attempts
from portal import bp
from portal.auth import half_signed_in, home_for, start_session
from workflows import second_factor as flow

# The enrolment's secret, sealed, while the app is being set up.
ENROLMENT_SECRET = "second_factor_enrolment"


class EnrolForm(FlaskForm):
    code = StringField(
        "Code the app shows",
        render_kw={"autocomplete": "one-time-code", "inputmode": "numeric", "maxlength": 8,
                   "spellcheck": "false", "autofocus": True},
    )


def no_store(html: str, status: int = 200):
    response = make_response(html, status)
    response.headers["Cache-Control"] = "no-store"
    return response


def _start_again():
    session.pop(HALF_SIGNED_IN, None)
    session.pop(ENROLMENT_SECRET, None)
    flash("Sign in again: ask for a new link. (The second step has to follow the link within "
          "10 minutes.)", "info")
    return redirect(url_for("portal.sign_in"))


@bp.get("/sign-in/second-factor")
@public
def second_factor():
    pending = half_signed_in()
    if pending is None:
        if current_user.is_authenticated:
            return redirect(home_for(current_user))
        return _start_again()
    account, _next = pending
    if flow.is_enrolled(account.id):
        return no_store(render_template("portal/second_factor.html", form=CodeForm(), account=account))
    return _enrolment_page(account, EnrolForm())


def _enrolment_page(account, form: EnrolForm, status: int = 200):
    secret = flow.unseal(session[ENROLMENT_SECRET]) if session.get(ENROLMENT_SECRET) else None
    if secret is None:
        secret = flow.new_secret()
        session[ENROLMENT_SECRET] = flow.seal(secret)
    return no_store(render_template("portal/second_factor_enrol.html", form=form, account=account,
                                    enrolment=flow.enrolment(account, secret)), status)


@bp.post("/sign-in/second-factor")
@public
@limit_code_attempts
def give_second_factor():
    pending = half_signed_in()
    if pending is None:
        return _start_again()
    account, next_path = pending
    form = CodeForm()
    if not form.validate_on_submit():
        flash("The form had expired. Enter the code again.", "error")
        return redirect(url_for("portal.second_factor"))
    try:
        passed = flow.check(account.id, form.code.data)
    except flow.NotEnrolled:
        return redirect(url_for("portal.second_factor"))
    except (flow.CodeRefused, flow.SecondFactorLocked) as refusal:
        form.code.errors = [refusal.message]
        return no_store(render_template("portal/second_factor.html", form=form, account=account),
                        refusal.status)
    start_session(account, second_factor_given=True)
    flash(f"Welcome, {account.name}. You are signed in.", "success")
    if passed.method == "recovery code":
        flash(f"You used a recovery code: {passed.recovery_codes_left} left. Each works once; make "
              "new ones on the Second factor page.", "info")
    return redirect(next_path or home_for(account))


@bp.post("/sign-in/second-factor/set-up")
@public
@limit_code_attempts
def enrol_second_factor():
    pending = half_signed_in()
    if pending is None:
        return _start_again()
    account, next_path = pending
    form = EnrolForm()
    secret = flow.unseal(session[ENROLMENT_SECRET]) if session.get(ENROLMENT_SECRET) else None
    if not form.validate_on_submit() or secret is None:
        flash("The form had expired. Scan the code again and enter what the app shows.", "error")
        return redirect(url_for("portal.second_factor"))
    try:
        codes = flow.enrol(account.id, secret, form.code.data)
    except flow.AlreadyEnrolled:
        return redirect(url_for("portal.second_factor"))
    except flow.CodeRefused as refusal:
        form.code.errors = [refusal.message]
        return _enrolment_page(account, form, refusal.status)
    start_session(account, second_factor_given=True)
    flash(f"Your authenticator app is set up, {account.name}, and you are signed in.", "success")
    return no_store(render_template("portal/recovery_codes.html", codes=codes,
                                    next_url=next_path or home_for(account)))
