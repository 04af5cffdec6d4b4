"""Tips that follow a broadcast the mobile operators sent, linked by area and time window.

The recipients of a delegated broadcast are the operators' subscribers: Loa never knows their
numbers, so a tip cannot be matched to a delivery as ``gateway.tips.links`` does. Instead a tip
counts for such a broadcast when it arrived within ``LOA_TIP_LINK_DAYS`` from the broadcast's
day and its district (the one its text named, else the sender's in the contact list) is one
the broadcast covered; for a province-wide broadcast every district counts, and so do tips whose
district is unknown.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from campaigns import delegation
from campaigns.models import Area, Campaign, Contact
from gateway.tips.links import UNKNOWN_DISTRICT
from gateway.tips.models import Tip


def delegated_tip_counts(session: Session, campaign: Campaign, days: int) -> dict[str, Any]:
    """``{"total": n, "by_district": {area name: n}, "since": t, "until": t}`` for a delegated
    campaign; total 0 when it has no day."""
    window = delegation.broadcast_window(campaign, days)
    if window is None:
        return {"total": 0, "by_district": {}, "since": None, "until": None}
    since, until = window
    district = func.coalesce(Tip.district_id, Contact.district_id)
    stmt = (
        select(Area.name, func.count(Tip.id))
        .select_from(Tip)
        .outerjoin(Contact, Contact.phone == Tip.sender)
        .outerjoin(Area, Area.id == district)
        .where(Tip.received_at >= since, Tip.received_at < until, Tip.merged_into_id.is_(None))
        .group_by(Area.name)
    )
    covered = delegation.target_districts(session, campaign.audience or {})
    if covered is not None:
        stmt = stmt.where(district.in_(covered))
    by_district = {(name or UNKNOWN_DISTRICT): int(n) for name, n in session.execute(stmt)}
    return {
        "total": sum(by_district.values()),
        "by_district": by_district,
        "since": since,
        "until": until,
    }
