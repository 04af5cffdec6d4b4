"""SQLite busy: another process holds a write transaction while tips arrive and a broadcast
sends. Requests wait for the lock (SQLite's busy timeout) or answer a clear 503, never a 500;
nothing is lost and the file passes SQLite's integrity check."""

from __future__ import annotations

import random
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from redis import Redis
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from campaigns import statuses as st
from gateway.db import RETRY_AFTER_SECONDS
from gateway.tips.models import Tip
from tests.faults import inbound, ledger
from tests.faults.stack import Stack, wait_for
from tests.faults.support import open_work, reconcile_past_leases
from tests.faults.witness import Witness
from tests.integration.dispatch_support import approved_campaign, bulk_contacts
from workers import dispatch as jobs

# Another process (a backup script, a second Loa on the same file…) takes the write lock and
# holds it for argv[2] seconds, or until a line comes on its stdin; it prints "locked" once it
# has the lock.
HOLDER = """
import select, sqlite3, sys
db = sqlite3.connect(sys.argv[1], timeout=30, isolation_level=None)
db.execute("BEGIN IMMEDIATE")
db.execute("CREATE TABLE IF NOT EXISTS fault_holder (n INTEGER)")
print("locked", flush=True)
select.select([sys.stdin], [], [], float(sys.argv[2]))
db.execute("ROLLBACK")
"""


def _path(settings: Any) -> str:
    return str(settings.database_url).removeprefix("sqlite:///")


@contextmanager
def _held(settings: Any, seconds: float) -> Iterator[subprocess.Popen[str]]:
    """Another process holds the write lock for ``seconds`` from entering the block (or until
    ``release(holder)``); leaving the block waits until it has let go."""
    with subprocess.Popen(
        [sys.executable, "-c", HOLDER, _path(settings), str(seconds)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    ) as holder:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        yield holder
        assert holder.wait(60) == 0


def _release(holder: subprocess.Popen[str]) -> None:
    assert holder.stdin is not None
    holder.stdin.write("release\n")
    holder.stdin.flush()


@pytest.fixture
def sqlite_only(request: pytest.FixtureRequest) -> None:
    if request.config.getoption("--db") != "sqlite":
        pytest.skip("SQLite's write lock: the PostgreSQL pass has its own scenarios")


@pytest.mark.slow
@pytest.mark.usefixtures("sqlite_only")
def test_a_held_write_lock_makes_requests_wait(
    app: Any,
    session: Session,
    redis_conn: Redis,
    settings: Any,
    stack: Stack,
    witness: Witness,
    rng: random.Random,
    seed: int,
) -> None:
    """A lock held for a few seconds (less than the busy timeout) while 200 tips and a
    1,000-recipient broadcast go on: every webhook waits and answers 200."""
    bulk_contacts(session, 1_000)
    campaign = approved_campaign(session)
    url = stack.web()
    stack.worker("bulk")
    assert jobs.launch(campaign.id)["launched"] is True
    wait_for(lambda: witness.accepted() >= 100, 60, "the broadcast is under way")
    hold = rng.uniform(2.0, 5.0)
    with _held(settings, hold):
        started = time.monotonic()
        storm = inbound.post_all([url], list(range(200)), seed, settings.public_base_url)
        took = time.monotonic() - started
    assert took >= hold * 0.8, "the tips did not wait for the lock"
    assert storm.errors == {} and dict(storm.statuses) == {200: 200}, storm.statuses
    wait_for(lambda: open_work(session, campaign.id) == 0, 120, "broadcast ended")
    stack.close()
    _sound(settings, session, witness, storm.acked, seed, audience=1_000, tips=200)


@pytest.mark.slow
@pytest.mark.usefixtures("sqlite_only")
def test_a_lock_held_past_the_busy_timeout_answers_503(
    app: Any, session: Session, settings: Any, stack: Stack, witness: Witness, seed: int
) -> None:
    """A lock held past SQLite's 30 s busy timeout: the webhooks give up with 503 and
    Retry-After (Twilio retries them), none answers 500; what was acknowledged is stored."""
    url = stack.web()
    with _held(settings, 120) as holder:  # until the webhooks gave up
        storm = inbound.post_all([url], list(range(8)), seed, settings.public_base_url)
        _release(holder)
    assert storm.errors == {}
    assert dict(storm.statuses) == {503: 8}, (storm.statuses, stack.logs())
    assert storm.retry_after == {str(RETRY_AFTER_SECONDS)}
    again = inbound.post_all([url], list(range(8)), seed, settings.public_base_url)
    assert dict(again.statuses) == {200: 8}  # Twilio's retry, once the lock is gone
    stack.close()
    _sound(settings, session, witness, again.acked, seed, audience=0, tips=8)


def _sound(
    settings: Any,
    session: Session,
    witness: Witness,
    acked: set[str],
    seed: int,
    audience: int,
    tips: int,
) -> None:
    """The file is intact and the ledger holds."""
    reconcile_past_leases()
    with sqlite3.connect(_path(settings)) as db:
        assert db.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
    books = ledger.check(session, witness.log(), acked, seed=seed)
    assert sum(b.counts[st.SENT] + b.counts[st.UNKNOWN] for b in books) == audience
    assert session.scalar(select(func.count()).select_from(Tip)) == tips
