"""Enqueueing many batches at once (a launch, and each finished batch) in a few round trips."""

from __future__ import annotations

import json
import time
import zlib
from typing import Any

import pytest
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


def test_a_batch_waiting_on_the_queue_is_not_read_again(
    redis_conn: Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each finished batch plans again, at a high rate every batch of the campaign: the jobs
    waiting on the queue are known alive from the queue's ids, and only the others are read."""
    assert dispatch_jobs.enqueue_batches(redis_conn, 11, list(range(100))) == list(range(100))
    q = _bulk(redis_conn)
    redis_conn.lmove(q.key, q.intermediate_queue.key)  # a worker takes batch 0
    read: list[str] = []
    fetch_many = Job.fetch_many

    def spy(job_ids: list[str], **kwargs: Any) -> Any:
        read.extend(job_ids)
        return fetch_many(job_ids, **kwargs)

    monkeypatch.setattr(Job, "fetch_many", spy)
    assert dispatch_jobs.enqueue_batches(redis_conn, 11, list(range(101))) == [100]
    assert read == ["send-11-0", "send-11-100"]
    assert q.count == 100 and q.intermediate_queue.get_job_ids() == ["send-11-0"]


def test_nothing_to_enqueue_is_no_work(redis_conn: Redis) -> None:
    """An empty plan enqueues nothing."""
    assert dispatch_jobs.enqueue_batches(redis_conn, 9, []) == []
    assert _bulk(redis_conn).count == 0


def test_a_batch_stranded_by_a_dead_worker_is_enqueued_again(redis_conn: Redis) -> None:
    """A worker that took a batch off the queue (RQ moves it to the intermediate list) and was
    killed before starting it leaves the job "queued" on no queue: once it has sat there past
    ``queues.ABANDONED_AFTER`` it is enqueued again, and not before (a live worker's fork)."""
    assert dispatch_jobs.enqueue_batches(redis_conn, 10, [0, 1]) == [0, 1]
    q = _bulk(redis_conn)
    held = q.intermediate_queue
    redis_conn.lmove(q.key, held.key)  # what a worker's dequeue does, then kill -9
    assert held.get_job_ids() == ["send-10-0"] and q.job_ids == ["send-10-1"]
    assert dispatch_jobs.enqueue_batches(redis_conn, 10, [0, 1]) == []  # maybe forking still
    old = time.time() - queues.ABANDONED_AFTER - 5
    redis_conn.set(held.get_first_seen_key("send-10-0"), old)
    assert dispatch_jobs.enqueue_batches(redis_conn, 10, [0, 1]) == [0]
    assert held.get_job_ids() == [] and sorted(q.job_ids) == ["send-10-0", "send-10-1"]
    assert queues.alive(q, "send-10-0") is True
