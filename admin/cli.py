"""Staff command-line tools (DESIGN.md §9 "CLI"). Each command is thin: it parses its
arguments, calls one workflow function, and reports."""

from __future__ import annotations

import click
from flask.cli import AppGroup

from models import Role
from workflows.accounts import AccountError, create_account

users_cli = AppGroup("users", help="Accounts of every role.")
demo_cli = AppGroup("demo", help="Demo data.")
tokens_cli = AppGroup("tokens", help="Personal API tokens for the JSON API.")
asks_cli = AppGroup("asks", help="Asks sent to advocates.")
customers_cli = AppGroup("customers", help="Customer companies.")
advocates_cli = AppGroup("advocates", help="Reference profiles.")
matching_cli = AppGroup("matching", help="The match rows matching reads, one per advocate.")
jobs_cli = AppGroup("jobs", help="The periodic jobs: ask expiry, reminders, feedback, completion.")


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


@users_cli.command("reset-second-factor")
@click.argument("email")
def reset_second_factor(email: str) -> None:
    """Forget the authenticator app and recovery codes of the staff account EMAIL (a lost
    device): its sessions end, and its owner sets up a new app at the next sign-in. For the
    server's operator when no other admin can reset it on the account's page."""
    from workflows.accounts import AccountNotFound, AccountRefused, managed_account_id
    from workflows.accounts import reset_second_factor as reset

    try:
        account = reset(managed_account_id(email), by=None)
    except (AccountNotFound, AccountRefused) as exc:
        raise click.ClickException(exc.message.removesuffix(" Nothing was changed.")) from None
    click.echo(f"Reset the second factor of {account.email}: they set up a new authenticator app "
               "at their next sign-in.")


@demo_cli.command("load")
def load_demo() -> None:
    """Load a believable demo program (idempotent: running it again changes nothing)."""
    from demo import DemoError
    from demo import load_demo as load

    try:
        with click.progressbar(length=100, label="Loading demo data") as bar:
            summary = load(on_progress=bar.update)
    except DemoError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(summary.describe())


@tokens_cli.command("create")
@click.argument("email")
@click.option("--name", default="API token", help="What the token is for, e.g. the CRM's name.")
def create_token(email: str, name: str) -> None:
    """Create a personal API token for EMAIL; the token is printed once, alone on the last line."""
    from workflows.tokens import TokenError
    from workflows.tokens import create_token as create

    try:
        _token, secret = create(email, name=name)
    except TokenError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"Created an API token for {email}. Keep it safe: it is shown only now.")
    click.echo(secret)


@asks_cli.command("expire")
def expire_asks() -> None:
    """Expire asks unanswered past their deadline, so the next candidate can be asked."""
    from workflows.requests import expire_overdue_asks

    expired = expire_overdue_asks()
    click.echo(f"expired {expired} ask{'' if expired == 1 else 's'}")


@matching_cli.command("rebuild")
def rebuild_match_rows() -> None:
    """Recompute every advocate's match row from the full profile (they are kept current as
    profiles change; this is for after a restore, or a check)."""
    from workflows.match_rows import rebuild

    with click.progressbar(length=1, label="Rebuilding match rows") as bar:
        def progress(done: int, total: int) -> None:
            bar.length = max(total, 1)
            bar.update(done)

        written = rebuild(on_progress=progress)
    click.echo(f"rebuilt {written} match row{'' if written == 1 else 's'}")


@matching_cli.command("refresh")
def refresh_match_rows() -> None:
    """Recompute the rows time has overtaken (a slot now inside the notice period, a new
    quarter); run it now and then, e.g. beside ``flask jobs run``."""
    from workflows.match_rows import refresh_stale

    refreshed = refresh_stale()
    click.echo(f"refreshed {refreshed} match row{'' if refreshed == 1 else 's'}")


@jobs_cli.command("run")
def run_jobs() -> None:
    """Run every due periodic job once (safe to run again, or beside the mail worker)."""
    from workflows.jobs import describe, run_due

    click.echo(describe(run_due()))


def _import(kind: str, path: str) -> None:
    from workflows import imports

    importer = {"customers": imports.import_customers, "advocates": imports.import_advocates}[kind]
    try:
        with click.progressbar(length=100, label=f"Importing {kind}") as bar:
            report = importer(path, on_progress=bar.update)
    except imports.ImportRejected as rejected:
        click.echo(rejected.describe(), err=True)
        raise SystemExit(1) from None
    click.echo(report.describe())


@customers_cli.command("import")
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
def import_customers(path: str) -> None:
    """Import customer companies from a CSV file (all rows, or none if any row is bad)."""
    _import("customers", path)


@advocates_cli.command("import")
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
def import_advocates(path: str) -> None:
    """Import advocates from a reference spreadsheet saved as CSV (all rows, or none)."""
    _import("advocates", path)


@click.command("doctor")
@click.pass_context
def doctor_command(ctx: click.Context) -> None:
    """Check this deployment: the database answers and its migrations are current, the SMTP server
    and Redis answer, and the secret, BASE_URL and rate-limit store are fit for production.
    One line per check; exit code 1 when any fails."""
    from flask.cli import ScriptInfo

    from config import ConfigError, settings_from_environment
    from workflows.doctor import examine, healthy

    try:
        settings = ctx.ensure_object(ScriptInfo).load_app().config
    except ConfigError as refused:
        # Production refuses to start with these settings: examine them all the same.
        click.echo(f"The app refuses to start: {refused}", err=True)
        settings = settings_from_environment()
    findings = examine(settings)
    for finding in findings:
        click.echo(finding.line())
    if not healthy(findings):
        raise SystemExit(1)


def register_cli(app) -> None:
    for group in (users_cli, demo_cli, tokens_cli, asks_cli, customers_cli, advocates_cli, matching_cli,
                  jobs_cli):
        app.cli.add_command(group)
    app.cli.add_command(doctor_command)
