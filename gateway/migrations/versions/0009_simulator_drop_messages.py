"""the simulator keeps no outbox: its phone page reads deliveries, replies and tips

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-03 07:30:00
"""
from alembic import op
import sqlalchemy as sa
import campaigns.db


revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('simulator_messages', schema=None) as batch_op:
        batch_op.drop_index('ix_simulator_messages_phone_id')
        batch_op.drop_index(batch_op.f('ix_simulator_messages_delivery_id'))
    op.drop_table('simulator_messages')


def downgrade() -> None:
    op.create_table('simulator_messages',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('direction', sa.String(length=3), nullable=False),
    sa.Column('phone', sa.String(length=32), nullable=False),
    sa.Column('sender', sa.String(length=40), nullable=True),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('delivery_id', sa.Integer(), nullable=True),
    sa.Column('provider_message_id', sa.String(length=64), nullable=False),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.Column('error_code', sa.String(length=20), nullable=True),
    sa.Column('created_at', campaigns.db.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_simulator_messages')),
    sa.UniqueConstraint('provider_message_id', name=op.f('uq_simulator_messages_provider_message_id'))
    )
    with op.batch_alter_table('simulator_messages', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_simulator_messages_delivery_id'), ['delivery_id'], unique=False)
        batch_op.create_index('ix_simulator_messages_phone_id', ['phone', 'id'], unique=False)
