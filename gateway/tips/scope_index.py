"""The index behind the inbox's counts and filters (issue 11): the open tips an operator sees,
counted from an index instead of the tips.

Every operator's badge polls ``inbox_counts`` every 30 s, and each inbox page counts its queue
tabs: each reads every open tip the user may see, and the user's scope tests ``queue`` and
``shared_with`` (a JSON list) of each. With the old ``(status, queue)`` index SQLite fetched every
open tip's row for ``shared_with`` and ``priority``: with a year of tips (1,000,000, 82,000 of
them open) a count took 110–175 ms. This index holds every column those queries read, so SQLite
answers them from the index alone (20–30 ms), and the ``status`` prefix still serves what the
old index served.

PostgreSQL cannot key a B-tree on ``json``: there ``shared_with`` is an ``INCLUDE`` column, which
an index-only scan reads all the same. There the index measured neither faster nor slower than
``(status, queue)`` (the same pages 55–90 ms either way with a year of tips, after ``VACUUM``; the
overdue count alone went from 18 to 8 ms): it is kept so that both databases have one index.

PostgreSQL also gets :data:`WAITING`, a partial index of the unacknowledged tips in the order
they came, for the dashboard's "waiting longest" tip (``ORDER BY received_at LIMIT 1`` among the
new tips the user sees). Without it PostgreSQL walks ``ix_tips_received_at`` from the oldest
tip, filtering out every closed one: 270 ms of the home page's 295 with a year of tips
(1,000,000), 45 ms with it. SQLite (no statistics, as Loa never runs ``ANALYZE`` there) already
answers that from the scope index in 8 ms, and a full ``(status, received_at)`` index made its
inbox filters and home page twice as slow: it gets none.

The models do not describe these indexes (SQLAlchemy and Alembic have no per-dialect column list):
the migrations install them, ``gateway.tips.models`` installs it wherever the schema is built from
the models, and ``gateway/migrations/env.py`` leaves it out of ``loa db check``.
"""

from __future__ import annotations

from sqlalchemy import Connection

NAME = "ix_tips_status_scope"
KEY = "status, queue, priority, merged_into_id, received_at"


WAITING = "ix_tips_waiting"


def install_waiting(conn: Connection) -> None:
    """PostgreSQL: create :data:`WAITING` (nothing on another kind of database)."""
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql(
            f"CREATE INDEX IF NOT EXISTS {WAITING} ON tips (received_at, id) WHERE status = 'new'"
        )


def uninstall_waiting(conn: Connection) -> None:
    """Drop :data:`WAITING`."""
    conn.exec_driver_sql(f"DROP INDEX IF EXISTS {WAITING}")


def install(conn: Connection) -> None:
    """Create the index on the connection's database (nothing on another kind of database)."""
    if conn.dialect.name == "sqlite":
        conn.exec_driver_sql(f"CREATE INDEX IF NOT EXISTS {NAME} ON tips ({KEY}, shared_with)")
    elif conn.dialect.name == "postgresql":
        conn.exec_driver_sql(
            f"CREATE INDEX IF NOT EXISTS {NAME} ON tips ({KEY}) INCLUDE (shared_with)"
        )


def uninstall(conn: Connection) -> None:
    """Drop the index."""
    conn.exec_driver_sql(f"DROP INDEX IF EXISTS {NAME}")
