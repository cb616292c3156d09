"""The periodic jobs (DESIGN.md §6), run together: ``flask jobs run`` calls ``run_due`` once,
and the mail worker calls it on a timer.

Each job is safe to run twice, or in two processes at once: it reads what is due, then handles
each item in its own transaction under the locks its workflow takes, reading it again there
(``requests.expire_overdue_asks``, and ``workflows.followup``'s jobs).
"""

from __future__ import annotations

from datetime import datetime

from models.types import utcnow
from workflows import followup, match_rows, nudges, outreach, requests, tiers
from workflows.text import counted

# What ``run_due`` reports, in the order the jobs run: an ask expires before anything else reads
# the request, a call is asked for feedback before it may complete; an unanswered program
# invitation gets its one reminder; tier suggestions run once a day, after the calls completed;
# last, the match rows that time has overtaken are recomputed (ranking is right without it, but
# reads such rows' full profiles: the refresh keeps them few).
JOBS = ("asks_expired", "ask_reminders", "reminders", "feedback_requests", "completed", "nudges",
        "invitations_reminded", "tier_suggestions", "match_rows_refreshed")


def run_due(now: datetime | None = None) -> dict[str, int]:
    """Run every due periodic job once; → how many items each one handled."""
    now = now or utcnow()
    return {
        "asks_expired": requests.expire_overdue_asks(now),
        "ask_reminders": nudges.send_due_ask_reminders(now),
        "reminders": followup.send_due_reminders(now),
        "feedback_requests": followup.request_due_feedback(now),
        "completed": followup.complete_due(now),
        "nudges": nudges.send_due_nudges(now),
        "invitations_reminded": outreach.send_due_reminders(now),
        "tier_suggestions": tiers.suggest_tiers(now),
        "match_rows_refreshed": match_rows.refresh_stale(now),
    }


def describe(counts: dict[str, int]) -> str:
    """The counts in words, one job a line."""

    return "\n".join([
        f"expired {counted(counts['asks_expired'], 'ask', 'asks')}",
        f"reminded advocates of {counted(counts['ask_reminders'], 'ask', 'asks')}",
        f"reminded {counted(counts['reminders'], 'call', 'calls')}",
        f"asked for feedback on {counted(counts['feedback_requests'], 'call', 'calls')}",
        f"completed {counted(counts['completed'], 'call', 'calls')}",
        f"nudged {counted(counts['nudges'], 'advocate', 'advocates')} to review their availability",
        f"reminded {counted(counts['invitations_reminded'], 'invitation', 'invitations')} to the program",
        f"suggested {counted(counts['tier_suggestions'], 'tier change', 'tier changes')}",
        f"refreshed {counted(counts['match_rows_refreshed'], 'match row', 'match rows')} time had overtaken",
    ])
