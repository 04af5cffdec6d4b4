"""Redis killed mid-campaign and started again empty: the queues, RQ's registries, the rate
limiter's state are gone; the reconciler rebuilds the work from SQL and the campaign ends with
every recipient accounted for and nobody sent the text twice."""

from __future__ import annotations

import random
import time
from typing import Any

import pytest
from redis import Redis
from sqlalchemy.orm import Session

from campaigns import lifecycle
from campaigns import statuses as st
from campaigns.models import Campaign
from tests.faults import ledger
from tests.faults.stack import ControlledRedis, Stack, wait_for
from tests.faults.support import pending, progress, reconcile_past_leases
from tests.faults.witness import Witness
from tests.integration.dispatch_support import approved_campaign, bulk_contacts
from workers import dispatch as jobs

AUDIENCE = 6_000


@pytest.mark.slow
def test_redis_restarted_empty_mid_campaign(
    app: Any,
    session: Session,
    redis_conn: Redis,
    fault_redis: ControlledRedis,
    stack: Stack,
    witness: Witness,
    rng: random.Random,
    seed: int,
) -> None:
    """After the wipe nothing in Redis knows the campaign; its pending deliveries are sent
    anyway (the periodic reconciler enqueues them again), each once."""
    bulk_contacts(session, AUDIENCE)
    campaign = approved_campaign(session)
    assert jobs.launch(campaign.id)["launched"] is True
    stack.worker("replies,events")  # the lane of the periodic jobs, the reconciler among them
    stack.worker("bulk")
    target = rng.randint(500, 2_500)
    wait_for(lambda: witness.accepted() >= target, 90, f"{target} accepted")
    fault_redis.kill()
    time.sleep(rng.uniform(0.5, 2.0))
    fault_redis.start()
    # Started empty: no queue, no job, no lock. The running workers reconnect at once and
    # register themselves again (RQ's own bookkeeping), which may land before this look.
    bookkeeping = (b"rq:worker", b"rq:scheduler")
    stray = [k for k in redis_conn.scan_iter() if not k.startswith(bookkeeping)]
    assert stray == [], stray
    left = pending(session, campaign.id)
    assert left > 0, "the campaign ended before Redis was wiped: nothing was proven"

    stack.supervise_until(
        lambda: pending(session, campaign.id) == 0, 180, "pending work rebuilt and sent"
    )
    stack.close()
    reconcile_past_leases()  # deliveries in flight when Redis died: settled, never resent

    (book,) = ledger.check(session, witness.log(), seed=seed)
    counts = book.counts
    assert counts[st.SENDING] == 0, progress(session, campaign.id)
    assert counts[st.SENT] + counts[st.UNKNOWN] == AUDIENCE
    assert counts[st.SENT] >= AUDIENCE - left + left // 2  # most of what was left got sent
    session.expire_all()
    assert session.get(Campaign, campaign.id).status == lifecycle.COMPLETED  # type: ignore[union-attr]
