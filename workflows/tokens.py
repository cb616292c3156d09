"""Personal API tokens (DESIGN.md §1, §9): a CRM acts for a sales person, coordinator or admin
through ``Authorization: Bearer TOKEN``.

The token itself is shown once, when it is made, and never kept: the database holds its SHA-256
digest (``workflows.links.digest``, enough for a 256-bit random secret) and its first few
characters, so its owner can tell their tokens apart. Creating and revoking are audited (never
the token). A token works while it is not revoked and its account is active and may hold one.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import case, func, or_, select, update
from sqlalchemy.orm import contains_eager, joinedload

from models import Account, ApiToken, Role, db
from models.accounts import normalize_email
from models.types import utcnow
from workflows import errors, submissions
from workflows.audit import add_event
from workflows.links import digest, random_secret
from workflows.submissions import Once
from workflows.transaction import transaction

# Roles that may hold a token: advocates and prospects use the portal, never the API.
TOKEN_ROLES = frozenset({Role.SALES, Role.COORDINATOR, Role.ADMIN})
NAME_MAX_LENGTH = 120
# Characters of the token kept in clear to tell tokens apart ("AbCd1234…").
PREFIX_LENGTH = 8
# ``last_used_at`` is written at most this often per token, so a busy CRM does not turn every
# read into a write.
LAST_USED_PRECISION = timedelta(minutes=1)
# Longer than any token we make: anything longer is not looked up at all.
SECRET_MAX_LENGTH = 100


class TokenError(errors.Invalid):
    """The token cannot be made or revoked as asked; the message says why."""


class TokenNotFound(errors.NotFound):
    """No such token among those the person may see."""


class TokenAlreadyRevoked(errors.Conflict):
    pass


# --- the rules -------------------------------------------------------------------------------


def check_may_hold_token(account: Account | None, email: str) -> Account:
    if account is None:
        raise TokenError(f"There is no account for {email}.")
    if not account.active:
        raise TokenError(f"The account of {account.email} is deactivated: it cannot have API tokens.")
    if account.role not in TOKEN_ROLES:
        raise TokenError(
            f"{account.email} is an {account.role.value} account: only sales, coordinator and "
            "admin accounts can have API tokens."
        )
    return account


def check_name(name: str | None) -> str:
    name = " ".join((name or "").split())
    if not name:
        raise TokenError("Give the token a name, such as the CRM that will use it.")
    if len(name) > NAME_MAX_LENGTH:
        raise TokenError(f"Keep the name to {NAME_MAX_LENGTH} characters or fewer.")
    return name


def may_manage(viewer: Account, token: ApiToken) -> bool:
    """Everyone manages their own tokens; an admin manages everybody's."""
    return viewer.role == Role.ADMIN or token.account_id == viewer.id


# --- the changes -----------------------------------------------------------------------------


def create_token(email: str, name: str = "API token", *, by: Account | None = None,
                 once: Once | None = None) -> tuple[ApiToken, str]:
    """A new token for the account of ``email``: (the row, the token). The token is returned
    here and nowhere else. ``by`` is who asked (None from the command line); only an admin may
    make a token for somebody else. ``TokenError`` for an unknown, inactive or advocate account
    or a bad name; nothing is saved then.

    ``once``: the form's submission key, claimed for ``by`` (else the token's owner); the same
    key again raises ``submissions.AlreadySubmitted`` naming the token it made, and makes none
    (its secret cannot be shown again)."""
    with transaction():
        account = db.session.scalar(select(Account).where(Account.email == normalize_email(email or "")))
        check_may_hold_token(account, email)
        claimed = submissions.claim((by or account).id, once.scope, once.key) if once else None
        name = check_name(name)
        if by is not None and by.id != account.id and by.role != Role.ADMIN:
            raise TokenError("You can only make API tokens for yourself.")
        secret = random_secret()
        token = ApiToken(
            account_id=account.id, name=name, prefix=secret[:PREFIX_LENGTH], token_hash=digest(secret)
        )
        db.session.add(token)
        db.session.flush()
        if claimed is not None:
            submissions.done(claimed, token.id)
        add_event("api_token.created", actor=by, subject=account.email, token_id=token.id, name=name)
    return token, secret


