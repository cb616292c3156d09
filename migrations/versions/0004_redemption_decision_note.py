"""A redemption keeps the coordinator's note apart from the advocate's.

Revision ID: 0004
Revises: 0003
"""
import sqlalchemy as sa
from alembic import op

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('redemptions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('decision_note', sa.Text(), server_default='', nullable=False))


def downgrade():
    with op.batch_alter_table('redemptions', schema=None) as batch_op:
        batch_op.drop_column('decision_note')
