"""``flask mail drain``: send what is queued once."""

import click
from flask.cli import AppGroup

from mail.sender import drain, due_count

mail_cli = AppGroup("mail", help="The outbox: send queued e-mail.")


@mail_cli.command("drain")
@click.option("--limit", type=int, default=None, help="Send at most this many messages.")
def drain_command(limit: int | None) -> None:
    """Send every message that is due, once, and report what happened."""
    total = due_count() if limit is None else min(limit, due_count())
    with click.progressbar(length=total, label="Sending", file=None) as bar:
        result = drain(limit=limit, on_progress=bar.update)
    click.echo(f"sent {result.sent}, failed {result.failed}, expired {result.expired}")
