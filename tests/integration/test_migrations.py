"""Alembic migrations: one head, they build the whole schema, and they agree with the models."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, select, update
from sqlalchemy.orm import Session

from campaigns import delegation
from campaigns.areas import load_soc_trang_2024
from campaigns.db import Base, make_engine
from campaigns.models import Area
from gateway import migrate
from gateway.tips import routing
from gateway.tips.models import RoutingRule, RoutingVersion


def test_there_is_one_head() -> None:
    """Two heads would mean two people's migrations were never reconciled."""
    heads = ScriptDirectory.from_config(migrate.config("sqlite://")).get_heads()
    assert len(heads) == 1, heads


def empty_database(database_url: str, tmp_path: Path, name: str = "loa_migrated") -> str:
    """The URL of a new, empty database of the kind under test."""
    if database_url.startswith("sqlite"):
        return f"sqlite:///{tmp_path / (name + '.db')}"
    server = database_url.rsplit("/", 1)[0]  # a database of its own on the test server
    admin = make_engine(server + "/postgres", isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {name}")
        conn.exec_driver_sql(f"CREATE DATABASE {name}")
    admin.dispose()
    return server + "/" + name


@pytest.fixture
def migrated_url(database_url: str, tmp_path: Path) -> str:
    url = empty_database(database_url, tmp_path)
    migrate.upgrade(url)
    return url


def test_upgrade_builds_every_table_and_check_passes(migrated_url: str) -> None:
    """`loa db upgrade` on an empty database creates every model's table; `check` finds no drift."""
    url = migrated_url
    eng = make_engine(url)
    tables = set(inspect(eng).get_table_names())
    eng.dispose()
    assert set(Base.metadata.tables) <= tables
    migrate.check(url)  # raises when the models hold changes no migration describes


def test_upgrade_creates_the_default_rules_once(migrated_url: str) -> None:
    """A fresh database has the default routing rules; upgrading again or seeding the demo's
    rules adds none."""
    migrate.upgrade(migrated_url)
    eng = make_engine(migrated_url)
    try:
        with Session(eng) as s:
            names = sorted(s.scalars(select(RoutingRule.name)))
            assert names == sorted(spec["name"] for spec in routing.DEFAULT_RULES)
            assert routing.seed_default_rules(s) == 0
            kinds = {
                r.name: (r.kind, r.queue, r.version, r.active)
                for r in s.scalars(select(RoutingRule))
            }
            assert kinds["Trẻ em → 111"] == ("keyword", "hotline_111", 1, True)
            assert kinds["Huyện, thị xã → Công an huyện"][0] == "district"
    finally:
        eng.dispose()


def test_upgrade_keeps_a_routing_token_that_any_rule_or_area_change_renews(
    migrated_url: str,
) -> None:
    """After `loa db upgrade` the triggers of migration 0021 exist: loading areas, editing a rule
    and renaming an area each give the routing token a new value in their own transaction."""
    eng = make_engine(migrated_url)
    try:
        with Session(eng) as s:
            token = lambda: s.scalar(select(RoutingVersion.token))  # noqa: E731
            seen = [token()]
            load_soc_trang_2024(s)
            s.commit()
            seen.append(token())
            rule = s.scalars(select(RoutingRule).where(RoutingRule.active.is_(True))).first()
            assert rule is not None
            routing.edit_rule(s, rule, rank=rule.rank + 1)
            s.commit()
            seen.append(token())
            s.execute(update(Area).where(Area.name == "Kế Sách").values(name="Kế Sách (mới)"))
            seen.append(token())  # within the transaction of the change
            s.rollback()
            seen.append(token())
            assert None not in seen and len(set(seen)) == 4, seen
            assert seen[-1] == seen[2]  # rolled back with the change
    finally:
        eng.dispose()


def test_upgrade_lists_the_mobile_operators(migrated_url: str) -> None:
    """A fresh database can ask every operator of the plan (issue 13) without demo data, the
    same rows :data:`campaigns.delegation.OPERATORS` holds."""
    eng = make_engine(migrated_url)
    try:
        with Session(eng) as s:
            rows = [(o.code, o.name, o.addressee) for o in delegation.operators(s)]
            assert rows == list(delegation.OPERATORS)
            assert [o.name for o in delegation.operators(s)][:3] == [
                "Viettel",
                "VinaPhone",
                "MobiFone",
            ]
            assert delegation.seed_operators(s) == 0
    finally:
        eng.dispose()
