"""The index behind the inbox search (issue 11): a folded substring match that need not read
every tip.

The search matches ``fold(query)`` anywhere in ``tips.body_folded`` (a LIKE '%…%', with ``%``
and ``_`` taken literally). A LIKE that starts with ``%`` can use no B-tree index, so:

- SQLite: an FTS5 table with the ``trigram`` tokenizer, an external-content index of
  ``tips.body_folded`` (``tip_search``) kept by triggers on ``tips``. It answers a LIKE whose
  pattern holds a run of at least 3 characters from the index. It ignores a LIKE with an ESCAPE
  clause, so the index is asked with ``%`` and ``_`` of the query turned into ``_`` (a superset)
  and the exact, escaped LIKE on ``tips`` keeps the result exact.
- PostgreSQL: the ``pg_trgm`` extension and a GIN index on ``tips.body_folded``; the planner
  uses it for the same LIKE by itself. Without the extension (not installable on that server)
  the search still works, unindexed.

This module holds the SQL (the migration and ``gateway.tips.models`` install it) and the
search condition. A later migration that rebuilds ``tips`` in SQLite's batch mode (copy, drop,
rename) drops the triggers with the old table: it must call :func:`install` and
:func:`rebuild` again.
"""

# ruff: noqa: S608  (every SQL string here is built from this module's constants, no input)
from __future__ import annotations

import logging
import re

from sqlalchemy import ColumnElement, Connection, column, func, select, table
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

log = logging.getLogger(__name__)

FTS_TABLE = "tip_search"
# The FTS5 table and the shadow tables SQLite keeps for it (never in the models).
FTS_TABLES = frozenset(
    {FTS_TABLE, *(f"{FTS_TABLE}_{s}" for s in ("data", "idx", "docsize", "config", "content"))}
)
TRGM_INDEX = "ix_tips_body_folded_trgm"

# A query with fewer characters between wildcards than a trigram gets no help from the index.
MIN_RUN = 3
# SQLite: a query found in at least COMMON_MATCHES of the newest PROBE_ROWS tips (0.5 %) is
# searched as before, newest first with the LIKE, which stops after a page (at most some 10,000
# tips read): collecting every match from the index and sorting them by time costs more (about
# 1.7 µs a match against 0.25 µs a tip read; a district's name is in a seventh of the tips).
PROBE_ROWS = 2000
COMMON_MATCHES = 10

_tip_search = table(FTS_TABLE, column("rowid"), column("body_folded"))

# columnsize=0: no per-tip size row (only ranking reads it), 146 -> 106 µs per committed
# insert of a tip with its index entry (23 µs without the index).
SQLITE = [
    f"""
CREATE VIRTUAL TABLE IF NOT EXISTS {FTS_TABLE} USING fts5(
    body_folded, content='tips', content_rowid='id', tokenize='trigram', columnsize=0)""",
    f"""
CREATE TRIGGER IF NOT EXISTS {FTS_TABLE}_insert AFTER INSERT ON tips BEGIN
    INSERT INTO {FTS_TABLE}(rowid, body_folded) VALUES (NEW.id, NEW.body_folded);
END""",
    f"""
CREATE TRIGGER IF NOT EXISTS {FTS_TABLE}_update AFTER UPDATE OF body_folded ON tips BEGIN
    INSERT INTO {FTS_TABLE}({FTS_TABLE}, rowid, body_folded)
    VALUES ('delete', OLD.id, OLD.body_folded);
    INSERT INTO {FTS_TABLE}(rowid, body_folded) VALUES (NEW.id, NEW.body_folded);
END""",
    f"""
CREATE TRIGGER IF NOT EXISTS {FTS_TABLE}_delete AFTER DELETE ON tips BEGIN
    INSERT INTO {FTS_TABLE}({FTS_TABLE}, rowid, body_folded)
    VALUES ('delete', OLD.id, OLD.body_folded);
END""",
]

SQLITE_DROP = [
    f"DROP TRIGGER IF EXISTS {FTS_TABLE}_insert",
    f"DROP TRIGGER IF EXISTS {FTS_TABLE}_update",
    f"DROP TRIGGER IF EXISTS {FTS_TABLE}_delete",
    f"DROP TABLE IF EXISTS {FTS_TABLE}",
]

SQLITE_REBUILD = f"INSERT INTO {FTS_TABLE}({FTS_TABLE}) VALUES ('rebuild')"

POSTGRESQL_EXTENSION = "CREATE EXTENSION IF NOT EXISTS pg_trgm"
POSTGRESQL_INDEX = (
    f"CREATE INDEX IF NOT EXISTS {TRGM_INDEX} ON tips USING gin (body_folded gin_trgm_ops)"
)
POSTGRESQL_DROP = [f"DROP INDEX IF EXISTS {TRGM_INDEX}"]


def install(conn: Connection) -> bool:
    """Create the index (and on SQLite its triggers) on the connection's database.

    Returns:
        False when PostgreSQL refused ``pg_trgm`` (logged): the search then works unindexed.
    """
    if conn.dialect.name == "sqlite":
        for sql in SQLITE:
            conn.exec_driver_sql(sql)
        return True
    if conn.dialect.name != "postgresql":
        return False
    try:
        with conn.begin_nested():  # a refused CREATE EXTENSION must not end the transaction
            conn.exec_driver_sql(POSTGRESQL_EXTENSION)
    except DBAPIError as exc:
        log.warning(
            "pg_trgm unavailable (%s): the inbox search works without an index",
            type(exc.orig).__name__,
        )
        return False
    conn.exec_driver_sql(POSTGRESQL_INDEX)
    return True


def rebuild(conn: Connection) -> None:
    """SQLite: index every existing tip again (the migration's backfill, and the repair)."""
    if conn.dialect.name == "sqlite":
        conn.exec_driver_sql(SQLITE_REBUILD)


def uninstall(conn: Connection) -> None:
    """Drop the index and its triggers (the extension stays: other things may use it)."""
    for sql in SQLITE_DROP if conn.dialect.name == "sqlite" else POSTGRESQL_DROP:
        conn.exec_driver_sql(sql)


def index_pattern(folded: str) -> str | None:
    """The LIKE pattern to ask the trigram index with, or None when it cannot help.

    ``%`` and ``_`` of the query become ``_`` (any one character): the index ignores a LIKE with
    an ESCAPE clause, so it finds a superset that the exact LIKE narrows.
    """
    if max(len(run) for run in re.split(r"[%_]", folded)) < MIN_RUN:
        return None
    return "%" + re.sub(r"[%_]", "_", folded) + "%"


def indexed_ids(session: Session, folded: str) -> ColumnElement[bool] | None:
    """SQLite: a condition on ``tips.id`` from the trigram index, or None when the index should
    not be used (no run of 3 characters, another database, or a query common among the newest
    tips)."""
    from gateway.tips.models import Tip

    pattern = index_pattern(folded)
    if pattern is None or session.get_bind().dialect.name != "sqlite":
        return None
    newest = select(Tip.body_folded).order_by(Tip.received_at.desc()).limit(PROBE_ROWS).subquery()
    common = select(func.count()).where(newest.c.body_folded.contains(folded, autoescape=True))
    if (session.scalar(common) or 0) >= COMMON_MATCHES:
        return None
    matching = select(_tip_search.c.rowid).where(_tip_search.c.body_folded.like(pattern))
    return Tip.id.in_(matching)
