"""PostgreSQL: a partial index of the unacknowledged tips in the order they came

The dashboard's "waiting longest" tip (on the home page too) walked ix_tips_received_at from
the oldest tip on PostgreSQL, filtering out every closed one: 270 ms with a year of tips. SQLite
plans it from the scope index and gets nothing. See gateway/tips/scope_index.py.

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-05 03:00:00
"""
from alembic import op

from gateway.tips import scope_index


revision = '0020'
down_revision = '0019'
branch_labels = None
depends_on = None


def upgrade() -> None:
    scope_index.install_waiting(op.get_bind())


def downgrade() -> None:
    scope_index.uninstall_waiting(op.get_bind())
