"""Program invitations: whom the coordinator invited, when, and what became of it.

Revision ID: 0006
Revises: 0005
"""
import sqlalchemy as sa
from alembic import op

import models.types

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('invitations',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('advocate_id', sa.Integer(), nullable=True),
    sa.Column('email', sa.String(length=254), nullable=True),
    sa.Column('name', sa.String(length=120), server_default='', nullable=False),
    sa.Column('company_id', sa.Integer(), nullable=True),
    sa.Column('by_id', sa.Integer(), nullable=True),
    sa.Column('message_key', sa.String(length=200), server_default='', nullable=False),
    sa.Column('sent_at', models.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('reminded_at', models.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('opened_at', models.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('joined_at', models.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('declined_at', models.types.UTCDateTime(timezone=True), nullable=True),
    sa.CheckConstraint('joined_at IS NULL OR declined_at IS NULL', name=op.f('ck_invitations_one_answer')),
    sa.ForeignKeyConstraint(['advocate_id'], ['advocates.id'], name=op.f('fk_invitations_advocate_id_advocates'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['by_id'], ['accounts.id'], name=op.f('fk_invitations_by_id_accounts'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['company_id'], ['companies.id'], name=op.f('fk_invitations_company_id_companies'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_invitations'))
    )
    with op.batch_alter_table('invitations', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_invitations_advocate_id'), ['advocate_id'], unique=False)
        batch_op.create_index('ix_invitations_email', ['email'], unique=False)


def downgrade():
    with op.batch_alter_table('invitations', schema=None) as batch_op:
        batch_op.drop_index('ix_invitations_email')
        batch_op.drop_index(batch_op.f('ix_invitations_advocate_id'))
    op.drop_table('invitations')
