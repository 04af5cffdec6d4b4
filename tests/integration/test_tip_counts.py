"""The tip counters kept by the database's triggers always equal a fresh GROUP BY of the tips,
whatever changes them (intake, casework, hand-offs, merges, retention, random statements), and
the dashboard's queue-by-state table summed from them equals a count of the tips each user may
see (issue 11)."""

from __future__ import annotations

import datetime as dt
import random
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from sqlalchemy import String, case, cast, delete, event, func, insert, select, text, update
from sqlalchemy.orm import Session

from campaigns.db import make_engine, utcnow
from campaigns.models import Area
from campaigns.reports import local_bucket
from gateway import migrate, retention
from gateway.tips import casework
from gateway.tips import count_triggers as tip_counts
from gateway.tips.models import Tip, TipCount, TipDay
from tests.factories import create_tip, create_user
from tests.integration.test_migrations import empty_database

QUEUES = ["police_ke_sach", "police_long_phu", "hotline_111", "border_guard", "police_province"]
SHARES: list[list[str] | None] = [
    [],
    ["police_ke_sach"],
    ["hotline_111", "police_ke_sach"],
    ["police_long_phu"],
    None,
]


def ledger(session: Session) -> dict[tuple[Any, ...], int]:
    """A fresh GROUP BY of the tips by ``tip_counts``' key."""
    key = (
        Tip.queue,
        func.coalesce(cast(Tip.shared_with, String), "[]"),
        Tip.status,
        Tip.priority,
        case((Tip.merged_into_id.is_(None), 0), else_=1),
    )
    return {
        tuple(r[:-1]): int(r[-1])
        for r in session.execute(select(*key, func.count()).group_by(*key))
    }


def counted(session: Session) -> dict[tuple[Any, ...], int]:
    """The counters, their slots summed; keys that count nothing left out."""
    key = (
        TipCount.queue,
        TipCount.shared_with,
        TipCount.status,
        TipCount.priority,
        TipCount.merged,
    )
    total = func.sum(TipCount.n)
    rows = session.execute(select(*key, total).group_by(*key).having(total != 0))
    return {tuple(r[:-1]): int(r[-1]) for r in rows}


def day_ledger(session: Session) -> dict[tuple[Any, ...], int]:
    """A fresh GROUP BY of the tips not merged by ``tip_days``' key (the day as the reports'
    local_bucket makes it, at Vietnam's +07:00)."""
    key = (
        local_bucket(session, Tip.received_at, "day", 7 * 60),
        Tip.queue,
        func.coalesce(cast(Tip.shared_with, String), "[]"),
        func.coalesce(Tip.district_id, 0),
        Tip.priority,
    )
    rows = session.execute(
        select(*key, func.count()).where(Tip.merged_into_id.is_(None)).group_by(*key)
    )
    return {tuple(r[:-1]): int(r[-1]) for r in rows}


def day_counted(session: Session) -> dict[tuple[Any, ...], int]:
    key = (TipDay.day, TipDay.queue, TipDay.shared_with, TipDay.district_id, TipDay.priority)
    total = func.sum(TipDay.n)
    rows = session.execute(select(*key, total).group_by(*key).having(total != 0))
    return {tuple(r[:-1]): int(r[-1]) for r in rows}


def assert_exact(session: Session) -> None:
    session.flush()
    assert counted(session) == ledger(session)
    assert day_counted(session) == day_ledger(session)


def some_tips(n: int, seed: int = 5) -> list[Tip]:
    rng = random.Random(seed)
    return [
        create_tip(
            queue=rng.choice(QUEUES),
            shared_with=rng.choice(SHARES),
            status=rng.choice(["new", "acknowledged", "closed"]),
            priority=rng.choice(["urgent", "normal"]),
        )
        for _ in range(n)
    ]


