"""The triggers that keep ``delivery_counts`` equal to a GROUP BY of ``deliveries`` (issue 11).

The database keeps the counters itself, so they stay exact whatever statement changes a delivery
(materialise, claim, record, receipts, reconciler, cancel, retention, a hand-typed UPDATE).
One counter row per (campaign, status, skip_reason, error_code, carrier, district_id) holds how
many deliveries have that key and the sum of their segments; NULL skip reasons, error codes and
carriers are stored as ``''`` and a NULL district as ``0`` so that the key is unique (NULLs never
conflict, and PostgreSQL allows none in a primary key). The carrier and district are the
delivery's snapshot taken at launch (``deliveries.carrier``/``district_id``), so the breakdowns
read from here never change when a contact is edited or deleted later.

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

# The key's columns after (campaign_id, status), each with the SQL value that stands for NULL.
Key = tuple[tuple[str, str], ...]
# The key as migration 0015 created it (that migration builds its triggers from it).
KEY_0015: Key = (("skip_reason", "''"), ("error_code", "''"))
# Today's key: plus the carrier and district snapshot taken at launch (migration 0016).
KEY_COLUMNS: Key = (*KEY_0015, ("carrier", "''"), ("district_id", "0"))


def _names(key: Key) -> str:
    return ", ".join(["campaign_id", "status", *(c for c, _ in key)])


def _coalesced(key: Key, row: str = "", alias: bool = False) -> str:
    """The key of a delivery row (``row.`` prefixed when given) with NULLs replaced."""
    prefix = f"{row}." if row else ""
    parts = [f"{prefix}campaign_id", f"{prefix}status"]
    for c, none in key:
        parts.append(f"coalesce({prefix}{c}, {none})" + (f" AS {c}" if alias else ""))
    return ", ".join(parts)


def _upsert(key: Key) -> str:
    return (
        f"ON CONFLICT ({_names(key)}, slot) DO UPDATE SET n = delivery_counts.n + excluded.n, "
        "segments = delivery_counts.segments + excluded.segments"
    )


# --- PostgreSQL ------------------------------------------------------------------------------


def postgresql(key: Key = KEY_COLUMNS) -> list[str]:
    """The trigger functions and triggers of PostgreSQL for ``key``."""
    names, key_of, upsert = _names(key), _coalesced(key, alias=True), _upsert(key)
    return [
        f"""
CREATE OR REPLACE FUNCTION delivery_counts_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO delivery_counts ({names}, slot, n, segments)
    SELECT {names}, pg_backend_pid(), count(*), coalesce(sum(segments), 0)
    FROM (SELECT {key_of}, segments FROM new_rows) AS r
    GROUP BY {names}
    {upsert};
    RETURN NULL;
END $$""",
        f"""
CREATE OR REPLACE FUNCTION delivery_counts_updated() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO delivery_counts ({names}, slot, n, segments)
    SELECT {names}, pg_backend_pid(), sum(dn), sum(ds)
    FROM (
        SELECT {key_of}, 1 AS dn, segments AS ds FROM new_rows
        UNION ALL
        SELECT {key_of}, -1, -segments FROM old_rows
    ) AS r
    GROUP BY {names} HAVING sum(dn) <> 0 OR sum(ds) <> 0
    {upsert};
    RETURN NULL;
END $$""",
        f"""
CREATE OR REPLACE FUNCTION delivery_counts_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    -- Subtracted in this connection's own slot (a negative count there): never another's row.
    -- A campaign's own deletion (ON DELETE CASCADE) has removed its counters already.
    INSERT INTO delivery_counts ({names}, slot, n, segments)
    SELECT {names}, pg_backend_pid(), -count(*), -coalesce(sum(segments), 0)
    FROM (SELECT {key_of}, segments FROM old_rows) AS r
    WHERE EXISTS (SELECT 1 FROM campaigns WHERE campaigns.id = r.campaign_id)
    GROUP BY {names}
    {upsert};
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

# A campaign whose counters hold this status is being materialised: its inserts are counted at
# the end by :func:`count_materialised` (one grouped pass) instead of row by row.
MATERIALISING = "~materialising"


