"""The inbox counts read an index, not the tips (issue 11): every operator's badge and every
inbox page count the open tips the user sees, and their scope tests ``queue`` and
``shared_with`` of each. ``ix_tips_status_scope`` holds every column they read (on PostgreSQL
``shared_with`` as an INCLUDE column); the migration builds it in place of ``(status, queue)``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from alembic import command
from sqlalchemy import inspect, text
from sqlalchemy.orm import Session

from campaigns.db import make_engine
from gateway import migrate
from gateway.admin import known_queues
from gateway.tips import scope_index
from gateway.tips.models import Tip
from gateway.tips.visibility import (
    inbox_counts,
    may_see,
    oldest_unacknowledged,
    open_by_priority,
    open_counts,
    visible_queues,
)
from tests.factories import create_tip, create_user
from tests.integration.plan_support import analysed_without
from tests.integration.test_migrations import empty_database

SCOPES = {"district": ("police", "police_ke_sach"), "province": ("police", "police_province")}


@pytest.fixture
def tips(session: Session) -> list[Tip]:
    """Open and closed tips in several queues, some shared with the district's queue."""
    made = []
    for i, queue in enumerate(["police_ke_sach", "police_long_phu", "hotline_111", "border_guard"]):
        for status in ("new", "acknowledged", "closed"):
            shared = ["police_ke_sach"] if i % 2 and status != "closed" else []
            made.append(
                create_tip(
                    queue=queue,
                    status=status,
                    shared_with=shared,
                    priority="urgent" if status == "new" else "normal",
                )
            )
    return made


def _plans(session: Session, statements: list[tuple[str, Any]]) -> list[str]:
    sqlite = session.get_bind().dialect.name == "sqlite"
    explain = "EXPLAIN QUERY PLAN " if sqlite else "EXPLAIN "
    plans = []
    for sql, params in list(statements):
        if not ("count(" in sql or "sum(" in sql) or sql.startswith("EXPLAIN"):
            continue  # the counts only, not the plans asked for here
        rows = session.connection().exec_driver_sql(explain + sql, params)
        plans.append("\n".join(str(r[-1]) for r in rows))
    return plans


@pytest.mark.parametrize("who", sorted(SCOPES))
def test_the_inbox_counts_are_right_and_read_only_the_index(
    session: Session, tips: list[Tip], statements: list[tuple[str, Any]], who: str
) -> None:
    """The badge's, the tabs' and the dashboard's open counts equal what ``may_see`` finds tip
    by tip. The tabs and the counts by priority sum the tip counters; on SQLite the counts
    that read tips are answered from a covering index: no tip row is read (this fails with the
    old ``(status, queue)`` index: ``USING INDEX``, not ``USING COVERING INDEX``)."""
    role, scope = SCOPES[who]
    user = create_user(role, scope=scope)
    open_seen = [t for t in tips if t.status != "closed" and may_see(user, t)]
    counts = inbox_counts(session, user)
    assert counts["open"] == counts["unread"] == len(open_seen) > 0
    assert counts["urgent"] == sum(t.priority == "urgent" for t in open_seen)
    districts = ["police_ke_sach", "police_long_phu"]  # areas' queues (no areas here)
    queues = visible_queues(user, [*known_queues(session), *districts])
    assert queues
    by_queue = open_counts(session, user, queues)
    for q in queues:
        assert by_queue[q] == sum(q in (t.queue, *(t.shared_with or [])) for t in open_seen), q
    by_priority = open_by_priority(session, user)  # the dashboard's and the home page's
    assert by_priority == {
        p: n for p in ("urgent", "normal") if (n := sum(t.priority == p for t in open_seen))
    }
    if session.get_bind().dialect.name != "sqlite":
        return
    # The tabs and by priority sum the counters the database keeps (tip_counts,
    # test_tip_counts.py): the badge and the overdue count are what reads the tips.
    assert sum("FROM tip_counts" in sql for sql, _p in statements) == 2
    plans = _plans(session, [(sql, p) for sql, p in statements if "tip_counts" not in sql])
    assert len(plans) == 2, plans  # the badge, the overdue count
    for plan in plans:
        assert f"USING COVERING INDEX {scope_index.NAME}" in plan, plan
        assert "SCAN tips" not in plan, plan


