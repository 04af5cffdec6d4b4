"""Steps that several fault scenarios share: launch, reconcile as if leases had ended, wait for
a campaign to settle."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from campaigns import dispatch, reports
from campaigns import statuses as st
from campaigns.db import utcnow
from campaigns.models import Delivery
from tests.faults.stack import wait_for
from workers import reconciler


def reconcile_past_leases() -> dict[str, Any]:
    """One reconciler pass as it would run once every lease of a dead worker has ended. Call it
    only while no live worker holds a lease: it would settle theirs too."""
    later = utcnow() + dt.timedelta(seconds=dispatch.LEASE_SECONDS + 1)

    def one_pass() -> dict[str, Any] | None:
        result = reconciler.run(now=later)
        return None if result["skipped"] else result  # a periodic pass holds the lock

    got: dict[str, Any] = wait_for(one_pass, 30, "the reconciler's lock was free", every=0.5)
    return got


def open_work(session: Session, campaign_id: int) -> int:
    """Deliveries of the campaign still pending or sending."""
    session.expire_all()
    return int(
        session.scalar(
            select(func.count()).where(
                Delivery.campaign_id == campaign_id,
                Delivery.status.in_((st.PENDING, st.SENDING)),
            )
        )
        or 0
    )


def open_detail(session: Session, campaign_id: int) -> str:
    """What :func:`open_work` counts, grouped (for a failing scenario's message): status, batch,
    whether the row waits for a retry time or holds a lease, and how many."""
    now = utcnow()
    rows = session.execute(
        select(
            Delivery.status,
            Delivery.batch_no,
            Delivery.next_attempt_at > now,
            Delivery.lease_until > now,
            func.count(),
        )
        .where(
            Delivery.campaign_id == campaign_id,
            Delivery.status.in_((st.PENDING, st.SENDING)),
        )
        .group_by(
            Delivery.status,
            Delivery.batch_no,
            Delivery.next_attempt_at > now,
            Delivery.lease_until > now,
        )
    ).all()
    return "open deliveries (status, batch, waits for a retry, leased, n): " + repr(rows)


def pending(session: Session, campaign_id: int) -> int:
    """Deliveries of the campaign not yet claimed."""
    session.expire_all()
    return int(
        session.scalar(
            select(func.count()).where(
                Delivery.campaign_id == campaign_id, Delivery.status == st.PENDING
            )
        )
        or 0
    )


def progress(session: Session, campaign_id: int) -> dict[str, int]:
    """The report's counts without the empty ones (for messages)."""
    session.expire_all()
    return {k: v for k, v in reports.counts(session, campaign_id).items() if v}


def wait_until_settled(session: Session, campaign_id: int, timeout: float, logs: Any) -> None:
    """Wait until nothing of the campaign is pending or sending."""
    try:
        wait_for(lambda: open_work(session, campaign_id) == 0, timeout, "campaign settled", 0.5)
    except AssertionError as exc:
        raise AssertionError(f"{exc}: {progress(session, campaign_id)}\n{logs()}") from None
