"""``flask mail drain`` (send what is due, once) and ``flask mail worker`` (keep sending, and run
the periodic jobs, until SIGTERM or Ctrl-C)."""

from __future__ import annotations

import contextlib
import signal
import sys
import threading

import click
from flask.cli import AppGroup

from mail.sender import drain, due_count

mail_cli = AppGroup("mail", help="The outbox: send queued e-mail.")


@mail_cli.command("drain")
@click.option("--limit", type=int, default=None, help="Send at most this many messages.")
def drain_command(limit: int | None) -> None:
    """Send every message that is due, once, and report what happened."""
    if on_a_terminal():
        total = due_count() if limit is None else min(limit, due_count())
        with click.progressbar(length=total, label="Sending") as bar:
            result = drain(limit=limit, on_progress=bar.update)
    else:
        result = drain(limit=limit)
    if result.dead:
        click.echo(f"{result.dead} of the failed given up on (dead): the outbox keeps their errors")
    click.echo(result.describe())


def on_a_terminal() -> bool:
    """Progress bars only for a person watching, never in logs or cron mail."""
    return sys.stdout.isatty()


@mail_cli.command("worker")
@click.option("--once", is_flag=True, help="One round (the jobs, then the due mail), then exit.")
@click.option("--max-seconds", type=float, default=None, help="Exit after about this long.")
@click.option("--poll-seconds", type=float, default=None,
              help="Wait between rounds (default MAIL_WORKER_POLL_SECONDS).")
@click.option("--jobs/--no-jobs", default=True,
              help="Run the periodic jobs every JOBS_INTERVAL_SECONDS (default: yes).")
def worker_command(once: bool, max_seconds: float | None, poll_seconds: float | None, jobs: bool) -> None:
    """Send due mail and run the periodic jobs until SIGTERM or SIGINT, which stop it after the
    message in hand (a second one stops it at once; its claims are retried after the lease)."""
    from mail.worker import Worker

    stop = threading.Event()
    worker = Worker(stop, poll_seconds=poll_seconds, run_jobs=jobs, once=once, max_seconds=max_seconds)

    def on_signal(signum, _frame):
        if stop.is_set():
            raise KeyboardInterrupt
        click.echo(f"{signal.Signals(signum).name}: stopping after the message in hand", err=True)
        stop.set()

    with _signals_handled_by(on_signal):
        click.echo(
            f"mail worker {worker.name}: polling every {worker.poll_seconds:g} s"
            + (f", jobs every {worker.jobs_interval:g} s" if jobs else ", no jobs")
        )
        run = worker.run()
    click.echo(f"mail worker stopped after {run.rounds} round(s): {run.mail.describe()}")


@contextlib.contextmanager
def _signals_handled_by(handler):
    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)
