"""SMPP: submitted parts and inbound short messages

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-02 17:45:00
"""
from alembic import op
import sqlalchemy as sa
import campaigns.db


revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('campaigns', schema=None) as batch_op:
        batch_op.alter_column('provider', existing_type=sa.String(length=20), type_=sa.String(length=60), existing_nullable=False)
    op.create_table('smpp_parts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('message_id', sa.String(length=65), nullable=False),
    sa.Column('delivery_id', sa.Integer(), nullable=True),
    sa.Column('first_message_id', sa.String(length=65), nullable=False),
    sa.Column('seq', sa.Integer(), nullable=False),
    sa.Column('total', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.Column('error_code', sa.String(length=20), nullable=True),
    sa.Column('created_at', campaigns.db.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_smpp_parts'))
    )
    with op.batch_alter_table('smpp_parts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_smpp_parts_delivery_id'), ['delivery_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_smpp_parts_first_message_id'), ['first_message_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_smpp_parts_message_id'), ['message_id'], unique=False)

    op.create_table('smpp_inbound',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('source', sa.String(length=24), nullable=False),
    sa.Column('destination', sa.String(length=24), nullable=False),
    sa.Column('ref', sa.Integer(), nullable=True),
    sa.Column('total', sa.Integer(), nullable=False),
    sa.Column('seq', sa.Integer(), nullable=False),
    sa.Column('data_coding', sa.Integer(), nullable=False),
    sa.Column('payload_hex', sa.Text(), nullable=False),
    sa.Column('digest', sa.String(length=64), nullable=False),
    sa.Column('received_at', campaigns.db.UTCDateTime(), nullable=False),
    sa.Column('stored_as', sa.String(length=64), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_smpp_inbound'))
    )
    with op.batch_alter_table('smpp_inbound', schema=None) as batch_op:
        batch_op.create_index('ix_smpp_inbound_digest', ['digest', 'received_at'], unique=False)
        batch_op.create_index('ix_smpp_inbound_open', ['source', 'ref', 'total', 'stored_as'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('smpp_inbound', schema=None) as batch_op:
        batch_op.drop_index('ix_smpp_inbound_open')
        batch_op.drop_index('ix_smpp_inbound_digest')
    op.drop_table('smpp_inbound')
    with op.batch_alter_table('smpp_parts', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_smpp_parts_message_id'))
        batch_op.drop_index(batch_op.f('ix_smpp_parts_first_message_id'))
        batch_op.drop_index(batch_op.f('ix_smpp_parts_delivery_id'))
    op.drop_table('smpp_parts')
    with op.batch_alter_table('campaigns', schema=None) as batch_op:
        batch_op.alter_column('provider', existing_type=sa.String(length=60), type_=sa.String(length=20), existing_nullable=False)
