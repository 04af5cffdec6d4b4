"""Live figures of a campaign that ``campaigns.reports`` does not compute: the sending rate over
the last minute, the ETA, the window's state; and the deliveries read in id order for the export.

The rate is in segments per second, the unit of the campaign's rate setting (providers throttle
segments), over the last minute or since the launch when that is more recent: a send that took
13 seconds is not averaged over 60.

Counts, breakdowns and cost are ``campaigns.reports``'s; this module only adds the time-based
figures a progress page needs.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

from sqlalchemy import Connection, func, select
from sqlalchemy.orm import Session

from campaigns import reports, statuses, windows
from campaigns.models import Area, Campaign, Contact, Delivery

RATE_WINDOW = dt.timedelta(seconds=60)
LEFT = (statuses.PENDING, statuses.SENDING)


def _segments(session: Session, campaign_id: int, *where: Any) -> int:
    stmt = select(func.coalesce(func.sum(Delivery.segments), 0)).where(
        Delivery.campaign_id == campaign_id, *where
    )
    return int(session.scalar(stmt) or 0)


def _aware(at: dt.datetime) -> dt.datetime:
    return at if at.tzinfo is not None else at.replace(tzinfo=dt.UTC)


def progress(session: Session, campaign: Campaign, now: dt.datetime) -> dict[str, Any]:
    """Live figures: counts, segments/s lately, ETA, the window's state, errors by code."""
    counts = reports.counts(session, campaign.id)
    total = reports.total(counts)
    left = sum(counts[s] for s in LEFT)
    since = now - RATE_WINDOW
    if campaign.launched_at is not None:
        since = max(since, _aware(campaign.launched_at))
    recent = _segments(session, campaign.id, Delivery.sent_at >= since)
    rate = recent / max((now - since).total_seconds(), 1.0)
    left_segments = reports.segments(session, campaign.id, LEFT) if left else 0
    eta = round(left_segments / rate) if rate > 0 and left_segments else None
    window = windows.window_of(campaign)
    is_open = window.is_open(now)
    return {
        "counts": {s: counts[s] for s in statuses.ALL},
        "total": total,
        "done": total - left,
        "percent_done": round(100 * (total - left) / total, 1) if total else 0.0,
        "rate_per_second": round(rate, 2),
        "eta_seconds": eta,
        "eta_text": str(dt.timedelta(seconds=eta)) if eta is not None else None,
        "window_open": is_open,
        "next_opening": None if is_open else window.next_opening(now).isoformat(),
        "errors_by_code": reports.by_error_code(session, campaign.id),
    }


def iter_deliveries(
    conn: Connection, campaign_id: int, batch: int = 1000
) -> Iterator[tuple[Any, ...]]:
    """Every delivery of a campaign as CSV-ready tuples, read in id order a batch at a time."""
    last = 0
    while True:
        rows = conn.execute(
            select(
                Delivery.id,
                Delivery.phone,
                Delivery.status,
                Delivery.skip_reason,
                Delivery.error_code,
                Contact.carrier,
                Area.name,
                Delivery.segments,
                Delivery.attempts,
                Delivery.sent_at,
                Delivery.finished_at,
            )
            .select_from(Delivery)
            .outerjoin(Contact, Contact.id == Delivery.contact_id)
            .outerjoin(Area, Area.id == Contact.district_id)
            .where(Delivery.campaign_id == campaign_id, Delivery.id > last)
            .order_by(Delivery.id)
            .limit(batch)
        ).all()
        if not rows:
            return
        for row in rows:
            yield tuple(row)
        last = rows[-1][0]
