"""Settings. Every value in DESIGN.md §9 "Environment" can be overridden from the environment."""

import os
from datetime import timedelta
from pathlib import Path

INSTANCE_DIR = Path(__file__).resolve().parent / "instance"
DEV_SECRET_KEY = "dev-only-not-secret"


def _bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def _int(name: str, default: int) -> int:
    value = os.environ.get(name)
    return int(value) if value not in (None, "") else default


def _optional_int(name: str) -> int | None:
    value = os.environ.get(name)
    return int(value) if value not in (None, "") else None


def _float(name: str, default: float) -> float:
    value = os.environ.get(name)
    return float(value) if value not in (None, "") else default


class Config:
    """Development defaults: needs nothing installed beyond the Python packages."""

    ENV_NAME = "development"
    SECRET_KEY = os.environ.get("SECRET_KEY", DEV_SECRET_KEY)
    SQLALCHEMY_DATABASE_URI = os.environ.get(
        "DATABASE_URL", f"sqlite:///{INSTANCE_DIR / 'vouch.sqlite3'}"
    )
    BASE_URL = os.environ.get("BASE_URL", "http://127.0.0.1:5000").rstrip("/")
    # Behind a reverse proxy, the number of proxies to trust for the client address (ProxyFix).
    PROXY_COUNT = _int("PROXY_COUNT", 0)

    MAIL_SERVER = os.environ.get("MAIL_SERVER", "localhost")
    MAIL_PORT = _int("MAIL_PORT", 25)
    MAIL_USERNAME = os.environ.get("MAIL_USERNAME")
    MAIL_PASSWORD = os.environ.get("MAIL_PASSWORD")
    MAIL_USE_TLS = _bool("MAIL_USE_TLS", False)
    MAIL_USE_SSL = _bool("MAIL_USE_SSL", False)
    MAIL_DEFAULT_SENDER = os.environ.get("MAIL_DEFAULT_SENDER", "Vouch <vouch@localhost>")
    # Where replies go (the program team's inbox) when not to the From address: a Reply-To
    # header on every message when set.
    MAIL_REPLY_TO = os.environ.get("MAIL_REPLY_TO") or None
    # The program's name as the e-mails and their layout say it ("the Acme customer program").
    PROGRAM_NAME = os.environ.get("PROGRAM_NAME", "Vouch")
    MAIL_TIMEOUT_SECONDS = _int("MAIL_TIMEOUT_SECONDS", 10)
    # Attempts before an outbox message is marked dead; the wait doubles after each temporary
    # failure (refused connection, time-out, a 4xx reply), up to MAIL_RETRY_MAX_SECONDS, plus up
    # to MAIL_RETRY_JITTER of itself at random so that messages failed together spread out.
    # A permanent refusal (5xx) marks the message dead at once.
    MAIL_MAX_ATTEMPTS = _int("MAIL_MAX_ATTEMPTS", 8)
    MAIL_RETRY_BASE_SECONDS = _float("MAIL_RETRY_BASE_SECONDS", 30)
    MAIL_RETRY_MAX_SECONDS = _float("MAIL_RETRY_MAX_SECONDS", 3600)
    MAIL_RETRY_JITTER = _float("MAIL_RETRY_JITTER", 0.2)
    # A worker claims up to MAIL_BATCH_SIZE due messages at a time, sent over one SMTP connection,
    # for a lease of MAIL_LEASE_SECONDS (renewed while it works): a killed worker's messages are
    # sent by another once the lease has run out.
    MAIL_BATCH_SIZE = _int("MAIL_BATCH_SIZE", 50)
    MAIL_LEASE_SECONDS = _float("MAIL_LEASE_SECONDS", 300)
    # ``flask mail worker``: how often it looks for due mail, and how often it runs the periodic
    # jobs (``flask jobs run``).
    MAIL_WORKER_POLL_SECONDS = _float("MAIL_WORKER_POLL_SECONDS", 5)
    JOBS_INTERVAL_SECONDS = _float("JOBS_INTERVAL_SECONDS", 60)
    # Development only: write sign-in links to the server log so no mail server is needed.
    LOG_SIGN_IN_LINKS = _bool("LOG_SIGN_IN_LINKS", True)

    # The memory store counts per process: with several workers each has its own counts, so
    # production needs a shared store (redis://…) unless RATELIMIT_SINGLE_WORKER says there is one.
    RATELIMIT_STORAGE_URI = os.environ.get("RATELIMIT_STORAGE_URI", "memory://")
    RATELIMIT_SINGLE_WORKER = _bool("RATELIMIT_SINGLE_WORKER", False)
    RATELIMIT_ENABLED = True
    RATELIMIT_HEADERS_ENABLED = True
    SIGN_IN_LIMIT_PER_ADDRESS = os.environ.get("SIGN_IN_LIMIT_PER_ADDRESS", "5 per 15 minutes")
    SIGN_IN_LIMIT_PER_CLIENT = os.environ.get("SIGN_IN_LIMIT_PER_CLIENT", "20 per hour")

    # The staff second factor (workflows.second_factor): code attempts per half-signed-in account
    # and per client address; wrong codes in a row that lock an account's second factor, and for
    # how long; how long a half-signed-in session (link used, code not yet given) lasts.
    SECOND_FACTOR_LIMIT_PER_ACCOUNT = os.environ.get("SECOND_FACTOR_LIMIT_PER_ACCOUNT", "5 per minute")
    SECOND_FACTOR_LIMIT_PER_CLIENT = os.environ.get("SECOND_FACTOR_LIMIT_PER_CLIENT", "30 per 15 minutes")
    SECOND_FACTOR_LOCK_AFTER = _int("SECOND_FACTOR_LOCK_AFTER", 10)
    SECOND_FACTOR_LOCK_MINUTES = _int("SECOND_FACTOR_LOCK_MINUTES", 15)
    SECOND_FACTOR_PENDING_MAX_AGE = timedelta(minutes=10)
    # The key the TOTP secrets are sealed with (derived from it); SECRET_KEY when unset. Set it
    # on its own if SECRET_KEY may be rotated: without it every staff member enrols again.
    SECOND_FACTOR_KEY = os.environ.get("SECOND_FACTOR_KEY")

    SIGN_IN_LINK_MAX_AGE = timedelta(minutes=10)
    PERMANENT_SESSION_LIFETIME = timedelta(hours=12)
    STAFF_IDLE_TIMEOUT = timedelta(minutes=30)
    SESSION_COOKIE_NAME = "vouch_session"
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    SESSION_COOKIE_SECURE = False
    # The cookie is written again when the session changes, not on every answer: the time last
    # seen changes at most once a minute (portal.auth), and signing the cookie costs each page.
    SESSION_REFRESH_EACH_REQUEST = False
    WTF_CSRF_TIME_LIMIT = None  # the session's own lifetime bounds the token
    MAX_CONTENT_LENGTH = 5 * 1024 * 1024

    SQLALCHEMY_ENGINE_OPTIONS: dict = {}
    # The key of the erased-address list's hashes (workflows.suppression); SECRET_KEY when unset.
    # Set it on its own if SECRET_KEY may be rotated: the list must outlive a rotation.
    SUPPRESSION_KEY = os.environ.get("SUPPRESSION_KEY")

    # The program's rules (DESIGN.md §5). These are the defaults: an admin overrides the ones
    # listed in workflows.settings on the settings page, and the rules read them there.
    ASK_EXPIRY_HOURS = _int("ASK_EXPIRY_HOURS", 48)
    # An ask still unanswered this many hours after it was made, with as many or fewer left,
    # gets one reminder (with the default 48 h to answer: half-way).
    ASK_REMINDER_HOURS = _int("ASK_REMINDER_HOURS", 24)
    # A profile not reviewed for this many days is due a look: the home page says so, and the
    # quarterly nudge e-mail asks whether the availability is still right.
    PROFILE_REVIEW_DAYS = _int("PROFILE_REVIEW_DAYS", 90)
    POINTS_CALL_COMPLETED = _int("POINTS_CALL_COMPLETED", 100)
    POINTS_WRITTEN_REFERENCE = _int("POINTS_WRITTEN_REFERENCE", 60)
    POINTS_GOOD_FEEDBACK = _int("POINTS_GOOD_FEEDBACK", 20)
    POINTS_CASE_STUDY_OR_EVENT = _int("POINTS_CASE_STUDY_OR_EVENT", 150)
    POINTS_REVIEW = _int("POINTS_REVIEW", 50)
    # Ask the best eligible advocate when a request arrives (and the next after a decline or an
    # expiry) instead of waiting for a coordinator's click.
    AUTO_ASK = _bool("AUTO_ASK", False)
    # Apply the nightly tier suggestions at once instead of queueing them for a coordinator.
    TIER_CHANGES_AUTOMATIC = _bool("TIER_CHANGES_AUTOMATIC", False)
    # Coordinators, too, give a code from an authenticator app after the sign-in link (admins
    # always do).
    COORDINATOR_SECOND_FACTOR = _bool("COORDINATOR_SECOND_FACTOR", False)
    # The personal quarterly cap a new advocate starts with (None: the tier's quota).
    DEFAULT_QUARTERLY_CAP = _optional_int("DEFAULT_QUARTERLY_CAP")
    # Booking (DESIGN.md §5 "Slots"): how far ahead prospects may book, how much notice they
    # give, the gap kept around each call, and how long a call is.
    BOOKING_HORIZON_DAYS = _int("BOOKING_HORIZON_DAYS", 21)
    BOOKING_NOTICE_HOURS = _int("BOOKING_NOTICE_HOURS", 24)
    BOOKING_BUFFER_MINUTES = _int("BOOKING_BUFFER_MINUTES", 15)
    CALL_MINUTES = _int("CALL_MINUTES", 30)
    # After the call: reminders before it, feedback requests after it, completion when nobody
    # says it did not happen, the prospect's window to read written answers.
    REMINDER_HOURS_BEFORE = _int("REMINDER_HOURS_BEFORE", 24)
    FEEDBACK_HOURS_AFTER = _int("FEEDBACK_HOURS_AFTER", 1)
    COMPLETE_DAYS_AFTER = _int("COMPLETE_DAYS_AFTER", 3)
    WRITTEN_READ_DAYS = _int("WRITTEN_READ_DAYS", 30)
    # When a booked call is cancelled: ask the next candidate at once instead of putting the
    # request back in the coordinator's queue.
    ASK_NEXT_ON_CANCEL = _bool("ASK_NEXT_ON_CANCEL", False)
    # Score weights of the matching engine, e.g. {"industry": 25, "load": 5, ...}; they should
    # add up to 100. Unset parts keep matching.engine.Weights' defaults.
    MATCH_WEIGHTS: dict = {}


