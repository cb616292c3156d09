"""``flask doctor`` against real parts: the test database, a scratch database behind its head
revision, the SMTP fixture, Redis at 127.0.0.1:6379, and ports where nothing listens."""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from alembic.script import ScriptDirectory
from click.testing import CliRunner
from flask.cli import ScriptInfo
from flask_migrate import upgrade

from admin.cli import doctor_command
from app import create_app
from config import ConfigError, ProductionConfig
from models import db
from tests.conftest import free_port
from tests.test_migrations import fresh_database_url  # noqa: F401  (a fixture)
from workflows.doctor import (
    FAIL,
    MIGRATIONS_DIR,
    OK,
    WARN,
    check_database,
    check_migrations,
    check_production_settings,
    check_redis,
    check_smtp,
    examine,
    healthy,
    migration_heads,
)

ROOT = Path(__file__).resolve().parent.parent
STRONG_KEY = "s" * 48
REDIS_URI = "redis://127.0.0.1:6379/0"


def redis_answers() -> bool:
    try:
        return bool(redis.Redis.from_url(REDIS_URI, socket_connect_timeout=1).ping())
    except redis.RedisError:
        return False


@pytest.fixture()
def settings(app, smtp_server) -> dict:
    """The test app's settings, pointed at the SMTP fixture, as a plain dict to change."""
    _inbox, port = smtp_server
    return {**app.config, "MAIL_SERVER": "127.0.0.1", "MAIL_PORT": port}


def nothing_listens() -> int:
    return free_port()


# The database and its migrations


def test_the_migrated_test_database_answers_and_is_current(settings):
    assert check_database(settings).status == OK
    current = check_migrations(settings)
    assert current.status == OK, current.message
    assert ", ".join(sorted(migration_heads())) in current.message


def test_a_database_that_does_not_answer_fails_and_says_which_setting(settings):
    url = f"postgresql+psycopg://vouch@127.0.0.1:{nothing_listens()}/vouch"
    finding = check_database({**settings, "SQLALCHEMY_DATABASE_URI": url})
    assert finding.status == FAIL
    assert "DATABASE_URL" in finding.message and f"127.0.0.1:{make_port(url)}" in finding.message


def make_port(url: str) -> str:
    return url.rsplit(":", 1)[1].split("/")[0]


@pytest.fixture()
def scratch_database(fresh_database_url) -> Iterator[str]:  # noqa: F811
    """A brand-new database (SQLite file, or PostgreSQL beside the test database), and an app on
    it to run the migrations with."""
    app = create_app({"SQLALCHEMY_DATABASE_URI": fresh_database_url})
    with app.app_context():
        yield fresh_database_url
        db.session.remove()
        db.engine.dispose()


def test_a_database_behind_its_head_revision_fails_until_upgraded(settings, scratch_database):
    scratch = {**settings, "SQLALCHEMY_DATABASE_URI": scratch_database}
    (head,) = migration_heads()
    previous = ScriptDirectory(str(MIGRATIONS_DIR)).get_revision(head).down_revision

    empty = check_migrations(scratch)
    upgrade(revision=previous)
    behind = check_migrations(scratch)
    upgrade()
    current = check_migrations(scratch)

    assert empty.status == FAIL and "none (an empty database)" in empty.message
    assert behind.status == FAIL
    assert f"the database is at {previous}, the code at {head}" in behind.message
    assert "flask --app app db upgrade" in behind.message
    assert current.status == OK


# SMTP


def test_the_smtp_server_answers(settings):
    finding = check_smtp(settings)
    assert finding.status == OK, finding.message
    assert f"127.0.0.1:{settings['MAIL_PORT']} answers" in finding.message


def test_a_port_where_no_smtp_server_listens_fails_within_the_timeout(settings):
    port = nothing_listens()
    finding = check_smtp({**settings, "MAIL_PORT": port}, timeout=2)
    assert finding.status == FAIL
    assert f"cannot connect to 127.0.0.1:{port}" in finding.message and "MAIL_PORT" in finding.message


def test_starttls_asked_of_a_server_without_it_fails(settings):
    finding = check_smtp({**settings, "MAIL_USE_TLS": True})
    assert finding.status == FAIL
    assert "MAIL_USE_TLS" in finding.message


# Redis


def test_redis_that_answers():
    if not redis_answers():
        pytest.skip("no Redis answers at 127.0.0.1:6379")
    finding = check_redis({"RATELIMIT_STORAGE_URI": REDIS_URI})
    assert finding.status == OK
    assert "redis://127.0.0.1:6379/0 answers" in finding.message


def test_redis_where_nothing_listens_fails_and_hides_the_password():
    uri = f"redis://:hunter2@127.0.0.1:{nothing_listens()}/0"
    finding = check_redis({"RATELIMIT_STORAGE_URI": uri}, timeout=2)
    assert finding.status == FAIL
    assert "RATELIMIT_STORAGE_URI" in finding.message
    assert "hunter2" not in finding.message


def test_redis_is_not_checked_for_the_memory_store():
    finding = check_redis({"RATELIMIT_STORAGE_URI": "memory://"})
    assert finding.status == OK and "not used" in finding.message


# The production settings (config.PRODUCTION_CHECKS)

