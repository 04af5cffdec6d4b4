"""What the periodic reconciler decides, from SQL alone (``workers.reconciler`` runs it).

- A delivery left in ``sending`` past its lease (its worker died, hung, or the provider's answer
  was UNKNOWN: a 5xx that may come after creating, a timeout) is never resent blindly: the
  provider is asked for the message where Loa holds its id; otherwise a provider that can be
  asked (``Sender.find_sent``: Twilio lists the messages to that number since the claim) says
  whether it created one. Found: ``sent`` (or its later status) with the provider's id;
  certainly none: ``pending`` again, to be sent by the engine (``failed`` after
  :data:`~campaigns.recording.MAX_ATTEMPTS` claims, ``skipped`` if the campaign was cancelled);
  a provider that cannot say: ``unknown``, which the report counts (invariant 2).
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
from campaigns.recording import MAX_ATTEMPTS, pause
from campaigns.sending import Sighting
from campaigns.windows import window_of

D = cast(Table, Delivery.__table__)
# What a provider's answer about a message may move a stale ``sending`` delivery to.
_KNOWN = frozenset({st.SENT, st.DELIVERED, st.UNDELIVERED, st.FAILED})

# A delivery still ``sending`` after its lease: each statement below moves one, if it still is.
_EXPIRED = update(D).where(
    D.c.id == bindparam("d_id"), D.c.status == st.SENDING, D.c.lease_until < bindparam("now")
)
_RESOLVE = _EXPIRED.values(
    status=bindparam("new_status"),
    lease_until=None,
    finished_at=bindparam("finished"),
    updated_at=bindparam("now"),
)
_FOUND = _EXPIRED.values(
    status=bindparam("new_status"),
    provider_message_id=bindparam("pmid"),
    sent_at=bindparam("now"),
    lease_until=None,
    finished_at=bindparam("finished"),
    updated_at=bindparam("now"),
)
_NOT_CREATED = _EXPIRED.values(
    status=bindparam("new_status"),
    skip_reason=bindparam("skip"),
    lease_until=None,
    next_attempt_at=bindparam("now"),
    finished_at=bindparam("finished"),
    updated_at=bindparam("now"),
)

Lookup = Callable[[str, str], str | None]  # (provider name, provider message id) -> status
# (provider name, phone, claimed at) -> what the provider created since (None: cannot say)
Find = Callable[[str, str, dt.datetime], Sighting | None]


def _never_created(attempts: int, campaign_status: str) -> tuple[str, str | None]:
    """Where a delivery goes that the provider certainly did not create, with a skip reason."""
    if campaign_status == lifecycle.CANCELLED:
        return st.SKIPPED, st.SKIP_CANCELLED
    return (st.FAILED if attempts >= MAX_ATTEMPTS else st.PENDING), None


def resolve_expired_leases(
    session: Session,
    lookup: Lookup,
    now: dt.datetime,
    default_provider: str,
    limit: int = 1000,
    find: Find | None = None,
) -> dict[str, int]:
    """Settle up to ``limit`` deliveries whose lease ended; the caller commits.

    Args:
        session: any session.
        lookup: asks a provider for a message's status in Loa's terms (None: cannot say).
        now: the current time.
        default_provider: the provider of campaigns that name none.
        limit: how many to settle in one run.
        find: asks a provider what it created for a number since the claim (None: nobody
            is asked, every delivery without a message id becomes ``unknown``).
    Returns:
        how many became each status, e.g. ``{"unknown": 3, "delivered": 1, "pending": 2}``.
    """
    launched = select(Campaign.id).where(Campaign.launched_at.is_not(None))
    rows = session.execute(
        select(
            Delivery.id,
            Delivery.provider_message_id,
            Delivery.phone,
            Delivery.claimed_at,
            Delivery.attempts,
            Campaign.provider,
            Campaign.status,
        )
        .join(Campaign, Campaign.id == Delivery.campaign_id)
        .where(
            Delivery.campaign_id.in_(launched),
            Delivery.status == st.SENDING,
            Delivery.lease_until < now,
        )
        .order_by(Delivery.id)
        .limit(limit)
    ).all()
    session.commit()  # no snapshot held while the providers are asked
    batches: dict[Any, list[dict[str, Any]]] = {_RESOLVE: [], _FOUND: [], _NOT_CREATED: []}
    counts: dict[str, int] = {}
    for d_id, pmid, phone, claimed_at, attempts, provider, campaign_status in rows:
        name = provider or default_provider
        params: dict[str, Any] = {"d_id": d_id, "now": now}
        if pmid:
            status = lookup(name, pmid)
            statement, new = _RESOLVE, (status if status in _KNOWN else st.UNKNOWN)
        else:
            seen = find(name, phone, claimed_at) if find and claimed_at else None
            if seen is None:
                statement, new = _RESOLVE, st.UNKNOWN
            elif seen.provider_message_id:
                statement, new = _FOUND, (seen.status if seen.status in _KNOWN else st.SENT)
                params["pmid"] = seen.provider_message_id[:64]
            else:
                statement = _NOT_CREATED
                new, params["skip"] = _never_created(attempts, campaign_status)
        params.update(new_status=new, finished=now if new in st.FINAL else None)
        batches[statement].append(params)
        counts[new] = counts.get(new, 0) + 1
    for statement, params_list in batches.items():
        if params_list:
            session.connection().execute(statement, params_list)
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