class TestingConfig(Config):
    ENV_NAME = "testing"
    TESTING = True
    SECRET_KEY = "testing-secret-key"
    SQLALCHEMY_DATABASE_URI = os.environ.get(
        "TEST_DATABASE_URL", f"sqlite:///{INSTANCE_DIR / 'test.sqlite3'}"
    )
    BASE_URL = "http://vouch.test"
    MAIL_SERVER = "127.0.0.1"
    MAIL_SUPPRESS_SEND = False  # tests send to a real SMTP server (aiosmtpd)
    LOG_SIGN_IN_LINKS = False
    RATELIMIT_STORAGE_URI = "memory://"


class ProductionConfig(Config):
    ENV_NAME = "production"
    LOG_SIGN_IN_LINKS = False
    SESSION_COOKIE_SECURE = True
    SESSION_COOKIE_NAME = "__Host-vouch_session"
    PREFERRED_URL_SCHEME = "https"


CONFIGS = {
    "development": Config,
    "testing": TestingConfig,
    "production": ProductionConfig,
}


def config_for(name: str | None) -> type[Config]:
    name = name or os.environ.get("VOUCH_ENV", "development")
    try:
        return CONFIGS[name]
    except KeyError:
        raise RuntimeError(f"VOUCH_ENV must be one of {', '.join(CONFIGS)}, not {name!r}") from None


