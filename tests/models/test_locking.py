"""The advocate row lock serialises check-then-change workflows (DESIGN.md §4, §7.10):
``SELECT … FOR UPDATE`` on PostgreSQL, a write transaction (``BEGIN IMMEDIATE``) on SQLite."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable

import pytest
from sqlalchemy import select

from models import Advocate, db
from models.locking import LockOrderError, begin_write, lock_advocate

ON_POSTGRES = os.environ.get("TEST_DATABASE_URL", "").startswith("postgresql")
# Bound on every wait, so that a lock that is never released fails the test instead of hanging it.
TIMEOUT = 10


def start_in_app_thread(app, work: Callable[[], None]) -> Callable[[], None]:
    """Run ``work`` in a thread with its own app context (its own session and connection);
    the returned ``finish()`` waits for it and re-raises what it raised."""
    errors: list[BaseException] = []

    def run() -> None:
        try:
            with app.app_context():
                try:
                    work()
                finally:
                    db.session.remove()
        except BaseException as error:  # handed to the test's thread by finish()
            errors.append(error)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()

    def finish() -> None:
        thread.join(TIMEOUT)
        assert not thread.is_alive(), f"the thread still runs after {TIMEOUT} s"
        if errors:
            raise errors[0]

    return finish


def job_title(advocate_id: int) -> str:
    db.session.rollback()
    return db.session.scalar(select(Advocate.job_title).where(Advocate.id == advocate_id))


def test_a_second_locker_waits_until_the_first_commits_and_then_sees_its_change(app, make_advocate):
    advocate_id = make_advocate().id
    first_holds_lock, first_may_commit, second_has_lock = (threading.Event() for _ in range(3))
    seen_by_second = {}

    def first() -> None:
        advocate = lock_advocate(advocate_id)
        advocate.job_title = "changed under the lock"
        db.session.flush()
        first_holds_lock.set()
        assert first_may_commit.wait(TIMEOUT)
        db.session.commit()

    def second() -> None:
        assert db.session.get(Advocate, advocate_id).job_title == ""  # read before the lock: stale
        seen_by_second["job_title"] = lock_advocate(advocate_id).job_title
        second_has_lock.set()
        db.session.commit()

    finish_first = start_in_app_thread(app, first)
    finish_second = None
    try:
        assert first_holds_lock.wait(TIMEOUT), "the first transaction never got the lock"
        finish_second = start_in_app_thread(app, second)
        assert not second_has_lock.wait(0.5), "the second transaction got the lock the first one holds"
    finally:
        first_may_commit.set()
        finish_first()
        if finish_second is not None:
            finish_second()

    assert second_has_lock.is_set()
    assert seen_by_second["job_title"] == "changed under the lock"


def test_locking_a_second_advocate_keeps_the_first_lock_and_the_changes_made_under_it(
    app_context, make_advocate
):
    first_id, second_id = make_advocate().id, make_advocate().id

    lock_advocate(first_id).job_title = "first"
    lock_advocate(second_id).job_title = "second"
    db.session.commit()

    assert (job_title(first_id), job_title(second_id)) == ("first", "second")


def test_lock_advocate_answers_none_for_an_unknown_advocate(app_context):
    assert lock_advocate(999_999) is None
    db.session.rollback()


@pytest.mark.skipif(
    ON_POSTGRES, reason="begin_write is a no-op on PostgreSQL: a row lock may be taken at any point"
)
@pytest.mark.parametrize("flushed", [False, True], ids=["pending change", "autoflushed change"])
def test_asking_for_the_write_lock_after_a_change_raises_instead_of_dropping_the_change(
    app_context, make_advocate, flushed
):
    advocate_id = make_advocate().id
    db.session.get(Advocate, advocate_id).job_title = "changed before the lock"
    if flushed:
        db.session.scalar(select(Advocate.id))  # any query flushes the change first

    with pytest.raises(LockOrderError, match="take the lock before changing anything"):
        begin_write()
    with pytest.raises(LockOrderError):
        lock_advocate(advocate_id)

    db.session.commit()
    assert job_title(advocate_id) == "changed before the lock"
