"""``flask mail worker``: send mail as it falls due and run the periodic jobs on a timer, until
told to stop (DESIGN.md §6).

Each round sends every due message (``mail.sender``: batches under a lease, one SMTP connection a
round) and, every ``JOBS_INTERVAL_SECONDS``, runs ``workflows.jobs.run_due`` first, so that the
mail a job writes goes out in the same round. Between rounds it waits
``MAIL_WORKER_POLL_SECONDS``. Asked to stop (SIGTERM, SIGINT: ``stop`` is set), it finishes the
message in hand, gives back the claims on the rest of its batch and returns. An error in a round
(the database away for a moment) is logged and the next round tries again.

Each round (of jobs, of mail) runs in an app context of its own, so it reads the program
settings afresh (``workflows.settings`` keeps them for one app context): a change an admin
saves is in force from the next round, without restarting the worker.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from flask import current_app

from mail.sender import DrainResult, Sender
from models import db

log = logging.getLogger(__name__)


@dataclass
class WorkerRun:
    """What a worker did until it stopped."""

    rounds: int = 0
    mail: DrainResult = field(default_factory=DrainResult)
    jobs_runs: int = 0
    jobs: dict[str, int] = field(default_factory=dict)
    errors: int = 0


class Worker:
    def __init__(
        self,
        stop: threading.Event | None = None,
        *,
        poll_seconds: float | None = None,
        jobs_interval: float | None = None,
        run_jobs: bool = True,
        once: bool = False,
        max_seconds: float | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        config = current_app.config
        self.stop = stop or threading.Event()
        if poll_seconds is None:
            poll_seconds = config["MAIL_WORKER_POLL_SECONDS"]
        if jobs_interval is None:
            jobs_interval = config["JOBS_INTERVAL_SECONDS"]
        self.poll_seconds = float(poll_seconds)
        self.jobs_interval = float(jobs_interval)
        self.run_jobs = run_jobs
        self.once = once
        self.max_seconds = max_seconds
        self.clock = clock
        self.sender = Sender()

    @property
    def name(self) -> str:
        return self.sender.name

    def run(self) -> WorkerRun:
        run = WorkerRun()
        started = self.clock()
        deadline = None if self.max_seconds is None else started + self.max_seconds
        next_jobs = started  # the jobs run at once, then on their timer
        while not self.stop.is_set():
            if self.run_jobs and self.clock() >= next_jobs:
                self._jobs(run)
                next_jobs = self.clock() + self.jobs_interval
            if self.stop.is_set():
                break
            self._mail(run, should_stop=self._stop_or_jobs_due(next_jobs))
            run.rounds += 1
            if self.once:
                break
            now = self.clock()
            if deadline is not None and now >= deadline:
                break
            wait = self.poll_seconds
            if self.run_jobs:
                wait = min(wait, next_jobs - now)
            if deadline is not None:
                wait = min(wait, deadline - now)
            if wait > 0:
                self.stop.wait(wait)
        return run

    def _stop_or_jobs_due(self, next_jobs: float) -> Callable[[], bool]:
        """Whether a round should end after the message in hand: asked to stop, or the jobs due."""
        if not self.run_jobs:
            return self.stop.is_set
        return lambda: self.stop.is_set() or self.clock() >= next_jobs

    def _mail(self, run: WorkerRun, should_stop: Callable[[], bool]) -> None:
        try:
            with current_app.app_context():
                result = self.sender.drain(should_stop=should_stop)
        except Exception:
            run.errors += 1
            log.exception("mail worker %s: sending failed this round", self.name)
            return
        finally:
            db.session.remove()
        run.mail.add(result)
        if result.handled:
            log.info("mail worker %s: %s", self.name, result.describe())

    def _jobs(self, run: WorkerRun) -> None:
        from workflows.jobs import run_due

        try:
            with current_app.app_context():
                counts = run_due()
        except Exception:
            run.errors += 1
            log.exception("mail worker %s: the periodic jobs failed this round", self.name)
            return
        finally:
            db.session.remove()
        run.jobs_runs += 1
        for job, count in counts.items():
            run.jobs[job] = run.jobs.get(job, 0) + count
        if any(counts.values()):
            log.info("mail worker %s: jobs %s", self.name,
                     ", ".join(f"{job} {count}" for job, count in counts.items()))
