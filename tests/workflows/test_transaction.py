"""The one transaction helper: locks first, one commit, everything rolled back on a refusal
(unless the refusal keeps what was done), and no transaction inside another."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from models import AuditEvent, db
from workflows import errors
from workflows.audit import add_event
from workflows.transaction import NestedTransaction, in_transaction, transaction


def events() -> int:
    return db.session.scalar(select(func.count()).select_from(AuditEvent))


def test_it_commits_once_at_the_end(app_context):
    with transaction():
        add_event("one")
        add_event("two")
        assert in_transaction()
    assert not in_transaction()
    db.session.remove()
    assert events() == 2


@pytest.mark.parametrize(
    "failure", [errors.Invalid("no", "field"), errors.Conflict("taken"), RuntimeError("bug")]
)
def test_a_refusal_or_a_failure_leaves_nothing_behind(app_context, failure):
    with pytest.raises(type(failure)), transaction():
        add_event("half-done")
        db.session.flush()
        raise failure
    db.session.remove()
    assert events() == 0


def test_a_refusal_that_keeps_its_changes_commits_them_then_refuses(app_context):
    class Expired(errors.Conflict):
        keeps_changes = True

    with pytest.raises(Expired), transaction():
        add_event("recorded as expired")
        raise Expired("too late")
    db.session.remove()
    assert events() == 1


def test_a_workflow_cannot_open_a_transaction_inside_another(app_context):
    with pytest.raises(NestedTransaction), transaction():
        add_event("outer")
        with transaction():
            pass
    db.session.remove()
    assert events() == 0


def test_it_locks_the_advocates_given_in_id_order_and_refuses_an_unknown_one(app, make_advocate):
    first, second = make_advocate(), make_advocate()
    with app.app_context():
        with transaction(lock=[second.id, first.id]) as locked:
            assert [a.id for a in locked] == [first.id, second.id]
        with transaction(lock=first.id) as advocate:
            assert advocate.id == first.id
        with pytest.raises(errors.NotFound, match="no advocate with id 999999"), transaction(lock=999999):
            pass
        db.session.remove()
