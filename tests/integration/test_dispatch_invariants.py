"""Invariants 1 and 2 under concurrency and failure: launch twice, enqueue twice, two workers on
one batch, stale leases, a wiped Redis, and a 200,000-recipient launch in seconds."""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections import Counter
from typing import Any

import pytest
from redis import Redis
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from campaigns import dispatch, lifecycle, reconcile, reports
from campaigns import statuses as st
from campaigns.db import make_sessionmaker
from campaigns.models import Campaign, Delivery
from gateway import queues
from gateway.queues import BULK
from tests.integration.dispatch_support import (
    FakeSender,
    approved_campaign,
    bulk_contacts,
    dispatcher,
)
from workers import dispatch as jobs
from workers import reconciler, runtime


def _in_threads(n: int, target: Any) -> list[Any]:
    results: list[Any] = [None] * n
    errors: list[BaseException] = []
    barrier = threading.Barrier(n)

    def run(i: int) -> None:
        try:
            barrier.wait()
            results[i] = target(i)
        except BaseException as exc:  # re-raised in the test's thread
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]
    return results


def test_concurrent_launches_materialise_once(session: Session, db_engine: Engine) -> None:
    """Two workers launching the same campaign at once: one launch, one delivery per recipient."""
    bulk_contacts(session, 300)
    campaign = approved_campaign(session)
    factory = make_sessionmaker(db_engine)

    def launch(_i: int) -> bool:
        with factory() as s:
            return dispatch.launch(s, campaign.id)

    assert sorted(_in_threads(2, launch)) == [False, True]
    count = session.scalar(select(func.count()).where(Delivery.campaign_id == campaign.id))
    assert count == 300


def test_two_workers_on_one_batch_send_each_delivery_once(
    session: Session, db_engine: Engine, redis_conn: Redis
) -> None:
    """Two dispatchers with separate sessions run the same batch concurrently: no double send."""
    bulk_contacts(session, 200)
    campaign = approved_campaign(session, rate_per_second=400.0)
    dispatch.launch(session, campaign.id, batch_size=200)
    sender = FakeSender()
    factory = make_sessionmaker(db_engine)

    def work(_i: int) -> int:
        with factory() as s:
            return dispatcher(s, sender, redis_conn, max_chunk=20).run_batch(campaign.id, 0).sent

    sent = _in_threads(2, work)
    assert sum(sent) == 200
    assert Counter(sender.phones()).most_common(1)[0][1] == 1 and len(sender.sent) == 200
    assert reports.counts(session, campaign.id)["sent"] == 200


def test_enqueue_a_batch_twice_makes_one_job(
    app: Any, session: Session, redis_conn: Redis, rq_worker: Any
) -> None:
    """A queued batch is not enqueued again; the simulator receives each number once."""
    bulk_contacts(session, 30)
    campaign = approved_campaign(session)
    dispatch.launch(session, campaign.id)
    assert jobs.enqueue_batch(redis_conn, campaign.id, 0) is True
    assert jobs.enqueue_batch(redis_conn, campaign.id, 0) is False
    assert queues.queue(BULK, redis_conn).job_ids == [jobs.batch_job_id(campaign.id, 0)]
    rq_worker.run()
    per_number = Counter(m.to for m, _result in runtime.provider("simulator").received)
    assert len(per_number) == 30 and set(per_number.values()) == {1}
    session.expire_all()
    assert session.get(Campaign, campaign.id).status == lifecycle.COMPLETED  # type: ignore[union-attr]


def test_launch_job_then_wiped_redis_is_rebuilt_by_the_reconciler(
    app: Any, session: Session, redis_conn: Redis, rq_worker: Any
) -> None:
    """Work lost with Redis is rebuilt from SQL: the reconciler enqueues the due batches."""
    audience = 2 * dispatch.BATCH_SIZE + 100  # three batches, the last one short
    bulk_contacts(session, audience)
    campaign = approved_campaign(session)
    result = jobs.launch(campaign.id)
    assert result["launched"] is True and result["enqueued"] == [0, 1, 2]
    assert jobs.launch(campaign.id)["launched"] is False
    redis_conn.flushdb()
    out = reconciler.run()
    assert out["enqueued"] == {campaign.id: [0, 1, 2]}
    rq_worker.run()
    counts = reports.counts(session, campaign.id)
    assert counts["sent"] + counts["delivered"] == audience
    assert reports.total(counts) == audience
    session.expire_all()
    assert session.get(Campaign, campaign.id).status == lifecycle.COMPLETED  # type: ignore[union-attr]


def test_reconciler_skips_while_another_run_holds_the_lock(app: Any, redis_conn: Redis) -> None:
    """An overlapping periodic run skips instead of doing the work twice."""
    lock = redis_conn.lock(reconciler.LOCK, timeout=30)
    assert lock.acquire(blocking=False)
    try:
        assert reconciler.run() == {"skipped": True}
    finally:
        lock.release()
    assert reconciler.run()["skipped"] is False


def test_stale_leases_are_settled_never_resent(session: Session, redis_conn: Redis) -> None:
    """Rows stuck in sending past their lease become unknown (or what the provider says), and a
    later run of their batch does not send them again."""
    bulk_contacts(session, 3)
    campaign = approved_campaign(session)
    dispatch.launch(session, campaign.id)
    now = dt.datetime(2026, 7, 30, 3, tzinfo=dt.UTC)
    claimed = dispatch.claim(session, campaign.id, 0, 3, now, lease_seconds=60)
    assert len(claimed) == 3
    session.execute(
        Delivery.__table__.update()
        .where(Delivery.id == claimed[0])
        .values(provider_message_id="SM-known")
    )
    session.commit()
    asked: list[tuple[str, str]] = []

    def lookup(provider: str, pmid: str) -> str | None:
        asked.append((provider, pmid))
        return st.DELIVERED

    early = reconcile.resolve_expired_leases(session, lookup, now + dt.timedelta(seconds=30), "sim")
    assert early == {}
    later = now + dt.timedelta(seconds=61)
    settled = reconcile.resolve_expired_leases(session, lookup, later, "sim")
    session.commit()
    assert settled == {st.DELIVERED: 1, st.UNKNOWN: 2}
    assert asked == [("sim", "SM-known")]
    sender = FakeSender()
    dispatcher(session, sender, redis_conn).run_batch(campaign.id, 0)
    assert sender.sent == []
    counts = reports.counts(session, campaign.id)
    assert (counts["unknown"], counts["delivered"], reports.total(counts)) == (2, 1, 3)


@pytest.mark.slow
def test_materialise_200k_recipients_takes_seconds(session: Session, capsys: Any) -> None:
    """Launching 200,000 recipients is one INSERT…SELECT: seconds, not minutes."""
    bulk_contacts(session, 200_000)
    campaign = approved_campaign(session)
    started = time.perf_counter()
    assert dispatch.launch(session, campaign.id)
    seconds = time.perf_counter() - started
    dialect = session.get_bind().dialect.name
    with capsys.disabled():
        print(f"\nmaterialise 200,000 recipients on {dialect}: {seconds:.2f} s")
    assert session.scalar(select(func.max(Delivery.batch_no))) == 200_000 // dispatch.BATCH_SIZE - 1
    assert seconds < 30
