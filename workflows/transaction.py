"""The one place a workflow's transaction is opened, locked and committed.

A public workflow function is ``with transaction(lock=advocate_id) as advocate:`` around the
steps it is made of. The steps only flush, so another workflow (leaving the program, cancelling
a call) calls the same steps inside its own transaction instead of copying them past the state
machine. The helper takes the locks first, in the agreed order (advocates by id; a step takes
the request's row after them), commits once at the end, and rolls everything back when anything
fails — except a refusal that ``keeps_changes`` (an ask found overdue is recorded as expired
before the accept is refused).

On SQLite, whose locks cover the whole database, the transaction is a write transaction from
its first statement (``BEGIN IMMEDIATE``), so two writers queue instead of failing to upgrade.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager

from models import Advocate, db
from models.locking import begin_write, lock_advocate
from workflows.errors import NotFound, WorkflowError

_OPEN = "vouch_workflow_transaction"


class NestedTransaction(RuntimeError):
    """A workflow opened a transaction inside another: it should call the other's steps."""


@contextmanager
def transaction(*, lock: int | Iterable[int] | None = None) -> Iterator:
    """Open the unit of work. ``lock``: an advocate's id (yields the advocate, freshly read and
    locked) or several (yields them in id order); ``NotFound`` for an advocate that does not
    exist. Without ``lock`` it yields None."""
    session = db.session()
    if session.info.get(_OPEN):
        raise NestedTransaction("a workflow transaction is already open: call the other's steps")
    session.info[_OPEN] = True
    try:
        begin_write(session)
        if lock is None:
            yield None
        elif isinstance(lock, int):
            yield _locked(lock)
        else:
            yield [_locked(advocate_id) for advocate_id in sorted(set(lock))]
        session.commit()
    except WorkflowError as refusal:
        if refusal.keeps_changes:
            session.commit()
        else:
            session.rollback()
        raise
    except BaseException:
        session.rollback()
        raise
    finally:
        session.info.pop(_OPEN, None)


def _locked(advocate_id: int) -> Advocate:
    advocate = lock_advocate(advocate_id)
    if advocate is None:
        raise NotFound(f"There is no advocate with id {advocate_id}.", "advocate_id")
    return advocate


def in_transaction() -> bool:
    """Whether a workflow transaction is open (a step may check it is called inside one)."""
    return bool(db.session().info.get(_OPEN))
