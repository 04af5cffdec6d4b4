"""Queue names and the only way web code and the tip line hand work to workers.

Jobs are named by dotted path, so the web never imports job code (an import-linter contract).
No Flask here: the caller passes its Redis connection (the app's is ``gateway.db.redis()``, a
worker's ``workers.runtime.redis()``), so the tip line can enqueue from any process.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from redis import Redis
from rq import Queue, Retry
from rq.job import Job
from rq.registry import StartedJobRegistry
from rq.serializers import JSONSerializer

# Invariant 11: what a tipster or an on-duty officer waits for runs on ``replies``, served
# first and, in production, by workers that never take ``bulk`` (loa worker --queues
# replies,events): a broadcast's backlog, or a flood of its receipts on ``events``, never delays it.
REPLIES = "replies"  # replies to tipsters, alerts to staff, urgent-tip notifications, urgency clock
BULK = "bulk"  # broadcast batches
EVENTS = "events"  # status receipts, periodic housekeeping (reconciler, schedules)
ALL = (REPLIES, BULK, EVENTS)  # in the order a worker serves them

# Jobs are JSON, never pickle: RQ's default unpickles whatever a job hash holds, so anyone who
# could write to Redis would run code as the worker. Every Queue and Worker of Loa's uses this,
# and job arguments and results are plain ints, strings, lists and dicts.
SERIALIZER = JSONSerializer


def queue(name: str, connection: Redis) -> Queue:
    """The queue ``name`` on ``connection``, storing jobs as JSON."""
    return Queue(name, connection=connection, serializer=SERIALIZER)


def connect(url: str) -> Redis:
    """A Redis client for ``url`` with short timeouts, so an outage fails fast
    (``redis+sentinel://…``: the primary that the sentinels name, see gateway.sentinel)."""
    from gateway import sentinel

    if sentinel.is_sentinel(url):
        return sentinel.connect(url)
    return Redis.from_url(url, socket_connect_timeout=2, socket_timeout=5, health_check_interval=30)


_ALIVE = ("queued", "started", "scheduled", "deferred")


# A running job's worker beats every 30 s (RQ's job monitoring interval) and its registry entry
# lives 90 s past each beat; a "started" job silent for longer lost its worker (kill -9, a host
# gone). RQ's own maintenance notices within ten minutes; Loa does not wait that long.
ABANDONED_AFTER = 120  # seconds


def alive(q: Queue, job_id: str) -> bool:
    """Whether a job with ``job_id`` is queued, running or scheduled on ``q``; a job whose
    worker died is settled first (retried if it has retries left, else failed)."""
    existing = q.fetch_job(job_id)
    if existing is None:
        return False
    status = existing.get_status(refresh=True)
    if status == "started" and _abandoned(existing):
        # What RQ's maintenance would do later: and then its stale entry could fail a new job.
        StartedJobRegistry(queue=q).cleanup()
        status = existing.get_status(refresh=True)
    if status == "queued" and _stranded(q, job_id):
        q.intermediate_queue.remove(job_id)
        return False
    return status in _ALIVE


def _stranded(q: Queue, job_id: str) -> bool:
    """Whether a worker took the job off the queue and died before starting it.

    RQ moves a job it dequeues to the queue's intermediate list, and the work horse takes it
    off that list as it starts the job. A ``kill -9`` in between leaves the job "queued" on no
    queue, until RQ's maintenance (every 10 minutes) fails it: so a job on that list, not
    started, for longer than :data:`ABANDONED_AFTER` (RQ's own first-seen mark) is stranded.
    """
    held = q.intermediate_queue
    if job_id not in held.get_job_ids() or job_id in q.started_job_registry:
        return False
    held.set_first_seen(job_id)
    first = held.get_first_seen(job_id)
    return first is not None and (dt.datetime.now(dt.UTC) - first).total_seconds() > ABANDONED_AFTER


def _abandoned(job: Job) -> bool:
    job.refresh()  # type: ignore[no-untyped-call]
    beat = job.last_heartbeat or job.started_at
    if beat is None:
        return False
    if beat.tzinfo is None:
        beat = beat.replace(tzinfo=dt.UTC)
    return (dt.datetime.now(dt.UTC) - beat).total_seconds() > ABANDONED_AFTER


def enqueue(
    queue: str,
    func: str,
    *args: Any,
    connection: Redis,
    job_id: str | None = None,
    **kwargs: Any,
) -> str:
    """Enqueue the job ``func`` (a dotted path) on ``queue``; returns the job id.

    With ``job_id`` given, a job that is already queued or running under it is not enqueued
    twice (deterministic ids make enqueueing idempotent). ``kwargs`` go to RQ (they may
    override the retry policy).
    """
    q = Queue(queue, connection=connection, serializer=SERIALIZER)
    if job_id is not None and alive(q, job_id):
        return job_id
    kwargs.setdefault("retry", Retry(max=3, interval=[5, 30, 120]))
    kwargs.setdefault("failure_ttl", 7 * 24 * 3600)
    job = q.enqueue(func, *args, job_id=job_id, **kwargs)
    return str(job.id)
