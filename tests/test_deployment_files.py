"""The deployment files (Dockerfile, compose.yaml, deploy/): the image builds where Docker can,
and everywhere the files say what the app needs — commands that exist, settings config.py reads."""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from admin.api import HEALTH_PATH

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "deploy"
VENV_BIN = Path(sys.executable).parent
GOOD_KEY = "k" * 48
APP_SPEC = "app:create_app()"


def config_reads() -> set[str]:
    """Every environment variable config.py reads."""
    source = (ROOT / "config.py").read_text()
    return set(re.findall(r'(?:os\.environ\.get|_bool|_int|_float|_optional_int)\(\s*"([A-Z0-9_]+)"', source))


def env_example() -> dict[str, str]:
    pairs = {}
    for line in (DEPLOY / "vouch.env.example").read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            name, _, value = line.partition("=")
            pairs[name] = value
    return pairs


def compose() -> dict:
    return yaml.safe_load((ROOT / "compose.yaml").read_text())


def exec_start(unit: str) -> list[str]:
    lines = [line for line in (DEPLOY / unit).read_text().splitlines() if line.startswith("ExecStart=")]
    assert len(lines) == 1, f"{unit}: one ExecStart line"
    return shlex.split(lines[0].removeprefix("ExecStart="))


def unit_setting(unit: str, key: str) -> str:
    for line in (DEPLOY / unit).read_text().splitlines():
        if line.startswith(f"{key}="):
            return line.split("=", 1)[1]
    raise AssertionError(f"{unit} has no {key}")


def production_environment(tmp_path) -> dict[str, str]:
    """deploy/vouch.env.example, with a real secret and a scratch database."""
    return {
        **os.environ, **env_example(), "SECRET_KEY": GOOD_KEY,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'deploy.sqlite3'}",
    }


def run_from_the_venv(command: list[str], env: dict[str, str]) -> subprocess.CompletedProcess:
    """A unit's command with its /opt/vouch/.venv/bin/ program taken from this test's venv, run in
    the source directory as the unit's WorkingDirectory says."""
    program = VENV_BIN / Path(command[0]).name
    return subprocess.run([str(program), *command[1:]], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=120)


# The environment file


def test_every_setting_of_the_environment_example_is_one_config_reads():
    unknown = set(env_example()) - config_reads()
    assert not unknown, f"deploy/vouch.env.example sets what config.py never reads: {sorted(unknown)}"


def test_the_environment_example_sets_what_production_refuses_to_start_without():
    example = env_example()
    assert example["VOUCH_ENV"] == "production"
    assert example["BASE_URL"].startswith("https://")
    assert example["RATELIMIT_STORAGE_URI"].startswith("redis://")
    assert example["DATABASE_URL"].startswith("postgresql+psycopg://")
    assert {"SECRET_KEY", "MAIL_SERVER", "MAIL_DEFAULT_SENDER", "PROXY_COUNT"} <= set(example)


# The systemd units


@pytest.mark.parametrize("unit", ["vouch-mail-worker.service", "vouch-mail-worker@.service"])
def test_the_mail_worker_units_run_the_mail_worker_command(unit, tmp_path):
    command = exec_start(unit)
    assert Path(command[0]).name == "flask" and command[1:] == ["--app", "app", "mail", "worker"]
    assert unit_setting(unit, "EnvironmentFile") == "/etc/vouch/vouch.env"
    assert unit_setting(unit, "KillSignal") == "SIGTERM"

    shown = run_from_the_venv([*command, "--help"], production_environment(tmp_path))

    assert shown.returncode == 0, shown.stderr
    assert "Send due mail and run the periodic jobs" in shown.stdout


def test_the_web_unit_runs_gunicorn_on_the_app_factory_and_the_app_starts(tmp_path):
    command = exec_start("vouch-web.service")
    assert Path(command[0]).name == "gunicorn" and command[-1] == APP_SPEC
    assert unit_setting("vouch-web.service", "WorkingDirectory") == "/opt/vouch"

    # --check-config loads the app: production settings from the example start it.
    checked = run_from_the_venv(
        [command[0], "--check-config", *command[1:]], production_environment(tmp_path)
    )

    assert checked.returncode == 0, checked.stdout + checked.stderr


# compose.yaml


def test_compose_has_the_web_the_worker_postgresql_and_redis():
    services = compose()["services"]
    assert {"web", "worker", "postgres", "redis"} <= set(services)
    assert services["postgres"]["image"].startswith("postgres:")
    assert services["redis"]["image"].startswith("redis:")


