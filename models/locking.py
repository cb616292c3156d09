"""Row locks behind the invariants a CHECK constraint cannot express.

An advocate's quota and calendar are checked-then-changed under a lock on the advocate's row:
``SELECT … FOR UPDATE`` on PostgreSQL; on SQLite, which locks the whole database, a write
transaction (``BEGIN IMMEDIATE``) so that two writers queue instead of both reading the old state.
Take the lock first thing in a workflow, before any change is made in the session.
"""

from __future__ import annotations

from sqlalchemy import event, select
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from models import db
from models.advocates import Advocate

SQLITE_WRITE_OPTION = "vouch_sqlite_write"


class LockOrderError(RuntimeError):
    """A lock was asked for after changes were already made in the session."""


def configure_sqlite(engine: Engine) -> None:
    """Foreign keys on, WAL, a busy timeout, and transactions we begin ourselves (see above)."""

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record):
        dbapi_connection.isolation_level = None  # let SQLAlchemy emit BEGIN itself
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.execute("PRAGMA journal_mode = WAL")
        cursor.execute("PRAGMA synchronous = NORMAL")
        cursor.execute("PRAGMA busy_timeout = 15000")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection):
        if connection.get_execution_options().get(SQLITE_WRITE_OPTION):
            connection.exec_driver_sql("BEGIN IMMEDIATE")
        else:
            connection.exec_driver_sql("BEGIN")


def begin_write(session: Session | None = None) -> None:
    """Start a transaction that holds the write lock on SQLite (no-op elsewhere).

    Inside a transaction that already holds it (a second lock in one workflow) nothing changes.
    """
    session = _session(session)
    if session.get_bind().dialect.name != "sqlite":
        return
    if session.in_transaction():
        if _holds_write_lock(session):
            return
        if _has_changes(session):
            # Rolling back to start the write transaction would silently drop them.
            raise LockOrderError("take the lock before changing anything in the session")
        session.rollback()
    session.connection(execution_options={SQLITE_WRITE_OPTION: True})


UNWRITTEN_CHECK = "SELECT pg_current_xact_id_if_assigned() IS NULL"  # true until a write or a row lock


def end_reading(session: Session | None = None) -> None:
    """End a transaction that wrote nothing with a commit rather than the rollback that closing
    the session would send, on PostgreSQL: the same to the database, but psycopg forgets every
    statement it has prepared on a rollback, so each page would have all its queries planned
    again (a few tenths of a millisecond apiece). What wrote, or locked a row, is still rolled
    back: the server says whether the transaction has a transaction id."""
    session = _session(session)
    if not session.in_transaction() or _has_changes(session):
        return
    if session.get_bind().dialect.name != "postgresql":
        return
    try:
        unwritten = session.connection().exec_driver_sql(UNWRITTEN_CHECK).scalar()
        if unwritten:
            # Nothing to expire: the objects read keep what they hold, as closing leaves them.
            expire, session.expire_on_commit = session.expire_on_commit, False
            try:
                session.commit()
            finally:
                session.expire_on_commit = expire
    except SQLAlchemyError:
        session.rollback()


def _session(session: Session | None) -> Session:
    # ``db.session`` is a scoped_session proxy, which lacks ``in_transaction()``: use the real one.
    return session if session is not None else db.session()


def _holds_write_lock(session: Session) -> bool:
    return bool(session.connection().get_execution_options().get(SQLITE_WRITE_OPTION))


def _has_changes(session: Session) -> bool:
    """Changes pending in the session, or already flushed (autoflush) in this transaction."""
    pending = session.new or session.dirty or session.deleted
    return bool(pending) or session.info.get(_FLUSHED_IN) is session.get_transaction()


_FLUSHED_IN = "vouch_flushed_in_transaction"


@event.listens_for(Session, "after_flush")
def _remember_flush(session: Session, _flush_context) -> None:
    session.info[_FLUSHED_IN] = session.get_transaction()


def lock_advocate(advocate_id: int, session: Session | None = None) -> Advocate | None:
    """The advocate's row, freshly read and locked until the transaction ends."""
    session = _session(session)
    if session.get_bind().dialect.name == "sqlite":
        begin_write(session)
        query = select(Advocate).where(Advocate.id == advocate_id)
    else:
        query = select(Advocate).where(Advocate.id == advocate_id).with_for_update()
    return session.scalars(query.execution_options(populate_existing=True)).one_or_none()
