"""Signed, purpose-bound tokens and the absolute links built on them.

One itsdangerous serializer per purpose, each with its own salt, all made here; a token made
for one purpose never loads for another. Links always start from ``BASE_URL``, never from the
``Host`` of the request being served.

Most tokens carry the time they were made and are loaded with a ``max_age``. A purpose in
``UNTIMED`` (the calendar subscription, unsubscribing) carries no time: its token reads the
same each time it is made from the same payload, and it lasts until the payload stops matching
the database.
"""

from __future__ import annotations

import hashlib
import secrets
from enum import StrEnum
from typing import Any
from urllib.parse import urlsplit

from flask import current_app
from itsdangerous import BadSignature, SignatureExpired, URLSafeSerializer, URLSafeTimedSerializer


class Purpose(StrEnum):
    SIGN_IN = "sign-in"
    # Prospect links: one purpose each, so a booking link cannot cancel a call.
    BOOK = "prospect-book"
    MANAGE_BOOKING = "prospect-manage"
    FEEDBACK = "prospect-feedback"
    READ_ANSWERS = "prospect-read-answers"
    # The seller's one-click deal outcome, and an advocate's calendar subscription.
    OUTCOME = "seller-outcome"
    CALENDAR = "advocate-calendar"
    # Program mail: the quarterly nudge's "still right" button, and unsubscribing.
    REVIEW = "advocate-review"
    UNSUBSCRIBE = "unsubscribe"
    # A program invitation: the page about the program, where the person joins or declines.
    INVITATION = "program-invitation"


class InvalidToken(Exception):
    """The token is tampered with, expired, or was made for another purpose."""

    def __init__(self, purpose: str, *, expired: bool = False, payload: Any = None) -> None:
        super().__init__(purpose)
        self.expired = expired
        # An expired token's signature holds: its payload is genuine (for the audit), not usable.
        self.payload = payload


# Signed without a timestamp: a subscription address must stay the same every time it is shown,
# and it is retired by changing what it signs (``Advocate.calendar_version``), not by age. An
# unsubscribe link works however old the e-mail is (it can only stop mail, never start any).
UNTIMED = frozenset({Purpose.CALENDAR, Purpose.UNSUBSCRIBE})


def _serializer(purpose: Purpose) -> URLSafeSerializer:
    kind = URLSafeSerializer if purpose in UNTIMED else URLSafeTimedSerializer
    return kind(current_app.config["SECRET_KEY"], salt=f"vouch/{purpose}")


def sign(purpose: Purpose, payload: Any) -> str:
    return _serializer(purpose).dumps(payload)


def load(purpose: Purpose, token: str, max_age_seconds: int | None) -> Any:
    """The payload of a token made for ``purpose``; ``InvalidToken`` for anything else.
    ``max_age_seconds`` is required for every purpose but those in ``UNTIMED`` (give None)."""
    serializer = _serializer(purpose)
    if (max_age_seconds is None) != (purpose in UNTIMED):
        raise ValueError(f"{purpose}: a max_age is given for, and only for, timed tokens")
    try:
        if purpose in UNTIMED:
            return serializer.loads(token)
        return serializer.loads(token, max_age=max_age_seconds)
    except SignatureExpired as exc:
        try:
            payload = serializer.load_payload(exc.payload) if exc.payload is not None else None
        except BadSignature:
            payload = None
        raise InvalidToken(str(purpose), expired=True, payload=payload) from exc
    except BadSignature as exc:
        raise InvalidToken(str(purpose)) from exc


def random_secret() -> str:
    return secrets.token_urlsafe(32)


def digest(secret: str) -> str:
    """What the database keeps of a secret: its SHA-256, enough for a 256-bit random value."""
    return hashlib.sha256(secret.encode()).hexdigest()


def external_url(endpoint: str, **values: Any) -> str:
    """An absolute link for an e-mail, always on ``BASE_URL`` (works outside a request too)."""
    base = urlsplit(current_app.config["BASE_URL"])
    adapter = current_app.url_map.bind(
        base.netloc, script_name=base.path or "/", url_scheme=base.scheme
    )
    return adapter.build(endpoint, values, force_external=True)
