"""Creating and changing accounts, and the settings people keep for themselves."""

from __future__ import annotations

from email_validator import EmailNotValidError, validate_email
from sqlalchemy import select

from models import Account, Role, db
from models.accounts import normalize_email
from workflows import errors
from workflows.audit import add_event
from workflows.suppression import LEFT_MESSAGE, is_suppressed
from workflows.transaction import transaction


class AccountError(errors.Invalid):
    """The account cannot be created as asked; the message says why."""


def create_account(
    email: str, role: Role | str, name: str | None = None, *, actor: Account | None = None,
    timezone: str = "UTC",
) -> Account:
    try:
        role = Role(role)
    except ValueError:
        raise AccountError(
            f"unknown role {role!r}: use one of {', '.join(r.value for r in Role)}"
        ) from None
    try:
        email = validate_email(email.strip(), check_deliverability=False).normalized
    except EmailNotValidError as exc:
        raise AccountError(f"{email!r} is not a valid e-mail address: {exc}") from None
    email = normalize_email(email)
    with transaction():
        if db.session.scalar(select(Account.id).where(Account.email == email)) is not None:
            raise AccountError(f"an account for {email} already exists")
        if is_suppressed(email):
            raise AccountError(LEFT_MESSAGE.format(email=email), "email")
        account = Account(
            email=email, role=role, name=(name or email.split("@")[0]).strip()[:120], timezone=timezone
        )
        db.session.add(account)
        db.session.flush()
        add_event("account.created", actor=actor, subject=email, role=role.value)
    return account


def set_new_request_notifications(account_id: int, on: bool, *, by: Account) -> bool:
    """Whether a coordinator gets an e-mail for every new request (``requests._tell_coordinators``
    reads it). A coordinator changes their own; an admin anybody's; for anyone else the account
    is ``errors.NotFound``. Only coordinators get those e-mails (``AccountError`` for any other
    role). Audited when it changes; setting what is set already changes nothing. → the setting."""
    on = bool(on)
    with transaction():
        account = db.session.get(Account, account_id, populate_existing=True)
        if account is None or (account.id != by.id and by.role is not Role.ADMIN):
            raise errors.NotFound("There is no such account among those you may change.")
        if account.role is not Role.COORDINATOR:
            raise AccountError(
                "Only coordinators get an e-mail for every new request: there is nothing to turn "
                "on or off for this account.",
                "new_requests",
            )
        if account.notify_new_requests != on:
            account.notify_new_requests = on
            add_event("account.new_request_emails", actor=by, subject=account.email, on=on)
    return on
