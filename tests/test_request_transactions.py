"""How a request's transaction ends on PostgreSQL (``models.locking.end_reading``): one that wrote
nothing is committed, so psycopg keeps the statements it prepared; one that wrote anything, or
locked a row, is rolled back as before."""

from __future__ import annotations

import pytest
from sqlalchemy import select, update

from models import Account, Advocate, db
from models.locking import end_reading

pytestmark = pytest.mark.usefixtures("postgres_only")


@pytest.fixture()
def postgres_only(app):
    if not app.config["SQLALCHEMY_DATABASE_URI"].startswith("postgresql"):
        pytest.skip("on SQLite nothing is prepared across transactions: a rollback costs nothing")


# psycopg prepares a statement on its sixth run on a connection, and the pool hands its
# connections out in turn: enough runs for six on each.
RUNS = 6 * 16


def prepared(connection) -> int:
    return len(connection.connection.dbapi_connection._prepared._names)


def test_a_page_that_only_read_keeps_its_prepared_statements(app, client, make_account, sign_in):
    sign_in(make_account(role="coordinator"))
    for _ in range(RUNS):
        assert client.get("/admin/requests").status_code == 200
    with app.app_context():
        connection = db.session.connection()
        statements = connection.exec_driver_sql("SELECT count(*) FROM pg_prepared_statements").scalar()
        db.session.rollback()
    assert statements > 0


def test_reading_ends_in_a_commit_and_the_prepared_statements_stay(app_context, make_account):
    account = make_account()
    for _ in range(RUNS):
        db.session.scalars(select(Account).where(Account.id == account.id)).one()
        end_reading()
        assert not db.session().in_transaction()
    db.session.scalars(select(Account).where(Account.id == account.id)).one()
    assert prepared(db.session.connection()) > 0


@pytest.mark.parametrize("how", ["flushed", "bulk update", "row lock"])
def test_a_transaction_that_wrote_or_locked_is_left_to_the_rollback(app_context, make_advocate, how):
    advocate = make_advocate(name="Dana Before")
    if how == "flushed":
        db.session.get(Advocate, advocate.id).job_title = "Changed"
        db.session.flush()
    elif how == "bulk update":
        db.session.execute(update(Advocate).where(Advocate.id == advocate.id).values(job_title="Changed"))
    else:
        db.session.scalars(select(Advocate).where(Advocate.id == advocate.id).with_for_update()).one()

    end_reading()

    assert db.session().in_transaction()  # not committed: closing the session rolls it back
    db.session.rollback()
    assert db.session.get(Advocate, advocate.id).job_title != "Changed"


def test_what_was_read_keeps_its_values_after_the_context_ends(app, make_account):
    account = make_account(name="Dana Read")
    with app.app_context():
        found = db.session.get(Account, account.id)
    assert found.name == "Dana Read"  # as after a rollback: the commit expired nothing
