"""Unsubscribing from program mail, and an outbox message an admin discarded.

The addresses that unsubscribed from outreach and nudges are kept as keyed hashes; the outbox's
status takes "discarded" (its CHECK constraint and its length follow the enum).

Revision ID: 0007
Revises: 0006
"""
import sqlalchemy as sa
from alembic import op

import models.types

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None

BEFORE = ('queued', 'sent', 'dead', 'expired')
AFTER = (*BEFORE, 'discarded')


def _status(values):
    return sa.Enum(*values, name='outboxstatus', native_enum=False, create_constraint=True,
                   length=max(len(v) for v in values))


def upgrade():
    op.create_table('unsubscribed_addresses',
    sa.Column('digest', sa.String(length=64), nullable=False),
    sa.Column('created_at', models.types.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('digest', name=op.f('pk_unsubscribed_addresses'))
    )
    with op.batch_alter_table('outbox_messages', schema=None) as batch_op:
        batch_op.alter_column('status', existing_type=_status(BEFORE), type_=_status(AFTER),
                              existing_nullable=False)


def downgrade():
    op.execute("UPDATE outbox_messages SET status = 'expired' WHERE status = 'discarded'")
    with op.batch_alter_table('outbox_messages', schema=None) as batch_op:
        batch_op.alter_column('status', existing_type=_status(AFTER), type_=_status(BEFORE),
                              existing_nullable=False)
    op.drop_table('unsubscribed_addresses')
