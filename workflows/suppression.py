"""Addresses of people who left the program, so that they stay gone.

Leaving erases the address, but an old spreadsheet may still hold it: importing it again, or
``users create`` with it, would bring the person back with their consent recorded as given.
What is kept is a keyed hash of the address (HMAC-SHA256 with ``SUPPRESSION_KEY``, which
defaults to ``SECRET_KEY``), never the address itself: the list can say "this address left"
when shown the address, and cannot tell anyone which addresses it holds. Only the person
themselves lifts it, by joining again through an invitation (``lift``).
"""

from __future__ import annotations

import hashlib
import hmac

from flask import current_app
from sqlalchemy import delete, select
from sqlalchemy.dialects import postgresql, sqlite

from models import SuppressedAddress, db
from models.accounts import normalize_email

LEFT_MESSAGE = (
    "{email} left the reference program and asked for their data to be erased: they cannot be "
    "added again by an import or by staff. They can join again themselves through an invitation."
)


def address_digest(email: str) -> str:
    key = (current_app.config.get("SUPPRESSION_KEY") or current_app.config["SECRET_KEY"]).encode()
    return hmac.new(key, normalize_email(email).encode(), hashlib.sha256).hexdigest()


def suppress(email: str) -> None:
    """Remember that ``email`` left (in the caller's transaction); remembering twice is harmless."""
    digest = address_digest(email)
    dialect = db.session.get_bind().dialect.name
    insert = {"postgresql": postgresql.insert, "sqlite": sqlite.insert}.get(dialect)
    if insert is None:  # pragma: no cover - PostgreSQL and SQLite are the databases we run on
        if db.session.get(SuppressedAddress, digest) is None:
            db.session.add(SuppressedAddress(digest=digest))
        return
    db.session.execute(insert(SuppressedAddress).values(digest=digest).on_conflict_do_nothing())


def suppressed(emails: list[str] | set[str]) -> set[str]:
    """Which of ``emails`` belong to people who left (one query)."""
    by_digest = {address_digest(email): email for email in emails}
    if not by_digest:
        return set()
    found = db.session.scalars(
        select(SuppressedAddress.digest).where(SuppressedAddress.digest.in_(list(by_digest)))
    )
    return {by_digest[digest] for digest in found}


def is_suppressed(email: str) -> bool:
    return bool(suppressed([email]))


def lift(email: str) -> None:
    """The person joins again themselves (through an invitation): forget that they left."""
    db.session.execute(delete(SuppressedAddress).where(SuppressedAddress.digest == address_digest(email)))
