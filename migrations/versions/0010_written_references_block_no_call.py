"""A completed written reference blocks no call: the no-overlap constraint covers engagements
that have a time only (PostgreSQL; a written reference's open time range overlapped every call
of its advocate, so no call could be booked with them after one).

Revision ID: 0010
Revises: 0009
"""
from alembic import op

revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def _no_overlap(where: str) -> None:
    op.execute("ALTER TABLE engagements DROP CONSTRAINT ex_engagements_no_overlap")
    op.execute(
        "ALTER TABLE engagements ADD CONSTRAINT ex_engagements_no_overlap "
        "EXCLUDE USING gist (advocate_id WITH =, tstzrange(starts_at, ends_at) WITH &&) "
        f"WHERE ({where})"
    )


def upgrade():
    if op.get_bind().dialect.name == "postgresql":
        _no_overlap("status IN ('booked', 'completed') AND starts_at IS NOT NULL")


def downgrade():
    if op.get_bind().dialect.name == "postgresql":
        _no_overlap("status IN ('booked', 'completed')")
