"""Queues: replies jump ahead of bulk broadcast batches (invariant 11); periodic jobs run once."""

from __future__ import annotations

import datetime as dt
import json
import os
import pickle
import zlib
from pathlib import Path
from typing import Any

from redis import Redis
from rq import SimpleWorker

from gateway import queues
from workers import dispatch as dispatch_jobs
from workers import runtime


def record(label: str) -> None:
    """A job that notes the order it ran in."""
    runtime.redis().rpush("test:order", label)


def test_replies_are_served_before_bulk(app: Any, redis_conn: Redis) -> None:
    """With bulk batches queued first, a reply queued later still runs before them."""
    with app.test_request_context():
        for i in range(3):
            queues.enqueue(
                queues.BULK,
                "tests.integration.test_queues.record",
                f"bulk-{i}",
                connection=redis_conn,
            )
        queues.enqueue(
            queues.EVENTS, "tests.integration.test_queues.record", "event", connection=redis_conn
        )
        queues.enqueue(
            queues.REPLIES, "tests.integration.test_queues.record", "reply", connection=redis_conn
        )
    worker = SimpleWorker(
        [queues.queue(q, redis_conn) for q in queues.ALL],
        connection=redis_conn,
        serializer=queues.SERIALIZER,
    )
    worker.work(burst=True)
    order = [x.decode() for x in redis_conn.lrange("test:order", 0, -1)]
    assert order == ["reply", "bulk-0", "bulk-1", "bulk-2", "event"]


def test_enqueue_with_a_job_id_is_idempotent(app: Any, redis_conn: Redis) -> None:
    """A deterministic job id already queued is not queued a second time."""
    with app.test_request_context():
        for _ in range(3):
            queues.enqueue(
                queues.BULK,
                "tests.integration.test_queues.record",
                "x",
                job_id="send-1-0",
                connection=redis_conn,
            )
    assert queues.queue(queues.BULK, redis_conn).count == 1


def test_periodic_jobs_run_once_per_slot_across_workers(app: Any, redis_conn: Redis) -> None:
    """Many workers ticking in the same slot enqueue each periodic job once."""
    first = runtime.schedule_periodic(now=1_000_000.0)
    again = runtime.schedule_periodic(now=1_000_001.0)
    assert {p.name for p in runtime.PERIODIC} == set(first)
    assert again == [
        p.name for p in runtime.PERIODIC if int(1_000_001 // p.every) != int(1_000_000 // p.every)
    ]
    queued = sum(queues.queue(q, redis_conn).count for q in queues.ALL)
    assert queued == len(first) + len(again)
    # The urgency clock rides the replies lane, never behind a broadcast's receipts.
    replies = queues.queue(queues.REPLIES, redis_conn).get_jobs()
    assert {j.func_name for j in replies} == {"workers.notifications.check_urgency"}


def _job_payloads(redis_conn: Redis) -> dict[str, Any]:
    """Every job hash's ``data`` field as RQ stored it (zlib-compressed), decoded as JSON."""
    return {
        key.decode(): json.loads(zlib.decompress(redis_conn.hget(key, "data") or b""))
        for key in redis_conn.scan_iter("rq:job:*")
        if redis_conn.type(key) == b"hash"
    }


def test_every_way_loa_enqueues_stores_json(app: Any, redis_conn: Redis) -> None:
    """Jobs from the web's helper, the dispatch engine, the periodic ticker and a delayed retry
    are stored as JSON, never pickle (which would run code from whoever can write to Redis)."""
    queues.enqueue(queues.REPLIES, "workers.notifications.send_reply", 7, connection=redis_conn)
    dispatch_jobs.enqueue_batch(redis_conn, 3, 0)
    runtime.schedule_periodic(now=2_000_000.0)
    runtime.queue(queues.REPLIES).enqueue_in(
        dt.timedelta(seconds=60), "workers.notifications.send_reply", 8
    )
    payloads = _job_payloads(redis_conn)
    assert len(payloads) == 3 + len(runtime.PERIODIC)
    calls = {(p[0], tuple(p[2])) for p in payloads.values()}  # [func, instance, args, kwargs]
    assert {
        ("workers.notifications.send_reply", (7,)),
        ("workers.dispatch.send_batch", (3, 0)),
        ("workers.notifications.send_reply", (8,)),
    } <= calls


class _Planted:
    """A pickle that creates a folder when unpickled: what an attacker would plant."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __reduce__(self) -> tuple[Any, ...]:
        return (os.mkdir, (str(self.path),))


def test_a_planted_pickle_is_never_unpickled(app: Any, redis_conn: Redis, tmp_path: Path) -> None:
    """A job whose data someone replaced with a pickle fails in Loa's worker; no code runs."""
    marker = tmp_path / "pwned"
    job_id = queues.enqueue(
        queues.EVENTS,
        "tests.integration.test_queues.record",
        "x",
        connection=redis_conn,
        retry=None,  # fail at once rather than wait for a retry
    )
    redis_conn.hset(f"rq:job:{job_id}", "data", zlib.compress(pickle.dumps(_Planted(marker))))
    assert pickle.loads(pickle.dumps(_Planted(tmp_path / "proof"))) is None  # noqa: S301 (live)
    assert (tmp_path / "proof").is_dir()
    worker = SimpleWorker(
        [queues.queue(queues.EVENTS, redis_conn)],
        connection=redis_conn,
        serializer=queues.SERIALIZER,
    )
    worker.work(burst=True)
    assert not marker.exists()
    assert redis_conn.lrange("test:order", 0, -1) == []
    assert job_id in queues.queue(queues.EVENTS, redis_conn).failed_job_registry.get_job_ids()
