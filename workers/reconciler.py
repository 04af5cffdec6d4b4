"""The periodic reconciler (``workers.runtime.PERIODIC``): rebuilds work from SQL.

Each run, under a Redis lock that makes an overlapping run skip rather than wait:
1. settles deliveries stuck in ``sending`` past their lease (asks the provider: found is
   ``sent``, certainly never created is ``pending`` again, else ``unknown``; never resends
   blindly);
2. pauses running campaigns whose window closed and resumes those the engine paused for the
   window once it opens (not while the kill switch is engaged);
3. enqueues the contact imports waiting for a worker whose job Redis lost (or whose worker died);
4. for every running campaign: materialises it if its launch job was lost, completes it when
   nothing is left, otherwise enqueues the batches that have due pending deliveries (retries
   whose backoff ended, and everything after Redis was wiped).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
from typing import Any

from redis.exceptions import LockError

from campaigns import dispatch, reconcile, reports
from campaigns.db import utcnow
from campaigns.sending import Sighting
from gateway import killswitch
from gateway.tips import count_triggers as tip_counts
from workers import imports, runtime
from workers.dispatch import enqueue_planned

log = logging.getLogger("loa.worker")

LOCK = "loa:lock:reconciler"
LOCK_SECONDS = 300


def lookup(provider_name: str, provider_message_id: str) -> str | None:
    """A message's status in Loa's terms, asked of its provider; None when it cannot say."""
    try:
        return runtime.sender(provider_name).fetch_status(provider_message_id)
    except Exception:  # an unreachable provider must not stop the other repairs
        log.warning("fetch_status failed on %s", provider_name, exc_info=True)
        return None


def find(provider_name: str, phone: str, since: dt.datetime) -> Sighting | None:
    """What the provider created for ``phone`` since ``since``; None when it cannot say."""
    try:
        return runtime.sender(provider_name).find_sent(phone, since)
    except Exception:  # an unreachable provider must not stop the other repairs
        log.warning("find_sent failed on %s", provider_name, exc_info=True)
        return None


def run(now: dt.datetime | None = None) -> dict[str, Any]:
    """One reconciler pass; ``{"skipped": True}`` when another pass holds the lock."""
    redis = runtime.redis()
    lock = redis.lock(LOCK, timeout=LOCK_SECONDS, blocking=False)
    if not lock.acquire(blocking=False):
        return {"skipped": True}
    try:
        return _run(now or utcnow())
    finally:
        # It may have expired during a very long pass: then there is nothing to release.
        with contextlib.suppress(LockError):
            lock.release()


def _run(now: dt.datetime) -> dict[str, Any]:
    redis = runtime.redis()
    settings = runtime.settings()
    out: dict[str, Any] = {"skipped": False, "completed": [], "enqueued": {}}
    with runtime.session() as s:
        stopped = killswitch.sync(redis, s)
        out["settled"] = reconcile.resolve_expired_leases(
            s, lookup, now, settings.provider, find=find
        )
        s.commit()
        out.update(reconcile.follow_windows(s, now, resume=stopped is None))
        s.commit()
        out["counters_folded"] = reports.fold(s)
        s.commit()
        out["tip_counters_folded"] = tip_counts.fold(s.connection())
        s.commit()
        out["imports"] = imports.enqueue_unfinished(s)  # not sending: the kill switch allows it
        if stopped is not None:
            return out
        for campaign_id in reconcile.running(s):
            if not dispatch.is_materialised(s, campaign_id):
                try:  # the launch job was lost (Redis wiped) or failed
                    dispatch.launch(s, campaign_id, now=now)
                except Exception:
                    log.warning("campaign %s cannot be materialised", campaign_id, exc_info=True)
                    continue
            if dispatch.complete_if_done(s, campaign_id, now):
                s.commit()
                out["completed"].append(campaign_id)
                continue
            enqueued = enqueue_planned(s, redis, campaign_id)
            if enqueued:
                out["enqueued"][campaign_id] = enqueued
    return out
