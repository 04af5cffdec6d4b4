"""``kill -9`` of a worker's whole process group at three random points of a 20,000-recipient
campaign, each time restarted: nobody gets the text twice and the report sums to the audience."""

from __future__ import annotations

import random
import time
from typing import Any

import pytest
from redis import Redis
from sqlalchemy.orm import Session

from campaigns import dispatch, lifecycle
from campaigns import statuses as st
from campaigns.models import Campaign
from tests.faults import ledger
from tests.faults.stack import Stack, bury, wait_for
from tests.faults.support import progress, reconcile_past_leases, wait_until_settled
from tests.faults.witness import Witness
from tests.integration.dispatch_support import approved_campaign, bulk_contacts
from workers import dispatch as jobs

AUDIENCE = 20_000
KILLS = 3


@pytest.mark.slow
def test_three_kills_during_a_20k_campaign(
    app: Any,
    session: Session,
    redis_conn: Redis,
    stack: Stack,
    witness: Witness,
    rng: random.Random,
    seed: int,
) -> None:
    """Each kill lands after a random number of accepted messages; the dead worker's leases are
    settled as unknown (never resent), its batch is enqueued again, the restarted worker ends
    the campaign."""
    bulk_contacts(session, AUDIENCE)
    campaign = approved_campaign(session)
    assert jobs.launch(campaign.id)["launched"] is True
    worker = stack.worker("bulk")
    settled: dict[str, int] = {}
    for n in range(KILLS):
        target = witness.accepted() + rng.randint(300, 4_000)
        wait_for(lambda t=target: witness.accepted() >= t, 90, f"kill {n + 1}: {target} accepted")
        time.sleep(rng.uniform(0.0, 0.2))
        killed = worker.kill9()
        bury(redis_conn, killed)
        for status, count in reconcile_past_leases()["settled"].items():
            settled[status] = settled.get(status, 0) + count
        worker.start()
    wait_until_settled(session, campaign.id, 180, stack.logs)
    stack.close()
    reconcile_past_leases()  # completes the campaign

    (book,) = ledger.check(session, witness.log(), seed=seed)
    counts = book.counts
    assert book.audience_size == AUDIENCE, progress(session, campaign.id)
    # What the kills cost: only what was in flight, at most MAX_IN_FLIGHT messages per kill.
    assert counts[st.UNKNOWN] == settled.get(st.UNKNOWN, 0) <= KILLS * dispatch.MAX_IN_FLIGHT
    assert counts[st.SENT] + counts[st.UNKNOWN] == AUDIENCE
    assert worker.starts == KILLS + 1
    session.expire_all()
    assert session.get(Campaign, campaign.id).status == lifecycle.COMPLETED  # type: ignore[union-attr]


@pytest.mark.slow
def test_a_warm_shutdown_ends_the_batch_at_its_next_chunk(
    app: Any, session: Session, redis_conn: Redis, stack: Stack, witness: Witness, seed: int
) -> None:
    """SIGTERM mid-batch at a slow rate: the worker records what is in flight and exits within
    seconds, not after the batch (here about a minute); the rest stays pending, the reconciler
    enqueues the batch again and the next worker finishes it, nobody twice."""
    bulk_contacts(session, dispatch.BATCH_SIZE)
    campaign = approved_campaign(session, rate_per_second=8.0)
    assert jobs.launch(campaign.id)["launched"] is True
    worker = stack.worker("bulk")
    wait_for(lambda: witness.accepted() >= 10, 60, "the worker got going")
    assert worker.proc is not None
    worker.proc.terminate()
    assert worker.proc.wait(20) == 0  # a whole batch at this rate would take about a minute
    sent = witness.accepted()
    assert sent < dispatch.BATCH_SIZE / 2
    assert progress(session, campaign.id) == {st.SENT: sent, st.PENDING: dispatch.BATCH_SIZE - sent}

    session.get(Campaign, campaign.id).rate_per_second = 10_000.0  # type: ignore[union-attr]
    session.commit()
    assert reconcile_past_leases()["enqueued"] == {campaign.id: [0]}
    worker.start()
    wait_until_settled(session, campaign.id, 60, stack.logs)
    stack.close()
    (book,) = ledger.check(session, witness.log(), seed=seed)
    assert book.counts[st.SENT] == dispatch.BATCH_SIZE == witness.accepted()