def revoke_token(token_id: int, *, by: Account) -> ApiToken:
    """The token stops working at once. Its owner or an admin may revoke it; anybody else gets
    ``TokenNotFound``, as for a token that never existed. Revoking twice is a ``TokenError``."""
    with transaction():
        token = db.session.scalar(
            select(ApiToken).where(ApiToken.id == token_id).options(joinedload(ApiToken.account))
        )
        if token is None or not may_manage(by, token):
            raise TokenNotFound("There is no such API token among those you may see.")
        now = utcnow()
        # Conditional, so two revocations at once cannot both succeed (nor both audit).
        revoked = db.session.execute(
            update(ApiToken)
            .where(ApiToken.id == token_id, ApiToken.revoked_at.is_(None))
            .values(revoked_at=now)
        ).rowcount
        if not revoked:
            raise TokenAlreadyRevoked(f"The token “{token.name}” was already revoked.")
        add_event("api_token.revoked", actor=by, subject=token.account.email, token_id=token.id,
                  name=token.name)
    db.session.refresh(token)
    return token


def authenticate(secret: str | None) -> Account | None:
    """The account a bearer token acts for, or None: unknown or revoked token, inactive account,
    or an account that may no longer hold tokens. Notes when the token was last used."""
    if not secret or len(secret) > SECRET_MAX_LENGTH:
        return None
    found = db.session.execute(
        select(ApiToken.id, ApiToken.last_used_at, Account)
        .join(Account, Account.id == ApiToken.account_id)
        .where(
            ApiToken.token_hash == digest(secret),
            ApiToken.revoked_at.is_(None),
            Account.active.is_(True),
            Account.role.in_(TOKEN_ROLES),
        )
    ).one_or_none()
    if found is None:
        return None
    token_id, last_used_at, account = found
    now = utcnow()
    if last_used_at is None or now - last_used_at >= LAST_USED_PRECISION:
        # A write transaction of its own (on SQLite a read that turns into a write fails when
        # another request wrote meanwhile); the account stays in the session, to be read again.
        with transaction():
            db.session.execute(
                update(ApiToken)
                .where(ApiToken.id == token_id)
                .values(last_used_at=now)
                .execution_options(synchronize_session=False)
            )
    return account


# --- reading ---------------------------------------------------------------------------------


def _working_first(query):
    return query.order_by(
        case((ApiToken.revoked_at.is_(None), 0), else_=1), ApiToken.created_at.desc(), ApiToken.id.desc()
    )


def visible_tokens(viewer: Account) -> list[ApiToken]:
    """The tokens on ``viewer``'s own tokens page: theirs, whatever their role (an admin sees
    everybody's on ``every_token``'s page); working ones first, newest first, each with its
    owner loaded (one query)."""
    query = select(ApiToken).options(joinedload(ApiToken.account)).where(ApiToken.account_id == viewer.id)
    return list(db.session.scalars(_working_first(query)))


PAGE_SIZE = 50
STATES = ("working", "revoked")


def every_token(*, owner: str = "", state: str = "", page: int = 1) -> tuple[list[ApiToken], int]:
    """The tokens of every account, for an admin: one page of them (working first, newest first)
    with their owners, and how many there are; ``owner``: text in the owner's name or address;
    ``state``: "working" or "revoked" (else both). Two queries."""
    conditions = []
    owner = " ".join((owner or "").split()).casefold()
    if owner:
        conditions.append(or_(func.lower(Account.name).contains(owner, autoescape=True),
                              Account.email.contains(owner, autoescape=True)))
    if state == "working":
        conditions.append(ApiToken.revoked_at.is_(None))
    elif state == "revoked":
        conditions.append(ApiToken.revoked_at.is_not(None))
    query = (select(ApiToken).join(Account, Account.id == ApiToken.account_id)
             .options(contains_eager(ApiToken.account)).where(*conditions))
    rows = list(db.session.scalars(_working_first(query).limit(PAGE_SIZE).offset((page - 1) * PAGE_SIZE)))
    total = db.session.scalar(
        select(func.count(ApiToken.id)).join(Account, Account.id == ApiToken.account_id).where(*conditions)
    )
    return rows, total
