"""The triggers that keep the tip counters equal to a GROUP BY of ``tips`` (issue 11).

The home page and the tip dashboard count tips two ways: every queue's tips by state, all time,
and the period's tips by local day, district and priority for the two charts. With a year of
tips (1,000,000) each count read every tip the user may see: 150 ms for the queue table, 0.6 s
for the charts of 90 days. The database keeps counters instead, exact whatever statement
changes a tip (intake, casework, merges, retention, a hand-typed UPDATE), as
``delivery_counts`` does for deliveries (:mod:`campaigns.count_triggers`, whose design this
follows):

- ``tip_counts``: tips by (queue, shared_with, status, priority, merged into another or not);
- ``tip_days``: tips not merged into another, by (local day, queue, shared_with, district_id,
  priority), the day at :data:`DAY_OFFSET_MINUTES` from UTC (Vietnam's +07:00, all year).

Both keep ``shared_with`` as its JSON text (``'[]'`` for NULL): a user's scope tests only a tip's
queue and the text of its ``shared_with`` (:func:`gateway.tips.visibility.scope_condition`), so
the same condition on a counter row holds for every tip the row counts, and a user's counts are
a sum over the rows they see, shared tips included. The distinct lists of shared queues are few.

- PostgreSQL: statement-level triggers with transition tables, each connection adding to rows
  of its own (``slot`` = its backend pid), so intake and casework never wait for each other's
  counters nor deadlock on them; the reconciler folds the slots (:func:`fold`).
- SQLite: one writer at a time; row-level triggers, every row in slot 0.

This module holds SQL only (the migrations and ``gateway.tips.models`` install it).
"""

# ruff: noqa: S608  (every SQL string here is built from this module's constants, no input)
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import Connection, text

from campaigns.count_triggers import fold_slots

# The local day of ``tip_days``: Vietnam keeps +07:00 all year. Another zone's charts count the
# tips themselves (gateway.tips.visibility.tips_over_period).
DAY_OFFSET_MINUTES = 7 * 60


def _shared(p: str, postgresql: bool) -> str:
    return f"coalesce({p}shared_with{'::text' if postgresql else ''}, '[]')"


def _day(p: str, postgresql: bool) -> str:
    if postgresql:
        return f"to_char({p}received_at + interval '{DAY_OFFSET_MINUTES} minutes', 'YYYY-MM-DD')"
    return f"strftime('%Y-%m-%d', {p}received_at, '+{DAY_OFFSET_MINUTES} minutes')"


@dataclass(frozen=True)
class Counter:
    """A counter table: its key's columns, each with the SQL that reads it from a tip row
    (``p`` is ``NEW.``, ``OLD.`` or ``''``), and which tips it counts."""

    table: str
    key: tuple[tuple[str, Callable[[str, bool], str]], ...]
    watched: tuple[str, ...]  # the tip columns the key and the condition read
    counts: str = ""  # a condition on the tip row (``{p}`` for the prefix); every tip when empty

    @property
    def columns(self) -> str:
        return ", ".join(name for name, _ in self.key)

    def of(self, row: str = "", postgresql: bool = False) -> str:
        """The key of a tip row: of ``row`` (``NEW``/``OLD``) when given, else of a table's rows
        with the counter's column names."""
        p = f"{row}." if row else ""
        parts = [read(p, postgresql) + ("" if row else f" AS {name}") for name, read in self.key]
        return ", ".join(parts)

    def where(self, row: str = "") -> str:
        return self.counts.format(p=f"{row}." if row else "") if self.counts else "true"

    @property
    def upsert(self) -> str:
        return f"ON CONFLICT ({self.columns}, slot) DO UPDATE SET n = {self.table}.n + excluded.n"


def _column(name: str) -> Callable[[str, bool], str]:
    return lambda p, _postgresql: f"{p}{name}"


TIP_COUNTS = Counter(
    "tip_counts",
    (
        ("queue", _column("queue")),
        ("shared_with", _shared),
        ("status", _column("status")),
        ("priority", _column("priority")),
        ("merged", lambda p, _pg: f"CASE WHEN {p}merged_into_id IS NULL THEN 0 ELSE 1 END"),
    ),
    ("queue", "shared_with", "status", "priority", "merged_into_id"),
)
TIP_DAYS = Counter(
    "tip_days",
    (
        ("day", _day),
        ("queue", _column("queue")),
        ("shared_with", _shared),
        ("district_id", lambda p, _pg: f"coalesce({p}district_id, 0)"),
        ("priority", _column("priority")),
    ),
    ("received_at", "queue", "shared_with", "district_id", "priority", "merged_into_id"),
    counts="{p}merged_into_id IS NULL",
)
COUNTERS = (TIP_COUNTS, TIP_DAYS)

# --- PostgreSQL ------------------------------------------------------------------------------

