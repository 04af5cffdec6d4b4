"""Alembic migrations: one head, they build the whole schema, and they agree with the models."""

from __future__ import annotations

from pathlib import Path

from alembic.script import ScriptDirectory
from sqlalchemy import inspect

from campaigns.db import Base, make_engine
from gateway import migrate


def test_there_is_one_head() -> None:
    """Two heads would mean two people's migrations were never reconciled."""
    heads = ScriptDirectory.from_config(migrate.config("sqlite://")).get_heads()
    assert len(heads) == 1, heads


def test_upgrade_builds_every_table_and_check_passes(database_url: str, tmp_path: Path) -> None:
    """`loa db upgrade` on an empty database creates every model's table; `check` finds no drift."""
    if database_url.startswith("sqlite"):
        url = f"sqlite:///{tmp_path / 'migrated.db'}"
    else:  # a database of its own on the test server
        server = database_url.rsplit("/", 1)[0]
        admin = make_engine(server + "/postgres", isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.exec_driver_sql("DROP DATABASE IF EXISTS loa_migrated")
            conn.exec_driver_sql("CREATE DATABASE loa_migrated")
        admin.dispose()
        url = server + "/loa_migrated"
    migrate.upgrade(url)
    eng = make_engine(url)
    tables = set(inspect(eng).get_table_names())
    eng.dispose()
    assert set(Base.metadata.tables) <= tables
    migrate.check(url)  # raises when the models hold changes no migration describes
