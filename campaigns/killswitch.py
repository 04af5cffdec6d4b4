"""The global kill switch, as recorded in SQL: who stopped every campaign, when and why.

Engaging it pauses every running campaign with the reason ``kill_switch: <reason>``; releasing
it resumes nothing by itself (each campaign is resumed by a person, on purpose). The Redis flag
that workers read before each chunk lives in ``gateway.killswitch``; this record is the truth
that rebuilds the flag when Redis is wiped. The caller commits.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from campaigns.db import utcnow
from campaigns.models import Campaign, KillSwitch

REASON_PREFIX = "kill_switch"


def active(session: Session) -> KillSwitch | None:
    """The engaged kill switch, or None when campaigns may send."""
    return session.scalar(
        select(KillSwitch).where(KillSwitch.released_at.is_(None)).order_by(KillSwitch.id.desc())
    )


def engage(
    session: Session, reason: str, by: int | None = None, now: dt.datetime | None = None
) -> KillSwitch:
    """Stop every campaign: record the switch and pause each running campaign.

    Args:
        session: the caller commits.
        reason: why (required; shown to everyone who looks at a paused campaign).
        by: the user who pulled it.
        now: the current time.
    Returns:
        the engaged switch (the one already engaged, if any; its reason is kept).
    Raises:
        ValueError: when the reason is empty.
    """
    reason = reason.strip()
    if not reason:
        raise ValueError("a kill switch needs a reason")
    now = now or utcnow()
    switch = active(session)
    if switch is None:
        switch = KillSwitch(reason=reason[:2000], engaged_by_id=by, engaged_at=now)
        session.add(switch)
        session.flush()
    session.execute(
        update(Campaign)
        .where(Campaign.status == "running")
        .values(status="paused", paused_reason=f"{REASON_PREFIX}: {reason}"[:2000], updated_at=now)
        .execution_options(synchronize_session=False)
    )
    return switch


def release(session: Session, by: int | None = None, now: dt.datetime | None = None) -> bool:
    """Release the kill switch; returns whether one was engaged. Paused campaigns stay paused."""
    result = session.execute(
        update(KillSwitch)
        .where(KillSwitch.released_at.is_(None))
        .values(released_at=now or utcnow(), released_by_id=by)
        .execution_options(synchronize_session=False)
    )
    return bool(getattr(result, "rowcount", 0))
