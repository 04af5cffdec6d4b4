"""Work on tips: state moves, assignment, notes, replies, reveal, do-not-contact, merging,
read marks and the sender's thread.

Every function checks scope and permission itself, so a view (or an API route) that forgets a
check still cannot leak a tip. Functions add to the caller's session; the caller commits.
Nothing here logs a tip body or a full number; audit details carry masked numbers only.

Who may see what (and the inbox queries) is :mod:`gateway.tips.visibility`, re-exported here, so
``casework.<name>`` keeps working for the views, the case packet and the tests.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from campaigns.db import utcnow
from campaigns.phones import mask
from gateway import audit
from gateway.models import User
from gateway.roles import allowed
from gateway.tips import replies, states
from gateway.tips.models import Reply, SenderFlag, Tip, TipEvent, TipNote, TipRead
from gateway.tips.visibility import (
    InboxFilters,
    NotAllowed,
    broadcast_days,
    counts_by_queue,
    get_tip,
    inbox_counts,
    may_see,
    may_work,
    oldest_unacknowledged,
    open_by_priority,
    open_counts,
    overdue_tips,
    scope_condition,
    tip_queues,
    tips_over_period,
    visible_queues,
    visible_tips_query,
)

__all__ = [
    "MAX_NOTE",
    "MAX_REPLY",
    "MIN_REASON",
    "CaseworkError",
    "InboxFilters",
    "NotAllowed",
    "Thread",
    "add_note",
    "assign",
    "broadcast_days",
    "counts_by_queue",
    "get_tip",
    "hand_off",
    "inbox_counts",
    "is_do_not_contact",
    "mark_unread",
    "may_see",
    "may_work",
    "merge",
    "oldest_unacknowledged",
    "open_by_priority",
    "open_counts",
    "overdue_tips",
    "record_view",
    "reply",
    "reveal",
    "scope_condition",
    "set_do_not_contact",
    "thread",
    "tip_queues",
    "tips_over_period",
    "transition",
    "visible_queues",
    "visible_tips_query",
]

MAX_NOTE = 4000
MAX_REPLY = 480  # three UCS-2 segments: replies stay short and cheap
MIN_REASON = 5


class CaseworkError(ValueError):
    """A request that cannot be done as asked (bad move, empty note, …): a 4xx for the user.

    The message is English (logs, the API); ``code`` and ``params`` name the problem for the
    pages, which say it in the user's language (``gateway.labels.CASEWORK_PROBLEMS``).
    """

    def __init__(self, message: str, code: str | None = None, **params: object) -> None:
        super().__init__(message)
        self.code = code
        self.params = params


def _require(user: User, tip: Tip, permission: str = "tips.work") -> None:
    if not may_see(user, tip) or not allowed(user.role, permission):
        raise NotAllowed(f"user {user.id} may not {permission} tip {tip.id}")


# --- read marks -------------------------------------------------------------------------------


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
        raise CaseworkError(f"unknown state {to_state!r}", "unknown_state")
    try:
        states.check_move(tip.status, to_state, resolution)
    except states.MoveError as exc:
        raise CaseworkError(str(exc), exc.code, **exc.params) from None
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
        raise CaseworkError("the assignee cannot work on this tip", "assignee_cannot_work")
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
        raise CaseworkError(f"a note has 1 to {MAX_NOTE} characters", "note_length", max=MAX_NOTE)
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
        raise CaseworkError("this tip has no sender number to reply to", "no_sender")
    if not body or len(body) > MAX_REPLY:
        raise CaseworkError(
            f"a reply has 1 to {MAX_REPLY} characters", "reply_length", max=MAX_REPLY
        )
    if is_do_not_contact(session, tip.sender):
        raise CaseworkError("the sender is marked do-not-contact", "do_not_contact")
    message = replies.queue_reply(
        session,
        to_phone=tip.sender,
        body=body,
        kind=replies.REPLY,
        tip_id=tip.id,
        author_id=user.id,
    )
    if message is None:  # refused by the replies lane itself
        raise CaseworkError("the sender must not be contacted", "do_not_contact")
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
        raise CaseworkError("a reveal needs a reason", "reveal_needs_reason")
    number = tip.sender or tip.given_phone
    if not number:
        raise CaseworkError("this tip has no number", "no_sender")
    audit.record(
        "tip.reveal",
        actor=user,
        object_type="tip",
        object_id=tip.id,
        details={"reason": reason[:300], "sender": mask(number)},
        session=session,
    )
    return number


def set_do_not_contact(
    session: Session, tip: Tip, user: User, do_not_contact: bool, reason: str = ""
) -> SenderFlag:
    """Flag (or unflag) the tip's sender do-not-contact: no reply and no broadcast reach them.

    Raises:
        CaseworkError: the tip has no sender number.
    """
    _require(user, tip)
    if not tip.sender:
        raise CaseworkError("this tip has no sender number", "no_sender")
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
        raise CaseworkError("a tip cannot be merged into itself", "merge_self")
    if primary.merged_into_id is not None:
        raise CaseworkError(
            "the primary tip is itself merged; merge into its primary", "merge_into_merged"
        )
    if duplicate.merged_into_id is not None:
        raise CaseworkError("this tip is already merged", "already_merged")
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
        raise CaseworkError(
            "name who the tip is handed to (1 to 200 characters)", "handoff_recipient"
        )
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
