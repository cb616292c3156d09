"""Creating and changing accounts, and the settings people keep for themselves."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from email_validator import EmailNotValidError, validate_email
from sqlalchemy import func, or_, select

from models import Account, ApiToken, Role, db
from models.accounts import normalize_email
from workflows import errors, second_factor, submissions
from workflows.audit import add_event
from workflows.availability import AvailabilityError, resolve_time_zone
from workflows.submissions import Once
from workflows.suppression import LEFT_MESSAGE, is_suppressed
from workflows.transaction import transaction

# The accounts an admin manages on the accounts page; advocates have pages of their own.
MANAGED_ROLES = (Role.SALES, Role.COORDINATOR, Role.ADMIN)
NAME_MAX_LENGTH = 120
ROLE_WORDS = {
    Role.SALES: "Sales",
    Role.COORDINATOR: "Coordinator",
    Role.ADMIN: "Admin",
    Role.ADVOCATE: "Advocate",
}


class AccountError(errors.Invalid):
    """The account cannot be created as asked; the message says why."""


class AccountNotFound(errors.NotFound):
    """No staff or sales account with that id (an advocate's account is not managed here)."""


class AccountRefused(errors.Conflict):
    """The account cannot change this way now: it is the admin's own, or the last active admin,
    or it is already in that state."""


def create_account(
    email: str, role: Role | str, name: str | None = None, *, actor: Account | None = None,
    timezone: str = "UTC", once: Once | None = None, roles: Iterable[Role] = tuple(Role),
) -> Account:
    """A new account; its owner signs in with a link sent to ``email``. Refused
    (``AccountError``, naming the field) for a role outside ``roles``, an address that is not
    one, already has an account, or was erased when its owner left the program; a name over
    ``NAME_MAX_LENGTH``; a time zone that is none. ``once``: the form's submission key, claimed
    for ``actor`` (``submissions.AlreadySubmitted`` the second time)."""
    allowed = tuple(roles)
    asked = role
    try:
        role = Role(role)
    except ValueError:
        role = None
    if role not in allowed:
        raise AccountError(
            f"unknown role {str(asked)!r}: use one of {', '.join(r.value for r in allowed)}", "role"
        )
    try:
        email = validate_email((email or "").strip(), check_deliverability=False).normalized
    except EmailNotValidError as exc:
        raise AccountError(f"{email!r} is not a valid e-mail address: {exc}", "email") from None
    email = normalize_email(email)
    name = " ".join((name or "").split()) or email.split("@")[0][:NAME_MAX_LENGTH]
    if len(name) > NAME_MAX_LENGTH:
        raise AccountError(f"Keep the name to {NAME_MAX_LENGTH} characters or fewer.", "name")
    try:
        timezone = resolve_time_zone(timezone or "UTC")
    except AvailabilityError as refusal:
        raise AccountError(refusal.message, "timezone") from None
    with transaction():
        claimed = submissions.claim(actor.id, once.scope, once.key) if once and actor else None
        if db.session.scalar(select(Account.id).where(Account.email == email)) is not None:
            raise AccountError(f"an account for {email} already exists", "email")
        if is_suppressed(email):
            raise AccountError(LEFT_MESSAGE.format(email=email), "email")
        account = Account(email=email, role=role, name=name, timezone=timezone)
        db.session.add(account)
        db.session.flush()
        if claimed is not None:
            submissions.done(claimed, account.id)
        add_event("account.created", actor=actor, subject=email, role=role.value)
    return account


def change_role(account_id: int, role: Role | str, *, by: Account) -> Account:
    """Make a staff or sales account another of those roles (audited). An admin cannot change
    their own role, nor make the last active admin anything else (``AccountRefused``)."""
    try:
        role = Role(role)
    except ValueError:
        role = None
    if role not in MANAGED_ROLES:
        raise AccountError(f"Pick one of {', '.join(ROLE_WORDS[r].lower() for r in MANAGED_ROLES)}.",
                           "role")
    with transaction():
        account = _managed(account_id)
        if account.role is role:
            raise AccountRefused(f"{account.name} is {with_article(role)} already. Nothing was changed.",
                                 "role")
        if account.id == by.id:
            raise AccountRefused("You cannot change your own role: ask another admin. "
                                 "Nothing was changed.", "role")
        if account.role is Role.ADMIN:
            _check_another_admin(account, "made " + with_article(role))
        before = account.role
        account.role = role
        add_event("account.role_changed", actor=by, subject=account.email, before=before.value,
                  after=role.value)
    return account


def deactivate_account(account_id: int, *, by: Account) -> Account:
    """No more sign-in for the account: its sessions and sign-in links end at once, its API
    tokens stop working (``Account.deactivate``). Audited. An admin cannot deactivate
    themself, nor the last active admin (``AccountRefused``)."""
    with transaction():
        account = _managed(account_id)
        if not account.active:
            raise AccountRefused(f"{account.name}'s account is deactivated already. Nothing was changed.")
        if account.id == by.id:
            raise AccountRefused("You cannot deactivate your own account: ask another admin. "
                                 "Nothing was changed.")
        if account.role is Role.ADMIN:
            _check_another_admin(account, "deactivated")
        account.deactivate()
        add_event("account.deactivated", actor=by, subject=account.email, role=account.role.value)
    return account


def reactivate_account(account_id: int, *, by: Account) -> Account:
    """The account may sign in again (with a new link: the old sessions and links stay ended).
    Audited."""
    with transaction():
        account = _managed(account_id)
        if account.active:
            raise AccountRefused(f"{account.name}'s account is active already. Nothing was changed.")
        account.active = True
        add_event("account.reactivated", actor=by, subject=account.email, role=account.role.value)
    return account


def reset_second_factor(account_id: int, *, by: Account | None) -> Account:
    """Forget a staff member's authenticator app and recovery codes (they lost the device): their
    sessions end, and they set up a new app at their next sign-in. Audited. Not one's own (ask
    another admin), and only a second factor that exists (``AccountRefused``). ``by`` None: from
    the server's command line (a lone admin who lost everything)."""
    with transaction():
        account = _managed(account_id)
        if by is not None and account.id == by.id:
            raise AccountRefused("You cannot reset your own second factor: ask another admin. "
                                 "Nothing was changed.")
        if not second_factor.remove(account):
            raise AccountRefused(f"{account.name} has no second factor set up: there is nothing to "
                                 "reset. Nothing was changed.")
        account.end_sessions()
        add_event("second_factor.reset", actor=by, subject=account.email, role=account.role.value,
                  **({} if by else {"via": "command line"}))
    return account


def _managed(account_id: int) -> Account:
    """The staff or sales account, its row locked after every active admin's (in id order: two
    admins changing each other at once queue, and the second sees the first's change)."""
    db.session.execute(
        select(Account.id).where(Account.role == Role.ADMIN, Account.active.is_(True))
        .order_by(Account.id).with_for_update()
    ).all()
    account = db.session.scalars(
        select(Account).where(Account.id == account_id, Account.role.in_(MANAGED_ROLES))
        .with_for_update().execution_options(populate_existing=True)
    ).one_or_none()
    if account is None:
        raise AccountNotFound("There is no staff or sales account with that id.")
    return account


def _check_another_admin(account: Account, change: str) -> None:
    others = db.session.scalar(
        select(func.count(Account.id))
        .where(Account.role == Role.ADMIN, Account.active.is_(True), Account.id != account.id)
    )
    if not others:
        raise AccountRefused(
            f"{account.name} is the last active admin: make another account an admin first, so "
            f"somebody can still manage the program once they are {change}. Nothing was changed."
        )


def with_article(role: Role) -> str:
    """"a sales", "an admin": the role in words, for a sentence."""
    word = ROLE_WORDS[role].lower()
    return f"an {word}" if word[0] in "aeiou" else f"a {word}"


# --- reading ---------------------------------------------------------------------------------

PAGE_SIZE = 50


@dataclass(frozen=True)
class AccountRow:
    account: Account
    working_tokens: int


def managed_accounts(*, role: Role | None = None, active: bool | None = None, text: str = "",
                     page: int = 1) -> tuple[list[AccountRow], int]:
    """One page of the staff and sales accounts, by name, with the count of each one's working
    API tokens; and how many there are in all. Two queries, whatever the number of accounts."""
    tokens = (
        select(ApiToken.account_id, func.count(ApiToken.id).label("working"))
        .where(ApiToken.revoked_at.is_(None)).group_by(ApiToken.account_id).subquery()
    )
    conditions = [Account.role.in_(MANAGED_ROLES) if role is None else Account.role == role]
    if active is not None:
        conditions.append(Account.active.is_(active))
    text = " ".join(text.split()).casefold()
    if text:
        conditions.append(or_(func.lower(Account.name).contains(text, autoescape=True),
                              Account.email.contains(text, autoescape=True)))
    rows = db.session.execute(
        select(Account, func.coalesce(tokens.c.working, 0))
        .outerjoin(tokens, tokens.c.account_id == Account.id)
        .where(*conditions)
        .order_by(func.lower(Account.name), Account.id)
        .limit(PAGE_SIZE).offset((page - 1) * PAGE_SIZE)
    ).all()
    total = db.session.scalar(select(func.count(Account.id)).where(*conditions))
    return [AccountRow(account, int(working)) for account, working in rows], total


def managed_account_id(email: str) -> int:
    """The id of the staff or sales account with that address; ``AccountNotFound`` else."""
    found = db.session.scalar(select(Account.id).where(Account.email == normalize_email(email),
                                                       Account.role.in_(MANAGED_ROLES)))
    if found is None:
        raise AccountNotFound(f"There is no staff or sales account for {email}.")
    return found


def managed_account(account_id: int) -> Account:
    """One staff or sales account, for its page; ``AccountNotFound`` for any other id."""
    account = db.session.scalar(
        select(Account).where(Account.id == account_id, Account.role.in_(MANAGED_ROLES))
    )
    if account is None:
        raise AccountNotFound("There is no staff or sales account with that id.")
    return account


def set_new_request_notifications(account_id: int, on: bool, *, by: Account) -> bool:
    """Whether a coordinator gets an e-mail for every new request (``request_mail.tell_coordinators``
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
