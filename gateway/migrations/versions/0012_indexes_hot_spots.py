"""indexes for the hot spots that the benchmarks found (issue 11)

deliveries by phone (a tip finds the campaign that reached its sender), by contact, by
(status, lease_until) for stale leases, by (campaign, status, skip_reason) and (campaign,
sent_at) for the progress counts and rate; contacts by ward; tips by (status, queue) for the
inbox's open counts.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-03 07:40:00
"""
from alembic import op


revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index('ix_deliveries_phone', 'deliveries', ['phone'])
    op.create_index(
        'ix_deliveries_campaign_status_skip', 'deliveries', ['campaign_id', 'status', 'skip_reason']
    )
    op.create_index('ix_deliveries_status_lease', 'deliveries', ['status', 'lease_until'])
    op.create_index('ix_deliveries_contact_id', 'deliveries', ['contact_id'])
    op.create_index(op.f('ix_contacts_ward_id'), 'contacts', ['ward_id'])
    op.create_index('ix_tips_status_queue', 'tips', ['status', 'queue'])
    op.create_index('ix_deliveries_campaign_sent', 'deliveries', ['campaign_id', 'sent_at'])


def downgrade() -> None:
    op.drop_index('ix_deliveries_campaign_sent', table_name='deliveries')
    op.drop_index('ix_tips_status_queue', table_name='tips')
    op.drop_index(op.f('ix_contacts_ward_id'), table_name='contacts')
    op.drop_index('ix_deliveries_contact_id', table_name='deliveries')
    op.drop_index('ix_deliveries_status_lease', table_name='deliveries')
    op.drop_index('ix_deliveries_campaign_status_skip', table_name='deliveries')
    op.drop_index('ix_deliveries_phone', table_name='deliveries')
