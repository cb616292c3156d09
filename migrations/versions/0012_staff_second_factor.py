"""Staff second factor: each staff account's authenticator app (its TOTP secret sealed, the last
time step used, the failures in a row and the lock) and its one-time recovery codes (hashed).

Revision ID: 0012
Revises: 0011
"""
import sqlalchemy as sa
from alembic import op

import models.types

revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('second_factors',
    sa.Column('account_id', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('sealed_secret', sa.String(length=255), nullable=False),
    sa.Column('recovery_salt', sa.String(length=32), nullable=False),
    sa.Column('enrolled_at', models.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('last_used_step', sa.Integer(), nullable=False),
    sa.Column('last_used_at', models.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('failures', sa.Integer(), nullable=False),
    sa.Column('locked_until', models.types.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['account_id'], ['accounts.id'], name=op.f('fk_second_factors_account_id_accounts'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('account_id', name=op.f('pk_second_factors'))
    )
    op.create_table('recovery_codes',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('code_hash', sa.String(length=64), nullable=False),
    sa.Column('used_at', models.types.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['account_id'], ['accounts.id'], name=op.f('fk_recovery_codes_account_id_accounts'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_recovery_codes'))
    )
    with op.batch_alter_table('recovery_codes', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_recovery_codes_account_id'), ['account_id'], unique=False)


def downgrade():
    with op.batch_alter_table('recovery_codes', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_recovery_codes_account_id'))
    op.drop_table('recovery_codes')
    op.drop_table('second_factors')