def test_postgresql_counts_with_the_index(
    session: Session, tips: list[Tip], statements: list[tuple[str, Any]]
) -> None:
    """PostgreSQL has the index (``shared_with`` included, not keyed) and uses it."""
    if session.get_bind().dialect.name != "postgresql":
        pytest.skip("PostgreSQL's plan")
    user = create_user("police", scope="police_ke_sach")
    analysed_without(session, "tips", "seqscan")
    inbox_counts(session, user)
    plans = _plans(session, statements)
    session.rollback()
    assert any(scope_index.NAME in plan for plan in plans), plans
    definition = session.scalar(
        text("SELECT indexdef FROM pg_indexes WHERE indexname = :n"), {"n": scope_index.NAME}
    )
    assert definition and "INCLUDE (shared_with)" in definition, definition


def _indexes(url: str) -> set[str]:
    eng = make_engine(url)
    try:
        return {i["name"] for i in inspect(eng).get_indexes("tips") if i["name"]}
    finally:
        eng.dispose()


def test_the_migration_replaces_the_status_index_and_downgrade_restores_it(
    database_url: str, tmp_path: Path
) -> None:
    url = empty_database(database_url, tmp_path, "loa_scope_index")
    migrate.upgrade(url, "0017")
    assert "ix_tips_status_queue" in _indexes(url)
    migrate.upgrade(url)
    assert scope_index.NAME in _indexes(url)
    assert "ix_tips_status_queue" not in _indexes(url)
    migrate.check(url)  # the index is not a difference between the models and the migrations
    command.downgrade(migrate.config(url), "0017")
    assert "ix_tips_status_queue" in _indexes(url)
    assert scope_index.NAME not in _indexes(url)


def test_postgresql_finds_the_longest_waiting_tip_by_its_partial_index(
    session: Session, tips: list[Tip], statements: list[tuple[str, Any]]
) -> None:
    """The dashboard's "waiting longest" tip is the oldest new tip the user sees, and
    PostgreSQL finds it through ``ix_tips_waiting`` (new tips only, in the order they came),
    not by walking every tip from the oldest; SQLite has no such index (it made SQLite slower)."""
    postgresql = session.get_bind().dialect.name == "postgresql"
    user = create_user("police", scope="police_ke_sach")
    waiting = [t for t in tips if t.status == "new" and may_see(user, t)]
    assert len(waiting) >= 2
    if postgresql:
        # Of the indexes that give the tips in the order they came, is the partial one
        # there and the cheaper? (CI once picked a bitmap scan of ix_tips_queue_status and a
        # sort, which this table's few dozen tips make as cheap.)
        analysed_without(session, "tips", "seqscan", "bitmapscan", "sort")
    oldest = oldest_unacknowledged(session, user)
    assert oldest is not None
    assert oldest.id == min(waiting, key=lambda t: (t.received_at, t.id)).id
    sql, params = next(s for s in statements if "ORDER BY tips.received_at" in s[0])
    explain = "EXPLAIN " if postgresql else "EXPLAIN QUERY PLAN "
    plan = "\n".join(
        str(r[-1]) for r in session.connection().exec_driver_sql(explain + sql, params)
    )
    session.rollback()
    assert (scope_index.WAITING in plan) == postgresql, plan
    assert (scope_index.WAITING in _indexes_of(session)) == postgresql


def _indexes_of(session: Session) -> set[str]:
    return {i["name"] for i in inspect(session.get_bind()).get_indexes("tips") if i["name"]}


def test_the_migration_adds_the_waiting_index_on_postgresql_only(
    database_url: str, tmp_path: Path
) -> None:
    url = empty_database(database_url, tmp_path, "loa_waiting_index")
    postgresql = url.startswith("postgres")
    migrate.upgrade(url, "0019")
    assert scope_index.WAITING not in _indexes(url)
    migrate.upgrade(url)
    assert (scope_index.WAITING in _indexes(url)) == postgresql
    migrate.check(url)  # the index is not a difference between the models and the migrations
    command.downgrade(migrate.config(url), "0019")
    assert scope_index.WAITING not in _indexes(url)
