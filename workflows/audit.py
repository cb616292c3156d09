"""Writing the audit log. Callers never pass tokens or links: only who, what and from where."""

from __future__ import annotations

from typing import Any

from flask import has_request_context, request

from models import Account, AuditEvent, db
from workflows.transaction import transaction


def client_ip() -> str | None:
    return request.remote_addr if has_request_context() else None


_FROM_REQUEST = object()


def add_event(
    kind: str,
    *,
    actor: Account | None = None,
    subject: str | None = None,
    ip: Any = _FROM_REQUEST,
    **detail: Any,
) -> AuditEvent:
    """Add an event to the current transaction (it commits with the change it describes).
    ``ip``: the client's address, when the event is recorded outside its request."""
    event = AuditEvent(
        kind=kind,
        actor_id=actor.id if actor is not None else None,
        subject=subject,
        client_ip=client_ip() if ip is _FROM_REQUEST else ip,
        detail=detail,
    )
    db.session.add(event)
    return event


def record_access_denied(account: Account, path: str) -> None:
    """An authorisation failure, committed on its own: nothing else happens in that request."""
    db.session.rollback()
    with transaction():
        add_event("access.denied", actor=account, path=path[:300])
