"""The triggers that keep ``delivery_counts`` equal to a GROUP BY of ``deliveries`` (issue 11).

The database keeps the counters itself, so they stay exact whatever statement changes a delivery
(materialise, claim, record, receipts, reconciler, cancel, retention, a hand-typed UPDATE).
One counter row per (campaign, status, skip_reason, error_code) holds how many deliveries have
that key and the sum of their segments; NULL skip reasons and error codes are stored as ``''``
so that the key is unique (NULLs never conflict).

- PostgreSQL: statement-level ``AFTER INSERT/UPDATE/DELETE`` triggers with transition tables,
  each one grouped upsert per statement: a 1.2-million-row materialise costs one GROUP BY, a
  claim of 250 rows a GROUP BY of 500 rows. Each database connection adds to counter rows of its
  own (``slot`` = its backend pid): two transactions never update the same counter row, so
  workers, webhooks and the reconciler never wait for each other's counters, and no order of
  statements can deadlock on them (a chunk's record moves rows to several statuses in several
  statements; with shared rows, two workers recording at once could each hold the other's next
  row). Readers sum the slots; there are at most (keys × connections that changed the campaign).
- SQLite: one writer at a time; every row is in slot 0.
  Row-level triggers; the UPDATE one only fires when a counted column changed.

This module holds SQL only (the migration and ``campaigns.models`` install it); reading and
recounting are in :mod:`campaigns.reports`.
"""

# ruff: noqa: S608  (every SQL string here is built from this module's constants, no input)
from __future__ import annotations

from sqlalchemy import Connection, text

KEY = "campaign_id, status, skip_reason, error_code"
_UPSERT = (
    f"ON CONFLICT ({KEY}, slot) DO UPDATE SET n = delivery_counts.n + excluded.n, "
    "segments = delivery_counts.segments + excluded.segments"
)

# --- PostgreSQL ------------------------------------------------------------------------------

_PG_KEY_OF = "campaign_id, status, coalesce(skip_reason, '') AS skip_reason, coalesce(error_code, '') AS error_code"

POSTGRESQL = [
    f"""
CREATE OR REPLACE FUNCTION delivery_counts_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO delivery_counts ({KEY}, slot, n, segments)
    SELECT {KEY}, pg_backend_pid(), count(*), coalesce(sum(segments), 0)
    FROM (SELECT {_PG_KEY_OF}, segments FROM new_rows) AS r
    GROUP BY {KEY}
    {_UPSERT};
    RETURN NULL;
END $$""",
    f"""
CREATE OR REPLACE FUNCTION delivery_counts_updated() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO delivery_counts ({KEY}, slot, n, segments)
    SELECT {KEY}, pg_backend_pid(), sum(dn), sum(ds)
    FROM (
        SELECT {_PG_KEY_OF}, 1 AS dn, segments AS ds FROM new_rows
        UNION ALL
        SELECT {_PG_KEY_OF}, -1, -segments FROM old_rows
    ) AS r
    GROUP BY {KEY} HAVING sum(dn) <> 0 OR sum(ds) <> 0
    {_UPSERT};
    RETURN NULL;
END $$""",
    f"""
CREATE OR REPLACE FUNCTION delivery_counts_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    -- Subtracted in this connection's own slot (a negative count there): never another's row.
    -- A campaign's own deletion (ON DELETE CASCADE) has removed its counters already.
    INSERT INTO delivery_counts ({KEY}, slot, n, segments)
    SELECT {KEY}, pg_backend_pid(), -count(*), -coalesce(sum(segments), 0)
    FROM (SELECT {_PG_KEY_OF}, segments FROM old_rows) AS r
    WHERE EXISTS (SELECT 1 FROM campaigns WHERE campaigns.id = r.campaign_id)
    GROUP BY {KEY}
    {_UPSERT};
    RETURN NULL;
END $$""",
    "DROP TRIGGER IF EXISTS delivery_counts_insert ON deliveries",  # no OR REPLACE before 14
    """
CREATE TRIGGER delivery_counts_insert AFTER INSERT ON deliveries
REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION delivery_counts_inserted()""",
    "DROP TRIGGER IF EXISTS delivery_counts_update ON deliveries",  # no OR REPLACE before 14
    """
CREATE TRIGGER delivery_counts_update AFTER UPDATE ON deliveries
REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
FOR EACH STATEMENT EXECUTE FUNCTION delivery_counts_updated()""",
    "DROP TRIGGER IF EXISTS delivery_counts_delete ON deliveries",  # no OR REPLACE before 14
    """
CREATE TRIGGER delivery_counts_delete AFTER DELETE ON deliveries
REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION delivery_counts_deleted()""",
]

