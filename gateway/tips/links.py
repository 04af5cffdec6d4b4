"""Which broadcast a tip answers: the last campaign the sender received in the days before.

The campaign report uses :func:`campaign_tip_counts` to show how many tips a broadcast brought.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import bindparam, func, select
from sqlalchemy.orm import Session

from campaigns import statuses
from campaigns.models import Area, Contact, Delivery
from gateway.tips.models import Tip

DEFAULT_DAYS = 14
UNKNOWN_DISTRICT = ""  # the by_district key of tips whose district is not known


_WHEN = func.coalesce(Delivery.sent_at, Delivery.finished_at)
# Built once: every inbound SMS runs it (a statement built per call costs more than the query).
_LAST_CAMPAIGN = (
    select(Delivery.campaign_id)
    .where(
        Delivery.phone == bindparam("phone"),
        Delivery.status.in_((statuses.SENT, statuses.DELIVERED)),
        _WHEN.between(
            bindparam("since", type_=Delivery.sent_at.type),
            bindparam("at", type_=Delivery.sent_at.type),
        ),
    )
    .order_by(_WHEN.desc())
    .limit(1)
)


def campaign_for(session: Session, phone: str | None, at: dt.datetime, days: int) -> int | None:
    """The campaign whose message reached ``phone`` most recently in the ``days`` before ``at``.

    Only deliveries the provider accepted count (``sent`` or ``delivered``).
    """
    if not phone or days <= 0:
        return None
    since = at - dt.timedelta(days=days)
    return session.scalar(_LAST_CAMPAIGN, {"phone": phone, "since": since, "at": at})


def campaign_tip_counts(session: Session, campaign_id: int) -> dict[str, Any]:
    """Tips linked to a campaign: ``{"total": n, "by_district": {area name: n}}``.

    A tip's district is the one its text named, else the sender's district from the contact
    list; tips with neither count under the key ``""``.
    """
    district = func.coalesce(Tip.district_id, Contact.district_id)
    rows = session.execute(
        select(Area.name, func.count(Tip.id))
        .select_from(Tip)
        .outerjoin(Contact, Contact.phone == Tip.sender)
        .outerjoin(Area, Area.id == district)
        .where(Tip.campaign_id == campaign_id, Tip.merged_into_id.is_(None))
        .group_by(Area.name)
    ).all()
    by_district = {(name or UNKNOWN_DISTRICT): int(n) for name, n in rows}
    return {"total": sum(by_district.values()), "by_district": by_district}
