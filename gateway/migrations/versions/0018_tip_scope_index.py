"""the inbox counts read an index: (status, queue, priority, merged_into_id, received_at,
shared_with) replaces (status, queue)

Every operator's badge and every inbox page count the open tips the user sees; the scope tests
``queue`` and ``shared_with`` of each, which the old index did not hold, so SQLite read every
open tip's row (issue 11: 110–175 ms a count with a year of tips). The new index holds every
column those counts read and starts with ``status`` as the old one did. PostgreSQL keys no B-tree
on json: ``shared_with`` is an INCLUDE column there. See gateway/tips/scope_index.py.

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-04 19:45:00
"""
from alembic import op

from gateway.tips import scope_index


revision = '0018'
down_revision = '0017'
branch_labels = None
depends_on = None


def upgrade() -> None:
    scope_index.install(op.get_bind())
    op.drop_index('ix_tips_status_queue', table_name='tips')


def downgrade() -> None:
    op.create_index('ix_tips_status_queue', 'tips', ['status', 'queue'])
    scope_index.uninstall(op.get_bind())
