"""deliveries remember when they were claimed, so the reconciler can ask Twilio what it
created since (a 5xx or a timeout may come after the message was created)

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-03 07:45:00
"""
from alembic import op
import sqlalchemy as sa
import campaigns.db


revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('deliveries', schema=None) as batch_op:
        batch_op.add_column(sa.Column('claimed_at', campaigns.db.UTCDateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('deliveries', schema=None) as batch_op:
        batch_op.drop_column('claimed_at')
