"""A request's timeline: one row per thing that happened, by whom, when.

A line keeps ids and codes only (the advocate's id, the ask's id, a reason's code), never a
name or a note: names are looked up when the line is shown (``workflows.request_view``), so
what a person changes or erases about themselves is changed everywhere at once.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from models import Account, RequestEvent, db


def record(request_id: int, kind: str, actor: Account | None, now: datetime, **detail: Any) -> None:
    """Add a line to the request's timeline, in the current transaction.

    Added by id: appending to ``request.events`` would load the whole timeline first."""
    db.session.add(RequestEvent(request_id=request_id, kind=kind, actor_id=actor.id if actor else None,
                                at=now, detail=detail))
