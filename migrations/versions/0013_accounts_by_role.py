"""Accounts by role: the request queue's "Requested by" filter lists the sales accounts (and
anyone who requested), and without an index that read every account of the pool, 10 000
advocates included, on every view of the queue.

Revision ID: 0013
Revises: 0012
"""
from alembic import op

revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('accounts', schema=None) as batch_op:
        batch_op.create_index('ix_accounts_role', ['role'], unique=False)


def downgrade():
    with op.batch_alter_table('accounts', schema=None) as batch_op:
        batch_op.drop_index('ix_accounts_role')
