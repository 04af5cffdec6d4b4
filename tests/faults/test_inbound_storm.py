"""Tips at a high rate while a broadcast runs, with Redis down for part of the time: every
webhook is answered 2xx and every acknowledged tip is stored exactly once (invariant 4: an
outage delays an alert, never loses a tip)."""

from __future__ import annotations

import random
import threading
import time
from typing import Any

import pytest
from redis import Redis
from rq.job import JobStatus
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from campaigns import statuses as st
from gateway import queues
from gateway.tips import routing
from gateway.tips.models import Tip
from gateway.tips.states import URGENT
from tests.faults import inbound, ledger
from tests.faults.stack import ControlledRedis, Stack, wait_for
from tests.faults.support import open_detail, pending, reconcile_past_leases
from tests.faults.witness import Witness
from tests.integration.dispatch_support import approved_campaign, bulk_contacts
from workers import dispatch as jobs

AUDIENCE = 3_000
TIPS = 600
RETRIES = 60  # Twilio posting the same message again


@pytest.mark.slow
def test_tips_during_a_broadcast_with_redis_down(
    app: Any,
    session: Session,
    redis_conn: Redis,
    fault_redis: ControlledRedis,
    settings: Any,
    stack: Stack,
    witness: Witness,
    rng: random.Random,
    seed: int,
) -> None:
    """600 tips (and 60 retries of them) through gunicorn while 3,000 texts go out; Redis is
    killed after a random share of them and comes back empty a moment later."""
    routing.seed_default_rules(session)  # "khẩn cấp" makes a tip urgent: its alert needs Redis
    session.commit()
    bulk_contacts(session, AUDIENCE)
    campaign = approved_campaign(session)
    url = stack.web()
    stack.worker("replies,events")
    stack.worker("bulk")
    assert jobs.launch(campaign.id)["launched"] is True
    wait_for(lambda: witness.accepted() >= 200, 60, "the broadcast is under way")

    numbers = list(range(TIPS)) + [rng.randrange(TIPS) for _ in range(RETRIES)]
    rng.shuffle(numbers)
    outage_after = rng.uniform(0.5, 2.0)
    outage = threading.Timer(outage_after, fault_redis.kill)
    outage.start()
    started = time.monotonic()
    storm = inbound.post_all([url], numbers, seed, settings.public_base_url)
    took = time.monotonic() - started
    outage.join()
    assert took > outage_after, "the tips were all in before Redis went down: nothing proven"
    # Urgent tips that came while Redis was down: stored, their alert not yet enqueued.
    waiting = session.scalar(
        select(func.count()).where(Tip.priority == URGENT, Tip.notified_at.is_(None))
    )
    fault_redis.start()

    assert storm.errors == {}, storm.errors
    assert dict(storm.statuses) == {200: len(numbers)}, (storm.statuses, stack.logs())
    assert len(storm.acked) == TIPS
    assert waiting, "no tip came in while Redis was down"
    stack.supervise_until(
        lambda: pending(session, campaign.id) == 0,
        180,
        "every recipient claimed",
        detail=lambda: open_detail(session, campaign.id),
    )
    # A chunk claimed when Redis died may keep its lease (status sending) until the reconciler
    # settles it after LEASE_SECONDS, never resent: that is the design, settled below. But the
    # bulk worker itself must not be stuck in a batch: it still takes a new job.
    probe = queues.queue(queues.BULK, redis_conn).enqueue("workers.reconciler.run")
    stack.supervise_until(
        lambda: probe.get_status(refresh=True) == JobStatus.FINISHED,
        120,
        "the bulk worker takes a new job",
        detail=lambda: open_detail(session, campaign.id),
    )
    stack.close()
    reconcile_past_leases()

    (book,) = ledger.check(session, witness.log(), storm.acked, seed=seed)
    assert book.counts[st.SENT] + book.counts[st.UNKNOWN] == AUDIENCE
    assert session.scalar(select(func.count()).select_from(Tip)) == TIPS
