"""Every SQLite connection Loa opens is set up the same way, whichever process opens it."""

from __future__ import annotations

from pathlib import Path

from campaigns.db import SQLITE_CACHE_KIB, make_engine


def test_each_sqlite_connection_gets_wal_a_busy_timeout_and_a_larger_cache(
    tmp_path: Path,
) -> None:
    """WAL with a 30 s busy timeout and foreign keys on, and a page cache of
    ``SQLITE_CACHE_KIB`` (a province's indexes do not fit SQLite's default 2 MB); two
    connections of one engine both get it."""
    engine = make_engine(f"sqlite:///{tmp_path / 'loa.db'}")
    try:
        with engine.connect() as first, engine.connect() as second:
            for conn in (first, second):
                pragma = {
                    name: conn.exec_driver_sql(f"PRAGMA {name}").scalar()
                    for name in ("journal_mode", "busy_timeout", "foreign_keys", "cache_size")
                }
                assert pragma == {
                    "journal_mode": "wal",
                    "busy_timeout": 30000,
                    "foreign_keys": 1,
                    "cache_size": -SQLITE_CACHE_KIB,
                }
        assert SQLITE_CACHE_KIB == 16 * 1024
    finally:
        engine.dispose()
