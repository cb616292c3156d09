"""``flask doctor``: whether a deployment's settings work — the database, the migrations, the SMTP
server, the rate-limit store and the production settings (config.PRODUCTION_CHECKS).

Each check is a plain function of the settings (a mapping like ``app.config``) returning a
``Finding``; none needs the app itself, so the checks also run where production refuses to start."""

from __future__ import annotations

import smtplib
import ssl
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from config import PRODUCTION_CHECKS

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"
TIMEOUT_SECONDS = 5.0

OK, WARN, FAIL = "ok", "warn", "FAIL"


@dataclass(frozen=True)
class Finding:
    name: str
    status: str  # OK, WARN or FAIL
    message: str

    def line(self) -> str:
        return f"{self.status:<4}  {self.name}: {self.message}"


def _describe(exc: BaseException) -> str:
    text_ = str(exc).strip()
    return f"{type(exc).__name__}: {text_}" if text_ else type(exc).__name__


def _where(url: str) -> str:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        return f"sqlite {parsed.database or ':memory:'}"
    backend, host, port = parsed.get_backend_name(), parsed.host or "localhost", parsed.port or "default"
    return f"{backend} {host}:{port}/{parsed.database}"


def _engine(settings: Mapping):
    url = settings["SQLALCHEMY_DATABASE_URI"]
    options: dict = {}
    if make_url(url).get_backend_name() == "postgresql":
        options["connect_args"] = {"connect_timeout": int(TIMEOUT_SECONDS)}
    return create_engine(url, **options)


def check_database(settings: Mapping) -> Finding:
    url = settings["SQLALCHEMY_DATABASE_URI"]
    engine = _engine(settings)
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except Exception as exc:
        return Finding("database", FAIL, f"{_where(url)} does not answer ({_describe(exc)}): "
                       "check DATABASE_URL and that the server runs and lets this user in")
    finally:
        engine.dispose()
    return Finding("database", OK, f"{_where(url)} answers")


def migration_heads(directory: Path = MIGRATIONS_DIR) -> set[str]:
    return set(ScriptDirectory(str(directory)).get_heads())


def check_migrations(settings: Mapping, directory: Path = MIGRATIONS_DIR) -> Finding:
    heads = migration_heads(directory)
    engine = _engine(settings)
    try:
        with engine.connect() as connection:
            current = set(MigrationContext.configure(connection).get_current_heads())
    except Exception as exc:
        return Finding("migrations", FAIL, f"cannot read the database's revision ({_describe(exc)})")
    finally:
        engine.dispose()
    if current == heads:
        return Finding("migrations", OK, f"current (revision {', '.join(sorted(heads))})")
    found = ", ".join(sorted(current)) or "none (an empty database)"
    return Finding("migrations", FAIL, f"the database is at {found}, the code at {', '.join(sorted(heads))}: "
                   "run `flask --app app db upgrade`, then restart the web and mail workers")


def check_smtp(settings: Mapping, timeout: float = TIMEOUT_SECONDS) -> Finding:
    """Connect, EHLO, STARTTLS and log in as the sender does (mail.sender.TimedConnection), NOOP."""
    server, port = settings.get("MAIL_SERVER") or "localhost", int(settings.get("MAIL_PORT") or 25)
    where = f"{server}:{port}"
    timeout = min(timeout, float(settings.get("MAIL_TIMEOUT_SECONDS") or timeout))
    smtp_class = smtplib.SMTP_SSL if settings.get("MAIL_USE_SSL") else smtplib.SMTP
    steps = []
    try:
        host = smtp_class(server, port, timeout=timeout)
    except Exception as exc:
        return Finding("smtp", FAIL, f"cannot connect to {where} ({_describe(exc)}): "
                       "check MAIL_SERVER, MAIL_PORT and MAIL_USE_SSL, and that the server runs")
    try:
        host.ehlo()
        if settings.get("MAIL_USE_TLS"):
            host.starttls(context=ssl.create_default_context())
            host.ehlo()
            steps.append("STARTTLS")
        if settings.get("MAIL_USERNAME") and settings.get("MAIL_PASSWORD"):
            host.login(settings["MAIL_USERNAME"], settings["MAIL_PASSWORD"])
            steps.append("login")
        code, reply = host.noop()
        if code != 250:
            answer = reply.decode(errors="replace")
            return Finding("smtp", FAIL, f"{where} answered NOOP with {code} {answer}")
    except smtplib.SMTPAuthenticationError as exc:
        return Finding("smtp", FAIL, f"{where} refused the login ({_describe(exc)}): "
                       "check MAIL_USERNAME and MAIL_PASSWORD")
    except Exception as exc:
        return Finding("smtp", FAIL, f"{where} connected but failed ({_describe(exc)}): "
                       "check MAIL_USE_TLS / MAIL_USE_SSL against what the server offers")
    finally:
        try:
            host.quit()
        except Exception:
            host.close()
    return Finding("smtp", OK, f"{where} answers" + (f" ({', '.join(steps)})" if steps else ""))


def check_redis(settings: Mapping, timeout: float = TIMEOUT_SECONDS) -> Finding:
    uri = settings.get("RATELIMIT_STORAGE_URI") or "memory://"
    if not uri.startswith(("redis://", "rediss://")):
        return Finding("redis", OK, f"not used (the rate-limit store is {uri.split('://')[0]}://)")
    import redis

    url = make_url_safe(uri)
    try:
        client = redis.Redis.from_url(uri, socket_timeout=timeout, socket_connect_timeout=timeout)
        try:
            client.ping()
        finally:
            client.close()
    except Exception as exc:
        return Finding("redis", FAIL, f"{url} does not answer ({_describe(exc)}): "
                       "check RATELIMIT_STORAGE_URI and that Redis runs")
    return Finding("redis", OK, f"{url} answers")


def make_url_safe(uri: str) -> str:
    """The address without a password in it, for printing."""
    scheme, _, rest = uri.partition("://")
    if "@" in rest:
        rest = "…@" + rest.rpartition("@")[2]
    return f"{scheme}://{rest}"


def check_production_settings(settings: Mapping) -> list[Finding]:
    """config.PRODUCTION_CHECKS one by one: failures in production, warnings elsewhere (a
    development machine runs on the development secret and plain http on purpose)."""
    production = settings.get("ENV_NAME") == "production"
    findings = []
    for name, problem_of in PRODUCTION_CHECKS.items():
        problem = problem_of(settings)
        if problem is None:
            findings.append(Finding(name, OK, "as production needs it"))
        elif production:
            findings.append(Finding(name, FAIL, problem))
        else:
            findings.append(Finding(name, WARN, f"{problem} (a warning outside production)"))
    return findings


def examine(settings: Mapping) -> list[Finding]:
    """Every check, in order; the migrations are only read from a database that answers."""
    findings = [check_database(settings)]
    if findings[0].status == OK:
        findings.append(check_migrations(settings))
    else:
        findings.append(Finding("migrations", FAIL, "not checked: the database does not answer"))
    findings += [check_smtp(settings), check_redis(settings)]
    findings += check_production_settings(settings)
    return findings


def healthy(findings: list[Finding]) -> bool:
    return all(finding.status != FAIL for finding in findings)
