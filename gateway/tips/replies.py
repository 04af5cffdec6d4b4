"""What Loa says back to a tipster, and whether it may say anything at all (invariant 12).

Acknowledgements are neutral: they never repeat the tip and always give 111 and 113. A sender
marked do-not-contact gets nothing. Outbound texts are ``Reply`` rows, sent by the worker job
``workers.notifications.send_reply`` on the ``replies`` lane (served before broadcasts).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import cast

from redis import Redis
from redis.exceptions import RedisError
from sqlalchemy import Table, bindparam, insert, select
from sqlalchemy.orm import Session

from campaigns.phones import mask
from gateway import jobs
from gateway.settings import Settings
from gateway.tips.models import Reply, SenderFlag

log = logging.getLogger("loa.tips")

ACK = "ack"
REPLY = "reply"
ALERT = "alert"

DEFAULT_ACK = "Loa: Đã nhận tin của bạn. Nếu khẩn cấp, gọi 113 (Công an) hoặc 111 (miễn phí, 24/7)."
OPT_OUT_CONFIRM = (
    "Loa: Bạn sẽ không nhận tin tuyên truyền nữa. Nhắn BAT DAU để nhận lại. "
    "Khẩn cấp: gọi 113 hoặc 111."
)
OPT_IN_CONFIRM = "Loa: Bạn đã đăng ký nhận lại tin tuyên truyền. Nhắn HUY để ngừng."


def ack_text(settings: Settings) -> str:
    """The acknowledgement: the setting ``tip_ack_text`` when set, else Loa's neutral text."""
    return settings.tip_ack_text or DEFAULT_ACK


# Built once: every inbound SMS and every reply runs it.
_DO_NOT_CONTACT = select(SenderFlag.do_not_contact).where(SenderFlag.phone == bindparam("phone"))


def do_not_contact(session: Session, phone: str | None) -> bool:
    """Whether ``phone`` (E.164) is marked do-not-contact (no number counts as one)."""
    if not phone:
        return True
    return bool(session.scalar(_DO_NOT_CONTACT, {"phone": phone}))


def mark_do_not_contact(
    session: Session, phone: str, reason: str = "", by: int | None = None, value: bool = True
) -> SenderFlag:
    """Mark (or unmark) a sender do-not-contact; the caller commits and audits."""
    flag = session.scalar(select(SenderFlag).where(SenderFlag.phone == phone))
    if flag is None:
        flag = SenderFlag(phone=phone)
        session.add(flag)
    flag.do_not_contact = value
    flag.reason = reason[:200]
    flag.by_id = by
    session.flush()
    return flag


def queue_reply(
    session: Session,
    *,
    to_phone: str | None,
    body: str,
    kind: str,
    tip_id: int | None = None,
    author_id: int | None = None,
) -> Reply | None:
    """Add a ``Reply`` row to send after commit; None when the number must not be contacted.

    Staff alerts (``kind="alert"``) go to staff phones and skip the do-not-contact check.
    Call :func:`enqueue_replies` with the ids once the caller has committed.
    """
    if not to_phone or (kind != ALERT and do_not_contact(session, to_phone)):
        return None
    reply = Reply(
        tip_id=tip_id, to_phone=to_phone, body=body, kind=kind, author_id=author_id, status="queued"
    )
    session.add(reply)
    session.flush()
    return reply


_INLINE_ACKS = insert(cast(Table, Reply.__table__))


def record_inline_ack(session: Session, *, to_phone: str, body: str, tip_id: int | None) -> None:
    """Record an acknowledgement answered inside the webhook (TwiML): nothing left to send."""
    row = {"tip_id": tip_id, "to_phone": to_phone, "body": body, "kind": ACK, "status": "inline"}
    session.connection().execute(_INLINE_ACKS, row)  # Core: no object for the flush to work out


def enqueue_replies(redis: Redis, reply_ids: Iterable[int]) -> bool:
    """Hand committed replies to the ``replies`` lane; False (logged) when Redis is down.

    A reply left ``queued`` is picked up again by the periodic job, so nothing is lost.
    """
    ok = True
    for rid in reply_ids:
        try:
            jobs.SEND_REPLY.enqueue(redis, rid, key=(rid,))
        except (RedisError, OSError) as exc:
            log.warning(
                "reply %s not enqueued (%s); the periodic job will retry", rid, type(exc).__name__
            )
            ok = False
    return ok


def masked(phone: str | None) -> str:
    """A number fit for a log line."""
    return mask(phone) if phone else "-"
