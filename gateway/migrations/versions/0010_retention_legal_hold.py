"""retention: a legal hold on tips, and when retention anonymised a tip or a reply

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-03 07:20:00
"""
from alembic import op
import sqlalchemy as sa
import campaigns.db


revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('tips', schema=None) as batch_op:
        batch_op.add_column(sa.Column('legal_hold', sa.Boolean(), server_default=sa.false(), nullable=False))
        batch_op.add_column(sa.Column('legal_hold_reason', sa.String(length=200), server_default='', nullable=False))
        batch_op.add_column(sa.Column('legal_hold_by_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('legal_hold_at', campaigns.db.UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column('anonymised_at', campaigns.db.UTCDateTime(), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_tips_legal_hold_by_id_users'), 'users', ['legal_hold_by_id'], ['id'])
    with op.batch_alter_table('replies', schema=None) as batch_op:
        batch_op.add_column(sa.Column('anonymised_at', campaigns.db.UTCDateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('replies', schema=None) as batch_op:
        batch_op.drop_column('anonymised_at')
    with op.batch_alter_table('tips', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_tips_legal_hold_by_id_users'), type_='foreignkey')
        batch_op.drop_column('anonymised_at')
        batch_op.drop_column('legal_hold_at')
        batch_op.drop_column('legal_hold_by_id')
        batch_op.drop_column('legal_hold_reason')
        batch_op.drop_column('legal_hold')
