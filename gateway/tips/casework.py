"""Work on tips: who may see them, the inbox query, state moves, assignment, notes, replies,
reveal, do-not-contact, merging and the sender's thread.

Every function checks scope and permission itself, so a view (or an API route) that forgets a
check still cannot leak a tip. Functions add to the caller's session; the caller commits.
Nothing here logs a tip body or a full number; audit details carry masked numbers only.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import (
    ColumnElement,
    Select,
    String,
    and_,
    case,
    cast,
    false,
    func,
    or_,
    select,
    true,
)
from sqlalchemy.orm import Session

from campaigns.db import utcnow
from campaigns.phones import mask
from campaigns.text import fold
from gateway import audit
from gateway.models import User
from gateway.roles import ADMIN, allowed, may_see_queue
from gateway.tips import replies, states
from gateway.tips.models import Reply, SenderFlag, Tip, TipEvent, TipNote, TipRead

MAX_NOTE = 4000
MAX_REPLY = 480  # three UCS-2 segments: replies stay short and cheap
MIN_REASON = 5


class CaseworkError(ValueError):
    """A request that cannot be done as asked (bad move, empty note, …): a 4xx for the user."""


class NotAllowed(PermissionError):
    """The user's role or scope does not allow this on this tip."""


# --- labels (Vietnamese source strings; the inbox and the case packet share them) ------------

STATE_LABELS: dict[str, Any] = {
    states.NEW: _l("Mới"),
    states.ACKNOWLEDGED: _l("Đã tiếp nhận"),
    states.IN_PROGRESS: _l("Đang xử lý"),
    states.HANDED_OFF: _l("Đã chuyển giao"),
    states.CLOSED: _l("Đã đóng"),
}
RESOLUTION_LABELS: dict[str, Any] = {
    "referred_police": _l("Chuyển Công an"),
    "referred_111": _l("Chuyển Tổng đài 111"),
    "referred_border_guard": _l("Chuyển Biên phòng"),
    "no_action": _l("Không cần xử lý"),
    "duplicate": _l("Trùng lặp"),
    "spam": _l("Tin rác"),
}
PRIORITY_LABELS: dict[str, Any] = {states.URGENT: _l("Khẩn"), states.NORMAL: _l("Thường")}
CHANNEL_LABELS: dict[str, Any] = {
    "sms": _l("SMS"),
    "smpp": _l("SMS (SMPP)"),
    "http_mo": _l("SMS (HTTP)"),
    "web": _l("Biểu mẫu web"),
    "call": _l("Cuộc gọi"),
}
EVENT_LABELS: dict[str, Any] = {
    "created": _l("Tiếp nhận"),
    "routed": _l("Định tuyến"),
    "status": _l("Đổi trạng thái"),
    "assigned": _l("Phân công"),
    "handed_off": _l("Chuyển giao"),
    "shared": _l("Chia sẻ"),
    "note": _l("Ghi chú"),
    "reply": _l("Trả lời người gửi"),
    "merged": _l("Gộp tin trùng"),
    "escalated": _l("Báo động"),
}


def label(table: dict[str, Any], key: str | None) -> str:
    """The label of ``key`` in ``table`` (the key itself when unknown, "" for None)."""
    return "" if key is None else str(table.get(key, key))


# --- who may see what -------------------------------------------------------------------------


def tip_queues(tip: Tip) -> list[str]:
    """The queue of ``tip`` and every queue it is shared with."""
    return [tip.queue, *(q for q in (tip.shared_with or []) if q != tip.queue)]


def may_see(user: User | None, tip: Tip) -> bool:
    """Whether ``user`` may see ``tip``: their role and scope see its queue or a shared one."""
    if user is None or not user.active or not allowed(user.role, "tips.view"):
        return False
    return any(may_see_queue(user.role, user.scope, q) for q in tip_queues(tip))


def may_work(user: User | None, tip: Tip) -> bool:
    """Whether ``user`` may triage, note, reply to and hand off ``tip``."""
    return user is not None and may_see(user, tip) and allowed(user.role, "tips.work")


def _require(user: User, tip: Tip, permission: str = "tips.work") -> None:
    if not may_see(user, tip) or not allowed(user.role, permission):
        raise NotAllowed(f"user {user.id} may not {permission} tip {tip.id}")


