"""Campaign progress and final reports, from the deliveries (the ledger).

Counts, error codes and segments per status come from ``delivery_counts``, which the database's
own triggers keep equal to a GROUP BY of the deliveries (:mod:`campaigns.count_triggers`), so a
progress page costs a few rows, not a pass over a million deliveries. So do the breakdowns by
carrier and district: they are the snapshot taken at launch (the carrier and district each
delivery's contact had then), so a report never changes when a contact is edited or deleted
later. The breakdown by hour still reads the deliveries.

Invariant 3: the eight status counts of :func:`counts` always sum to the campaign's
``audience_size``, because every audience member was inserted once as a delivery and a delivery
only ever changes status.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from campaigns import count_triggers
from campaigns import statuses as st
from campaigns.models import Area, Campaign, Delivery, DeliveryCount

# Statuses whose segments the provider charges for (it accepted the message).
CHARGED = (st.SENT, st.DELIVERED, st.UNDELIVERED)
# Statuses that may or may not have been charged.
UNCERTAIN = (st.SENDING, st.UNKNOWN)
NONE_KEY = "unknown"  # the breakdown key of a missing carrier, district or error code


def counts(session: Session, campaign_id: int) -> dict[str, int]:
    """How many deliveries of a campaign are in each status.

    Args:
        session: any session.
        campaign_id: the campaign.
    Returns:
        the keys of :data:`campaigns.statuses.ALL` (pending, sending, sent, delivered,
        undelivered, failed, unknown, skipped), which sum to ``audience_size``, plus one
        ``skipped_<reason>`` key per skip reason present (a breakdown of ``skipped``; do not
        add them to the total).
    """
    out = dict.fromkeys(st.ALL, 0)
    rows = session.execute(
        select(DeliveryCount.status, DeliveryCount.skip_reason, func.sum(DeliveryCount.n))
        .where(DeliveryCount.campaign_id == campaign_id)
        .group_by(DeliveryCount.status, DeliveryCount.skip_reason)
    )
    for status, reason, n in rows:
        if not n:
            continue
        out[status] = out.get(status, 0) + int(n)
        if status == st.SKIPPED:
            key = f"skipped_{reason or NONE_KEY}"
            out[key] = out.get(key, 0) + int(n)
    return out


def segments(session: Session, campaign_id: int, statuses: tuple[str, ...]) -> int:
    """The segments of a campaign's deliveries in ``statuses``, read from the counters."""
    stmt = select(func.coalesce(func.sum(DeliveryCount.segments), 0)).where(
        DeliveryCount.campaign_id == campaign_id, DeliveryCount.status.in_(statuses)
    )
    return int(session.scalar(stmt) or 0)


def recount(session: Session, campaign_id: int | None = None) -> None:
    """Rebuild the counters of one campaign (all when None) from the deliveries; the caller
    commits. The triggers keep them exact; this is the repair, and the tests' proof."""
    count_triggers.recount(session.connection(), campaign_id)


def fold(session: Session) -> int:
    """Fold every connection's counter rows into one per key (PostgreSQL; the reconciler runs it
    on each pass); the caller commits. Returns how many folded rows were written."""
    return count_triggers.fold(session.connection())


# A counter's key after the campaign: (status, skip reason, error code, carrier, district id).
CountKey = tuple[str, str, str, str, int]


def ledger_counts(session: Session, campaign_id: int) -> dict[CountKey, tuple[int, int]]:
    """A fresh GROUP BY of a campaign's deliveries: (status, skip reason, error code, carrier,
    district id) → (deliveries, segments), ``''`` (``0`` for the district) for NULL; what
    :func:`counted` must always equal."""
    key = (
        Delivery.status,
        func.coalesce(Delivery.skip_reason, ""),
        func.coalesce(Delivery.error_code, ""),
        func.coalesce(Delivery.carrier, ""),
        func.coalesce(Delivery.district_id, 0),
    )
    stmt = (
        select(*key, func.count(), func.coalesce(func.sum(Delivery.segments), 0))
        .where(Delivery.campaign_id == campaign_id)
        .group_by(*key)
    )
    return {(s, r, c, k, int(d)): (int(n), int(g)) for s, r, c, k, d, n, g in session.execute(stmt)}


def counted(session: Session, campaign_id: int) -> dict[CountKey, tuple[int, int]]:
    """The counters of a campaign in the shape of :func:`ledger_counts` (empty keys left out)."""
    key = (
        DeliveryCount.status,
        DeliveryCount.skip_reason,
        DeliveryCount.error_code,
        DeliveryCount.carrier,
        DeliveryCount.district_id,
    )
    stmt = (
        select(*key, func.sum(DeliveryCount.n), func.sum(DeliveryCount.segments))
        .where(DeliveryCount.campaign_id == campaign_id)
        .group_by(*key)
    )
    return {
        (s, r, c, k, int(d)): (int(n), int(g))
        for s, r, c, k, d, n, g in session.execute(stmt)
        if n or g
    }


def total(status_counts: dict[str, int]) -> int:
    """The sum of the eight status counts (equals ``audience_size``)."""
    return sum(status_counts.get(s, 0) for s in st.ALL)


