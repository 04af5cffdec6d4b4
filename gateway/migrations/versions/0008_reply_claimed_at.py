"""replies remember when a worker claimed them, so one stuck in sending is found

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-03 05:10:00
"""
from alembic import op
import sqlalchemy as sa
import campaigns.db


revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('replies', schema=None) as batch_op:
        batch_op.add_column(sa.Column('claimed_at', campaigns.db.UTCDateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('replies', schema=None) as batch_op:
        batch_op.drop_column('claimed_at')
