"""The urgency clock with a frozen ``now``: alerts on arrival, after the deadline, then wider."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.models import User
from gateway.tips import states, urgency
from gateway.tips.models import Reply, Roster, Tip
from tests.factories import create_tip, create_user
from workers import notifications

T0 = dt.datetime(2025, 7, 30, 1, 0, tzinfo=dt.UTC)
BODY = "Cứu tôi, tôi bị nhốt ở nhà số 5"


@pytest.fixture
def staff(session: Session) -> dict[str, User]:
    """One on-duty 111 operator, one off-duty, one province police on duty, one admin."""
    people = {
        "on": create_user("hotline_111", phone="+84981110001"),
        "off": create_user("hotline_111", phone="+84981110002"),
        "province": create_user("police", scope="police_province", phone="+84981130001"),
        "admin": create_user("admin", phone="+84981990001"),
    }
    day = dt.timedelta(hours=12)
    session.add_all(
        [
            Roster(queue="hotline_111", user_id=people["on"].id, starts_at=T0 - day, ends_at=T0 + day),
            Roster(queue="hotline_111", user_id=people["off"].id, starts_at=T0 + day, ends_at=T0 + 2 * day),
            Roster(queue="police_province", user_id=people["province"].id, starts_at=T0 - day, ends_at=T0 + day),
        ]
    )  # fmt: skip
    session.commit()
    return people


def _urgent_tip(queue: str = "hotline_111") -> Tip:
    return create_tip(
        BODY, channel="sms", sender="+84981230001", queue=queue, priority="urgent", received_at=T0
    )


def _alerts(session: Session, tip: Tip) -> list[str]:
    session.expire_all()
    return list(
        session.scalars(
            select(Reply.to_phone)
            .where(Reply.tip_id == tip.id, Reply.kind == "alert")
            .order_by(Reply.id)
        )
    )


def test_new_urgent_tip_alerts_on_duty_staff_once(app: Any, session: Session, staff: Any) -> None:
    """notify_urgent alerts the queue's on-duty staff, once, without the tip's text."""
    tip = _urgent_tip()
    assert notifications.notify_urgent(tip.id, T0) == 1
    assert notifications.notify_urgent(tip.id, T0) == 0  # a second run alerts nobody
    assert _alerts(session, tip) == ["+84981110001"]
    body = session.scalar(select(Reply.body).where(Reply.tip_id == tip.id))
    assert body is not None and f"#{tip.id}" in body and "nhốt" not in body


def test_escalation_timeline(app: Any, session: Session, staff: Any) -> None:
    """Not acknowledged: alert after 10 min, again every 15 min, then the province and admins."""
    tip = _urgent_tip()
    notifications.notify_urgent(tip.id, T0)
    minute = dt.timedelta(minutes=1)
    timeline = [
        (5, 0, ["+84981110001"]),
        (10, 1, ["+84981110001", "+84981110001"]),
        (20, 1, ["+84981110001", "+84981110001"]),
        (25, 2, ["+84981110001", "+84981110001", "+84981110001", "+84981130001", "+84981990001"]),
    ]
    for minutes, level, phones in timeline:
        notifications.check_urgency(now=T0 + minutes * minute)
        session.expire_all()
        assert session.get(Tip, tip.id).escalation_level == level, minutes  # type: ignore[union-attr]
        assert _alerts(session, tip) == phones, minutes
    text = session.scalars(select(Reply.body).where(Reply.tip_id == tip.id)).all()[-1]
    assert text == f"Loa: Tin khẩn #{tip.id} chưa được xử lý."


def test_acknowledged_tip_is_not_escalated(app: Any, session: Session, staff: Any) -> None:
    """Once an operator acknowledges the tip the clock stops."""
    tip = _urgent_tip()
    notifications.notify_urgent(tip.id, T0)
    tip.status = states.ACKNOWLEDGED
    session.commit()
    counts = notifications.check_urgency(now=T0 + dt.timedelta(hours=2))
    assert counts["escalated"] == 0
    assert _alerts(session, tip) == ["+84981110001"]


def test_normal_tip_is_never_alerted_but_listed_overdue(
    app: Any, session: Session, staff: Any
) -> None:
    """A normal tip raises no SMS; past 24 h it shows as overdue on the dashboard."""
    tip = create_tip(
        "tin thường", queue="hotline_111", priority="normal", received_at=T0, notified_at=T0
    )
    notifications.check_urgency(now=T0 + dt.timedelta(hours=30))
    assert _alerts(session, tip) == []
    assert urgency.overdue(session, T0 + dt.timedelta(hours=23)) == []
    assert [t.id for t in urgency.overdue(session, T0 + dt.timedelta(hours=25))] == [tip.id]


def test_nobody_on_duty_goes_wider_at_once(app: Any, session: Session, staff: Any) -> None:
    """A queue without on-duty staff alerts the province's on-duty police and the admins."""
    tip = _urgent_tip(queue="border_guard")
    notifications.notify_urgent(tip.id, T0)
    assert _alerts(session, tip) == ["+84981130001", "+84981990001"]


def test_alerts_are_sent_on_the_replies_lane(
    app: Any, session: Session, staff: Any, rq_worker: Any
) -> None:
    """The worker sends queued alerts through the provider and records them sent."""
    tip = _urgent_tip()
    notifications.notify_urgent(tip.id, T0)
    rq_worker.run()
    session.expire_all()
    reply = session.scalar(select(Reply).where(Reply.tip_id == tip.id))
    assert reply is not None and reply.status == "sent" and reply.provider_message_id
    assert notifications.send_reply(reply.id) == "not-queued"  # a second run sends nothing


def test_reply_to_do_not_contact_is_suppressed_at_send_time(app: Any, session: Session) -> None:
    """A sender marked do-not-contact after the reply was queued still gets nothing."""
    from gateway.tips import replies

    reply = replies.queue_reply(session, to_phone="+84981230001", body="ack", kind="ack")
    assert reply is not None
    replies.mark_do_not_contact(session, "+84981230001")
    session.commit()
    assert notifications.send_reply(reply.id) == "suppressed"