def sqlite(key: Key = KEY_COLUMNS) -> list[str]:
    """The row-level triggers of SQLite for ``key``."""
    names = _names(key)
    add = (
        f"INSERT INTO delivery_counts ({names}, n, segments) "
        f"VALUES ({_coalesced(key, 'NEW')}, 1, NEW.segments) {_upsert(key)};"
    )
    match = " AND ".join(
        ["campaign_id = OLD.campaign_id", "status = OLD.status"]
        + [f"{c} = coalesce(OLD.{c}, {none})" for c, none in key]
    )
    subtract = (
        "UPDATE delivery_counts SET n = n - 1, segments = segments - OLD.segments "
        f"WHERE {match} AND slot = 0;"
    )
    changed = " OR ".join(
        f"OLD.{c} IS NOT NEW.{c}"
        for c in ("campaign_id", "status", *(c for c, _ in key), "segments")
    )
    return [
        f"""
CREATE TRIGGER IF NOT EXISTS delivery_counts_insert AFTER INSERT ON deliveries
WHEN NOT EXISTS (SELECT 1 FROM delivery_counts
                 WHERE campaign_id = NEW.campaign_id AND status = '{MATERIALISING}')
BEGIN {add} END""",
        f"""
CREATE TRIGGER IF NOT EXISTS delivery_counts_update AFTER UPDATE ON deliveries
WHEN {changed}
BEGIN {subtract} {add} END""",
        f"""
CREATE TRIGGER IF NOT EXISTS delivery_counts_delete AFTER DELETE ON deliveries
BEGIN {subtract} END""",
    ]


SQLITE_DROP = [
    "DROP TRIGGER IF EXISTS delivery_counts_insert",
    "DROP TRIGGER IF EXISTS delivery_counts_update",
    "DROP TRIGGER IF EXISTS delivery_counts_delete",
]


def _recount_sql(key: Key, where: str) -> str:
    """The counters of the deliveries matching ``where`` recounted from the ledger."""
    grouped = _coalesced(key)
    return (
        f"INSERT INTO delivery_counts ({_names(key)}, n, segments) "
        f"SELECT {grouped}, count(*), coalesce(sum(segments), 0) FROM deliveries {where} "
        f"GROUP BY {grouped}"
    )


def install(conn: Connection, key: Key = KEY_COLUMNS) -> None:
    """Create (or replace) the triggers for ``key`` on the connection's database."""
    postgres = conn.dialect.name == "postgresql"
    for sql in postgresql(key) if postgres else sqlite(key):
        conn.exec_driver_sql(sql)


def uninstall(conn: Connection) -> None:
    """Drop the triggers (and PostgreSQL's trigger functions)."""
    for sql in POSTGRESQL_DROP if conn.dialect.name == "postgresql" else SQLITE_DROP:
        conn.exec_driver_sql(sql)


# Every connection's rows moved into slot 0 (which on PostgreSQL only this fold and a recount
# write). A row another transaction holds is skipped, so the fold never waits for a worker and
# cannot deadlock with one; that row is folded on a later pass.
_FOLD = """
WITH gone AS (
    DELETE FROM {table} WHERE ctid IN (
        SELECT ctid FROM {table} WHERE slot <> 0 FOR UPDATE SKIP LOCKED
    )
    RETURNING {key}, {values}
)
INSERT INTO {table} ({key}, slot, {values})
SELECT {key}, 0, {sums} FROM gone GROUP BY {key} ORDER BY {key}
ON CONFLICT ({key}, slot) DO UPDATE SET {added}"""
# Any constant that no other advisory lock of Loa's uses: one fold of the deliveries at a time.
_FOLD_LOCK = 0x10A_C0DE


