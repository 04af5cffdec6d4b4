"""each delivery keeps its contact's carrier and district at launch; the counters count them

The report's breakdown by carrier and by district is a snapshot taken at launch (issue 11):
``deliveries.carrier`` and ``deliveries.district_id`` are copied from the contact by the
materialise, here backfilled from today's contacts for existing deliveries (the best there is:
nothing recorded what they were at launch). The counters' key gains both columns (``''`` and
``0`` for NULL), so the counters are rebuilt with the new key and the triggers replaced
(campaigns/count_triggers.py); the (campaign, status, skip_reason) index gains carrier and
district so that SQLite counts a fresh materialise from the index alone. district_id is a plain id, not a foreign key: a snapshot must
not change when an area is deleted, and the materialise pays no check per row.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-04 16:20:00
"""
from alembic import op
import sqlalchemy as sa

from campaigns import count_triggers


revision = '0016'
down_revision = '0015'
branch_labels = None
depends_on = None


def _counts_table(snapshot: bool) -> None:
    """delivery_counts with the key of 0016 (``snapshot``) or of 0015."""
    key = ['campaign_id', 'status', 'skip_reason', 'error_code']
    extra: list[sa.schema.SchemaItem] = []
    if snapshot:
        key += ['carrier', 'district_id']
        extra = [
            sa.Column('carrier', sa.String(length=40), nullable=False),
            sa.Column('district_id', sa.Integer(), nullable=False),
        ]
    op.create_table('delivery_counts',
    sa.Column('campaign_id', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.Column('skip_reason', sa.String(length=20), nullable=False),
    sa.Column('error_code', sa.String(length=20), nullable=False),
    *extra,
    sa.Column('slot', sa.Integer(), server_default='0', nullable=False),
    sa.Column('n', sa.BigInteger(), nullable=False),
    sa.Column('segments', sa.BigInteger(), nullable=False),
    sa.ForeignKeyConstraint(['campaign_id'], ['campaigns.id'], name=op.f('fk_delivery_counts_campaign_id_campaigns'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint(*key, 'slot', name=op.f('pk_delivery_counts'))
    )


def upgrade() -> None:
    conn = op.get_bind()
    # ADD COLUMN locks deliveries (ACCESS EXCLUSIVE on PostgreSQL) until the commit: no delivery
    # changes between the recount and the new triggers' first run.
    op.add_column('deliveries', sa.Column('carrier', sa.String(length=40), nullable=True))
    op.add_column('deliveries', sa.Column('district_id', sa.Integer(), nullable=True))
    # The backfill below must not run the old triggers.
    count_triggers.uninstall(conn)
    # The counters are derived data: rebuilt below with the wider key (simpler than changing
    # a primary key in SQLite's batch mode).
    op.drop_table('delivery_counts')
    op.drop_index('ix_deliveries_campaign_status_skip', table_name='deliveries')
    conn.exec_driver_sql(
        'UPDATE deliveries SET carrier = contacts.carrier, district_id = contacts.district_id '
        'FROM contacts WHERE contacts.id = deliveries.contact_id'
    )
    # SQLite's count of a fresh materialise reads the whole key from this index.
    op.create_index(
        'ix_deliveries_campaign_count_key', 'deliveries',
        ['campaign_id', 'status', 'skip_reason', 'carrier', 'district_id'],
    )
    _counts_table(snapshot=True)
    count_triggers.install(conn, count_triggers.KEY_COLUMNS)
    count_triggers.recount(conn, key=count_triggers.KEY_COLUMNS)


def downgrade() -> None:
    conn = op.get_bind()
    count_triggers.uninstall(conn)
    op.drop_table('delivery_counts')
    op.drop_index('ix_deliveries_campaign_count_key', table_name='deliveries')
    with op.batch_alter_table('deliveries', schema=None) as batch_op:
        batch_op.drop_column('district_id')
        batch_op.drop_column('carrier')
    op.create_index(
        'ix_deliveries_campaign_status_skip', 'deliveries', ['campaign_id', 'status', 'skip_reason']
    )
    _counts_table(snapshot=False)
    count_triggers.install(conn, count_triggers.KEY_0015)
    count_triggers.recount(conn, key=count_triggers.KEY_0015)