_PG_FUNCTION = """
CREATE OR REPLACE FUNCTION {table}_{name}() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO {table} ({columns}, slot, n)
    SELECT {columns}, pg_backend_pid(), sum(dn) FROM ({rows}) AS r
    GROUP BY {columns} HAVING sum(dn) <> 0
    {upsert};
    RETURN NULL;
END $$"""
_PG_ROWS = {
    "inserted": "SELECT {key}, 1 AS dn FROM new_rows WHERE {where}",
    "updated": "SELECT {key}, 1 AS dn FROM new_rows WHERE {where} "
    "UNION ALL SELECT {key}, -1 FROM old_rows WHERE {where}",
    # Subtracted in this connection's own slot (a negative count there): never another's row.
    "deleted": "SELECT {key}, -1 AS dn FROM old_rows WHERE {where}",
}
_PG_TRIGGERS = {
    "insert": ("inserted", "REFERENCING NEW TABLE AS new_rows"),
    "update": ("updated", "REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows"),
    "delete": ("deleted", "REFERENCING OLD TABLE AS old_rows"),
}


def postgresql(counter: Counter) -> list[str]:
    """The trigger functions and triggers of PostgreSQL for ``counter``."""
    rows = {
        name: sql.format(key=counter.of(postgresql=True), where=counter.where())
        for name, sql in _PG_ROWS.items()
    }
    out = [
        _PG_FUNCTION.format(
            table=counter.table,
            name=name,
            columns=counter.columns,
            rows=sql,
            upsert=counter.upsert,
        )
        for name, sql in rows.items()
    ]
    for event, (function, referencing) in _PG_TRIGGERS.items():
        trigger = f"{counter.table}_{event}"
        out.append(f"DROP TRIGGER IF EXISTS {trigger} ON tips")  # no OR REPLACE before 14
        out.append(
            f"CREATE TRIGGER {trigger} AFTER {event.upper()} ON tips {referencing} "
            f"FOR EACH STATEMENT EXECUTE FUNCTION {counter.table}_{function}()"
        )
    return out


def _postgresql_drop(counter: Counter) -> list[str]:
    return [
        *(f"DROP TRIGGER IF EXISTS {counter.table}_{event} ON tips" for event in _PG_TRIGGERS),
        *(f"DROP FUNCTION IF EXISTS {counter.table}_{name}()" for name in _PG_ROWS),
    ]


# --- SQLite ----------------------------------------------------------------------------------


def sqlite(counter: Counter) -> list[str]:
    """The row-level triggers of SQLite for ``counter``."""
    t, columns, upsert = counter.table, counter.columns, counter.upsert
    add = (
        f"INSERT INTO {t} ({columns}, n) SELECT {counter.of('NEW')}, 1 "
        f"WHERE {counter.where('NEW')} {upsert};"
    )
    subtract = (
        f"UPDATE {t} SET n = n - 1 WHERE slot = 0 AND ({columns}) = ({counter.of('OLD')}) "
        f"AND {counter.where('OLD')};"
    )
    changed = " OR ".join(f"OLD.{c} IS NOT NEW.{c}" for c in counter.watched)
    return [
        f"CREATE TRIGGER IF NOT EXISTS {t}_insert AFTER INSERT ON tips BEGIN {add} END",
        f"CREATE TRIGGER IF NOT EXISTS {t}_update AFTER UPDATE ON tips WHEN {changed} "
        f"BEGIN {subtract} {add} END",
        f"CREATE TRIGGER IF NOT EXISTS {t}_delete AFTER DELETE ON tips BEGIN {subtract} END",
    ]


def _sqlite_drop(counter: Counter) -> list[str]:
    return [f"DROP TRIGGER IF EXISTS {counter.table}_{event}" for event in _PG_TRIGGERS]


# --- both ------------------------------------------------------------------------------------


def install(conn: Connection) -> None:
    """Create (or replace) every counter's triggers on the connection's database."""
    build = postgresql if conn.dialect.name == "postgresql" else sqlite
    for counter in COUNTERS:
        for sql in build(counter):
            conn.exec_driver_sql(sql)


def uninstall(conn: Connection) -> None:
    """Drop the triggers (and PostgreSQL's trigger functions)."""
    drop = _postgresql_drop if conn.dialect.name == "postgresql" else _sqlite_drop
    for counter in COUNTERS:
        for sql in drop(counter):
            conn.exec_driver_sql(sql)


def recount(conn: Connection) -> None:
    """Replace every counter by a fresh GROUP BY of the tips: the migration's backfill, and the
    repair after a hand edit (run it where no other transaction changes tips meanwhile)."""
    pg = conn.dialect.name == "postgresql"
    for c in COUNTERS:
        conn.execute(text(f"DELETE FROM {c.table}"))
        conn.execute(
            text(
                f"INSERT INTO {c.table} ({c.columns}, slot, n) SELECT {c.columns}, 0, count(*) "
                f"FROM (SELECT {c.of(postgresql=pg)} FROM tips WHERE {c.where()}) AS t "
                f"GROUP BY {c.columns}"
            )
        )


# Any constant no other advisory lock of Loa's uses (the delivery counters' fold uses 0x10AC0DE).
_FOLD_LOCK = 0x71B_C0DE


def fold(conn: Connection) -> int:
    """PostgreSQL: fold every connection's tip counter rows into one row per key (the delivery
    counters' :func:`campaigns.count_triggers.fold_slots`); returns how many folded rows it
    wrote (0 on SQLite, or when another fold runs). The caller commits."""
    return sum(fold_slots(conn, c.table, c.columns, ("n",), _FOLD_LOCK) for c in COUNTERS)
