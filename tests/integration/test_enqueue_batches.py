"""Enqueueing many batches at once (a launch, and each finished batch) in a few round trips."""

from __future__ import annotations

import json
import zlib

from redis import Redis
from rq import Queue
from rq.job import Job

from gateway import jobs, queues
from workers import dispatch as dispatch_jobs


def _bulk(redis_conn: Redis) -> Queue:
    return queues.queue(queues.BULK, redis_conn)


def test_enqueues_every_batch_once_with_its_deterministic_id(redis_conn: Redis) -> None:
    """All batches land on the bulk lane, ids send-{campaign}-{batch}, JSON, timeouts set."""
    assert dispatch_jobs.enqueue_batches(redis_conn, 7, [0, 1, 2]) == [0, 1, 2]
    q = _bulk(redis_conn)
    assert sorted(q.job_ids) == ["send-7-0", "send-7-1", "send-7-2"]
    job = q.fetch_job("send-7-1")
    assert job is not None
    assert job.func_name == jobs.SEND_BATCH.func and job.args == [7, 1]
    assert job.timeout == dispatch_jobs.BATCH_TIMEOUT
    raw = redis_conn.hget(job.key, "data")
    assert isinstance(raw, bytes)
    json.loads(zlib.decompress(raw))  # JSON, never pickle


def test_skips_batches_queued_already_and_requeues_finished_ones(redis_conn: Redis) -> None:
    """A queued batch is not enqueued twice; one that finished (or failed) is enqueued again."""
    assert dispatch_jobs.enqueue_batch(redis_conn, 8, 0) is True
    finished = Job.fetch("send-8-0", connection=redis_conn, serializer=queues.SERIALIZER)
    assert dispatch_jobs.enqueue_batches(redis_conn, 8, [0, 1]) == [1]
    assert dispatch_jobs.enqueue_batches(redis_conn, 8, [0, 1]) == []
    _bulk(redis_conn).remove(finished)  # as a worker takes it, then finishes it
    finished.set_status("finished")
    assert dispatch_jobs.enqueue_batches(redis_conn, 8, [0, 1, 2]) == [0, 2]
    assert _bulk(redis_conn).count == 3


def test_nothing_to_enqueue_is_no_work(redis_conn: Redis) -> None:
    """An empty plan enqueues nothing."""
    assert dispatch_jobs.enqueue_batches(redis_conn, 9, []) == []
    assert _bulk(redis_conn).count == 0
