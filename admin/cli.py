"""Staff command-line tools: ``flask users create``, ``flask demo load``."""

from __future__ import annotations

import click
from flask.cli import AppGroup

from models import Role
from workflows.accounts import AccountError, create_account

users_cli = AppGroup("users", help="Accounts of every role.")
demo_cli = AppGroup("demo", help="Demo data.")


@users_cli.command("create")
@click.argument("email")
@click.option("--role", type=click.Choice([r.value for r in Role]), required=True)
@click.option("--name", default=None, help="Display name (defaults to the e-mail's local part).")
def create_user(email: str, role: str, name: str | None) -> None:
    """Create an account; its owner signs in with a link sent to EMAIL."""
    try:
        account = create_account(email, role, name)
    except AccountError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"created {account.role.value} {account.email} (id {account.id})")


@demo_cli.command("load")
def load_demo() -> None:
    """Load a believable demo program (idempotent: running it again changes nothing)."""
    from workflows.demo import DemoError
    from workflows.demo import load_demo as load

    try:
        with click.progressbar(length=100, label="Loading demo data") as bar:
            summary = load(on_progress=bar.update)
    except DemoError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(summary.describe())


def register_cli(app) -> None:
    app.cli.add_command(users_cli)
    app.cli.add_command(demo_cli)
