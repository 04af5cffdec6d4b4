"""The routing version: a token the database changes whenever a routing rule or an area changes
(issue 11).

Every tip is routed by the active rules and the areas as the database holds them at that moment,
so that a rule edited or an area renamed, by any process, routes the very next tip. Reading every
rule and all 120 areas of a province for each tip cost about 0.3 ms of the intake's 2 ms; one
row, ``routing_version``, now says whether the router compiled earlier still holds
(:func:`gateway.tips.routing.router_for`).

Triggers on ``routing_rules`` and ``areas`` give the row a new random token on every insert,
update and delete (and truncate, on PostgreSQL), in the same transaction as the change, whatever
statement makes it: the admin, ``loa areas load``, a migration, a hand-typed UPDATE. A random
token rather than a counter: a database restored from a backup, or built anew at the same
address, never shows a process a token it has already seen for other rows. Without the row (a
table emptied by hand) every tip reads the rules and areas, as before.

This module holds SQL only (the migration and ``gateway.tips.models`` install it).
"""

# ruff: noqa: S608  (every SQL string here is built from this module's constants, no input)
from __future__ import annotations

import secrets

from sqlalchemy import Connection, text

TABLE = "routing_version"
WATCHED = ("routing_rules", "areas")
_EVENTS = ("insert", "update", "delete")

# A new token: any 62-bit number (a BIGINT on both databases).
_SQLITE_NEW = "abs(random() % 4611686018427387904)"
_PG_NEW = "floor(random() * 4611686018427387904)::bigint"
_PG_FUNCTION = f"""CREATE OR REPLACE FUNCTION {TABLE}_bump() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE {TABLE} SET token = {_PG_NEW} WHERE id = 1;
    RETURN NULL;
END $$"""


def _sqlite(table: str) -> list[str]:
    return [
        f"CREATE TRIGGER IF NOT EXISTS {TABLE}_{table}_{event} AFTER {event.upper()} ON {table} "
        f"BEGIN UPDATE {TABLE} SET token = {_SQLITE_NEW} WHERE id = 1; END"
        for event in _EVENTS
    ]


def _postgresql(table: str) -> list[str]:
    trigger = f"{TABLE}_{table}"
    return [
        f"DROP TRIGGER IF EXISTS {trigger} ON {table}",  # no OR REPLACE before PostgreSQL 14
        f"CREATE TRIGGER {trigger} AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON {table} "
        f"FOR EACH STATEMENT EXECUTE FUNCTION {TABLE}_bump()",
    ]


def install(conn: Connection) -> None:
    """Create the triggers (or replace them) and the row, if missing, on the connection's
    database."""
    pg = conn.dialect.name == "postgresql"
    if pg:
        conn.exec_driver_sql(_PG_FUNCTION)
    for table in WATCHED:
        for sql in _postgresql(table) if pg else _sqlite(table):
            conn.exec_driver_sql(sql)
    seed(conn)


def seed(conn: Connection) -> None:
    """Give the database its row with a fresh token, if it has none (after the table was
    emptied)."""
    conn.execute(
        text(
            f"INSERT INTO {TABLE} (id, token) SELECT 1, :token "
            f"WHERE NOT EXISTS (SELECT 1 FROM {TABLE} WHERE id = 1)"
        ),
        {"token": secrets.randbits(62)},
    )


def uninstall(conn: Connection) -> None:
    """Drop the triggers (and PostgreSQL's trigger function)."""
    if conn.dialect.name == "postgresql":
        for table in WATCHED:
            conn.exec_driver_sql(f"DROP TRIGGER IF EXISTS {TABLE}_{table} ON {table}")
        conn.exec_driver_sql(f"DROP FUNCTION IF EXISTS {TABLE}_bump()")
        return
    for table in WATCHED:
        for event in _EVENTS:
            conn.exec_driver_sql(f"DROP TRIGGER IF EXISTS {TABLE}_{table}_{event}")
