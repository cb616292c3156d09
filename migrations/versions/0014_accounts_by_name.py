"""Accounts by name: the pool and the accounts list show a page of people sorted by name, and
without an index in that order every view sorted every account, 10 000 advocates included.

Revision ID: 0014
Revises: 0013
"""
import sqlalchemy as sa
from alembic import op

revision = '0014'
down_revision = '0013'
branch_labels = None
depends_on = None


def upgrade():
    op.create_index('ix_accounts_name_order', 'accounts', [sa.text('lower(name)'), 'id'], unique=False)


def downgrade():
    op.drop_index('ix_accounts_name_order', table_name='accounts')