def get_tip(session: Session, user: User, tip_id: int, permission: str = "tips.view") -> Tip:
    """The tip ``tip_id`` if ``user`` may ``permission`` it.

    Raises:
        LookupError: no such tip.
        NotAllowed: it exists but is outside the user's role or scope (the attempt is audited).
    """
    tip = session.get(Tip, tip_id)
    if tip is None:
        raise LookupError(tip_id)
    if not may_see(user, tip) or not allowed(user.role, permission):
        audit.record("tip.denied", actor=user, object_type="tip", object_id=tip.id, session=session)
        session.commit()
        raise NotAllowed(f"user {user.id} may not see tip {tip.id}")
    return tip


def visible_queues(user: User, queues: Iterable[str]) -> list[str]:
    """Those of ``queues`` that ``user`` may see, in order."""
    return [q for q in queues if may_see_queue(user.role, user.scope, q)]


def scope_condition(session: Session, user: User) -> ColumnElement[bool]:
    """An SQL condition true for exactly the tips ``user`` may see (see :func:`may_see`).

    Derived from ``gateway.roles.may_see_queue`` over every queue in use, so the inbox query and
    the per-tip check can never disagree.
    """
    if not allowed(user.role, "tips.view") or not user.active:
        return false()
    if user.role == ADMIN:
        return true()
    in_use = set(session.scalars(select(Tip.queue).distinct()))
    in_use.update(_shared_queues_in_use(session))
    mine = sorted(q for q in in_use if may_see_queue(user.role, user.scope, q))
    if not mine:
        return false()
    shared_text = cast(Tip.shared_with, String)
    # shared_with is a JSON list; its text holds each queue as "name" (names are ASCII).
    return or_(
        Tip.queue.in_(mine), *(shared_text.contains(f'"{q}"', autoescape=True) for q in mine)
    )


def _shared_queues_in_use(session: Session) -> set[str]:
    # DISTINCT on the text: PostgreSQL's json type has no equality operator.
    found: set[str] = set()
    for text in session.scalars(select(cast(Tip.shared_with, String)).distinct()):
        try:
            shared = json.loads(text) if text else []
        except ValueError:
            continue
        found.update(q for q in shared if isinstance(q, str))
    return found


# --- the inbox --------------------------------------------------------------------------------


@dataclass
class InboxFilters:
    """What an operator narrows the inbox to; every field is optional."""

    queue: str = ""
    status: str = ""  # a state, or "open"
    priority: str = ""
    channel: str = ""
    district_id: int | None = None
    since: dt.datetime | None = None  # UTC, inclusive
    until: dt.datetime | None = None  # UTC, exclusive
    search: str = ""
    assigned: str = ""  # "me", "none" or ""
    unread: bool = False
    ids: list[int] = field(default_factory=list)


def visible_tips_query(
    session: Session, user: User, filters: InboxFilters | None = None
) -> Select[Tip, dt.datetime | None]:
    """Tips ``user`` may see under ``filters``, newest first, each with the user's read time.

    Search is a LIKE on the folded body, so "ke sach" finds "Kế Sách" and case never matters.
    """
    f = filters or InboxFilters()
    query = (
        select(Tip, TipRead.read_at)
        .outerjoin(TipRead, and_(TipRead.tip_id == Tip.id, TipRead.user_id == user.id))
        .where(scope_condition(session, user))
    )
    if f.queue:
        query = query.where(_in_queue(f.queue))
    if f.status == "open":
        query = query.where(Tip.status.in_(states.OPEN_STATES))
    elif f.status:
        query = query.where(Tip.status == f.status)
    if f.priority:
        query = query.where(Tip.priority == f.priority)
    if f.channel:
        query = query.where(Tip.channel == f.channel)
    if f.district_id is not None:
        query = query.where(Tip.district_id == f.district_id)
    if f.since is not None:
        query = query.where(Tip.received_at >= f.since)
    if f.until is not None:
        query = query.where(Tip.received_at < f.until)
    if f.search.strip():
        folded = fold(f.search.strip())
        query = query.where(Tip.body_folded.contains(folded, autoescape=True))
    if f.assigned == "me":
        query = query.where(Tip.assigned_to_id == user.id)
    elif f.assigned == "none":
        query = query.where(Tip.assigned_to_id.is_(None))
    if f.unread:
        query = query.where(TipRead.read_at.is_(None))
    if f.ids:
        query = query.where(Tip.id.in_(f.ids))
    return query.order_by(Tip.received_at.desc(), Tip.id.desc())


