"""Queues: replies jump ahead of bulk broadcast batches (invariant 11); periodic jobs run once."""

from __future__ import annotations

from typing import Any

from redis import Redis
from rq import Queue, SimpleWorker

from gateway import queues
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
        [Queue(q, connection=redis_conn) for q in queues.ALL], connection=redis_conn
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
    assert Queue(queues.BULK, connection=redis_conn).count == 1


def test_periodic_jobs_run_once_per_slot_across_workers(app: Any, redis_conn: Redis) -> None:
    """Many workers ticking in the same slot enqueue each periodic job once."""
    first = runtime.schedule_periodic(now=1_000_000.0)
    again = runtime.schedule_periodic(now=1_000_001.0)
    assert {p.name for p in runtime.PERIODIC} == set(first)
    assert again == [
        p.name for p in runtime.PERIODIC if int(1_000_001 // p.every) != int(1_000_000 // p.every)
    ]
    queued = sum(Queue(q, connection=redis_conn).count for q in queues.ALL)
    assert queued == len(first) + len(again)
    # The urgency clock rides the replies lane, never behind a broadcast's receipts.
    replies = Queue(queues.REPLIES, connection=redis_conn).get_jobs()
    assert {j.func_name for j in replies} == {"workers.notifications.check_urgency"}
