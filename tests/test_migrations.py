"""The migrations build the schema the models describe, from an empty database, both ways.

Runs on a brand-new database of the kind under test: a fresh SQLite file, or, when
TEST_DATABASE_URL is set, a scratch PostgreSQL database created beside the test database.
"""

from __future__ import annotations

import json
import logging
import os
import warnings
from collections.abc import Iterator

import psycopg
import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask import Flask
from flask_migrate import downgrade, upgrade
from psycopg import sql
from sqlalchemy import func, inspect, select, text
from sqlalchemy.engine import make_url

from app import create_app
from models import Format, Industry, Region, Tier, Topic, db

# DESIGN.md §4 "Catalogues" and the tiers of the seed text.
SECTORS = {
    "Technology": "tech", "Telecommunications": "tech", "Media": "tech",
    "Healthcare": "health", "Life Sciences": "health",
    "Financial Services": "finance", "Insurance": "finance",
    "Manufacturing": "industrial", "Energy": "industrial", "Transportation": "industrial",
    "Retail": "services", "Professional Services": "services",
    "Public Sector": "public", "Education": "public",
}  # fmt: skip
REGIONS = {"North America", "Latin America", "Europe", "Middle East & Africa", "Asia Pacific"}
TOPICS = {
    "Implementation", "ROI", "Security", "Integration", "Migration", "Change management",
    "Support quality", "Pricing and contract", "Scalability", "Compliance", "Adoption",
    "Executive sponsorship",
}  # fmt: skip
FORMATS = {"call", "video", "written", "site_visit"}
TIER_QUOTAS = [("Premier", 6), ("Active", 4), ("Occasional", 2)]


def postgres_admin_connection(url: str) -> psycopg.Connection:
    """An autocommit connection to the test database, to create and drop databases beside it."""
    conninfo = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    return psycopg.connect(conninfo, autocommit=True)


def drop_database(connection: psycopg.Connection, name: str) -> None:
    connection.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


