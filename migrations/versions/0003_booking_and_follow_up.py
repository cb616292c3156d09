"""Booking and follow-up: join details, the calendar feed's version, the .ics sequence, when an
engagement was introduced, reminded and asked for feedback, written answers sent back with a
note, and feedback that says whether the call took place.

Revision ID: 0003
Revises: 0002
"""
import sqlalchemy as sa
from alembic import op

import models.types

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('advocates', schema=None) as batch_op:
        batch_op.add_column(sa.Column('join_url', sa.String(length=500), server_default='', nullable=False))
        batch_op.add_column(sa.Column('join_phone', sa.String(length=40), server_default='', nullable=False))
        batch_op.add_column(sa.Column('calendar_version', sa.Integer(), server_default='1', nullable=False))

    with op.batch_alter_table('engagements', schema=None) as batch_op:
        batch_op.add_column(sa.Column('join_url', sa.String(length=500), server_default='', nullable=False))
        batch_op.add_column(sa.Column('join_phone', sa.String(length=40), server_default='', nullable=False))
        batch_op.add_column(sa.Column('ics_sequence', sa.Integer(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('introduced_at', models.types.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('reminded_at', models.types.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('feedback_requested_at', models.types.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('answers_returned_note', sa.Text(), server_default='', nullable=False))

    with op.batch_alter_table('feedback', schema=None) as batch_op:
        batch_op.add_column(sa.Column('call_happened', sa.Boolean(), server_default=sa.true(), nullable=False))
        batch_op.alter_column('rating', existing_type=sa.INTEGER(), nullable=True)
        batch_op.drop_constraint('rating_range', type_='check')
        batch_op.create_check_constraint('rating_range', 'rating IS NULL OR (rating >= 1 AND rating <= 5)')
        batch_op.create_check_constraint('rated_only_if_held', 'call_happened OR rating IS NULL')


def downgrade():
    with op.batch_alter_table('feedback', schema=None) as batch_op:
        batch_op.drop_constraint('rated_only_if_held', type_='check')
        batch_op.drop_constraint('rating_range', type_='check')
        batch_op.create_check_constraint('rating_range', 'rating >= 1 AND rating <= 5')
        batch_op.alter_column('rating', existing_type=sa.INTEGER(), nullable=False)
        batch_op.drop_column('call_happened')

    with op.batch_alter_table('engagements', schema=None) as batch_op:
        batch_op.drop_column('answers_returned_note')
        batch_op.drop_column('feedback_requested_at')
        batch_op.drop_column('reminded_at')
        batch_op.drop_column('introduced_at')
        batch_op.drop_column('ics_sequence')
        batch_op.drop_column('join_phone')
        batch_op.drop_column('join_url')

    with op.batch_alter_table('advocates', schema=None) as batch_op:
        batch_op.drop_column('calendar_version')
        batch_op.drop_column('join_phone')
        batch_op.drop_column('join_url')
