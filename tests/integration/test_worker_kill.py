"""A real worker process killed with SIGKILL mid-batch: its leased deliveries are settled by the
reconciler (unknown), never resent; the rest of the batch is sent once."""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from redis import Redis
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from campaigns import dispatch, reconcile, reports
from campaigns import statuses as st
from campaigns.db import utcnow
from campaigns.models import Delivery
from gateway.providers import get_provider
from tests.fakes.twilio_server import Behaviour
from tests.integration.dispatch_support import approved_campaign, bulk_contacts, dispatcher
from workers import dispatch as jobs


def _worker_env(settings: Any, tmp_path: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        LOA_ENV="test",
        LOA_DATABASE_URL=settings.database_url,
        LOA_REDIS_URL=settings.redis_url,
        LOA_VAR_DIR=str(tmp_path / "worker-var"),
        LOA_SECRET_KEY="test-secret-key-not-for-production",
        LOA_PROVIDER="twilio",
        LOA_TWILIO_ACCOUNT_SID=settings.twilio_account_sid,
        LOA_TWILIO_AUTH_TOKEN=settings.twilio_auth_token.get_secret_value(),
        LOA_TWILIO_FROM=settings.twilio_from,
        LOA_TWILIO_API_BASE_URL=settings.twilio_api_base_url,
    )
    return env


def _children(pid: int) -> list[int]:
    """The ids of the direct children of process ``pid`` (from /proc)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


def _bulk_worker(settings: Any, tmp_path: Path) -> subprocess.Popen[bytes]:
    """A real ``loa worker --burst`` on the bulk lane."""
    loa = str(Path(sys.executable).with_name("loa"))
    return subprocess.Popen(
        [loa, "worker", "--burst", "--queues", "bulk"],
        env=_worker_env(settings, tmp_path),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def _kill(worker: subprocess.Popen[bytes]) -> None:
    """SIGKILL the worker and its work horse, if it forked one. A campaign's batch runs in the
    worker itself; any other job in a horse (in its own session) that holds the job: killing
    only the parent would leave the horse to finish it."""
    for pid in _children(worker.pid):
        os.kill(pid, signal.SIGKILL)
    worker.send_signal(signal.SIGKILL)
    worker.wait(10)


def _wait_for(condition: Any, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    raise AssertionError("condition not met in time")


@pytest.mark.slow
def test_sigkill_mid_batch_never_resends(
    app: Any,
    session: Session,
    redis_conn: Redis,
    twilio_settings: Any,
    fake_twilio: Any,
    tmp_path: Path,
) -> None:
    """kill -9 while the provider holds two requests: they become unknown, the rest go once."""
    bulk_contacts(session, 5)
    campaign = approved_campaign(session, rate_per_second=2.0)
    dispatch.launch(session, campaign.id)
    fake_twilio.program(Behaviour.slow(8))
    jobs.enqueue_batch(redis_conn, campaign.id, 0)
    started = time.monotonic()
    worker = _bulk_worker(twilio_settings, tmp_path)
    try:
        _wait_for(lambda: len(fake_twilio.requests) >= 2, timeout=30)
        _kill(worker)
    finally:
        if worker.poll() is None:
            worker.kill()
    assert worker.returncode == -signal.SIGKILL
    leased = session.scalar(
        select(func.count()).where(
            Delivery.campaign_id == campaign.id, Delivery.status == st.SENDING
        )
    )
    assert leased == 2

    fake_twilio.program(Behaviour())
    provider = get_provider(twilio_settings)
    try:
        after_lease = utcnow() + dt.timedelta(seconds=dispatch.LEASE_SECONDS + 1)
        lookup = lambda _name, pmid: provider.fetch_status(pmid)  # noqa: E731
        settled = reconcile.resolve_expired_leases(session, lookup, after_lease, "twilio")
        session.commit()
        assert settled == {st.UNKNOWN: 2}
        dispatcher(session, provider, redis_conn).run_batch(campaign.id, 0)
    finally:
        provider.close()
    per_number = Counter(r.form.get("To") for r in fake_twilio.requests if r.method == "POST")
    assert len(per_number) == 5 and set(per_number.values()) == {1}
    time.sleep(max(0.0, started + 9 - time.monotonic()))  # past the provider's 8 s answer
    counts = reports.counts(session, campaign.id)
    assert (counts[st.UNKNOWN], counts[st.SENT], reports.total(counts)) == (2, 3, 5)


@pytest.mark.slow
def test_a_killed_workers_job_can_be_enqueued_again(
    app: Any, redis_conn: Redis, twilio_settings: Any, tmp_path: Path
) -> None:
    """A job whose worker was killed looks 'started' until RQ's maintenance (every ten
    minutes) notices. Loa does not wait: once its heartbeat is older than a live worker's
    would be, the same job id can be enqueued again, and RQ's stale entry cannot fail the new
    job later."""
    from rq.job import Job
    from rq.registry import StartedJobRegistry

    from gateway import queues

    q = queues.queue(queues.BULK, redis_conn)
    q.enqueue("time.sleep", 30, job_id="probe-1", job_timeout=120)
    worker = _bulk_worker(twilio_settings, tmp_path)
    try:
        _wait_for(lambda: q.fetch_job("probe-1").get_status(refresh=True) == "started", 30)  # type: ignore[union-attr]
        _wait_for(lambda: bool(_children(worker.pid)), 10)
        _kill(worker)
    finally:
        if worker.poll() is None:
            worker.kill()
    assert queues.alive(q, "probe-1")  # just killed: it cannot be told from a slow job yet

    # Two minutes later, as far as RQ's traces tell: the heartbeat and the registry entry age.
    job = Job.fetch("probe-1", connection=redis_conn, serializer=queues.SERIALIZER)
    old = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=queues.ABANDONED_AFTER + 5)
    job.heartbeat(old, ttl=60)
    registry = StartedJobRegistry(queue=q)
    for member in redis_conn.zrange(registry.key, 0, -1):
        redis_conn.zadd(registry.key, {member: old.timestamp()})

    assert not queues.alive(q, "probe-1")
    assert q.fetch_job("probe-1").get_status(refresh=True) == "failed"  # type: ignore[union-attr]
    assert redis_conn.zcard(registry.key) == 0  # nothing left to fail a new job later
    q.enqueue("time.sleep", 0, job_id="probe-1")
    assert queues.alive(q, "probe-1")