def test_counters_follow_tips_through_intake_and_casework(session: Session) -> None:
    """Intake, triage, hand-off to another queue, a merge, a close and reopen, retention's
    anonymising and deletion: the counters are exact after each."""
    routed = create_tip(body="Có người dụ dỗ trẻ em đi làm ở Kế Sách", routed=True)
    tips = [routed, *some_tips(12)]
    assert_exact(session)
    admin = create_user("admin")
    casework.transition(session, tips[0], "acknowledged", admin)
    session.commit()
    assert_exact(session)
    open_ones = [t for t in tips[1:] if t.status != "closed"]
    assert len(open_ones) >= 3
    moved = open_ones[2]
    casework.hand_off(session, moved, admin, "Công an huyện Long Phú", to_queue="police_long_phu")
    session.commit()
    assert moved.queue == "police_long_phu"
    assert_exact(session)
    casework.merge(session, open_ones[0], open_ones[1], admin)
    session.commit()
    assert_exact(session)
    casework.transition(session, open_ones[1], "closed", admin, resolution="referred_police")
    session.commit()
    assert_exact(session)
    casework.transition(session, open_ones[1], "in_progress", admin)
    session.commit()
    assert_exact(session)
    old = utcnow() - dt.timedelta(days=4000)
    session.execute(
        update(Tip).where(Tip.id.in_([t.id for t in tips[5:9]])).values(received_at=old)
    )
    session.commit()
    retention.run(session, retention.Periods(365, 365, 365))
    session.commit()
    assert_exact(session)
    session.execute(delete(Tip).where(Tip.id.in_([t.id for t in tips[9:11]])))
    session.commit()
    assert_exact(session)
    assert sum(counted(session).values()) == session.scalar(select(func.count(Tip.id)))


def test_random_statements_keep_counters_exact(session: Session) -> None:
    """Many-row UPDATEs and DELETEs of every counted column (received_at across a local
    midnight, merges and unmerges), in one transaction and several."""
    area = Area(name="Kế Sách", kind="district")
    session.add(area)
    session.commit()
    district = area.id
    some_tips(40, seed=11)
    rng = random.Random(3)
    for step in range(24):
        ids = session.scalars(select(Tip.id)).all()
        picked = rng.sample(ids, k=min(len(ids), rng.randint(1, 8)))
        kind = step % 8
        if kind == 0:
            values: dict[str, Any] = {"status": rng.choice(["new", "in_progress", "closed"])}
        elif kind == 1:
            values = {"queue": rng.choice(QUEUES)}
        elif kind == 2:
            values = {"shared_with": rng.choice(SHARES)}
        elif kind == 3:
            values = {"priority": rng.choice(["urgent", "normal"])}
        elif kind == 4:  # across a local midnight (17:00 UTC)
            values = {
                "received_at": utcnow().replace(hour=16, minute=59)
                + dt.timedelta(minutes=rng.choice([0, 2]), days=-rng.randint(0, 3))
            }
        elif kind == 5:
            values = {"merged_into_id": rng.choice([None, ids[0]])}
        elif kind == 6:
            values = {"district_id": rng.choice([None, district])}
        else:
            session.execute(delete(Tip).where(Tip.id.in_(picked[:2])))
            values = {}
        if values:
            session.execute(update(Tip).where(Tip.id.in_(picked)).values(**values))
        if step % 3 == 2:
            session.commit()
        assert_exact(session)
    session.execute(insert(Tip), [{"body": "x", "channel": "web", "queue": q} for q in QUEUES])
    session.commit()
    assert_exact(session)


