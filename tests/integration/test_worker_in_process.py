"""A worker runs a campaign's batches in its own process, beating their heartbeats as RQ's
monitor of a work horse does; other jobs still run in a forked work horse."""

from __future__ import annotations

import os
import time
from typing import Any

import pytest
from redis import Redis
from rq.job import Job

from gateway import queues
from workers import runtime

BEATS = 1  # second between heartbeats in these tests (RQ's default is 30; a whole number)


def where(seconds: float) -> dict[str, Any]:
    """A job that reports the process it ran in, after ``seconds`` (several heartbeats)."""
    time.sleep(seconds)
    return {"pid": os.getpid()}


def _run(redis_conn: Redis, in_process: bool, monkeypatch: pytest.MonkeyPatch) -> Job:
    func = "tests.integration.test_worker_in_process.where"
    monkeypatch.setattr(runtime, "IN_PROCESS", frozenset({func} if in_process else ()))
    job = queues.queue(queues.BULK, redis_conn).enqueue(func, 2.5)
    worker = runtime.LoaWorker(
        [queues.queue(queues.BULK, redis_conn)],
        connection=redis_conn,
        serializer=queues.SERIALIZER,
        job_monitoring_interval=BEATS,
    )
    worker.work(burst=True)
    job.refresh()
    return job


def test_a_batch_runs_in_the_worker_with_its_heartbeat_kept(
    app: Any, redis_conn: Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    job = _run(redis_conn, True, monkeypatch)
    assert job.get_status() == "finished"
    assert job.return_value() == {"pid": os.getpid()}
    assert job.started_at is not None and job.last_heartbeat is not None
    # Beaten while it ran (2.5 s, a heartbeat every second), not only when it started.
    assert (job.last_heartbeat - job.started_at).total_seconds() >= 0.9


def test_other_jobs_still_run_in_a_work_horse(
    app: Any, redis_conn: Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    job = _run(redis_conn, False, monkeypatch)
    assert job.get_status() == "finished"
    result = job.return_value()
    assert result is not None and result["pid"] != os.getpid()


def test_the_send_batch_job_is_the_one_run_in_process() -> None:
    from gateway import jobs

    assert {jobs.SEND_BATCH.func} == runtime.IN_PROCESS
