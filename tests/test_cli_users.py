"""``flask users create EMAIL --role ROLE [--name NAME]`` (DESIGN.md §9)."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select

from models import Account, AuditEvent, Role, db
from workflows.privacy import leave_program

OLD_SPREADSHEET = Path(__file__).parent / "data" / "advocates_good.csv"


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


def test_refuses_the_address_of_someone_who_left_the_program(runner, app_context, make_advocate):
    """Leaving erases the address; neither staff nor an old spreadsheet may bring it back."""
    dana = make_advocate(email="dana.whitfield@northwind.example", name="Dana Whitfield")
    leave_program(dana.id, confirmation="LEAVE")

    result = create(runner, "Dana.Whitfield@Northwind.example", "--role", "advocate")

    assert result.exit_code != 0
    assert "dana.whitfield@northwind.example left the reference program" in result.output
    assert "They can join again themselves through an invitation." in result.output
    assert db.session.scalar(
        select(func.count()).where(Account.email == "dana.whitfield@northwind.example")) == 0

    # The reference list kept in a spreadsheet still has her on row 2.
    imported = runner.invoke(args=["advocates", "import", str(OLD_SPREADSHEET)])

    assert imported.exit_code == 1
    assert "Nothing was imported from advocates_good.csv: 1 problem in 1 row." in imported.stderr
    assert "row 2, email: dana.whitfield@northwind.example left the reference program" in imported.stderr
    assert db.session.scalar(
        select(func.count()).where(Account.email == "dana.whitfield@northwind.example")) == 0
