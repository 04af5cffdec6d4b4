"""Fault: the provider answers 429 and 503 for a while, then recovers.

A real ``loa worker`` process dispatches; the reconciler runs its passes from this process (as
the periodic job would, only more often). The campaign backs off without a storm and completes;
slow answers and timeouts become ``unknown`` and are settled by the reconciler (Twilio is asked
what it created), never resent blindly. The ledger check at the end: the report's counts sum to
the audience, and the fake provider created at most one message per recipient.

The outage lasts :data:`OUTAGE` seconds instead of a minute; the lease, the first backoff and
Twilio's read timeout are shortened by settings in the same proportion, so the behaviour is the
one of production, only faster.
"""

from __future__ import annotations

import itertools
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from redis import Redis
from sqlalchemy.orm import Session

from campaigns import dispatch, lifecycle
from campaigns import statuses as st
from campaigns.models import Campaign
from campaigns.recording import MAX_ATTEMPTS
from gateway.settings import Settings
from tests.conftest import as_twilio
from tests.factories import mobile
from tests.fakes.twilio_server import Behaviour
from tests.faults import ledger
from tests.integration.dispatch_support import approved_campaign, bulk_contacts
from workers import dispatch as jobs
from workers import reconciler

pytestmark = pytest.mark.slow

AUDIENCE = 30
OUTAGE = 6.0  # seconds of 429s and 503s ("a minute" in production)
SLOW = [mobile(0), mobile(1)]  # Twilio creates the message but answers after the read timeout
LOST = [mobile(2), mobile(3)]  # the request hangs and Twilio creates nothing
DEADLINE = 90.0

FAST = {
    "dispatch_lease_seconds": 5,
    "dispatch_backoff_seconds": 1.0,
    "twilio_read_timeout_seconds": 2.0,
    # The default LOA_PAUSE_AFTER_ERRORS (50) stays: provable refusals never pause a campaign.
}


@pytest.fixture
def settings(settings: Settings, fake_twilio: Any) -> Settings:
    return as_twilio(settings, fake_twilio, **FAST)


@pytest.fixture
def bulk_worker(settings: Settings, tmp_path: Path) -> Iterator[subprocess.Popen[bytes]]:
    """A real ``loa worker`` serving the bulk lane until the test ends."""
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
        LOA_RATE_PER_SECOND=str(settings.rate_per_second),
        **{f"LOA_{k.upper()}": str(v) for k, v in FAST.items()},
    )
    loa = str(Path(sys.executable).with_name("loa"))
    worker = subprocess.Popen(
        [loa, "worker", "--queues", "bulk"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    yield worker
    worker.terminate()
    try:
        worker.wait(20)
    except subprocess.TimeoutExpired:
        worker.kill()
        worker.wait(10)


def _ledger(session: Session, campaign_id: int, fake: Any) -> dict[str, int]:
    """The fault suite's ledger check, with the fake Twilio as the witness."""
    book = ledger.check(session, [(m["to"], m["body"]) for m in fake.sent_to_all()])
    (mine,) = [c for c in book if c.campaign_id == campaign_id]
    assert mine.audience_size == AUDIENCE
    return mine.counts


def test_provider_outage_backs_off_and_completes(
    app: Any,
    session: Session,
    redis_conn: Redis,
    fake_twilio: Any,
    bulk_worker: subprocess.Popen[bytes],
) -> None:
    """429/503 for OUTAGE seconds, then normal: every recipient gets the text exactly once."""
    bulk_contacts(session, AUDIENCE)
    campaign = approved_campaign(session, rate_per_second=50.0)
    dispatch.launch(session, campaign.id)
    outage = [mobile(i) for i in range(AUDIENCE) if mobile(i) not in SLOW + LOST]
    for i, to in enumerate(outage):
        fake_twilio.program(Behaviour.too_many(1) if i % 2 else Behaviour.unavailable(), to=to)
    for to in SLOW:
        fake_twilio.program(Behaviour.slow(4), to=to)
    for to in LOST:
        fake_twilio.program(Behaviour.hanging(), to=to)
    started = time.monotonic()
    jobs.enqueue_batch(redis_conn, campaign.id, 0)

    recovered = False
    answered: set[str] = set()
    first: float | None = None  # the outage is timed from the worker's first request
    while time.monotonic() - started < DEADLINE:
        if first is None and fake_twilio.created():
            first = fake_twilio.created()[0].at
        seen = {r.form["To"] for r in fake_twilio.created()}
        for to in set(LOST) & seen - answered:  # a lost request is lost once: the next one works
            fake_twilio.program(Behaviour(), to=to)
            answered.add(to)
        if not recovered and first is not None and time.monotonic() - first >= OUTAGE:
            for to in outage:
                fake_twilio.program(Behaviour(), to=to)
            recovered = True
        reconciler.run()
        session.expire_all()
        if session.get(Campaign, campaign.id).status == lifecycle.COMPLETED:  # type: ignore[union-attr]
            break
        assert bulk_worker.poll() is None, "the worker died"
        time.sleep(0.5)
    elapsed = time.monotonic() - started

    counts = _ledger(session, campaign.id, fake_twilio)
    assert counts[st.SENT] == AUDIENCE, counts
    assert elapsed < DEADLINE, f"not completed: {counts}"
    # Every recipient has exactly one message, the slow ones' found by the reconciler.
    assert {m["to"] for m in fake_twilio.sent_to_all()} == {mobile(i) for i in range(AUDIENCE)}
    # No storm: each refused recipient was tried a few times, spaced by the backoff (the
    # 429's Retry-After of 1 s, the first backoff of 1 s, doubled), never resent at once.
    tries: dict[str, list[float]] = {}
    for r in fake_twilio.created():
        tries.setdefault(r.form["To"], []).append(r.at)
    for to in outage:
        times = tries[to]
        assert 2 <= len(times) <= MAX_ATTEMPTS, (to, len(times))
        gaps = [b - a for a, b in itertools.pairwise(times)]
        assert min(gaps) >= 0.9, (to, gaps)
    # The unknowns were never resent blindly: the slow ones were requested once (Twilio had
    # created them), the lost ones twice (the reconciler learned Twilio had created nothing).
    assert [len(tries[to]) for to in SLOW] == [1, 1]
    assert [len(tries[to]) for to in LOST] == [2, 2]
