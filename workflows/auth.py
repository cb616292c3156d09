"""Sign-in by e-mailed link, and sign-out (DESIGN.md §7 items 1–5)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta

from flask import current_app
from sqlalchemy import select, update

from mail.outbox import enqueue
from models import Account, LoginToken, db
from models.accounts import normalize_email
from models.types import utcnow
from workflows import second_factor
from workflows.audit import add_event
from workflows.links import InvalidToken, Purpose, digest, external_url, load, random_secret, sign
from workflows.transaction import transaction

log = logging.getLogger(__name__)


class SignInRefused(Exception):
    """The link cannot sign anybody in. ``reason``: invalid, expired, used or inactive.

    ``account_id``: the account the link was made for, when the link is genuine (for the audit).
    """

    def __init__(self, reason: str, account_id: int | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.account_id = account_id


@dataclass(frozen=True)
class PendingSignIn:
    """What the confirmation page may show about a link before it is used."""

    masked_email: str
    name: str


def link_lifetime() -> timedelta:
    return current_app.config["SIGN_IN_LINK_MAX_AGE"]


def mask_email(email: str) -> str:
    local, _, domain = email.partition("@")
    return f"{local[:1]}…@{domain}"


def request_link(email: str, next_path: str | None = None, *, ip: str | None = None) -> None:
    """E-mail a sign-in link if the address belongs to an active account; audit the request
    either way. ``ip``: the client's address.

    The sign-in page calls this after its answer has gone out (``portal.auth``), so that the
    answer is the same, in content and in time, whether or not the address is known; the
    outbox sends the e-mail later, never in the request.
    """
    email = normalize_email(email)
    secret = random_secret()
    now = utcnow()
    expires_at = now + link_lifetime()
    with transaction():
        account = db.session.scalar(
            select(Account).where(Account.email == email, Account.active.is_(True))
        )
        add_event("sign_in.link_requested", actor=account, subject=email, known=account is not None, ip=ip)
        if account is None:
            return
        login_token = LoginToken(
            account_id=account.id,
            token_hash=digest(secret),
            purpose=str(Purpose.SIGN_IN),
            next_path=next_path,
            client_ip=ip,
            created_at=now,
            expires_at=expires_at,
        )
        db.session.add(login_token)
        db.session.flush()
        token = sign(Purpose.SIGN_IN, {"s": secret, "v": account.session_version})
        link = external_url("portal.open_link", token=token)
        enqueue(
            template="sign_in_link",
            to=[account.email],
            context={"account": account, "link": link, "minutes": _minutes()},
            idempotency_key=f"sign-in:{login_token.id}",
            expires_at=expires_at,
            sensitive=True,
        )
        if current_app.config["LOG_SIGN_IN_LINKS"]:
            then = (" (then a code from an authenticator app: the first time, the page after the "
                    "link sets one up)" if second_factor.required(account) else "")
            log.warning("Development sign-in link for %s: %s%s", account.email, link, then)


def _minutes() -> int:
    return int(link_lifetime().total_seconds() // 60)


def _login_token(token: str) -> tuple[LoginToken, int]:
    """The server-side row of a link whose signature holds (read only)."""
    try:
        payload = load(Purpose.SIGN_IN, token, int(link_lifetime().total_seconds()))
    except InvalidToken as exc:
        if not exc.expired:
            raise SignInRefused("invalid") from exc
        row = _row_of(exc.payload)
        raise SignInRefused("expired", account_id=row.account_id if row else None) from exc
    row = _row_of(payload)
    if row is None:
        raise SignInRefused("invalid")
    return row, payload.get("v")


def _row_of(payload) -> LoginToken | None:
    if not isinstance(payload, dict) or not isinstance(payload.get("s"), str):
        return None
    row = db.session.scalar(select(LoginToken).where(LoginToken.token_hash == digest(payload["s"])))
    if row is None or row.purpose != Purpose.SIGN_IN:
        return None
    return row


def _check(row: LoginToken, version: int) -> None:
    reason = None
    if row.used_at is not None:
        reason = "used"
    elif row.expires_at <= utcnow():
        reason = "expired"
    elif not row.account.active:
        reason = "inactive"
    elif row.account.session_version != version:
        reason = "invalid"  # signed out or deactivated since the link was sent
    if reason:
        raise SignInRefused(reason, account_id=row.account_id)


def inspect_link(token: str) -> PendingSignIn:
    """What a link would do, without using it up (GET and HEAD, mail scanners included)."""
    row, version = _login_token(token)
    _check(row, version)
    return PendingSignIn(masked_email=mask_email(row.account.email), name=row.account.name)


def complete(token: str) -> tuple[Account, str | None]:
    """Use a link up and return the account it signs in, with the page it was asked from. A
    refused link is audited (in a transaction of its own) before the refusal goes on."""
    try:
        with transaction():
            row, version = _login_token(token)
            _check(row, version)
            now = utcnow()
            claimed = db.session.execute(
                update(LoginToken)
                .where(
                    LoginToken.id == row.id,
                    LoginToken.used_at.is_(None),
                    LoginToken.expires_at > now,
                )
                .values(used_at=now)
                .execution_options(synchronize_session=False)
            ).rowcount
            if claimed != 1:
                raise SignInRefused("used", account_id=row.account_id)
            account = row.account
            account.last_sign_in_at = now
            add_event("sign_in.succeeded", actor=account, subject=account.email)
            next_path = row.next_path
    except SignInRefused as refusal:
        with transaction():
            actor = db.session.get(Account, refusal.account_id) if refusal.account_id else None
            add_event("sign_in.failed", actor=actor, reason=refusal.reason)
        raise
    return account, next_path


def sign_out(account: Account) -> None:
    """End every session of the account, on the server too: old cookies stop working."""
    with transaction():
        account.end_sessions()
        add_event("sign_out", actor=account)
