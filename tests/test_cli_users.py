"""``flask users create EMAIL --role ROLE [--name NAME]`` (DESIGN.md §9)."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from models import Account, AuditEvent, Role, db


def accounts() -> list[Account]:
    return list(db.session.scalars(select(Account).order_by(Account.id)))


def create(runner, *args: str):
    return runner.invoke(args=["users", "create", *args])


@pytest.mark.parametrize("role", [r.value for r in Role])
def test_creates_an_account_of_each_role(role, runner, app_context):
    result = create(runner, "Sam.Smith@Example.COM", "--role", role, "--name", "Sam Smith")
    assert result.exit_code == 0, result.output
    [account] = accounts()
    assert account.email == "sam.smith@example.com"  # case-folded
    assert account.role == Role(role)
    assert account.name == "Sam Smith"
    assert account.active
    assert f"created {role} sam.smith@example.com (id {account.id})" in result.output
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.kind == "account.created"))
    assert event is not None and event.subject == "sam.smith@example.com"


def test_name_defaults_to_the_local_part(runner, app_context):
    result = create(runner, "jo.doe@example.com", "--role", "sales")
    assert result.exit_code == 0, result.output
    assert accounts()[0].name == "jo.doe"


def test_refuses_a_duplicate_whatever_its_case(runner, app_context):
    assert create(runner, "dana@example.com", "--role", "advocate").exit_code == 0
    result = create(runner, "DANA@Example.com", "--role", "admin")
    assert result.exit_code != 0
    assert "an account for dana@example.com already exists" in result.output
    [account] = accounts()
    assert account.role == Role.ADVOCATE


def test_refuses_an_unknown_role(runner, app_context):
    result = create(runner, "dana@example.com", "--role", "superuser")
    assert result.exit_code != 0
    assert "superuser" in result.output and "advocate" in result.output  # names the choices
    assert accounts() == []


def test_role_is_required(runner, app_context):
    result = create(runner, "dana@example.com")
    assert result.exit_code != 0
    assert "--role" in result.output
    assert accounts() == []


@pytest.mark.parametrize("email", ["not-an-address", "dana@", "@example.com", "dana@@example.com", ""])
def test_refuses_an_invalid_email(email, runner, app_context):
    result = create(runner, email, "--role", "sales")
    assert result.exit_code != 0
    assert "is not a valid e-mail address" in result.output
    assert db.session.scalar(select(func.count()).select_from(Account)) == 0
