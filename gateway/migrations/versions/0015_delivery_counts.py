"""delivery counters kept by the database's triggers, for the live progress (issue 11)

One row per (campaign, status, skip_reason, error_code) with the number of deliveries and their
segments; statement-level triggers with transition tables on PostgreSQL, row-level triggers on
SQLite (see campaigns/count_triggers.py); existing deliveries are counted once here.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-04 13:10:00
"""
from alembic import op
import sqlalchemy as sa

from campaigns import count_triggers


revision = '0015'
down_revision = '0014'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('delivery_counts',
    sa.Column('campaign_id', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.Column('skip_reason', sa.String(length=20), nullable=False),
    sa.Column('error_code', sa.String(length=20), nullable=False),
    sa.Column('slot', sa.Integer(), server_default='0', nullable=False),
    sa.Column('n', sa.BigInteger(), nullable=False),
    sa.Column('segments', sa.BigInteger(), nullable=False),
    sa.ForeignKeyConstraint(['campaign_id'], ['campaigns.id'], name=op.f('fk_delivery_counts_campaign_id_campaigns'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('campaign_id', 'status', 'skip_reason', 'error_code', 'slot', name=op.f('pk_delivery_counts'))
    )
    conn = op.get_bind()
    if conn.dialect.name == 'postgresql':
        # No delivery may change between the count and the triggers' first run.
        conn.exec_driver_sql('LOCK TABLE deliveries IN SHARE MODE')
    # This revision's key (0016 widens it): its triggers must not name later columns.
    count_triggers.install(conn, count_triggers.KEY_0015)
    count_triggers.recount(conn, key=count_triggers.KEY_0015)


def downgrade() -> None:
    count_triggers.uninstall(op.get_bind())
    op.drop_table('delivery_counts')
