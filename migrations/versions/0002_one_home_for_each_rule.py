"""Suppressed addresses, submission keys, coordinators' new-request e-mail setting; a request
may be served again after its engagement is cancelled; timelines keep ids, not names.

Revision ID: 0002
Revises: 0001
"""
import json

import sqlalchemy as sa
from alembic import op

import models.types

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None

# Timeline details that named a person or quoted them: names are looked up when shown now.
PERSONAL_DETAIL = ("advocate", "note")


def upgrade():
    op.create_table('suppressed_addresses',
    sa.Column('digest', sa.String(length=64), nullable=False),
    sa.Column('created_at', models.types.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('digest', name=op.f('pk_suppressed_addresses'))
    )
    op.create_table('submissions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('scope', sa.String(length=40), nullable=False),
    sa.Column('key', sa.String(length=200), nullable=False),
    sa.Column('fingerprint', sa.String(length=64), nullable=False),
    sa.Column('resource_id', sa.Integer(), nullable=True),
    sa.Column('status_code', sa.Integer(), nullable=True),
    sa.Column('created_at', models.types.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['account_id'], ['accounts.id'], name=op.f('fk_submissions_account_id_accounts'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_submissions')),
    sa.UniqueConstraint('account_id', 'scope', 'key', name='uq_submissions_key')
    )
    with op.batch_alter_table('accounts', schema=None) as batch_op:
        batch_op.add_column(sa.Column('notify_new_requests', sa.Boolean(), server_default=sa.true(), nullable=False))

    with op.batch_alter_table('asks', schema=None) as batch_op:
        batch_op.drop_index('uq_asks_one_accepted', sqlite_where=sa.text("status = 'accepted'"),
                            postgresql_where=sa.text("status = 'accepted'"))

    with op.batch_alter_table('engagements', schema=None) as batch_op:
        batch_op.drop_constraint('uq_engagements_request_id', type_='unique')
        batch_op.create_index('uq_engagements_one_live_per_request', ['request_id'], unique=True, sqlite_where=sa.text("status != 'cancelled'"), postgresql_where=sa.text("status != 'cancelled'"))

    _forget_names_in_timelines()


def _forget_names_in_timelines():
    events = sa.table('request_events', sa.column('id', sa.Integer), sa.column('detail', sa.JSON))
    connection = op.get_bind()
    for event_id, detail in connection.execute(sa.select(events.c.id, events.c.detail)).all():
        if isinstance(detail, str):
            detail = json.loads(detail)
        if not isinstance(detail, dict) or not any(key in detail for key in PERSONAL_DETAIL):
            continue
        kept = {key: value for key, value in detail.items() if key not in PERSONAL_DETAIL}
        connection.execute(events.update().where(events.c.id == event_id).values(detail=kept))


def downgrade():
    with op.batch_alter_table('engagements', schema=None) as batch_op:
        batch_op.drop_index('uq_engagements_one_live_per_request', sqlite_where=sa.text("status != 'cancelled'"), postgresql_where=sa.text("status != 'cancelled'"))
        batch_op.create_unique_constraint('uq_engagements_request_id', ['request_id'])

    with op.batch_alter_table('asks', schema=None) as batch_op:
        batch_op.create_index('uq_asks_one_accepted', ['request_id'], unique=True, sqlite_where=sa.text("status = 'accepted'"), postgresql_where=sa.text("status = 'accepted'"))

    with op.batch_alter_table('accounts', schema=None) as batch_op:
        batch_op.drop_column('notify_new_requests')

    op.drop_table('submissions')
    op.drop_table('suppressed_addresses')