POSTGRESQL_DROP = [
    "DROP TRIGGER IF EXISTS delivery_counts_insert ON deliveries",
    "DROP TRIGGER IF EXISTS delivery_counts_update ON deliveries",
    "DROP TRIGGER IF EXISTS delivery_counts_delete ON deliveries",
    "DROP FUNCTION IF EXISTS delivery_counts_inserted()",
    "DROP FUNCTION IF EXISTS delivery_counts_updated()",
    "DROP FUNCTION IF EXISTS delivery_counts_deleted()",
]

# --- SQLite ----------------------------------------------------------------------------------


def _sqlite_key(row: str) -> str:
    return (
        f"{row}.campaign_id, {row}.status, coalesce({row}.skip_reason, ''), "
        f"coalesce({row}.error_code, '')"
    )


def _sqlite_match(row: str) -> str:
    return (
        f"campaign_id = {row}.campaign_id AND status = {row}.status "
        f"AND skip_reason = coalesce({row}.skip_reason, '') "
        f"AND error_code = coalesce({row}.error_code, '')"
    )


_SQLITE_ADD = (
    f"INSERT INTO delivery_counts ({KEY}, n, segments) "
    f"VALUES ({_sqlite_key('NEW')}, 1, NEW.segments) {_UPSERT};"
)
_SQLITE_SUBTRACT = (
    "UPDATE delivery_counts SET n = n - 1, segments = segments - OLD.segments "
    f"WHERE {_sqlite_match('OLD')} AND slot = 0;"
)
_CHANGED = " OR ".join(
    f"OLD.{c} IS NOT NEW.{c}"
    for c in ("campaign_id", "status", "skip_reason", "error_code", "segments")
)

# A campaign whose counters hold this status is being materialised: its inserts are counted at
# the end by :func:`count_materialised` (one pass over an index) instead of row by row.
MATERIALISING = "~materialising"

SQLITE = [
    f"""
CREATE TRIGGER IF NOT EXISTS delivery_counts_insert AFTER INSERT ON deliveries
WHEN NOT EXISTS (SELECT 1 FROM delivery_counts
                 WHERE campaign_id = NEW.campaign_id AND status = '{MATERIALISING}')
BEGIN {_SQLITE_ADD} END""",
    f"""
CREATE TRIGGER IF NOT EXISTS delivery_counts_update AFTER UPDATE ON deliveries
WHEN {_CHANGED}
BEGIN {_SQLITE_SUBTRACT} {_SQLITE_ADD} END""",
    f"""
CREATE TRIGGER IF NOT EXISTS delivery_counts_delete AFTER DELETE ON deliveries
BEGIN {_SQLITE_SUBTRACT} END""",
]

SQLITE_DROP = [
    "DROP TRIGGER IF EXISTS delivery_counts_insert",
    "DROP TRIGGER IF EXISTS delivery_counts_update",
    "DROP TRIGGER IF EXISTS delivery_counts_delete",
]

# The counters of one campaign (or of all, without the WHERE) recounted from the ledger.
RECOUNT = (
    f"INSERT INTO delivery_counts ({KEY}, n, segments) "
    "SELECT campaign_id, status, coalesce(skip_reason, ''), coalesce(error_code, ''), "
    "count(*), coalesce(sum(segments), 0) FROM deliveries {where} "
    "GROUP BY campaign_id, status, coalesce(skip_reason, ''), coalesce(error_code, '')"
)


def install(conn: Connection) -> None:
    """Create (or replace) the triggers on the connection's database."""
    for sql in POSTGRESQL if conn.dialect.name == "postgresql" else SQLITE:
        conn.exec_driver_sql(sql)


def uninstall(conn: Connection) -> None:
    """Drop the triggers (and PostgreSQL's trigger functions)."""
    for sql in POSTGRESQL_DROP if conn.dialect.name == "postgresql" else SQLITE_DROP:
        conn.exec_driver_sql(sql)


