"""Scale-out on the real engines: two web processes and three workers against one PostgreSQL
and one Redis, a 50,000-recipient campaign, one worker killed with its process group while
tips come in through both web processes: nobody gets the text twice, the sums hold."""

from __future__ import annotations

import random
import time
from typing import Any

import pytest
from redis import Redis
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from campaigns import lifecycle
from campaigns import statuses as st
from campaigns.models import Campaign
from gateway.tips.models import Tip
from tests.faults import inbound, ledger
from tests.faults.stack import Stack, bury, wait_for
from tests.faults.support import pending, progress, reconcile_past_leases
from tests.faults.witness import Witness
from tests.integration.dispatch_support import approved_campaign, bulk_contacts
from workers import dispatch as jobs

AUDIENCE = 50_000
TIPS = 400


@pytest.fixture
def postgresql_only(request: pytest.FixtureRequest) -> None:
    if request.config.getoption("--db") != "postgresql":
        pytest.skip("scale-out is proven on PostgreSQL (run with --db=postgresql)")


@pytest.mark.slow
@pytest.mark.postgres
@pytest.mark.usefixtures("postgresql_only")
def test_two_webs_three_workers_one_killed(
    app: Any,
    session: Session,
    redis_conn: Redis,
    settings: Any,
    stack: Stack,
    witness: Witness,
    rng: random.Random,
    seed: int,
) -> None:
    """The killed worker's batch is taken over by the others; its in-flight chunk ends unknown,
    never resent; every tip posted to either web process (Twilio's retries to the other one
    included) is stored once."""
    bulk_contacts(session, AUDIENCE)
    campaign = approved_campaign(session)
    webs = [stack.web(), stack.web()]
    workers = [stack.worker("replies,bulk,events") for _ in range(3)]
    started = time.monotonic()
    assert jobs.launch(campaign.id)["launched"] is True

    target = rng.randint(AUDIENCE // 10, AUDIENCE // 2)
    wait_for(lambda: witness.accepted() >= target, 180, f"{target} accepted")
    victim = rng.choice(workers)
    killed = victim.kill9()
    buried = bury(redis_conn, killed)
    # Tips through both web processes; each retry (the same MessageSid) goes to the other one.
    numbers = [n for n in range(TIPS) for _ in range(1 + (n % 5 == 0))]
    storm = inbound.post_all(webs, numbers, seed, settings.public_base_url)
    assert pending(session, campaign.id) > 0 or witness.accepted() < AUDIENCE

    wait_for(
        lambda: pending(session, campaign.id) == 0,
        240,
        "the surviving workers sent the rest",
        every=0.5,
    )
    took = time.monotonic() - started
    stack.close()
    settled = reconcile_past_leases()["settled"]  # the dead worker's chunk, as unknown

    (book,) = ledger.check(session, witness.log(), storm.acked, seed=seed)
    counts = book.counts
    assert victim.starts == 1 and not victim.alive(), "the killed worker stayed dead"
    assert buried, "the killed worker held no batch: nothing was taken over"
    assert counts[st.SENDING] == 0, progress(session, campaign.id)
    assert counts[st.UNKNOWN] == settled.get(st.UNKNOWN, 0)
    assert counts[st.SENT] + counts[st.UNKNOWN] == AUDIENCE
    assert dict(storm.statuses) == {200: len(numbers)} and len(storm.acked) == TIPS
    assert session.scalar(select(func.count()).select_from(Tip)) == TIPS
    session.expire_all()
    assert session.get(Campaign, campaign.id).status == lifecycle.COMPLETED  # type: ignore[union-attr]
    print(f"{AUDIENCE} recipients in {took:.0f} s with one of three workers killed; {counts}")