def inbox_counts(session: Session, user: User) -> dict[str, int]:
    """The live counts of the nav badge: open, unread open, and overdue unacknowledged tips."""
    base = visible_tips_query(session, user, InboxFilters(status="open")).order_by(None)
    sub = base.subquery()
    open_count = session.scalar(select(func.count()).select_from(sub)) or 0
    unread = session.scalar(select(func.count()).where(sub.c.read_at.is_(None))) or 0
    overdue = session.scalar(select(func.count()).where(_overdue_condition(session, user))) or 0
    return {"open": open_count, "unread": unread, "overdue": overdue}


def _overdue_condition(session: Session, user: User) -> ColumnElement[bool]:
    now = utcnow()
    late = or_(
        *(
            and_(Tip.priority == priority, Tip.received_at < now - deadline)
            for priority, deadline in states.ACK_DEADLINES.items()
        )
    )
    return and_(
        scope_condition(session, user),
        Tip.status.in_(states.UNACKNOWLEDGED),
        Tip.merged_into_id.is_(None),
        late,
    )


def overdue_tips(session: Session, user: User, limit: int = 50) -> list[Tip]:
    """Unacknowledged tips past their priority's deadline (urgent first, oldest first).

    The deadlines are ``states.ACK_DEADLINES``, as for the alerts of ``gateway.tips.urgency``;
    unlike its ``overdue()``, this follows the user's scope, shared tips included.
    """
    query = (
        select(Tip)
        .where(_overdue_condition(session, user))
        .order_by((Tip.priority == states.URGENT).desc(), Tip.received_at)
        .limit(limit)
    )
    return list(session.scalars(query))


def counts_by_queue(session: Session, user: User) -> dict[str, dict[str, int]]:
    """For the dashboard: {queue: {state: count}} over the primary queues the user sees."""
    rows = session.execute(
        select(Tip.queue, Tip.status, func.count())
        .where(scope_condition(session, user))
        .group_by(Tip.queue, Tip.status)
    )
    table: dict[str, dict[str, int]] = {}
    for queue, status, count in rows:
        table.setdefault(queue, {})[status] = count
    return table


def _in_queue(queue: str) -> ColumnElement[bool]:
    """A tip is in ``queue`` when it is its primary queue or one it is shared with."""
    return or_(
        Tip.queue == queue, cast(Tip.shared_with, String).contains(f'"{queue}"', autoescape=True)
    )


def open_counts(session: Session, user: User, queues: list[str]) -> dict[str, int]:
    """Open tips the user sees in each of ``queues`` (primary or shared), in one query."""
    if not queues:
        return {}
    columns = [func.coalesce(func.sum(case((_in_queue(q), 1), else_=0)), 0) for q in queues]
    row = session.execute(
        select(*columns).where(scope_condition(session, user), Tip.status.in_(states.OPEN_STATES))
    ).one()
    return {q: int(n) for q, n in zip(queues, row, strict=True)}


def record_view(session: Session, user: User, tip: Tip) -> None:
    """Audit that ``user`` viewed ``tip`` and mark it read for them."""
    audit.record("tip.view", actor=user, object_type="tip", object_id=tip.id, session=session)
    read = session.get(TipRead, (user.id, tip.id))
    if read is None:
        session.add(TipRead(user_id=user.id, tip_id=tip.id))
    else:
        read.read_at = utcnow()


def mark_unread(session: Session, user: User, tip: Tip) -> None:
    """Forget that ``user`` read ``tip`` (the inbox shows it as unread again)."""
    read = session.get(TipRead, (user.id, tip.id))
    if read is not None:
        session.delete(read)


# --- moves and work ---------------------------------------------------------------------------


def _event(session: Session, tip: Tip, user: User | None, kind: str, **kw: Any) -> TipEvent:
    ev = TipEvent(tip_id=tip.id, actor_id=user.id if user else None, kind=kind, **kw)
    session.add(ev)
    return ev


