"""Indexes the reports need: a request's engagements by status (whether a reference for it took
place, read once per request by the funnel and influence reports), and the moments the reports'
date range reads on asks and feedback. (Not on requests: the funnel walks a request's asks and
engagements, and reading the requests in date order rather than by id made those lookups
slower than the whole scan they would save.)

Revision ID: 0009
Revises: 0008
"""
from alembic import op

revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


INDEXES = (
    ('engagements', 'ix_engagements_request_status', ['request_id', 'status']),
    ('asks', 'ix_asks_created_at', ['created_at']),
    ('feedback', 'ix_feedback_created_at', ['created_at']),
)


def upgrade():
    for table, name, columns in INDEXES:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.create_index(name, columns, unique=False)


def downgrade():
    for table, name, _columns in reversed(INDEXES):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_index(name)