def test_compose_migrates_before_the_web_and_the_worker_start():
    services = compose()["services"]
    assert services["migrate"]["command"] == ["flask", "--app", "app", "db", "upgrade"]
    for name in ("web", "worker"):
        assert services[name]["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
    assert services["migrate"]["depends_on"]["postgres"]["condition"] == "service_healthy"


def test_compose_commands_are_gunicorn_and_the_mail_worker():
    services = compose()["services"]
    assert services["worker"]["command"] == ["flask", "--app", "app", "mail", "worker"]
    web = services["web"]["command"]
    assert web[0] == "gunicorn" and web[-1] == APP_SPEC


def test_web_worker_and_migrate_share_their_settings_and_the_database():
    services = compose()["services"]
    environments = [services[name]["environment"] for name in ("migrate", "web", "worker")]
    assert environments[0] == environments[1] == environments[2]
    settings = environments[0]
    assert settings["DATABASE_URL"].startswith("postgresql+psycopg://vouch:")
    assert "@postgres:5432/vouch" in settings["DATABASE_URL"]
    assert settings["RATELIMIT_STORAGE_URI"] == "redis://redis:6379/0"
    assert settings["VOUCH_ENV"] == "production"
    assert set(settings) <= config_reads()


def test_the_web_answers_its_health_check_and_the_others_have_none_of_the_image():
    services = compose()["services"]
    assert HEALTH_PATH == "/healthz"
    assert f"127.0.0.1:8000{HEALTH_PATH}" in " ".join(services["web"]["healthcheck"]["test"])
    assert services["worker"]["healthcheck"] == {"disable": True}
    assert services["migrate"]["healthcheck"] == {"disable": True}


# Dockerfile


def dockerfile_instructions() -> dict[str, list[str]]:
    text = (ROOT / "Dockerfile").read_text().replace("\\\n", " ")
    found: dict[str, list[str]] = {}
    for line in text.splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            word, _, rest = line.strip().partition(" ")
            found.setdefault(word.upper(), []).append(rest.strip())
    return found


def test_the_dockerfile_runs_gunicorn_as_a_user_with_a_health_check():
    found = dockerfile_instructions()
    assert found["FROM"] == ["python:3.11-slim"]
    assert found["USER"] and found["USER"][-1] not in ("root", "0")
    assert any(step.startswith("pip install .") for step in found["RUN"])
    command = json.loads(found["CMD"][-1])
    assert command[0] == "gunicorn" and command[-1] == APP_SPEC
    assert f"127.0.0.1:8000{HEALTH_PATH}" in found["HEALTHCHECK"][-1]


def docker_works() -> bool:
    if shutil.which("docker") is None:
        return False
    try:
        return subprocess.run(["docker", "info"], capture_output=True, timeout=20).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def test_the_image_builds():
    if not docker_works():
        pytest.skip("Docker is not available here (no docker command, or its daemon does not answer)")
    tag = f"vouch-test:{os.getpid()}"
    built = subprocess.run(["docker", "build", "-t", tag, str(ROOT)], capture_output=True, text=True,
                           timeout=900)
    assert built.returncode == 0, built.stderr[-4000:]
    try:
        inspected = subprocess.run(["docker", "image", "inspect", tag], capture_output=True, text=True,
                                   check=True)
        image = json.loads(inspected.stdout)[0]["Config"]
        assert image["User"] == "vouch"
        assert HEALTH_PATH in " ".join(image["Healthcheck"]["Test"])
        assert image["Cmd"][-1] == APP_SPEC
    finally:
        subprocess.run(["docker", "image", "rm", "-f", tag], capture_output=True)


def test_docker_compose_reads_the_file():
    """Compose's own reading of the file (interpolation, anchors, depends_on), where it exists:
    `docker compose config` needs no daemon."""
    try:
        version = subprocess.run(["docker", "compose", "version"], capture_output=True, timeout=20)
        present = version.returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        present = False
    if not present:
        pytest.skip("no docker compose here")
    required = {"POSTGRES_PASSWORD": "p", "SECRET_KEY": GOOD_KEY, "BASE_URL": "https://vouch.example.com",
                "MAIL_SERVER": "smtp.example.com", "MAIL_DEFAULT_SENDER": "vouch@example.com"}
    # No .env of the checkout: only what the test gives.
    compose_file = str(ROOT / "compose.yaml")
    compose_config = ["docker", "compose", "--env-file", os.devnull, "-f", compose_file, "config"]
    read = subprocess.run([*compose_config, "--format", "json"], capture_output=True, text=True, timeout=60,
                          env={**os.environ, **required})
    assert read.returncode == 0, read.stderr
    services = json.loads(read.stdout)["services"]
    assert services["web"]["environment"]["DATABASE_URL"] == services["worker"]["environment"]["DATABASE_URL"]
    missing = subprocess.run(compose_config, capture_output=True, text=True, timeout=60,
                             env={k: v for k, v in os.environ.items() if k not in required})
    assert missing.returncode != 0 and "SECRET_KEY" in missing.stderr
