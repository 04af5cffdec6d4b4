"""The batch planner (``dispatch.due_batches``) and the claim at a province's scale: which
batches are due, and work that does not grow with the campaign's size."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from campaigns import dispatch
from campaigns import statuses as st
from campaigns.db import utcnow
from campaigns.models import Delivery
from tests.integration.dispatch_support import approved_campaign, bulk_contacts


def _launched(session: Session, contacts: int, batch_size: int, list_name: str, start: int) -> int:
    bulk_contacts(session, contacts, list_name=list_name, start=start)
    campaign = approved_campaign(session, list_name=list_name)
    assert dispatch.launch(session, campaign.id, batch_size=batch_size)
    return campaign.id


def _set(session: Session, campaign_id: int, batch_no: int, **values: object) -> None:
    session.execute(
        update(Delivery)
        .where(Delivery.campaign_id == campaign_id, Delivery.batch_no == batch_no)
        .values(**values)
    )
    session.commit()


def test_due_batches_are_the_lowest_with_a_pending_delivery_due_now(session: Session) -> None:
    """Sent batches, batches whose retries wait for their backoff and other campaigns' batches
    are not due; a batch with one due retry among waiting ones is; ``limit`` takes the lowest."""
    now = utcnow()
    cid = _launched(session, 18, 3, "a", 0)  # batches 0..5
    other = _launched(session, 9, 3, "b", 100)
    _set(session, cid, 1, status=st.SENT)
    _set(session, cid, 3, next_attempt_at=now + dt.timedelta(minutes=5))
    _set(session, cid, 4, next_attempt_at=now + dt.timedelta(minutes=5))
    first_of_4 = session.scalar(
        select(func.min(Delivery.id)).where(Delivery.campaign_id == cid, Delivery.batch_no == 4)
    )
    session.execute(
        update(Delivery)
        .where(Delivery.id == first_of_4)
        .values(next_attempt_at=now - dt.timedelta(seconds=1))
    )
    session.commit()

    assert dispatch.due_batches(session, cid, now, 10) == [0, 2, 4, 5]
    assert dispatch.due_batches(session, cid, now, 2) == [0, 2]
    assert dispatch.due_batches(session, cid, now, 0) == []
    assert dispatch.due_batches(session, cid, now + dt.timedelta(minutes=6), 10) == [0, 2, 3, 4, 5]
    assert dispatch.due_batches(session, other, now, 10) == [0, 1, 2]
    _set(session, other, 0, status=st.SENT)
    _set(session, other, 1, status=st.SENT)
    _set(session, other, 2, status=st.SENT)
    assert dispatch.due_batches(session, other, now, 10) == []


def _steps(session: Session, work: Callable[[], object]) -> int:
    """SQLite virtual machine instructions ``work`` runs (in hundreds): deterministic, unlike
    a time."""
    raw = session.connection().connection.driver_connection
    count = [0]

    def tick() -> int:
        count[0] += 1
        return 0

    raw.set_progress_handler(tick, 100)
    try:
        work()
    finally:
        raw.set_progress_handler(None, 0)
    return count[0]


def test_planning_and_claiming_do_not_grow_with_the_database(session: Session) -> None:
    """At every batch's end the planner lists the due batches, and every chunk claims rows:
    neither reads every pending row. Planning a campaign of 20 batches of 200 costs no more
    than one of 20 batches of 10, and a claim costs the same with 4,000 more rows pending
    (before: the planner read every pending row of its campaign, 240 ms at 1,200,000 on
    SQLite, and SQLite's claim scanned every pending row of every campaign by its status
    index, 90 ms a chunk)."""
    if session.get_bind().dialect.name != "sqlite":
        pytest.skip("counts SQLite's instructions; PostgreSQL runs the behaviour above")
    now = utcnow()
    small = _launched(session, 200, 10, "s", 0)
    plan_small = _steps(session, lambda: dispatch.due_batches(session, small, now, 20))
    claim_alone = _steps(session, lambda: dispatch.claim(session, small, 7, 10, now))
    large = _launched(session, 4_000, 200, "l", 1_000)
    plan_large = _steps(session, lambda: dispatch.due_batches(session, large, now, 20))
    claim_beside = _steps(session, lambda: dispatch.claim(session, small, 8, 10, now))
    assert plan_large <= 2 * plan_small, (plan_small, plan_large)
    assert claim_beside <= 2 * claim_alone, (claim_alone, claim_beside)
