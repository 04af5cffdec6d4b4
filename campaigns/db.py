"""The SQL ledger's plumbing: the declarative base, UTC timestamps and engine creation.

Free of Flask: the web app, the workers and the tests all build their engine here.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import sqlite3
import threading
import time
from collections.abc import Iterator
from typing import Any

from sqlalchemy import Connection, DateTime, Engine, MetaData, create_engine, event, make_url
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.types import TypeDecorator

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


# SQLite takes one writer at a time. Threads of one process that wait for it in SQLite's busy
# handler sleep 1 to 100 ms between tries (the slow tail under gunicorn's threads); waiting on
# a lock of our own wakes the next one as soon as the commit is done. The GIL runs one thread's
# Python at a time anyway. PostgreSQL locks rows, not the database: no lock there.
_SQLITE_WRITER = threading.Lock()
# A writer normally holds it for a millisecond or two. When the database itself is locked (a
# backup, a stuck process) the holder waits out SQLite's busy timeout; the others then stop
# queueing here after this long and wait in SQLite's busy handler side by side, so every one
# answers 503 after about the busy timeout instead of one busy timeout after another.
WRITER_WAIT_SECONDS = 1.0
# How long a statement waits for another SQLite writer before it fails ("database is locked").
BUSY_TIMEOUT_SECONDS = 30


@contextlib.contextmanager
def one_writer(session: Session) -> Iterator[None]:
    """Around a short write transaction of a web request (a tip, a receipt): on SQLite, one
    such writer per process at a time (see :data:`WRITER_WAIT_SECONDS`); nothing elsewhere."""
    if session.get_bind().dialect.name != "sqlite":
        yield
        return
    held = _SQLITE_WRITER.acquire(timeout=WRITER_WAIT_SECONDS)
    try:
        _begin_immediate(session.connection().connection.dbapi_connection)
        yield
    finally:
        if held:
            _SQLITE_WRITER.release()


def _begin_immediate(dbapi: Any) -> None:
    """Open the pysqlite connection's transaction with SQLite's write lock, unless one is open,
    polling every 0.1 to 2 ms.

    Another process's writer (gunicorn's other worker) holds it for a millisecond or two. SQLite's
    busy handler, which would wait for it otherwise, sleeps 1, 2, 5, 10, 15, 20, 25 ms and more
    between tries: a request that loses the race three times waited 18 ms for a lock free after
    2. Up to the busy timeout, as SQLite would; then the error SQLAlchemy raises for it.
    """
    if dbapi is None or dbapi.in_transaction:
        return
    deadline = time.monotonic() + BUSY_TIMEOUT_SECONDS
    pause = 0.0001
    dbapi.execute("PRAGMA busy_timeout=0")
    try:
        while True:
            try:
                dbapi.execute("BEGIN IMMEDIATE")
                return
            except sqlite3.OperationalError as exc:
                if exc.sqlite_errorcode != sqlite3.SQLITE_BUSY or time.monotonic() > deadline:
                    raise OperationalError("BEGIN IMMEDIATE", None, exc) from exc
            time.sleep(pause)
            pause = min(0.002, pause * 2)
    finally:
        dbapi.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_SECONDS * 1000}")


def utcnow() -> dt.datetime:
    """The current time, timezone-aware, in UTC (invariant 9: times are stored in UTC)."""
    return dt.datetime.now(dt.UTC)


class UTCDateTime(TypeDecorator[dt.datetime]):
    """A timestamp stored as naive UTC and always returned timezone-aware in UTC.

    SQLite keeps no zone; PostgreSQL's ``timestamp without time zone`` behaves the same, so the
    two databases agree byte for byte. Naive input is refused: it is a bug to guess its zone.
    """

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        if not isinstance(value, dt.datetime) or value.tzinfo is None:
            raise ValueError("UTCDateTime needs a timezone-aware datetime")
        return value.astimezone(dt.UTC).replace(tzinfo=None)

    def process_result_value(self, value: Any, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        assert isinstance(value, dt.datetime)
        return value.replace(tzinfo=dt.UTC)


class Base(DeclarativeBase):
    """The one declarative base for every table in Loa."""

    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {dt.datetime: UTCDateTime()}  # noqa: RUF012 (SQLAlchemy API)


# Each SQLite connection's page cache, in KiB (SQLite's default is 2 MB). With a province's data
# (1.2 million contacts, a campaign's deliveries) the indexes a bulk write touches no longer fit
# in 2 MB and each write re-reads its pages from the file: a 1,200,000-row import took 56 s with
# the default and 46 s with 16 MB (32 MB: 44 s, 128 MB: 47 s). The cache fills only as pages are
# read, so a connection that reads little holds little.
SQLITE_CACHE_KIB = 16 * 1024


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute(f"PRAGMA cache_size=-{SQLITE_CACHE_KIB}")
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_SECONDS * 1000}")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.close()


def _sqlite_savepoint(conn: Connection, _name: str) -> None:
    """Open the transaction a SAVEPOINT belongs to.

    pysqlite (Python < 3.12) begins a transaction only before an INSERT, UPDATE or DELETE. A
    savepoint taken before the first write of a transaction (an opt-out's insert-or-keep in
    ``campaigns.optouts``) would then start one of its own, and its RELEASE would commit the row
    at once, alone, which a rollback of the whole transaction could no longer take back. BEGIN
    IMMEDIATE takes the write lock now (waiting up to the busy timeout), as the write inside
    the savepoint would; pysqlite sees the open transaction and commits it later.
    """
    _begin_immediate(conn.connection.dbapi_connection)


def _private_sqlite_file(url: str) -> None:
    """Create the SQLite file 0600 if it is missing: SQLite gives its WAL and shared-memory files
    the database file's mode, so tips and numbers stay unreadable to other users whatever the
    umask."""
    path = make_url(url).database
    if not path or path == ":memory:" or path.startswith("file:"):
        return
    with contextlib.suppress(FileExistsError, FileNotFoundError):  # exists, or no folder yet
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))


def make_engine(url: str, **kwargs: Any) -> Engine:
    """Create an engine: SQLite in WAL mode with a busy timeout, or PostgreSQL with a pool.

    Args:
        url: an SQLAlchemy URL.
        kwargs: passed on to :func:`sqlalchemy.create_engine`.
    Returns:
        the engine; no connection is opened until first use.
    """
    # SQL errors would otherwise carry their parameters (tip bodies, phone numbers) into
    # tracebacks and logs.
    kwargs.setdefault("hide_parameters", True)
    if url.startswith("sqlite"):
        kwargs.setdefault(
            "connect_args", {"timeout": BUSY_TIMEOUT_SECONDS, "check_same_thread": False}
        )
        _private_sqlite_file(url)
        engine = create_engine(url, **kwargs)
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "savepoint", _sqlite_savepoint)
        return engine
    kwargs.setdefault("pool_pre_ping", True)
    if "poolclass" not in kwargs:
        kwargs.setdefault("pool_size", 10)
        kwargs.setdefault("max_overflow", 20)
    return create_engine(url, **kwargs)


def make_sessionmaker(engine: Engine) -> sessionmaker[Session]:
    """A session factory whose objects stay readable after commit."""
    return sessionmaker(engine, expire_on_commit=False)
