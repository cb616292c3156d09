"""Running the program: internal notes on advocates, why and when an advocate's status changed,
tier suggestions from points earned, and perks with limited stock and a retirement date.

Revision ID: 0008
Revises: 0007
"""
import sqlalchemy as sa
from alembic import op

import models.types

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None

SUGGESTION_STATUSES = ('pending', 'approved', 'dismissed', 'superseded')


def upgrade():
    op.create_table('advocate_notes',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('advocate_id', sa.Integer(), nullable=False),
    sa.Column('author_id', sa.Integer(), nullable=True),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('created_at', models.types.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['advocate_id'], ['advocates.id'], name=op.f('fk_advocate_notes_advocate_id_advocates'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['author_id'], ['accounts.id'], name=op.f('fk_advocate_notes_author_id_accounts'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_advocate_notes'))
    )
    with op.batch_alter_table('advocate_notes', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_advocate_notes_advocate_id'), ['advocate_id'], unique=False)

    op.create_table('tier_suggestions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('advocate_id', sa.Integer(), nullable=False),
    sa.Column('from_tier_id', sa.Integer(), nullable=True),
    sa.Column('to_tier_id', sa.Integer(), nullable=False),
    sa.Column('points', sa.Integer(), nullable=False),
    sa.Column('status', sa.Enum(*SUGGESTION_STATUSES, name='tiersuggestionstatus', native_enum=False,
                                create_constraint=True, length=10), nullable=False),
    sa.Column('created_at', models.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('decided_at', models.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('decided_by_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['advocate_id'], ['advocates.id'], name=op.f('fk_tier_suggestions_advocate_id_advocates'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['from_tier_id'], ['tiers.id'], name=op.f('fk_tier_suggestions_from_tier_id_tiers'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['to_tier_id'], ['tiers.id'], name=op.f('fk_tier_suggestions_to_tier_id_tiers'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['decided_by_id'], ['accounts.id'], name=op.f('fk_tier_suggestions_decided_by_id_accounts'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_tier_suggestions'))
    )
    with op.batch_alter_table('tier_suggestions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_tier_suggestions_advocate_id'), ['advocate_id'], unique=False)

    with op.batch_alter_table('advocates', schema=None) as batch_op:
        batch_op.add_column(sa.Column('status_reason', sa.String(length=300), server_default='', nullable=False))
        batch_op.add_column(sa.Column('status_changed_at', models.types.UTCDateTime(timezone=True), nullable=True))

    with op.batch_alter_table('perks', schema=None) as batch_op:
        batch_op.add_column(sa.Column('stock', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('retired_at', models.types.UTCDateTime(timezone=True), nullable=True))


def downgrade():
    with op.batch_alter_table('perks', schema=None) as batch_op:
        batch_op.drop_column('retired_at')
        batch_op.drop_column('stock')
    with op.batch_alter_table('advocates', schema=None) as batch_op:
        batch_op.drop_column('status_changed_at')
        batch_op.drop_column('status_reason')
    op.drop_table('tier_suggestions')
    op.drop_table('advocate_notes')