def fold_slots(conn: Connection, table: str, key: str, values: tuple[str, ...], lock: int) -> int:
    """PostgreSQL: fold the rows every connection added to the counter ``table`` (its key
    columns ``key``, comma-separated, then ``slot``; counted columns ``values``) into slot 0,
    one row per key, and drop the rows that count nothing. Returns how many folded rows it
    wrote: 0 on SQLite, or when another fold holding the advisory lock ``lock`` runs. The
    caller commits. Shared by the delivery counters and the tip counters
    (``gateway.tips.count_triggers``)."""
    if conn.dialect.name != "postgresql":
        return 0
    if not conn.scalar(text("SELECT pg_try_advisory_xact_lock(:key)"), {"key": lock}):
        return 0
    sql = _FOLD.format(
        table=table,
        key=key,
        values=", ".join(values),
        sums=", ".join(f"sum({v})" for v in values),
        added=", ".join(f"{v} = {table}.{v} + excluded.{v}" for v in values),
    )
    folded = conn.execute(text(sql)).rowcount
    nothing = " AND ".join(f"{v} = 0" for v in values)
    conn.execute(text(f"DELETE FROM {table} WHERE slot = 0 AND {nothing}"))
    return int(folded or 0)


def fold(conn: Connection) -> int:
    """PostgreSQL: fold the delivery counters of every connection into one row per key (see
    :func:`fold_slots`); 0 on SQLite, or when another fold runs. The caller commits.

    Each connection adds to rows of its own (``slot``), and connections come and go (pool
    recycling, worker restarts), so without a fold a campaign's rows would grow with every
    connection that ever touched it, and every read would sum them all."""
    return fold_slots(conn, "delivery_counts", _names(KEY_COLUMNS), ("n", "segments"), _FOLD_LOCK)


def recount(conn: Connection, campaign_id: int | None = None, key: Key = KEY_COLUMNS) -> None:
    """Replace the counters of one campaign (every campaign when None) by a fresh GROUP BY.

    Run it where no other transaction changes that campaign's deliveries meanwhile (the
    triggers keep the counters exact; this is the repair and the migrations' backfill).
    """
    if campaign_id is None:
        conn.execute(text("DELETE FROM delivery_counts"))
        conn.execute(text(_recount_sql(key, "")))
        return
    params = {"campaign": int(campaign_id)}
    conn.execute(text("DELETE FROM delivery_counts WHERE campaign_id = :campaign"), params)
    conn.execute(text(_recount_sql(key, "WHERE campaign_id = :campaign")), params)


def defer_inserts(conn: Connection, campaign_id: int) -> None:
    """SQLite: stop counting a campaign's inserted deliveries row by row until
    :func:`count_materialised` in the same transaction (a row trigger on a 1.2-million-row
    INSERT…SELECT cost about a fifth of the launch). PostgreSQL counts a whole statement at
    once already: nothing to do there."""
    if conn.dialect.name == "sqlite":
        sentinels = ", ".join(none for _, none in KEY_COLUMNS)
        conn.execute(
            text(
                f"INSERT INTO delivery_counts ({_names(KEY_COLUMNS)}, n, segments) "
                f"VALUES (:campaign, :status, {sentinels}, 0, 0)"
            ),
            {"campaign": int(campaign_id), "status": MATERIALISING},
        )


def count_materialised(conn: Connection, campaign_id: int, segments: int) -> None:
    """SQLite, after :func:`defer_inserts`: replace the campaign's counters (and the marker)
    by a count of its deliveries, each with ``segments`` segments and no error code, as a fresh
    materialise inserts them. The rest of the key (status, skip reason, carrier, district) is
    read from the ``ix_deliveries_campaign_count_key`` index alone, in its order (a GROUP BY of
    the rows cost about 15 % of the launch)."""
    if conn.dialect.name != "sqlite":
        return
    params = {"campaign": int(campaign_id), "segments": int(segments)}
    conn.execute(text("DELETE FROM delivery_counts WHERE campaign_id = :campaign"), params)
    conn.execute(
        text(
            f"INSERT INTO delivery_counts ({_names(KEY_COLUMNS)}, n, segments) "
            "SELECT :campaign, status, coalesce(skip_reason, ''), '', coalesce(carrier, ''), "
            "coalesce(district_id, 0), sum(n), sum(n) * :segments FROM ("
            "  SELECT status, skip_reason, carrier, district_id, count(*) AS n FROM deliveries"
            "  WHERE campaign_id = :campaign"
            "  GROUP BY status, skip_reason, carrier, district_id"
            ") AS grouped GROUP BY status, coalesce(skip_reason, ''), coalesce(carrier, ''), "
            "coalesce(district_id, 0)"
        ),
        params,
    )
