"""the inbox search's index: FTS5 trigram on SQLite, pg_trgm GIN on PostgreSQL (issue 11)

SQLite: an external-content FTS5 table ``tip_search`` over ``tips.body_folded`` with the
trigram tokenizer, kept by triggers on ``tips``, filled here from the existing tips.
PostgreSQL: the ``pg_trgm`` extension and a GIN index on ``tips.body_folded``; when the server
refuses the extension, a warning and no index (the search works, unindexed).
See gateway/tips/search_index.py.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-04 16:30:00
"""
from alembic import op

from gateway.tips import search_index


revision = '0017'
down_revision = '0016'
branch_labels = None
depends_on = None


def upgrade() -> None:
    conn = op.get_bind()
    search_index.install(conn)
    search_index.rebuild(conn)


def downgrade() -> None:
    search_index.uninstall(op.get_bind())