# Every connection's rows moved into slot 0 (which on PostgreSQL only this fold and a recount
# write). A row another transaction holds is skipped, so the fold never waits for a worker and
# cannot deadlock with one; that row is folded on a later pass.
_FOLD = f"""
WITH gone AS (
    DELETE FROM delivery_counts WHERE ctid IN (
        SELECT ctid FROM delivery_counts WHERE slot <> 0 FOR UPDATE SKIP LOCKED
    )
    RETURNING {KEY}, n, segments
)
INSERT INTO delivery_counts ({KEY}, slot, n, segments)
SELECT {KEY}, 0, sum(n), sum(segments) FROM gone GROUP BY {KEY} ORDER BY {KEY}
{_UPSERT}"""
# Any constant that no other advisory lock of Loa's uses: one fold at a time.
_FOLD_LOCK = 0x10A_C0DE


def fold(conn: Connection) -> int:
    """PostgreSQL: fold the counter rows of every connection into one row per key; returns
    how many folded rows it wrote (0 on SQLite, or when another fold runs). The caller commits.

    Each connection adds to rows of its own (``slot``), and connections come and go (pool
    recycling, worker restarts), so without a fold a campaign's rows would grow with every
    connection that ever touched it, and every read would sum them all."""
    if conn.dialect.name != "postgresql":
        return 0
    if not conn.scalar(text("SELECT pg_try_advisory_xact_lock(:key)"), {"key": _FOLD_LOCK}):
        return 0
    folded = conn.execute(text(_FOLD)).rowcount
    conn.execute(text("DELETE FROM delivery_counts WHERE slot = 0 AND n = 0 AND segments = 0"))
    return int(folded or 0)


def recount(conn: Connection, campaign_id: int | None = None) -> None:
    """Replace the counters of one campaign (every campaign when None) by a fresh GROUP BY.

    Run it where no other transaction changes that campaign's deliveries meanwhile (the
    triggers keep the counters exact; this is the repair and the migration's backfill).
    """
    if campaign_id is None:
        conn.execute(text("DELETE FROM delivery_counts"))
        conn.execute(text(RECOUNT.format(where="")))
        return
    params = {"campaign": int(campaign_id)}
    conn.execute(text("DELETE FROM delivery_counts WHERE campaign_id = :campaign"), params)
    conn.execute(text(RECOUNT.format(where="WHERE campaign_id = :campaign")), params)


def defer_inserts(conn: Connection, campaign_id: int) -> None:
    """SQLite: stop counting a campaign's inserted deliveries row by row until
    :func:`count_materialised` in the same transaction (a row trigger on a 1.2-million-row
    INSERT…SELECT cost about a fifth of the launch). PostgreSQL counts a whole statement at
    once already: nothing to do there."""
    if conn.dialect.name == "sqlite":
        conn.execute(
            text(
                f"INSERT INTO delivery_counts ({KEY}, n, segments) "
                "VALUES (:campaign, :status, '', '', 0, 0)"
            ),
            {"campaign": int(campaign_id), "status": MATERIALISING},
        )


def count_materialised(conn: Connection, campaign_id: int, size: int, segments: int) -> None:
    """SQLite, after :func:`defer_inserts`: replace the campaign's counters by a count of its
    ``size`` deliveries, each with ``segments`` segments and no error code, as a fresh
    materialise inserts them: the skipped ones are counted from the (campaign, status,
    skip_reason) index, the pending ones are the rest (no pass over the pending rows)."""
    if conn.dialect.name != "sqlite":
        return
    params = {"campaign": int(campaign_id), "segments": int(segments)}
    conn.execute(text("DELETE FROM delivery_counts WHERE campaign_id = :campaign"), params)
    conn.execute(
        text(
            f"INSERT INTO delivery_counts ({KEY}, n, segments) "
            "SELECT campaign_id, status, coalesce(skip_reason, ''), '', count(*), "
            "count(*) * :segments FROM deliveries "
            "WHERE campaign_id = :campaign AND status > 'pending' OR "
            "campaign_id = :campaign AND status < 'pending' "
            "GROUP BY campaign_id, status, skip_reason"
        ),
        params,
    )
    others = conn.scalar(
        text("SELECT coalesce(sum(n), 0) FROM delivery_counts WHERE campaign_id = :campaign"),
        params,
    )
    pending = int(size) - int(others or 0)
    if pending:
        conn.execute(
            text(
                f"INSERT INTO delivery_counts ({KEY}, n, segments) "
                "VALUES (:campaign, 'pending', '', '', :n, :n * :segments)"
            ),
            {**params, "n": pending},
        )
