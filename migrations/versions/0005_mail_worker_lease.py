"""The mail worker's lease on the messages it sends, and the recipients left to retry when a
server refused some for the time being.

Revision ID: 0005
Revises: 0004
"""
import sqlalchemy as sa
from alembic import op

import models.types

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('outbox_messages', schema=None) as batch_op:
        batch_op.add_column(sa.Column('claimed_by', sa.String(length=80), nullable=True))
        batch_op.add_column(sa.Column('claimed_until', models.types.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('retry_recipients', sa.JSON(), nullable=True))


def downgrade():
    with op.batch_alter_table('outbox_messages', schema=None) as batch_op:
        batch_op.drop_column('retry_recipients')
        batch_op.drop_column('claimed_until')
        batch_op.drop_column('claimed_by')
