"""tip counters kept by the database's triggers, for the dashboard's queue-by-state table and
its charts (issue 11)

tip_counts: one row per (queue, shared_with, status, priority, merged); tip_days: one per (local day, queue,
shared_with, district, priority) of the tips not merged into another. Statement-level triggers
with transition tables on PostgreSQL, row-level triggers on SQLite (see
gateway/tips/count_triggers.py); existing tips are counted once here.

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-05 02:10:00
"""
from alembic import op
import sqlalchemy as sa

from gateway.tips import count_triggers


revision = '0019'
down_revision = '0018'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('tip_counts',
    sa.Column('queue', sa.String(length=64), nullable=False),
    sa.Column('shared_with', sa.Text(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('priority', sa.String(length=10), nullable=False),
    sa.Column('merged', sa.Integer(), nullable=False),
    sa.Column('slot', sa.Integer(), server_default='0', nullable=False),
    sa.Column('n', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('queue', 'shared_with', 'status', 'priority', 'merged', 'slot', name=op.f('pk_tip_counts'))
    )
    op.create_table('tip_days',
    sa.Column('day', sa.String(length=10), nullable=False),
    sa.Column('queue', sa.String(length=64), nullable=False),
    sa.Column('shared_with', sa.Text(), nullable=False),
    sa.Column('district_id', sa.Integer(), nullable=False),
    sa.Column('priority', sa.String(length=10), nullable=False),
    sa.Column('slot', sa.Integer(), server_default='0', nullable=False),
    sa.Column('n', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('day', 'queue', 'shared_with', 'district_id', 'priority', 'slot', name=op.f('pk_tip_days'))
    )
    conn = op.get_bind()
    if conn.dialect.name == 'postgresql':
        # No tip may change between the count and the triggers' first run.
        conn.exec_driver_sql('LOCK TABLE tips IN SHARE MODE')
    count_triggers.install(conn)
    count_triggers.recount(conn)


def downgrade() -> None:
    count_triggers.uninstall(op.get_bind())
    op.drop_table('tip_days')
    op.drop_table('tip_counts')
