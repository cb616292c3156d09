"""The one hierarchy of refusals every workflow raises.

A refusal says why in words the person reads, and ``field`` names the input at fault when one
is (``errors`` holds every field's message when several were checked at once). Each blueprint
maps them in one place: ``NotFound`` to 404, ``Conflict`` to 409, ``Invalid`` to 422, and the
field messages to the form (``pages.show_refusal``) or to the API's ``fields``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping


class WorkflowError(Exception):
    """A change (or a read) refused by a rule; nothing was changed."""

    status = 422
    # Commit what the workflow did before it refused (an ask found overdue is recorded as
    # expired, then the accept is refused); every other refusal rolls everything back.
    keeps_changes = False

    def __init__(self, message: str, field: str | None = None,
                 errors: Mapping[str, str | Iterable[str]] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        if errors:
            self.errors = {name: [found] if isinstance(found, str) else list(found)
                           for name, found in errors.items()}
        else:
            self.errors = {field: [message]} if field else {}

    def __str__(self) -> str:
        return self.message


class NotFound(WorkflowError):
    """No such record among those the person may see: another advocate's id gets the same answer
    as an id that never existed."""

    status = 404


class Conflict(WorkflowError):
    """The record is not in a state that allows this change (already answered, already booked,
    the quarter full, asked before)."""

    status = 409


class Invalid(WorkflowError):
    """The input breaks a rule; ``field`` says which input."""

    status = 422
