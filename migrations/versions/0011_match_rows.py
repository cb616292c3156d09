"""One match row per advocate, holding everything matching reads (the next free slot included),
and the pool version every change to them bumps; filled from the profiles already stored.

Revision ID: 0011
Revises: 0010
"""
import sqlalchemy as sa
from alembic import op

revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "match_rows",
        sa.Column("advocate_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("company", sa.String(200), nullable=False),
        sa.Column("company_key", sa.String(200), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("consented", sa.Boolean(), nullable=False),
        sa.Column("snoozed_until_day", sa.Integer(), nullable=True),
        sa.Column("calls", sa.Integer(), nullable=False),
        sa.Column("calls_quarter", sa.String(8), nullable=False),
        sa.Column("quarterly_limit", sa.Integer(), nullable=False),
        sa.Column("last_call_us", sa.BigInteger(), nullable=True),
        sa.Column("next_call_us", sa.BigInteger(), nullable=True),
        sa.Column("too_soon_until_us", sa.BigInteger(), nullable=True),
        sa.Column("min_days_between_calls", sa.Integer(), nullable=False),
        sa.Column("max_calls_per_day", sa.Integer(), nullable=False),
        sa.Column("formats", sa.Text(), nullable=False),
        sa.Column("industry", sa.String(120), nullable=True),
        sa.Column("sector", sa.String(120), nullable=True),
        sa.Column("size_band", sa.Integer(), nullable=True),
        sa.Column("region", sa.String(120), nullable=True),
        sa.Column("timezone", sa.String(64), nullable=False),
        sa.Column("job_level_rank", sa.Integer(), nullable=True),
        sa.Column("use_cases", sa.Text(), nullable=False),
        sa.Column("glad_topics", sa.Text(), nullable=False),
        sa.Column("avoided_topics", sa.Text(), nullable=False),
        sa.Column("competitors", sa.Text(), nullable=False),
        sa.Column("refused_companies", sa.Text(), nullable=False),
        sa.Column("feedback_average", sa.Float(), nullable=True),
        sa.Column("has_windows", sa.Boolean(), nullable=False),
        sa.Column("slot_start_us", sa.BigInteger(), nullable=True),
        sa.Column("slot_end_us", sa.BigInteger(), nullable=True),
        sa.Column("computed_us", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["advocate_id"], ["advocates.id"], name=op.f("fk_match_rows_advocate_id_advocates"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("advocate_id", name=op.f("pk_match_rows")),
    )
    op.create_table(
        "pool_version",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pool_version")),
    )
    op.execute("INSERT INTO pool_version (id, version) VALUES (1, 1)")
    # A data migration: the rows of the advocates already there, by the same code that keeps
    # them current afterwards.
    from workflows.match_rows import refresh_match_rows

    refresh_match_rows(op.get_bind())


def downgrade():
    op.drop_table("pool_version")
    op.drop_table("match_rows")