SAFE = {"ENV_NAME": "production", "SECRET_KEY": STRONG_KEY, "BASE_URL": "https://vouch.example.com",
        "RATELIMIT_STORAGE_URI": REDIS_URI}


def by_name(findings):
    return {finding.name: finding for finding in findings}


def test_safe_production_settings_pass():
    assert {finding.status for finding in check_production_settings(SAFE)} == {OK}


def test_a_weak_secret_fails_in_production_and_warns_in_development():
    production = by_name(check_production_settings({**SAFE, "SECRET_KEY": "short"}))
    development = by_name(
        check_production_settings({**SAFE, "SECRET_KEY": "short", "ENV_NAME": "development"})
    )

    assert production["secret key"].status == FAIL
    assert "at least 32 characters" in production["secret key"].message
    assert production["base URL"].status == OK
    assert development["secret key"].status == WARN
    assert healthy(list(development.values()))
    assert not healthy(list(production.values()))


def test_plain_http_base_url_and_the_memory_store_fail_in_production():
    found = by_name(check_production_settings(
        {**SAFE, "BASE_URL": "http://vouch.example.com", "RATELIMIT_STORAGE_URI": "memory://"}
    ))
    assert found["base URL"].status == FAIL and "https://" in found["base URL"].message
    assert found["rate-limit store"].status == FAIL and "redis://" in found["rate-limit store"].message


def test_examine_skips_the_migrations_of_a_database_that_does_not_answer(settings):
    url = f"postgresql+psycopg://vouch@127.0.0.1:{nothing_listens()}/vouch"
    found = by_name(examine({**settings, "SQLALCHEMY_DATABASE_URI": url}))
    assert found["database"].status == FAIL
    assert found["migrations"].status == FAIL and "not checked" in found["migrations"].message


# The command


def test_the_command_prints_one_line_per_check_and_exits_zero_when_none_fails(app, runner, smtp_server,
                                                                                monkeypatch):
    monkeypatch.setitem(app.config, "MAIL_PORT", smtp_server[1])
    result = runner.invoke(args=["doctor"])
    lines = result.output.splitlines()
    assert result.exit_code == 0, result.output
    assert [line.split()[0] for line in lines] == ["ok", "ok", "ok", "ok", "warn", "warn", "warn"]
    assert [line.split()[1].rstrip(":") for line in lines[:4]] == ["database", "migrations", "smtp", "redis"]


def test_the_command_exits_non_zero_when_a_check_fails(app, runner, monkeypatch):
    monkeypatch.setitem(app.config, "MAIL_PORT", nothing_listens())
    result = runner.invoke(args=["doctor"])
    assert result.exit_code == 1
    assert any(line.startswith("FAIL  smtp: cannot connect") for line in result.output.splitlines())


def test_the_command_examines_settings_the_app_refuses_to_start_with(monkeypatch, tmp_path, smtp_server):
    monkeypatch.setenv("VOUCH_ENV", "production")
    monkeypatch.setattr(ProductionConfig, "SECRET_KEY", "short")
    monkeypatch.setattr(ProductionConfig, "SQLALCHEMY_DATABASE_URI", f"sqlite:///{tmp_path / 'p.sqlite3'}")
    monkeypatch.setattr(ProductionConfig, "MAIL_SERVER", "127.0.0.1")
    monkeypatch.setattr(ProductionConfig, "MAIL_PORT", smtp_server[1])

    def refused():
        raise ConfigError("SECRET_KEY must be set")

    result = CliRunner().invoke(doctor_command, obj=ScriptInfo(create_app=refused))

    assert result.exit_code == 1
    assert "The app refuses to start: SECRET_KEY must be set" in result.output
    assert "FAIL  secret key: SECRET_KEY must be set to a random value" in result.output
    assert "FAIL  migrations: the database is at none" in result.output
    assert "ok    smtp:" in result.output


def test_flask_finds_the_doctor_without_the_app_once_installed(tmp_path):
    """Installed (pyproject's flask.commands entry point), ``flask doctor`` runs where the app
    refuses to start. The entry point and this code are put on the path as an installation
    would put them."""
    entry_points = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["entry-points"]
    info = tmp_path / "vouch_entry_points-0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: vouch-entry-points\nVersion: 0\n")
    (info / "entry_points.txt").write_text(
        "[flask.commands]\n" + "".join(f"{k} = {v}\n" for k, v in entry_points["flask.commands"].items())
    )
    env = {
        **os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), str(ROOT)]),
        "VOUCH_ENV": "production", "SECRET_KEY": "short",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'p.sqlite3'}", "MAIL_PORT": str(nothing_listens()),
        "MAIL_SERVER": "127.0.0.1", "BASE_URL": "https://vouch.example.com",
    }
    flask = Path(sys.executable).parent / "flask"

    ran = subprocess.run([str(flask), "--app", "app", "doctor"], cwd=ROOT, env=env, capture_output=True,
                         text=True, timeout=60)

    assert ran.returncode == 1, ran.stdout + ran.stderr
    assert "The app refuses to start: SECRET_KEY must be set" in ran.stderr
    assert "FAIL  secret key:" in ran.stdout
    assert "ok    base URL:" in ran.stdout
    assert "FAIL  smtp: cannot connect" in ran.stdout