@pytest.mark.parametrize(
    "role,scope",
    [
        ("police", "police_ke_sach"),
        ("police", "police_long_phu"),
        ("police", "police_province"),
        ("hotline_111", None),
        ("police", None),
        ("admin", None),
        ("editor", None),
    ],
)
def test_the_queue_table_counts_what_the_user_may_see(
    session: Session, role: str, scope: str | None
) -> None:
    """The dashboard's queue-by-state table equals a count, by primary queue and state, of the
    tips ``may_see`` lets the user see (shared tips included, each once), its open tips by
    priority a count of the open ones not merged, and the inbox's queue tabs a count of the open
    ones in each queue, for scoped users, a province-wide one, an admin and a role that sees no
    tips."""
    tips = some_tips(60, seed=7)
    for duplicate in tips[1:6]:  # merged tips: in the queue table, not among the open ones
        duplicate.merged_into_id = tips[0].id
    session.commit()
    user = create_user(role, scope=scope)
    expected: dict[str, Counter[str]] = {}
    for tip in tips:
        if casework.may_see(user, tip):
            expected.setdefault(tip.queue, Counter())[tip.status] += 1
    got = casework.counts_by_queue(session, user)
    assert got == {q: dict(c) for q, c in expected.items()}
    by_priority = Counter(
        t.priority
        for t in tips
        if casework.may_see(user, t) and t.status != "closed" and t.merged_into_id is None
    )
    assert casework.open_by_priority(session, user) == dict(by_priority)
    # The inbox's queue tabs, for queues in the user's scope and out of it: each tip once per
    # queue it is in (primary or shared), merged ones too, as the inbox lists them.
    tabs = casework.open_counts(session, user, QUEUES)
    assert tabs == {
        q: sum(
            casework.may_see(user, t) and t.status != "closed" and q in casework.tip_queues(t)
            for t in tips
        )
        for q in QUEUES
    }
    if role == "police" and scope == "police_ke_sach":
        shared_in = [t for t in tips if t.queue != scope and scope in (t.shared_with or [])]
        assert shared_in and set(got) > {scope}  # shared tips counted under their own queue


def test_the_queue_table_reads_the_counters_not_the_tips(session: Session) -> None:
    """The dashboard's table is a sum over the counter rows: no statement reads ``tips``."""
    some_tips(10)
    seen: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        seen.append(statement)

    engine = session.get_bind()
    event.listen(engine, "before_cursor_execute", record)
    try:
        casework.counts_by_queue(session, create_user("police", scope="police_ke_sach"))
    finally:
        event.remove(engine, "before_cursor_execute", record)
    reads = [s for s in seen if "tip_counts" in s]
    assert reads and not any(" tips" in s.replace("tip_counts", "") for s in reads)


def test_loa_db_recount_repairs_the_tip_counters(session: Session, runner: Any) -> None:
    """A counter changed or lost by hand is rebuilt by `loa db recount`."""
    some_tips(8)
    session.execute(update(TipCount).values(n=TipCount.n + 3))
    session.commit()
    assert counted(session) != ledger(session)
    result = runner.invoke(args=["db", "recount"])
    assert result.exit_code == 0, result.output
    assert "tip counters recounted" in result.output
    session.expire_all()
    assert_exact(session)


def test_migration_counts_existing_tips(database_url: str, tmp_path: Path) -> None:
    """Upgrading a database that already holds tips counts them; downgrading drops the counters
    and their triggers, and upgrading again counts again."""
    url = empty_database(database_url, tmp_path, "loa_tip_counts")
    migrate.upgrade(url, "0018")
    eng = make_engine(url)
    rows = [
        {"body": "a", "channel": "sms", "queue": "police_ke_sach", "status": "new"},
        {"body": "b", "channel": "sms", "queue": "police_ke_sach", "status": "new"},
        {"body": "c", "channel": "web", "queue": "hotline_111", "status": "closed"},
    ]
    try:
        with eng.begin() as conn:
            # Only the columns of 0018; shared_with as the JSON text the models write.
            for i, row in enumerate(rows):
                conn.execute(
                    text(
                        "INSERT INTO tips (body, body_folded, channel, queue, status, priority, "
                        "shared_with, matched_rules, received_at, updated_at, legal_hold, "
                        "legal_hold_reason, escalation_level) VALUES (:body, :body, :channel, :queue, :status, "
                        "'normal', :shared, '[]', :now, :now, false, '', 0)"
                    ),
                    {
                        **row,
                        "shared": '["hotline_111"]' if i == 0 else "[]",
                        "now": dt.datetime(2026, 7, 30),
                    },
                )
        migrate.upgrade(url)
        with Session(eng) as s:
            assert counted(s) == {
                ("police_ke_sach", '["hotline_111"]', "new", "normal", 0): 1,
                ("police_ke_sach", "[]", "new", "normal", 0): 1,
                ("hotline_111", "[]", "closed", "normal", 0): 1,
            }
            s.execute(update(Tip).where(Tip.status == "new").values(status="acknowledged"))
            s.commit()
            assert_exact(s)
        command.downgrade(migrate.config(url), "0018")
        with eng.begin() as conn:
            conn.execute(text("UPDATE tips SET status = 'closed'"))
        migrate.upgrade(url)
        with Session(eng) as s:
            assert_exact(s)
            assert counted(s)[("hotline_111", "[]", "closed", "normal", 0)] == 1
            assert sum(counted(s).values()) == 3
    finally:
        eng.dispose()


