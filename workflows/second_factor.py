"""The staff second factor (ASVS 5.0 §6.3.3): a code from an authenticator app (TOTP, RFC 6238)
after the sign-in link, or one of ten one-time recovery codes.

Who needs one: every admin; coordinators when the program setting ``COORDINATOR_SECOND_FACTOR``
is on (``required``). The session side (half signed in until the code is given) is in
``portal.second_factor``; this module holds the rules and the state changes.

What the database keeps:
- the TOTP secret, sealed with Fernet (AES-128-CBC and HMAC-SHA256, from ``cryptography``)
  under a key derived from ``SECOND_FACTOR_KEY``, else ``SECRET_KEY`` (HMAC-SHA256 with a label
  of its own, so the key signs nothing else). A dump of the database alone does not give the
  secrets away; a dump together with the key does. ``SECRET_KEY_FALLBACKS`` still open secrets
  sealed under an older key, so a rotation does not make everybody enrol again;
- the recovery codes as scrypt hashes, under one random salt per account (one scrypt per
  attempt, whichever of the ten codes it is);
- the TOTP time step of the last code accepted: the same code (or an older one) is refused as a
  replay, also on the same time step;
- the wrong codes in a row: ``SECOND_FACTOR_LOCK_AFTER`` of them lock the factor for
  ``SECOND_FACTOR_LOCK_MINUTES``, on top of the per-request rate limits of the views.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass
from datetime import datetime, timedelta

import pyotp
import segno
from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from flask import current_app
from markupsafe import Markup
from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError

from models import Account, RecoveryCode, Role, SecondFactor, db
from models.types import utcnow
from workflows import errors, settings
from workflows.audit import add_event
from workflows.transaction import transaction

RECOVERY_CODE_COUNT = 10
# Crockford's base32: no I, L, O or U to misread. 12 characters: 60 random bits a code.
RECOVERY_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
RECOVERY_CODE_LENGTH = 12
TOTP_DIGITS = 6
# Scrypt's cost for a recovery code: about 30 ms and 16 MB, once per attempt.
_SCRYPT = {"n": 2**14, "r": 8, "p": 1, "dklen": 32}
_KEY_LABEL = b"vouch/second-factor/totp-secret"


class CodeRefused(errors.Invalid):
    """The code is wrong, used already or malformed. The failure is recorded (and the audit
    event) although the code is refused."""

    keeps_changes = True

    def __init__(self, message: str) -> None:
        super().__init__(message, "code")


class SecondFactorLocked(errors.Conflict):
    """Too many wrong codes in a row: no code is checked until ``until``."""

    keeps_changes = True

    def __init__(self, until: datetime) -> None:
        super().__init__(
            f"Too many wrong codes in a row: this account's second factor is locked until "
            f"{until:%H:%M} UTC. Wait until then, or, if you lost your device and your "
            f"recovery codes, ask an admin to reset your second factor.", "code")
        self.until = until


class NotEnrolled(errors.Conflict):
    """The account has no authenticator app set up."""


class AlreadyEnrolled(errors.Conflict):
    """The account has an authenticator app set up already."""


# --- who needs one ---------------------------------------------------------------------------


def required(account: Account) -> bool:
    """Whether the account gives a code after the sign-in link: admins always, coordinators
    when the program setting says so, nobody else."""
    if account.role is Role.ADMIN:
        return True
    return account.role is Role.COORDINATOR and bool(settings.value("COORDINATOR_SECOND_FACTOR"))


def is_enrolled(account_id: int) -> bool:
    return db.session.get(SecondFactor, account_id) is not None


# --- the secret, sealed ----------------------------------------------------------------------


def _fernet() -> MultiFernet:
    config = current_app.config
    keys = [config.get("SECOND_FACTOR_KEY") or config["SECRET_KEY"],
            *(config.get("SECRET_KEY_FALLBACKS") or ())]
    return MultiFernet([
        Fernet(base64.urlsafe_b64encode(hmac.new(str(key).encode(), _KEY_LABEL, hashlib.sha256).digest()))
        for key in keys
    ])


def seal(secret: str) -> str:
    return _fernet().encrypt(secret.encode()).decode()


def unseal(sealed: str) -> str | None:
    """The secret, or None when it was sealed under a key no longer configured."""
    try:
        return _fernet().decrypt(sealed.encode()).decode()
    except (InvalidToken, ValueError):
        return None


def new_secret() -> str:
    return pyotp.random_base32()


# --- enrolment -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Enrolment:
    """What the enrolment page shows: the QR code (an inline SVG, made here) and the secret as
    text, in groups of four, for those who type it in."""

    secret: str
    uri: str
    qr_svg: Markup

    @property
    def secret_in_groups(self) -> str:
        return " ".join(self.secret[i:i + 4] for i in range(0, len(self.secret), 4))


def enrolment(account: Account, secret: str) -> Enrolment:
    uri = pyotp.TOTP(secret).provisioning_uri(name=account.email,
                                              issuer_name=current_app.config["PROGRAM_NAME"])
    svg = segno.make(uri, error="m").svg_inline(scale=5, dark="#000", light="#fff",
                                                 title="QR code for your authenticator app")
    return Enrolment(secret=secret, uri=uri, qr_svg=Markup(svg))


def enrol(account_id: int, secret: str, code: str) -> list[str]:
    """Set up the authenticator app whose ``secret`` the person was shown, once a code from it
    proves they have it; → the ten recovery codes, in clear for this once. Audited."""
    try:
        return _enrol(account_id, secret, _digits(code))
    except IntegrityError:  # set up a moment ago, from another tab
        raise AlreadyEnrolled("Your authenticator app is set up already: enter a code from it.") from None


def _enrol(account_id: int, secret: str, code: str | None) -> list[str]:
    with transaction():
        account = db.session.get(Account, account_id, with_for_update=True)
        if db.session.get(SecondFactor, account_id, with_for_update=True) is not None:
            raise AlreadyEnrolled("Your authenticator app is set up already: enter a code from it.")
        step = _matching_step(secret, code) if code else None
        if step is None:
            add_event("second_factor.enrolment_failed", actor=account)
            raise CodeRefused("That code does not match: check that the app shows the code for "
                              f"{current_app.config['PROGRAM_NAME']} and type the six digits it shows now.")
        salt = secrets.token_hex(16)
        db.session.add(SecondFactor(account_id=account_id, sealed_secret=seal(secret), recovery_salt=salt,
                                    last_used_step=step, last_used_at=utcnow(), failures=0))
        codes = _new_recovery_codes(account_id, salt)
        add_event("second_factor.enrolled", actor=account)
    return codes


# --- checking a code -------------------------------------------------------------------------


@dataclass(frozen=True)
class Passed:
    method: str  # "app" or "recovery code"
    recovery_codes_left: int


def check(account_id: int, code: str, *, purpose: str = "sign_in") -> Passed:
    """Accept a current code from the account's app (not used before) or one of its unused
    recovery codes (used up now). ``CodeRefused`` for anything else, counted towards the lock;
    ``SecondFactorLocked`` while locked. Every outcome is audited with ``purpose``."""
    return _check(account_id, code, purpose=purpose, recovery_allowed=True)


def _check(account_id: int, code: str, *, purpose: str, recovery_allowed: bool) -> Passed:
    with transaction():
        account = db.session.get(Account, account_id)
        factor = db.session.get(SecondFactor, account_id, with_for_update=True, populate_existing=True)
        if account is None or factor is None:
            raise NotEnrolled("No authenticator app is set up for this account.")
        now = utcnow()
        if factor.locked_until is not None and factor.locked_until > now:
            add_event("second_factor.refused", actor=account, reason="locked", purpose=purpose)
            raise SecondFactorLocked(factor.locked_until)
        digits = _digits(code)
        if digits:
            secret = unseal(factor.sealed_secret)
            step = _matching_step(secret, digits) if secret else None
            if step is None:
                _failed(account, factor, "wrong code", purpose)
            if step <= factor.last_used_step:
                _failed(account, factor, "replayed code", purpose,
                        "That code was used already. Wait for the next one in your app (they "
                        "change every 30 seconds) and enter that.")
            factor.last_used_step = step
            method = "app"
        elif recovery_allowed and (normalized := normalize_recovery_code(code)):
            used = _use_recovery_code(factor, normalized, now)
            if not used:
                _failed(account, factor, "wrong recovery code", purpose)
            method = "recovery code"
        else:
            _failed(account, factor, "malformed", purpose,
                    "Enter the six digits your authenticator app shows"
                    + (", or one of your recovery codes." if recovery_allowed else "."))
        factor.failures = 0
        factor.locked_until = None
        factor.last_used_at = now
        left = _recovery_codes_left(account_id)
        add_event("second_factor.passed", actor=account, method=method, purpose=purpose,
                  recovery_codes_left=left)
    return Passed(method=method, recovery_codes_left=left)


def _failed(account: Account, factor: SecondFactor, reason: str, purpose: str,
            message: str | None = None) -> None:
    """Count the failure (a lock after enough in a row), audit it, and refuse."""
    config = current_app.config
    factor.failures += 1
    left = config["SECOND_FACTOR_LOCK_AFTER"] - factor.failures
    add_event("second_factor.refused", actor=account, reason=reason, purpose=purpose,
              failures=factor.failures)
    if left <= 0:
        factor.locked_until = utcnow() + timedelta(minutes=config["SECOND_FACTOR_LOCK_MINUTES"])
        factor.failures = 0
        add_event("second_factor.locked", actor=account, until=factor.locked_until.isoformat())
        raise SecondFactorLocked(factor.locked_until)
    warning = (f" {left} more wrong code{'' if left == 1 else 's'} and it is locked for "
               f"{config['SECOND_FACTOR_LOCK_MINUTES']} minutes." if left <= 3 else "")
    raise CodeRefused((message or "That code is not right. Type the six digits your app shows "
                                  "now, or a recovery code.") + warning)


def _digits(code: str | None) -> str | None:
    """Six ASCII digits (spaces allowed between them), else None."""
    compact = "".join((code or "").split())
    return compact if len(compact) == TOTP_DIGITS and compact.isascii() and compact.isdigit() else None


def _matching_step(secret: str, code: str) -> int | None:
    """The time step (of now, or one either side for a clock a little off) whose code is
    ``code``; compared in constant time."""
    totp = pyotp.TOTP(secret, digits=TOTP_DIGITS)
    now = int(time.time()) // totp.interval
    found = None
    for step in (now - 1, now, now + 1):
        if hmac.compare_digest(totp.generate_otp(step), code):
            found = step
    return found


# --- recovery codes --------------------------------------------------------------------------


def normalize_recovery_code(code: str | None) -> str | None:
    """The code as stored: capitals, without spaces and dashes (and Crockford's look-alikes
    read as the digits they stand for), or None when it cannot be one."""
    compact = "".join(ch for ch in (code or "").upper() if ch not in " -\t")
    compact = compact.translate(str.maketrans({"O": "0", "I": "1", "L": "1"}))
    if len(compact) != RECOVERY_CODE_LENGTH or any(ch not in RECOVERY_ALPHABET for ch in compact):
        return None
    return compact


def _recovery_hash(code: str, salt: str) -> str:
    return hashlib.scrypt(code.encode(), salt=bytes.fromhex(salt), **_SCRYPT).hex()


def _new_recovery_codes(account_id: int, salt: str) -> list[str]:
    """Ten new codes in place of any old ones (a step: the caller's transaction commits)."""
    db.session.execute(delete(RecoveryCode).where(RecoveryCode.account_id == account_id))
    codes = ["".join(secrets.choice(RECOVERY_ALPHABET) for _ in range(RECOVERY_CODE_LENGTH))
             for _ in range(RECOVERY_CODE_COUNT)]
    db.session.add_all(RecoveryCode(account_id=account_id, code_hash=_recovery_hash(code, salt))
                       for code in codes)
    return [f"{code[:4]}-{code[4:8]}-{code[8:]}" for code in codes]


def _use_recovery_code(factor: SecondFactor, code: str, now: datetime) -> bool:
    row = db.session.scalar(
        select(RecoveryCode).where(RecoveryCode.account_id == factor.account_id,
                                   RecoveryCode.code_hash == _recovery_hash(code, factor.recovery_salt),
                                   RecoveryCode.used_at.is_(None)))
    if row is None:
        return False
    row.used_at = now
    return True


def _recovery_codes_left(account_id: int) -> int:
    db.session.flush()
    return db.session.scalar(select(func.count(RecoveryCode.id)).where(
        RecoveryCode.account_id == account_id, RecoveryCode.used_at.is_(None)))


def regenerate_recovery_codes(account_id: int, code: str) -> list[str]:
    """Ten new recovery codes in place of the old ones, for a current code from the app (not a
    recovery code); → the new codes, in clear for this once. Audited."""
    _check(account_id, code, purpose="new_recovery_codes", recovery_allowed=False)
    with transaction():
        factor = db.session.get(SecondFactor, account_id, with_for_update=True, populate_existing=True)
        if factor is None:
            raise NotEnrolled("No authenticator app is set up for this account.")
        codes = _new_recovery_codes(account_id, factor.recovery_salt)
        add_event("second_factor.recovery_codes_replaced", actor=db.session.get(Account, account_id))
    return codes


# --- status and reset ------------------------------------------------------------------------


@dataclass(frozen=True)
class Status:
    required: bool
    enrolled_at: datetime | None
    last_used_at: datetime | None
    recovery_codes_left: int
    locked_until: datetime | None


def status(account: Account) -> Status:
    factor = db.session.get(SecondFactor, account.id)
    if factor is None:
        return Status(required(account), None, None, 0, None)
    locked = factor.locked_until if factor.locked_until and factor.locked_until > utcnow() else None
    return Status(required(account), factor.enrolled_at, factor.last_used_at,
                  _recovery_codes_left(account.id), locked)


def remove(account: Account) -> bool:
    """Forget the account's app and recovery codes (a step: the caller's transaction commits and
    audits); → whether there was anything to forget."""
    had = db.session.execute(delete(SecondFactor).where(SecondFactor.account_id == account.id)).rowcount
    db.session.execute(delete(RecoveryCode).where(RecoveryCode.account_id == account.id))
    return bool(had)
