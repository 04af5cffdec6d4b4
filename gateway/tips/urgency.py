"""The urgency clock: who is on duty, which tips are overdue, and the alerts to staff.

An urgent tip alerts its queue's on-duty staff when it arrives; if nobody acknowledges it
within its deadline (``states.ACK_DEADLINES``), they are alerted again every
``states.ESCALATE_EVERY``, and from level ``states.ESCALATE_WIDER_AT_LEVEL`` (or at once when
nobody is on duty) the province's on-duty police and the admins too. Alerts are SMS on the
``replies`` lane and never carry the tip's text: only its number.
Every step claims the tip with a conditional UPDATE, so two workers never alert twice.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from gateway.models import User
from gateway.roles import ADMIN
from gateway.tips import replies, states
from gateway.tips.models import Roster, Tip, TipEvent

PROVINCE_QUEUE = "police_province"


def deadline(tip: Tip) -> dt.datetime:
    """When ``tip`` must be acknowledged by."""
    return tip.received_at + states.ACK_DEADLINES.get(tip.priority, states.ACK_DEADLINES["normal"])


def overdue(session: Session, now: dt.datetime, queues: list[str] | None = None) -> list[Tip]:
    """Unacknowledged tips past their deadline, urgent first (the dashboard shows them)."""
    out = []
    query = select(Tip).where(Tip.status.in_(states.UNACKNOWLEDGED), Tip.merged_into_id.is_(None))
    if queues is not None:
        query = query.where(Tip.queue.in_(queues))
    for tip in session.scalars(query.order_by(Tip.received_at)):
        if deadline(tip) <= now:
            out.append(tip)
    return sorted(out, key=lambda t: (t.priority != states.URGENT, t.received_at))


def on_duty(session: Session, queue: str, now: dt.datetime) -> list[User]:
    """Active users on the roster of ``queue`` at ``now``."""
    return list(
        session.scalars(
            select(User)
            .join(Roster, Roster.user_id == User.id)
            .where(
                Roster.queue == queue,
                Roster.starts_at <= now,
                Roster.ends_at > now,
                User.active.is_(True),
            )
            .order_by(User.id)
        )
    )


def recipients(session: Session, tip: Tip, level: int, now: dt.datetime) -> list[User]:
    """Who gets an alert for ``tip`` at escalation ``level`` (users with a phone only)."""
    users = on_duty(session, tip.queue, now)
    if level >= states.ESCALATE_WIDER_AT_LEVEL or not [u for u in users if u.phone]:
        users += on_duty(session, PROVINCE_QUEUE, now)
        users += session.scalars(
            select(User).where(User.role == ADMIN, User.active.is_(True)).order_by(User.id)
        )
    seen: set[int] = set()
    out = []
    for user in users:
        if user.phone and user.id not in seen:
            seen.add(user.id)
            out.append(user)
    return out


def alert_text(tip: Tip, new: bool) -> str:
    """The alert SMS: the tip's number only, never its text or sender."""
    if new:
        return f"Loa: Có tin khẩn mới #{tip.id}. Vui lòng xử lý ngay."
    return f"Loa: Tin khẩn #{tip.id} chưa được xử lý."


def _alert(session: Session, tip: Tip, users: list[User], text: str) -> list[int]:
    ids = []
    for user in users:
        reply = replies.queue_reply(
            session, to_phone=user.phone, body=text, kind=replies.ALERT, tip_id=tip.id
        )
        if reply is not None:
            ids.append(reply.id)
    return ids


def notify_new(session: Session, tip_id: int, now: dt.datetime) -> list[int]:
    """Alert the on-duty staff of a new urgent tip once; returns the reply ids (caller commits).

    Normal tips and tips notified already are only stamped (or left alone).
    """
    claimed = session.execute(
        update(Tip).where(Tip.id == tip_id, Tip.notified_at.is_(None)).values(notified_at=now)
    )
    if not getattr(claimed, "rowcount", 0):
        return []
    tip = session.get(Tip, tip_id)
    if tip is None or tip.priority != states.URGENT or tip.status not in states.OPEN_STATES:
        return []
    users = recipients(session, tip, 0, now)
    session.add(TipEvent(tip_id=tip.id, kind="notified", details={"users": [u.id for u in users]}))
    return _alert(session, tip, users, alert_text(tip, new=True))


def due_for_escalation(session: Session, now: dt.datetime) -> list[int]:
    """Ids of urgent, unacknowledged tips past their deadline whose next alert is due."""
    urgent_deadline = now - states.ACK_DEADLINES[states.URGENT]
    again = now - states.ESCALATE_EVERY
    return list(
        session.scalars(
            select(Tip.id)
            .where(
                Tip.priority == states.URGENT,
                Tip.status.in_(states.UNACKNOWLEDGED),
                Tip.merged_into_id.is_(None),
                Tip.received_at <= urgent_deadline,
                or_(Tip.last_escalated_at.is_(None), Tip.last_escalated_at <= again),
            )
            .order_by(Tip.received_at)
        )
    )


def escalate(session: Session, tip_id: int, now: dt.datetime) -> list[int]:
    """Raise one tip's escalation level and alert; returns reply ids (caller commits)."""
    tip = session.get(Tip, tip_id)
    if tip is None:
        return []
    level = tip.escalation_level
    claimed = session.execute(
        update(Tip)
        .where(Tip.id == tip_id, Tip.escalation_level == level)
        .values(escalation_level=level + 1, last_escalated_at=now)
        .execution_options(synchronize_session=False)
    )
    if not getattr(claimed, "rowcount", 0):
        return []
    session.refresh(tip)
    users = recipients(session, tip, level + 1, now)
    session.add(
        TipEvent(
            tip_id=tip.id,
            kind="escalated",
            details={"level": level + 1, "users": [u.id for u in users]},
        )
    )
    return _alert(session, tip, users, alert_text(tip, new=False))
