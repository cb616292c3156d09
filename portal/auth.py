"""Sign-in by magic link, sign-out, and the session rules (12 h, staff idle 30 min; a staff
account that needs a second factor is half signed in until it is given: ``portal.second_factor``)."""

from __future__ import annotations

import time
from functools import cache, partial
from urllib.parse import unquote, urlsplit

from flask import (
    after_this_request,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_login import current_user, login_user, logout_user
from sqlalchemy import bindparam, select
from sqlalchemy.orm import joinedload

from access import HALF_SIGNED_IN, SECOND_FACTOR_GIVEN, public
from extensions import limiter, login_manager
from models import Account, Advocate, Role, db
from models.accounts import normalize_email
from portal import bp
from portal.forms import ConfirmForm, SignInForm, SignOutForm
from portal.token_pages import token_page
from workflows import auth as auth_flow
from workflows import second_factor

REFUSAL_TEXT = {
    "invalid": "This sign-in link is not valid. It may have been copied incompletely.",
    "expired": "This sign-in link has expired: links work for 10 minutes.",
    "used": "This sign-in link has already been used: each link works once.",
    "inactive": "This account is not active any more.",
}


def safe_next_path(candidate: str | None) -> str | None:
    """A path on this site to go to after sign-in, or None (DESIGN.md §7.8)."""
    if not candidate or len(candidate) > 500:
        return None
    decoded = unquote(candidate)
    for value in (candidate, decoded):
        if not value.startswith("/") or value.startswith("//") or "\\" in value:
            return None
        if any(ord(ch) < 32 or ord(ch) == 127 for ch in value):
            return None
        parts = urlsplit(value)
        if parts.scheme or parts.netloc:
            return None
    return candidate


def home_for(account: Account) -> str:
    if account.role == Role.ADVOCATE:
        return url_for("portal.home")
    return url_for("admin.home")


def after_the_answer(work) -> None:
    """Do ``work`` once this request's answer has been sent, in an app context of its own.

    Asking for a sign-in link must answer the same way, in the same time, whether or not the
    address is known (DESIGN.md §7.3): the lookup and the e-mail happen after the answer, so its
    time carries nothing about the address. The WSGI server runs this when it closes the
    response (werkzeug and gunicorn do); a failure is logged, and the person can ask again."""
    app = current_app._get_current_object()

    def run() -> None:
        with app.app_context():
            try:
                work()
            except Exception:
                app.logger.exception("a sign-in link could not be prepared")
            finally:
                db.session.remove()

    @after_this_request
    def _when_sent(response):
        response.call_on_close(run)
        return response


def _sign_in_address_key() -> str:
    return "sign-in-address:" + normalize_email(request.form.get("email", ""))[:254]


def _sign_in_limits(limit_setting: str):
    return lambda: current_app.config[limit_setting]


@bp.route("/sign-in", methods=["GET", "POST"])
@public
@limiter.limit(_sign_in_limits("SIGN_IN_LIMIT_PER_ADDRESS"), key_func=_sign_in_address_key,
               methods=["POST"], scope="sign-in-address")
@limiter.limit(_sign_in_limits("SIGN_IN_LIMIT_PER_CLIENT"), methods=["POST"], scope="sign-in-client")
def sign_in():
    if current_user.is_authenticated:
        return redirect(home_for(current_user))
    form = SignInForm(next=request.args.get("next", ""))
    if form.validate_on_submit():
        email, next_path = form.email.data, safe_next_path(form.next.data)
        after_the_answer(partial(auth_flow.request_link, email, next_path, ip=request.remote_addr))
        session["sign_in_email"] = normalize_email(email)
        return redirect(url_for("portal.link_sent"))
    return render_template("portal/sign_in.html", form=form), 400 if form.errors else 200


@bp.route("/sign-in/sent")
@public
def link_sent():
    return render_template(
        "portal/link_sent.html",
        email=session.get("sign_in_email"),
        minutes=int(auth_flow.link_lifetime().total_seconds() // 60),
    )


def _refused(reason: str):
    status = 410 if reason in ("expired", "used") else 400
    return token_page(
        "portal/link_invalid.html", status, message=REFUSAL_TEXT[reason], form=SignInForm()
    )


@bp.route("/sign-in/link/<token>", methods=["GET"])
@public
def open_link(token: str):
    """Show whom the link signs in; only the button's POST uses it (mail scanners GET links)."""
    try:
        pending = auth_flow.inspect_link(token)
    except auth_flow.SignInRefused as refusal:
        return _refused(refusal.reason)
    return token_page("portal/confirm_link.html", pending=pending, form=ConfirmForm())


@bp.route("/sign-in/link/<token>", methods=["POST"])
@public
def use_link(token: str):
    form = ConfirmForm()
    if not form.validate_on_submit():
        return _refused("invalid")
    try:
        account, next_path = auth_flow.complete(token)
    except auth_flow.SignInRefused as refusal:
        return _refused(refusal.reason)
    if second_factor.required(account):
        start_half_session(account, safe_next_path(next_path))
        return redirect(url_for("portal.second_factor"))
    start_session(account)
    flash(f"Welcome, {account.name}. You are signed in.", "success")
    return redirect(safe_next_path(next_path) or home_for(account))


@bp.route("/sign-out", methods=["POST"])
@public
def sign_out():
    form = SignOutForm()
    if form.validate_on_submit() and current_user.is_authenticated:
        auth_flow.sign_out(db.session.merge(current_user._get_current_object()))
    end_session()
    flash("You are signed out.", "info")
    return redirect(url_for("portal.sign_in"))


def start_session(account: Account, *, second_factor_given: bool = False) -> None:
    """A fresh session: nothing carried over from before sign-in (nor from half signed in).
    ``second_factor_given``: the person gave their second factor just now."""
    session.clear()
    login_user(account)
    session.permanent = True
    now = int(time.time())
    session["signed_in_at"] = now
    session["seen_at"] = now
    if second_factor_given:
        session[SECOND_FACTOR_GIVEN] = now


def start_half_session(account: Account, next_path: str | None) -> None:
    """A fresh session that is signed in for no page: the link was used, and the account's
    second factor comes next (``portal.second_factor``)."""
    session.clear()
    session.permanent = True
    session[HALF_SIGNED_IN] = {"account": account.get_id(), "at": int(time.time()), "next": next_path}


def half_signed_in() -> tuple[Account, str | None] | None:
    """The account of a half-signed-in session and the page it was going to, or None (no such
    session, older than ``SECOND_FACTOR_PENDING_MAX_AGE``, or of an account signed out,
    deactivated or reset since)."""
    pending = session.get(HALF_SIGNED_IN)
    if not isinstance(pending, dict) or not isinstance(pending.get("at"), int):
        return None
    max_age = current_app.config["SECOND_FACTOR_PENDING_MAX_AGE"].total_seconds()
    if time.time() - pending["at"] > max_age:
        return None
    account = load_account(str(pending.get("account", "")))
    if account is None or not account.is_staff:
        return None
    next_path = pending.get("next")
    return account, next_path if isinstance(next_path, str) else None


def end_session() -> None:
    logout_user()
    session.clear()


SEEN_AT_STEP = 60  # seconds: how finely the idle time of a session is kept


@login_manager.user_loader
def load_account(session_id: str) -> Account | None:
    """The account of a session cookie, if the cookie's session version is still current."""
    account_id, _, version = session_id.partition(":")
    if not account_id.isdigit() or not version.isdigit():
        return None
    account = db.session.scalars(_account_query(), {"id": int(account_id)}).one_or_none()
    if account is None or not account.active or account.session_version != int(version):
        return None
    return account


@cache
def _account_query():
    """The account, with its advocate profile, tier and company for an advocate (what the
    portal's pages read of them first) in the same query."""
    return (select(Account).where(Account.id == bindparam("id"))
            .options(joinedload(Account.advocate).options(joinedload(Advocate.tier),
                                                          joinedload(Advocate.company))))


def init_session_handling(app) -> None:
    login_manager.init_app(app)
    login_manager.login_view = "portal.sign_in"
    login_manager.session_protection = None  # sessions are bound by version, not by IP/UA

    @app.before_request
    def _enforce_session_lifetime():
        if not current_user.is_authenticated:
            return None
        now = int(time.time())
        signed_in_at = session.get("signed_in_at", 0)
        seen_at = session.get("seen_at", 0)
        lifetime = app.config["PERMANENT_SESSION_LIFETIME"].total_seconds()
        idle_limit = app.config["STAFF_IDLE_TIMEOUT"].total_seconds()
        if now - signed_in_at > lifetime or (
            current_user.is_staff and now - seen_at > idle_limit
        ):
            end_session()
            g.session_expired = True
            flash("Your session has ended. Sign in again to go on.", "info")
            return None
        if now - seen_at >= SEEN_AT_STEP:
            session["seen_at"] = now
        if (current_user.is_staff and not session.get(SECOND_FACTOR_GIVEN)
                and second_factor.required(current_user)):
            # Signed in before the account needed a second factor (the setting was turned on,
            # or the account was made an admin): half signed in again until it is given.
            account = current_user._get_current_object()
            back = request.full_path.rstrip("?") if request.method in ("GET", "HEAD") else None
            end_session()
            start_half_session(account, safe_next_path(back))
        return None