def transition(
    session: Session, tip: Tip, to_state: str, user: User, resolution: str | None = None
) -> TipEvent:
    """Move ``tip`` to ``to_state`` by the state table, recording the event and an audit line.

    Raises:
        NotAllowed: the user may not work on this tip.
        CaseworkError: the table forbids the move, or a close lacks a known resolution.
    """
    _require(user, tip)
    if to_state not in states.STATES:
        raise CaseworkError(f"unknown state {to_state!r}")
    try:
        states.check_move(tip.status, to_state, resolution)
    except states.MoveError as exc:
        raise CaseworkError(str(exc)) from None
    from_state = tip.status
    now = utcnow()
    tip.status = to_state
    if tip.acknowledged_at is None and to_state != states.NEW:
        tip.acknowledged_at = now  # any move off "new" stops the urgency clock
    if to_state == states.CLOSED:
        tip.resolution = resolution
        tip.closed_at = now
    elif from_state == states.CLOSED:  # reopened
        tip.resolution = None
        tip.closed_at = None
    details = {"resolution": resolution} if to_state == states.CLOSED else {}
    audit.record(
        "tip.transition",
        actor=user,
        object_type="tip",
        object_id=tip.id,
        details={"from": from_state, "to": to_state, **details},
        session=session,
    )
    return _event(
        session, tip, user, "status", from_status=from_state, to_status=to_state, details=details
    )


def assign(session: Session, tip: Tip, assignee: User | None, user: User) -> TipEvent:
    """Assign ``tip`` to ``assignee`` (None: unassign). The assignee must be able to see it.

    Raises:
        NotAllowed: ``user`` may not work on the tip.
        CaseworkError: the assignee is inactive or outside the tip's queues.
    """
    _require(user, tip)
    if assignee is not None and not may_work(assignee, tip):
        raise CaseworkError("the assignee cannot work on this tip")
    tip.assigned_to_id = assignee.id if assignee else None
    audit.record(
        "tip.assign",
        actor=user,
        object_type="tip",
        object_id=tip.id,
        details={"to_user_id": tip.assigned_to_id},
        session=session,
    )
    return _event(session, tip, user, "assigned", to_user_id=tip.assigned_to_id)


def add_note(session: Session, tip: Tip, user: User, body: str) -> TipNote:
    """Add an internal note (never sent to the citizen).

    Raises:
        CaseworkError: an empty or overlong note.
    """
    _require(user, tip)
    body = body.strip()
    if not body or len(body) > MAX_NOTE:
        raise CaseworkError(f"a note has 1 to {MAX_NOTE} characters")
    note = TipNote(tip_id=tip.id, author_id=user.id, body=body)
    session.add(note)
    audit.record("tip.note", actor=user, object_type="tip", object_id=tip.id, session=session)
    _event(session, tip, user, "note")
    return note


def is_do_not_contact(session: Session, phone: str | None) -> bool:
    """Whether ``phone`` is flagged do-not-contact (a tip without a number is not flagged)."""
    return bool(phone) and replies.do_not_contact(session, phone)


def reply(session: Session, tip: Tip, user: User, body: str) -> Reply:
    """Add an SMS reply to the tip's sender; after committing, the caller hands it to the
    ``replies`` lane with ``gateway.tips.replies.enqueue_replies([reply.id])``.

    Raises:
        CaseworkError: no sender number, an empty/overlong text, or a do-not-contact sender.
    """
    _require(user, tip)
    body = body.strip()
    if not tip.sender:
        raise CaseworkError("this tip has no sender number to reply to")
    if not body or len(body) > MAX_REPLY:
        raise CaseworkError(f"a reply has 1 to {MAX_REPLY} characters")
    if is_do_not_contact(session, tip.sender):
        raise CaseworkError("the sender is marked do-not-contact")
    message = replies.queue_reply(
        session,
        to_phone=tip.sender,
        body=body,
        kind=replies.REPLY,
        tip_id=tip.id,
        author_id=user.id,
    )
    if message is None:  # refused by the replies lane itself
        raise CaseworkError("the sender must not be contacted")
    audit.record("tip.reply", actor=user, object_type="tip", object_id=tip.id, session=session)
    _event(session, tip, user, "reply")
    return message


def reveal(session: Session, tip: Tip, user: User, reason: str) -> str:
    """The sender's full number, for one page view; the reveal and its reason are audited.

    Raises:
        NotAllowed: the user may not reveal numbers of this tip.
        CaseworkError: no reason (at least a few characters), or no number to reveal.
    """
    _require(user, tip, "tips.reveal")
    reason = " ".join(reason.split())
    if len(reason) < MIN_REASON:
        raise CaseworkError("a reveal needs a reason")
    if not tip.sender:
        raise CaseworkError("this tip has no sender number")
    audit.record(
        "tip.reveal",
        actor=user,
        object_type="tip",
        object_id=tip.id,
        details={"reason": reason[:300], "sender": mask(tip.sender)},
        session=session,
    )
    return tip.sender