def _slots(session: Session) -> set[int]:
    return set(session.scalars(select(TipCount.slot)))


def test_two_connections_never_wait_for_each_others_counters(
    session: Session, new_session: Session
) -> None:
    """Two transactions moving tips of one queue to the same states in opposite orders, both open
    at once (two operators): on PostgreSQL neither waits for the other's counter rows, and the
    fold then leaves one row per key, skipping rows an open transaction holds. SQLite has one
    writer and one slot."""
    tips = some_tips(16, seed=2)
    ids = [t.id for t in tips]
    postgresql = session.get_bind().dialect.name == "postgresql"

    def move(s: Session, rows: list[int], status: str) -> None:
        s.execute(
            update(Tip)
            .where(Tip.id.in_(rows))
            .values(status=status)
            .execution_options(synchronize_session=False)
        )

    if not postgresql:
        move(session, ids[:8], "in_progress")
        session.commit()
        move(new_session, ids[8:], "closed")
        new_session.commit()
        assert tip_counts.fold(session.connection()) == 0 and _slots(session) == {0}
        assert_exact(session)
        return
    session.execute(text("SET lock_timeout = '2s'"))
    new_session.execute(text("SET lock_timeout = '2s'"))
    move(session, ids[:4], "in_progress")
    move(new_session, ids[8:12], "closed")
    move(new_session, ids[12:], "in_progress")
    move(session, ids[4:8], "closed")
    new_session.commit()
    session.commit()
    assert_exact(session)
    assert len(_slots(session)) >= 2  # one per connection
    move(new_session, ids[:2], "new")  # open: new_session holds its slot's rows
    assert tip_counts.fold(session.connection()) > 0
    session.commit()
    new_session.commit()
    assert_exact(session)
    assert _slots(session) > {0}  # the held rows were left for the next pass
    assert tip_counts.fold(session.connection()) > 0
    session.commit()
    assert _slots(session) == {0}
    keys = session.execute(select(TipCount.queue, TipCount.shared_with, TipCount.status)).all()
    assert len(keys) == len(set(keys))
    assert_exact(session)


def test_each_reconciler_pass_folds_the_tip_counters(app: Any, session: Session) -> None:
    """The reconciler folds the tip counters on every pass (PostgreSQL; SQLite has nothing to
    fold)."""
    from workers import reconciler

    some_tips(6)
    session.execute(update(Tip).values(status="closed"))
    session.commit()
    out = reconciler.run()
    if session.get_bind().dialect.name == "postgresql":
        assert out["tip_counters_folded"] > 0
    else:
        assert out["tip_counters_folded"] == 0
    assert _slots(session) == {0}
    assert_exact(session)


def test_the_dashboard_page_counts_once(client: Any, auth: Any, session: Session) -> None:
    """The tip dashboard shows its block of counts once and computes it once (the page used to
    pass the counts to a block that computed them again)."""
    some_tips(10)
    auth.login("admin")
    seen: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        seen.append(" ".join(statement.split()))

    engine = session.get_bind()
    event.listen(engine, "before_cursor_execute", record)
    try:
        resp = client.get("/inbox/dashboard")
    finally:
        event.remove(engine, "before_cursor_execute", record)
    assert resp.status_code == 200
    assert resp.get_data(as_text=True).count('class="by-queue"') == 1
    # The queue table and the open tips by priority; the charts' whole days.
    assert sum("FROM tip_counts" in s for s in seen) == 2
    assert sum("FROM tip_days" in s for s in seen) == 1