@pytest.fixture()
def fresh_database_url(tmp_path) -> Iterator[str]:
    test_url = os.environ.get("TEST_DATABASE_URL", "")
    if not test_url.startswith("postgresql"):
        yield f"sqlite:///{tmp_path / 'fresh.sqlite3'}"
        return
    name = f"vouch_migration_test_{os.getpid()}"
    with postgres_admin_connection(test_url) as connection:
        drop_database(connection, name)
        connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield make_url(test_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with postgres_admin_connection(test_url) as connection:
            drop_database(connection, name)


@pytest.fixture()
def fresh_app(fresh_database_url) -> Iterator[Flask]:
    """The app on an empty database, inside its app context."""
    app = create_app({"SQLALCHEMY_DATABASE_URI": fresh_database_url})
    with app.app_context():
        yield app
        db.session.remove()
        db.engine.dispose()


def schema_differences() -> list:
    """What autogenerate would put in a new migration: nothing, if the models match."""
    with db.engine.connect() as connection, warnings.catch_warnings():
        # SQLite's reflection cannot read an index on an expression (ix_accounts_name_order), so
        # there only PostgreSQL's run compares it.
        warnings.filterwarnings("ignore", "Skipped unsupported reflection of expression-based index")
        warnings.filterwarnings("ignore", "autogenerate skipping metadata-specified expression-based index")
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return compare_metadata(context, db.metadata)


def table_names() -> set[str]:
    return set(inspect(db.engine).get_table_names())


def current_revision() -> str | None:
    with db.engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def test_upgrade_from_empty_builds_exactly_the_schema_of_the_models(fresh_app):
    assert table_names() == set()

    upgrade()

    assert current_revision() == "0014"
    assert table_names() == set(db.metadata.tables) | {"alembic_version"}
    assert schema_differences() == []


def test_upgrade_seeds_the_reference_data_of_the_design(fresh_app):
    upgrade()

    tiers = db.session.scalars(select(Tier).order_by(Tier.rank)).all()
    assert [(tier.name, tier.quarterly_quota) for tier in tiers] == TIER_QUOTAS
    assert all(tier.benefits for tier in tiers)
    assert {i.name: i.sector for i in db.session.scalars(select(Industry))} == SECTORS
    assert {r.name for r in db.session.scalars(select(Region))} == REGIONS
    assert {t.name for t in db.session.scalars(select(Topic))} == TOPICS
    assert {f.code for f in db.session.scalars(select(Format))} == FORMATS


def test_downgrade_to_base_removes_everything_and_upgrade_rebuilds_it(fresh_app):
    upgrade()

    downgrade(revision="base")

    assert current_revision() is None
    assert table_names() == {"alembic_version"}

    upgrade()

    assert schema_differences() == []
    assert db.session.scalar(select(func.count()).select_from(Tier)) == 3
    assert db.session.scalar(select(func.count()).select_from(Industry)) == len(SECTORS)


def test_migrating_leaves_the_app_loggers_enabled(fresh_app):
    app_loggers = [logging.getLogger(name) for name in ("mail.sender", "workflows.auth", "app")]

    upgrade()

    assert [logger.name for logger in app_loggers if logger.disabled] == []


def test_upgrading_forgets_the_names_and_notes_written_into_timelines(fresh_app):
    upgrade(revision="0001")
    now = "2026-11-20 10:00:00"
    db.session.execute(text(
        "INSERT INTO requests (id, prospect_company, format_code, status, outcome, opportunity_id, "
        "opportunity_name, contact_name, contact_email, questions, notes, created_at, updated_at) "
        "VALUES (1, 'Globex', 'call', 'new', 'open', '', '', '', '', '[]', '', :now, :now)"
    ), {"now": now})
    for event_id, detail in [
        (1, {"advocate_id": 7, "advocate": "Dana Whitfield", "reason": "busy", "note": "Back in March"}),
        (2, {"format": "call"}),
    ]:
        db.session.execute(text(
            "INSERT INTO request_events (id, request_id, at, kind, detail) "
            "VALUES (:id, 1, :now, 'x', :detail)"
        ), {"id": event_id, "now": now, "detail": json.dumps(detail)})
    db.session.commit()

    upgrade()

    details = dict(db.session.execute(text("SELECT id, detail FROM request_events ORDER BY id")).all())
    parsed = {key: json.loads(value) if isinstance(value, str) else value for key, value in details.items()}
    assert parsed == {1: {"advocate_id": 7, "reason": "busy"}, 2: {"format": "call"}}



def test_upgrading_gives_earlier_redemptions_an_empty_coordinators_note(fresh_app):
    upgrade(revision="0003")
    now = "2026-11-20 10:00:00"
    for statement in (
        "INSERT INTO accounts (id, email, name, role, timezone, active, session_version, created_at) "
        "VALUES (1, 'dana@example.com', 'Dana', 'advocate', 'UTC', true, 1, :now)",
        "INSERT INTO advocates (id, account_id, job_title, status, success_metrics, talking_points, "
        "languages, refused_companies, min_days_between_calls, max_calls_per_day, consent_source, "
        "created_at) VALUES (1, 1, '', 'active', '', '', '[]', '[]', 0, 1, '', :now)",
        "INSERT INTO perks (id, name, description, min_tier_id, kind, points_cost, active) "
        "VALUES (1, 'Hoodie', '', (SELECT min(id) FROM tiers), 'redeemable', 150, true)",
        "INSERT INTO redemptions (id, perk_id, advocate_id, status, points_spent, note, requested_at) "
        "VALUES (1, 1, 1, 'requested', 150, 'Size M', :now)",
    ):
        db.session.execute(text(statement), {"now": now})
    db.session.commit()

    upgrade()

    assert db.session.execute(text("SELECT note, decision_note FROM redemptions")).all() == [("Size M", "")]
