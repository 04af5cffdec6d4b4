"""What the periodic reconciler decides, from SQL alone (``workers.reconciler`` runs it).

- A delivery left in ``sending`` past its lease (its worker died, hung, or the provider's answer
  was UNKNOWN) is never resent: the provider is asked where Loa holds its message id, else the
  delivery becomes ``unknown`` and the report counts it (invariant 2).
- Running campaigns whose window closed are paused; campaigns the engine paused for the window
  are resumed once it opens again (invariant 7).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any, cast

from sqlalchemy import Table, bindparam, select, update
from sqlalchemy.orm import Session

from campaigns import lifecycle
from campaigns import statuses as st
from campaigns.dispatch import MIN_WINDOW_LEFT, PAUSED_WINDOW, resume_after_window
from campaigns.models import Campaign, Delivery
from campaigns.recording import pause
from campaigns.windows import window_of

D = cast(Table, Delivery.__table__)
# What a provider's answer about a message may move a stale ``sending`` delivery to.
_KNOWN = frozenset({st.SENT, st.DELIVERED, st.UNDELIVERED, st.FAILED})

_RESOLVE = (
    update(D)
    .where(
        D.c.id == bindparam("d_id"),
        D.c.status == st.SENDING,
        D.c.lease_until < bindparam("now"),
    )
    .values(
        status=bindparam("new_status"),
        lease_until=None,
        finished_at=bindparam("finished"),
        updated_at=bindparam("now"),
    )
)

Lookup = Callable[[str, str], str | None]  # (provider name, provider message id) -> status


def resolve_expired_leases(
    session: Session, lookup: Lookup, now: dt.datetime, default_provider: str, limit: int = 1000
) -> dict[str, int]:
    """Settle up to ``limit`` deliveries whose lease ended; the caller commits.

    Args:
        session: any session.
        lookup: asks a provider for a message's status in Loa's terms (None: cannot say).
        now: the current time.
        default_provider: the provider of campaigns that name none.
        limit: how many to settle in one run.
    Returns:
        how many became each status, e.g. ``{"unknown": 3, "delivered": 1}``.
    """
    launched = select(Campaign.id).where(Campaign.launched_at.is_not(None))
    rows = session.execute(
        select(Delivery.id, Delivery.provider_message_id, Campaign.provider)
        .join(Campaign, Campaign.id == Delivery.campaign_id)
        .where(
            Delivery.campaign_id.in_(launched),
            Delivery.status == st.SENDING,
            Delivery.lease_until < now,
        )
        .order_by(Delivery.id)
        .limit(limit)
    ).all()
    params: list[dict[str, Any]] = []
    counts: dict[str, int] = {}
    for d_id, pmid, provider in rows:
        status = lookup(provider or default_provider, pmid) if pmid else None
        new = status if status in _KNOWN else st.UNKNOWN
        finished = now if new in st.FINAL else None
        params.append({"d_id": d_id, "now": now, "new_status": new, "finished": finished})
        counts[new] = counts.get(new, 0) + 1
    if params:
        session.connection().execute(_RESOLVE, params)
    return counts


def follow_windows(session: Session, now: dt.datetime, resume: bool = True) -> dict[str, list[int]]:
    """Pause running campaigns outside their window; resume window-paused ones inside it.

    Args:
        session: the caller commits.
        now: the current time.
        resume: False while the kill switch is engaged (nothing may start sending).
    Returns:
        ``{"paused": [ids], "resumed": [ids]}``.
    """
    out: dict[str, list[int]] = {"paused": [], "resumed": []}
    candidates = session.scalars(
        select(Campaign).where(
            (Campaign.status == lifecycle.RUNNING)
            | ((Campaign.status == lifecycle.PAUSED) & (Campaign.paused_reason == PAUSED_WINDOW))
        )
    ).all()
    for campaign in candidates:
        left = window_of(campaign).seconds_left(now)
        is_open = left is None or left >= MIN_WINDOW_LEFT
        if campaign.status == lifecycle.RUNNING and not is_open:
            if pause(session, campaign.id, PAUSED_WINDOW, now):
                out["paused"].append(campaign.id)
        elif (
            campaign.status == lifecycle.PAUSED
            and is_open
            and resume
            and resume_after_window(session, campaign.id, now)
        ):
            out["resumed"].append(campaign.id)
    return out


def running(session: Session) -> list[int]:
    """The ids of running campaigns."""
    stmt = select(Campaign.id).where(Campaign.status == lifecycle.RUNNING).order_by(Campaign.id)
    return list(session.scalars(stmt))
