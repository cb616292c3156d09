"""The mail worker's throughput against a bare ``smtplib`` loop (DESIGN.md §8, §6).

A local aiosmtpd server takes everything. Each round queues ``N`` ask-expiry e-mails (text and
HTML, the preview's sample data) in the outbox (untimed), then times, in turn:

- ``per_s``: ``mail.sender.drain()`` — what ``flask mail drain`` and each round of
  ``flask mail worker`` do: claim a batch under a lease, build each message with Flask-Mail,
  send it over one SMTP connection for the batch, record its outcome in its own transaction;
- ``bare_per_s``: the least any sender must do for the same messages: build each one from its
  subject, text and HTML with the standard library's ``EmailMessage`` and ``send_message`` it over
  one ``smtplib`` connection — no database, no claim, no record.

The two alternate within each round (the order swapped every round), after a warm-up round;
medians are reported. Prints one JSON line. Target: ≥ 100 messages/s and a ratio ≥ 0.5.
"""

from __future__ import annotations

import json
import logging
import smtplib
import socket
import statistics
import sys
import tempfile
import time
from email.message import EmailMessage
from pathlib import Path

# The project's root first, and not this folder: here ``http.py`` would stand in for the standard
# library's ``http``.
sys.path[:] = [str(Path(__file__).resolve().parent.parent),
               *(p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent)]

N = 500
ROUNDS = 5
TARGET_PER_S = 100
TARGET_RATIO = 0.5


class Counting:
    """An aiosmtpd handler that only counts what it takes."""

    def __init__(self) -> None:
        self.received = 0

    async def handle_DATA(self, server, session, envelope):  # aiosmtpd handler hook
        self.received += 1
        return "250 OK"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def queue(round_number: int) -> list[tuple[str, str, str, str | None]]:
    """``N`` messages in the outbox, committed → (to, subject, text, html) of each, for the bare loop."""
    from flask import current_app

    from mail.outbox import enqueue
    from mail.samples import samples
    from models import db

    [(_label, context)] = samples(current_app.config["BASE_URL"])["ask_expired"]
    messages = []
    for number in range(N):
        message = enqueue(
            template="ask_expired",
            to=[f"advocate{number}@bench.example"],
            context={**context, "name": f"Advocate {number}"},
            idempotency_key=f"bench:{round_number}:{number}",
        )
        messages.append((message.to[0], message.subject, message.body_text, message.body_html))
    db.session.commit()
    return messages


def bare(messages, port: int, sender: str) -> float:
    started = time.perf_counter()
    with smtplib.SMTP("127.0.0.1", port) as connection:
        for number, (to, subject, text, html) in enumerate(messages):
            message = EmailMessage()
            message["From"], message["To"], message["Subject"] = sender, to, subject
            message["Message-ID"] = f"<bare-{number}@bench.example>"
            message.set_content(text)
            if html:
                message.add_alternative(html, subtype="html")
            connection.send_message(message)
    return time.perf_counter() - started


def worker() -> float:
    from mail.sender import drain

    started = time.perf_counter()
    result = drain()
    elapsed = time.perf_counter() - started
    if result.sent != N:
        raise SystemExit(f"the worker sent {result.sent} of {N}: {result.describe()}")
    return elapsed


def bench() -> dict:
    from aiosmtpd.controller import Controller
    from flask_migrate import upgrade

    from app import create_app

    logging.disable(logging.WARNING)
    handler = Counting()
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        with tempfile.TemporaryDirectory() as scratch:
            app = create_app({
                "SQLALCHEMY_DATABASE_URI": f"sqlite:///{scratch}/bench.sqlite3",
                "MAIL_SERVER": "127.0.0.1", "MAIL_PORT": port, "MAIL_BATCH_SIZE": 100,
            })
            with app.app_context():
                upgrade()
                sender = app.config["MAIL_DEFAULT_SENDER"]
                worker_s, bare_s = [], []
                for round_number in range(ROUNDS + 1):
                    messages = queue(round_number)
                    timings = {}
                    order = ("worker", "bare") if round_number % 2 else ("bare", "worker")
                    for which in order:
                        timings[which] = worker() if which == "worker" else bare(messages, port, sender)
                    if round_number:  # the first round warms up
                        worker_s.append(timings["worker"])
                        bare_s.append(timings["bare"])
    finally:
        controller.stop()
    expected = 2 * N * (ROUNDS + 1)
    if handler.received != expected:
        raise SystemExit(f"the server took {handler.received} messages, expected {expected}")
    per_s = N / statistics.median(worker_s)
    bare_per_s = N / statistics.median(bare_s)
    ratio = per_s / bare_per_s
    return {
        "bench": "mail", "n": N, "per_s": round(per_s, 1), "bare_per_s": round(bare_per_s, 1),
        "ratio": round(ratio, 2), "rounds": ROUNDS, "database": "sqlite",
        "per_s_range": [round(N / max(worker_s), 1), round(N / min(worker_s), 1)],
        "target_per_s": TARGET_PER_S, "target_ratio": TARGET_RATIO,
        "ok": per_s >= TARGET_PER_S and ratio >= TARGET_RATIO,
    }


def main() -> None:
    print(json.dumps(bench()))


if __name__ == "__main__":
    main()