def set_do_not_contact(
    session: Session, tip: Tip, user: User, do_not_contact: bool, reason: str = ""
) -> SenderFlag:
    """Flag (or unflag) the tip's sender do-not-contact: no reply and no broadcast reach them.

    Raises:
        CaseworkError: the tip has no sender number.
    """
    _require(user, tip)
    if not tip.sender:
        raise CaseworkError("this tip has no sender number")
    flag = replies.mark_do_not_contact(
        session, tip.sender, " ".join(reason.split()), by=user.id, value=do_not_contact
    )
    audit.record(
        "sender.do_not_contact",
        actor=user,
        object_type="tip",
        object_id=tip.id,
        details={"sender": mask(tip.sender), "do_not_contact": do_not_contact},
        session=session,
    )
    return flag


def merge(session: Session, duplicate: Tip, primary: Tip, user: User) -> None:
    """Merge ``duplicate`` into ``primary``: it points to the primary and is closed as duplicate.

    Raises:
        NotAllowed: the user may not work on either tip.
        CaseworkError: merging a tip into itself, into a merged tip, or twice.
    """
    _require(user, duplicate)
    _require(user, primary)
    if duplicate.id == primary.id:
        raise CaseworkError("a tip cannot be merged into itself")
    if primary.merged_into_id is not None:
        raise CaseworkError("the primary tip is itself merged; merge into its primary")
    if duplicate.merged_into_id is not None:
        raise CaseworkError("this tip is already merged")
    duplicate.merged_into_id = primary.id
    if duplicate.status == states.CLOSED:
        duplicate.resolution = "duplicate"
    else:
        transition(session, duplicate, states.CLOSED, user, resolution="duplicate")
    audit.record(
        "tip.merge",
        actor=user,
        object_type="tip",
        object_id=duplicate.id,
        details={"into": primary.id},
        session=session,
    )
    _event(session, duplicate, user, "merged", details={"into": primary.id})
    _event(session, primary, user, "merged", details={"from": duplicate.id})


def hand_off(
    session: Session,
    tip: Tip,
    user: User,
    recipient: str,
    to_queue: str | None = None,
    packet_sha256: str | None = None,
) -> TipEvent:
    """Record that ``tip`` was handed to ``recipient`` (a person or unit), now; state handed_off.

    With ``to_queue`` the tip moves to that queue (the old one keeps seeing it, as shared).

    Raises:
        CaseworkError: no recipient, or the state table forbids handing off from here.
    """
    _require(user, tip)
    recipient = " ".join(recipient.split())
    if not recipient or len(recipient) > 200:
        raise CaseworkError("name who the tip is handed to (1 to 200 characters)")
    event = transition(session, tip, states.HANDED_OFF, user)
    if to_queue and to_queue != tip.queue:
        tip.shared_with = [q for q in tip_queues(tip) if q != to_queue]
        tip.queue = to_queue
    details = {"recipient": recipient, "packet_sha256": packet_sha256}
    audit.record(
        "tip.hand_off",
        actor=user,
        object_type="tip",
        object_id=tip.id,
        details={k: v for k, v in details.items() if v}
        | ({"to_queue": to_queue} if to_queue else {}),
        session=session,
    )
    event.kind = "handed_off"
    event.to_queue = to_queue
    event.details = {**event.details, **{k: v for k, v in details.items() if v}}
    return event


# --- the sender's thread ----------------------------------------------------------------------


@dataclass
class Thread:
    """Everything one sender sent and was sent, that the viewer may see."""

    tips: list[Tip]
    replies: list[Reply]
    hidden: int  # tips of this sender outside the viewer's scope (only counted)
    do_not_contact: bool


def thread(session: Session, user: User, phone: str | None) -> Thread:
    """The sender's thread as ``user`` may see it: their tips (newest first) and our replies."""
    if not phone:
        return Thread([], [], 0, False)
    tips = list(
        session.scalars(select(Tip).where(Tip.sender == phone).order_by(Tip.received_at.desc()))
    )
    mine = [t for t in tips if may_see(user, t)]
    replies = list(
        session.scalars(
            select(Reply)
            .where(Reply.to_phone == phone, Reply.kind != "alert")
            .order_by(Reply.created_at.desc())
        )
    )
    visible_ids = {t.id for t in mine}
    replies = [r for r in replies if r.tip_id is None or r.tip_id in visible_ids]
    return Thread(mine, replies, len(tips) - len(mine), is_do_not_contact(session, phone))