def _by_status(rows: Any) -> dict[str, dict[str, int]]:
    """(label or None, status, n) rows as label → status → n, largest label first."""
    out: dict[str, dict[str, int]] = {}
    for label, status, n in rows:
        if not n:
            continue
        row = out.setdefault(label or NONE_KEY, {})
        row[status] = row.get(status, 0) + int(n)
    return dict(sorted(out.items(), key=lambda kv: (-sum(kv[1].values()), kv[0])))


def by_carrier(session: Session, campaign_id: int) -> dict[str, dict[str, int]]:
    """Status counts per carrier (the operator of the contact's number when the campaign was
    launched), largest first; read from the counters."""
    stmt = (
        select(DeliveryCount.carrier, DeliveryCount.status, func.sum(DeliveryCount.n))
        .where(DeliveryCount.campaign_id == campaign_id)
        .group_by(DeliveryCount.carrier, DeliveryCount.status)
    )
    return _by_status(session.execute(stmt))


def by_district(session: Session, campaign_id: int) -> dict[str, dict[str, int]]:
    """Status counts per district name (the contact's district when the campaign was
    launched), largest first; read from the counters. A district since deleted is unknown."""
    stmt = (
        select(Area.name, DeliveryCount.status, func.sum(DeliveryCount.n))
        .select_from(DeliveryCount)
        .outerjoin(Area, Area.id == DeliveryCount.district_id)
        .where(DeliveryCount.campaign_id == campaign_id)
        .group_by(Area.name, DeliveryCount.status)
    )
    return _by_status(session.execute(stmt))


def local_bucket(session: Session, column: Any, unit: str, offset_minutes: int) -> Any:
    """A SQL text label of ``column`` in local time, truncated to the ``unit`` ("hour" or
    "day"): ``YYYY-MM-DD HH`` or ``YYYY-MM-DD``. ``offset_minutes`` is the zone's UTC offset
    (Vietnam keeps +07:00 all year)."""
    if session.get_bind().dialect.name == "postgresql":
        shifted = column + func.make_interval(0, 0, 0, 0, 0, offset_minutes)
        return func.to_char(shifted, "YYYY-MM-DD HH24" if unit == "hour" else "YYYY-MM-DD")
    pattern = "%Y-%m-%d %H" if unit == "hour" else "%Y-%m-%d"
    return func.strftime(pattern, column, f"{offset_minutes:+d} minutes")


def over_time(session: Session, campaign_id: int, offset_minutes: int) -> dict[str, dict[str, int]]:
    """Status counts per local hour the messages were handed to the provider (``YYYY-MM-DD
    HH`` → status → count), in time order; messages never sent are left out."""
    hour = local_bucket(session, Delivery.sent_at, "hour", offset_minutes)
    stmt = (
        select(hour, Delivery.status, func.count())
        .where(Delivery.campaign_id == campaign_id, Delivery.sent_at.is_not(None))
        .group_by(hour, Delivery.status)
    )
    out: dict[str, dict[str, int]] = {}
    for label, status, n in session.execute(stmt):
        out.setdefault(str(label), {})[status] = int(n)
    return dict(sorted(out.items()))


def by_error_code(session: Session, campaign_id: int) -> dict[str, int]:
    """How many failed, undelivered or unknown deliveries carry each error code."""
    stmt = (
        select(DeliveryCount.error_code, func.sum(DeliveryCount.n))
        .where(
            DeliveryCount.campaign_id == campaign_id,
            DeliveryCount.status.in_([st.FAILED, st.UNDELIVERED, st.UNKNOWN]),
        )
        .group_by(DeliveryCount.error_code)
    )
    rows = {(code or NONE_KEY): int(n) for code, n in session.execute(stmt) if n}
    return dict(sorted(rows.items(), key=lambda kv: (-kv[1], kv[0])))


def cost(session: Session, campaign_id: int, price_per_segment: float) -> dict[str, float]:
    """What a campaign cost: segments the provider accepted × the price of one segment.

    Returns:
        ``{"segments", "vnd"}`` for sent, delivered and undelivered deliveries, and
        ``{"uncertain_segments", "uncertain_vnd"}`` for sending and unknown ones (charged or not,
        nobody can say yet).
    """

    charged = segments(session, campaign_id, CHARGED)
    uncertain = segments(session, campaign_id, UNCERTAIN)
    return {
        "segments": charged,
        "vnd": charged * price_per_segment,
        "uncertain_segments": uncertain,
        "uncertain_vnd": uncertain * price_per_segment,
    }


def summary(session: Session, campaign_id: int, price_per_segment: float) -> dict[str, Any]:
    """Everything a progress page or a final report shows, in one dict."""
    campaign = session.get(Campaign, campaign_id, populate_existing=True)
    status_counts = counts(session, campaign_id)
    reached = status_counts[st.SENT] + status_counts[st.DELIVERED] + status_counts[st.UNDELIVERED]
    return {
        "campaign_id": campaign_id,
        "status": campaign.status if campaign else None,
        "paused_reason": campaign.paused_reason if campaign else None,
        "audience_size": campaign.audience_size if campaign else 0,
        "counts": status_counts,
        "delivered_rate": status_counts[st.DELIVERED] / reached if reached else 0.0,
        "by_carrier": by_carrier(session, campaign_id),
        "by_district": by_district(session, campaign_id),
        "by_error_code": by_error_code(session, campaign_id),
        "cost": cost(session, campaign_id, price_per_segment),
    }