class ConfigError(RuntimeError):
    """The settings do not allow the app to start safely."""


def secret_key_problem(settings) -> str | None:
    key = settings.get("SECRET_KEY") or ""
    if key in ("", DEV_SECRET_KEY) or len(key) < 32:
        return (
            "SECRET_KEY must be set to a random value of at least 32 characters in production "
            "(python -c 'import secrets; print(secrets.token_urlsafe(48))')."
        )
    return None


def base_url_problem(settings) -> str | None:
    if not (settings.get("BASE_URL") or "").startswith("https://"):
        return "BASE_URL must be the site's https:// address in production."
    return None


def rate_limit_store_problem(settings) -> str | None:
    storage = settings.get("RATELIMIT_STORAGE_URI") or "memory://"
    if storage.startswith("memory://") and not settings.get("RATELIMIT_SINGLE_WORKER"):
        return (
            "RATELIMIT_STORAGE_URI is memory://, which counts sign-in attempts per worker process: "
            "with several workers the limits multiply. Set RATELIMIT_STORAGE_URI=redis://host:6379 "
            "(shared by every worker), or RATELIMIT_SINGLE_WORKER=true if exactly one process serves."
        )
    return None


# What production refuses to start without, by name: the app factory raises the first problem,
# ``flask doctor`` reports each.
PRODUCTION_CHECKS = {
    "secret key": secret_key_problem,
    "base URL": base_url_problem,
    "rate-limit store": rate_limit_store_problem,
}


def check_production_settings(settings) -> None:
    for problem_of in PRODUCTION_CHECKS.values():
        problem = problem_of(settings)
        if problem:
            raise ConfigError(problem)


def settings_from_environment(name: str | None = None) -> dict:
    """The settings of ``config_for(name)`` as a dict, without building the app (which refuses to
    start in production when they are unsafe)."""
    chosen = config_for(name)
    return {key: getattr(chosen, key) for key in dir(chosen) if key.isupper()}
