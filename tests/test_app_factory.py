"""The app factory: production refuses unsafe settings, and each config does what it says."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

import config
from app import create_app
from config import DEV_SECRET_KEY, ConfigError, ProductionConfig, check_production_settings

GOOD_KEY = "k" * 48
PROJECT_ROOT = Path(__file__).resolve().parent.parent
UNSAFE_KEYS = {
    "unset": None,
    "empty": "",
    "the development key": DEV_SECRET_KEY,
    "shorter than 32 characters": "s" * 31,
}


@pytest.fixture()
def production(monkeypatch, tmp_path):
    """ProductionConfig as the environment would make it: the config classes read the
    environment once, at import, so the test sets their attributes instead."""
    monkeypatch.setattr(ProductionConfig, "SECRET_KEY", GOOD_KEY)
    monkeypatch.setattr(ProductionConfig, "BASE_URL", "https://vouch.example.com")
    monkeypatch.setattr(
        ProductionConfig, "SQLALCHEMY_DATABASE_URI", f"sqlite:///{tmp_path / 'production.sqlite3'}"
    )
    monkeypatch.setattr(ProductionConfig, "RATELIMIT_STORAGE_URI", "redis://127.0.0.1:6379")
    return ProductionConfig


@pytest.mark.parametrize("key", UNSAFE_KEYS.values(), ids=UNSAFE_KEYS.keys())
def test_production_settings_refuse_an_unsafe_secret_key(key):
    with pytest.raises(ConfigError, match="SECRET_KEY must be set to a random value of at least 32"):
        check_production_settings({"SECRET_KEY": key, "BASE_URL": "https://vouch.example.com"})


def test_production_settings_refuse_a_base_url_without_https():
    with pytest.raises(ConfigError, match="BASE_URL must be the site's https:// address"):
        check_production_settings({"SECRET_KEY": GOOD_KEY, "BASE_URL": "http://vouch.example.com"})


SAFE = {"SECRET_KEY": GOOD_KEY, "BASE_URL": "https://vouch.example.com"}


@pytest.mark.parametrize("storage", [None, "", "memory://"])
def test_production_refuses_per_process_rate_limits_unless_told_there_is_one_worker(storage):
    with pytest.raises(ConfigError, match="RATELIMIT_STORAGE_URI is memory://.*RATELIMIT_SINGLE_WORKER"):
        check_production_settings({**SAFE, "RATELIMIT_STORAGE_URI": storage})
    check_production_settings({**SAFE, "RATELIMIT_STORAGE_URI": storage, "RATELIMIT_SINGLE_WORKER": True})
    check_production_settings({**SAFE, "RATELIMIT_STORAGE_URI": "redis://127.0.0.1:6379"})


def test_production_sends_strict_transport_security(production):
    response = create_app("production").test_client().get("/sign-in", base_url="https://vouch.example.com")
    assert response.headers["Strict-Transport-Security"] == "max-age=63072000; includeSubDomains"


def test_development_sends_no_strict_transport_security(app, client):
    assert "Strict-Transport-Security" not in client.get("/sign-in").headers


@pytest.mark.parametrize("key", UNSAFE_KEYS.values(), ids=UNSAFE_KEYS.keys())
def test_create_app_refuses_to_start_in_production_with_an_unsafe_secret_key(production, monkeypatch, key):
    monkeypatch.setattr(production, "SECRET_KEY", key)
    with pytest.raises(ConfigError, match="SECRET_KEY"):
        create_app("production")


def test_production_session_cookie_is_secure_with_the_host_prefix(production):
    app = create_app("production")
    assert app.config["SESSION_COOKIE_SECURE"] is True
    assert app.config["SESSION_COOKIE_NAME"].startswith("__Host-")

    response = app.test_client().get("/sign-in", base_url="https://vouch.example.com")

    cookie = response.headers["Set-Cookie"]
    assert cookie.startswith("__Host-vouch_session=")
    attributes = {part.strip().split("=")[0].lower() for part in cookie.split(";")[1:]}
    assert {"secure", "httponly", "samesite", "path"} <= attributes
    assert "domain" not in attributes  # the __Host- prefix forbids it
    assert "SameSite=Lax" in cookie and "Path=/" in cookie


def run_python(code: str, **environment: str) -> subprocess.CompletedProcess:
    """``code`` in a fresh interpreter, where config.py reads the environment as in a deployment."""
    env = {key: value for key, value in os.environ.items()
           if key not in ("SECRET_KEY", "BASE_URL", "RATELIMIT_STORAGE_URI", "RATELIMIT_SINGLE_WORKER")}
    env.update(environment)
    return subprocess.run(
        [sys.executable, "-c", code], cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=60
    )


def test_production_reads_its_settings_from_the_environment(tmp_path):
    code = "from app import create_app; print(create_app('production').config['SESSION_COOKIE_NAME'])"
    database = f"sqlite:///{tmp_path / 'production.sqlite3'}"

    refused = run_python(code, DATABASE_URL=database, BASE_URL="https://vouch.example.com",
                         RATELIMIT_STORAGE_URI="redis://127.0.0.1:6379")
    one_worker_unsaid = run_python(code, DATABASE_URL=database, BASE_URL="https://vouch.example.com",
                                   SECRET_KEY=GOOD_KEY)
    started = run_python(
        code, DATABASE_URL=database, BASE_URL="https://vouch.example.com", SECRET_KEY=GOOD_KEY,
        RATELIMIT_STORAGE_URI="memory://", RATELIMIT_SINGLE_WORKER="true",
    )

    assert refused.returncode != 0
    assert "config.ConfigError: SECRET_KEY must be set" in refused.stderr
    assert one_worker_unsaid.returncode != 0
    assert "RATELIMIT_STORAGE_URI is memory://" in one_worker_unsaid.stderr
    assert started.returncode == 0, started.stderr
    assert started.stdout.strip() == "__Host-vouch_session"


def test_testing_config_is_the_base_of_a_dict_config(tmp_path):
    app = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'x.sqlite3'}", "BASE_URL": "http://x.test"})

    assert app.config["ENV_NAME"] == "testing"
    assert app.testing
    assert app.config["SECRET_KEY"] == config.TestingConfig.SECRET_KEY
    assert app.config["BASE_URL"] == "http://x.test"
    assert app.config["SESSION_COOKIE_SECURE"] is False


def test_testing_config_by_name_starts():
    app = create_app("testing")

    assert app.config["ENV_NAME"] == "testing"
    assert app.config["LOG_SIGN_IN_LINKS"] is False


def test_an_unknown_config_name_is_refused():
    with pytest.raises(RuntimeError, match="VOUCH_ENV must be one of"):
        create_app("staging")


def test_health_check_answers_ok_when_the_database_answers(client):
    response = client.get("/healthz")

    assert response.status_code == 200
    assert response.get_json() == {"status": "ok"}


@pytest.fixture()
def unused_tcp_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_health_check_answers_503_when_the_database_does_not(unused_tcp_port):
    app = create_app(
        {"SQLALCHEMY_DATABASE_URI": f"postgresql+psycopg://nobody@127.0.0.1:{unused_tcp_port}/none"}
    )

    response = app.test_client().get("/healthz")

    assert response.status_code == 503
    assert response.get_json() == {"status": "error", "error": "database unavailable"}
