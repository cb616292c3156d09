"""One-time submission keys: a create form sent twice, or an API call retried with the same
``Idempotency-Key``, creates one record.

Every create form carries a fresh key (``pages.OnceForm``); the workflow claims it inside its
own transaction (``claim``, a step), and records what it created (``done``). A second
submission with the same key finds the claim and is answered with the first one's record
(``AlreadySubmitted``), whether the two arrive one after the other or at the same moment (the
unique key makes the second wait for the first, then see it).
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from models import Submission, db
from workflows import errors

KEY_MAX_LENGTH = 200
# Printable ASCII without spaces: what an HTTP header and a form's hidden field carry safely.
KEY_PATTERN = re.compile(r"[!-~]{1,200}")


@dataclass(frozen=True)
class Once:
    """A submission key, as a create workflow receives it."""

    scope: str  # what is created: "request-form", "api:requests", …
    key: str
    content: Any = None  # what came with the key (an API body): the same key must bring the same


class AlreadySubmitted(errors.Conflict):
    """This key was used before; ``submission`` says what it created."""

    def __init__(self, submission: Submission) -> None:
        super().__init__("This was sent already: nothing new was created.")
        self.submission = submission


class KeyReused(errors.Invalid):
    """The same key came with other content: a client bug, never a retry."""


def check_key(key: str | None, field: str = "submission_key") -> str:
    if key is None or not KEY_PATTERN.fullmatch(key):
        raise errors.Invalid(
            f"The submission key must be 1 to {KEY_MAX_LENGTH} printable characters without spaces.",
            field,
        )
    return key


def fingerprint(content: Any) -> str:
    """SHA-256 of the content, canonically written (keys sorted)."""
    text = json.dumps(content, sort_keys=True, separators=(",", ":"), default=str, ensure_ascii=True)
    return hashlib.sha256(text.encode()).hexdigest()


def claim(account_id: int, scope: str, key: str, *, content: Any = None) -> Submission:
    """Take ``key`` for this account and scope, in the caller's transaction (flushes only):
    ``AlreadySubmitted`` when it was taken before, ``KeyReused`` when it was taken for other
    content."""
    digest = fingerprint(content) if content is not None else ""
    existing = _find(account_id, scope, key)
    if existing is None:
        try:
            with db.session.begin_nested():  # (flushes what the transaction holds first)
                row = Submission(account_id=account_id, scope=scope, key=key, fingerprint=digest)
                db.session.add(row)
            return row
        except IntegrityError:  # the same key at the same moment: the other one won
            existing = _find(account_id, scope, key)
            if existing is None:  # pragma: no cover - a unique violation without a row
                raise
    if digest and existing.fingerprint and existing.fingerprint != digest:
        raise KeyReused(
            "This Idempotency-Key was already used for a different request: use a new key for "
            "a new request.",
            "Idempotency-Key",
        )
    raise AlreadySubmitted(existing)


def done(submission: Submission, resource_id: int, status_code: int = 201) -> None:
    """What the claimed submission created (the first answer a retry gets again)."""
    submission.resource_id = resource_id
    submission.status_code = status_code


def _find(account_id: int, scope: str, key: str) -> Submission | None:
    return db.session.scalars(
        select(Submission)
        .where(Submission.account_id == account_id, Submission.scope == scope, Submission.key == key)
        .execution_options(populate_existing=True)
    ).one_or_none()
