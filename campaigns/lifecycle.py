"""The campaign state machine: one transition table, guards, the approval hash and schedules.

```
draft ─submit→ pending_approval ─approve→ approved ─schedule→ scheduled
  ↑                 │ reject                 │ launch            │ launch
  └──── edit ───────┴→ rejected              └──────→ running ←──┘
                                                  pause ⇅ resume
                                                   paused
running ─complete→ completed;   cancel from any state before completed;
a delegated campaign (the operators send, campaigns.delegation):
approved ─request→ requested ─complete→ completed (when every operator has answered);
edit of pending_approval / approved / scheduled / rejected → draft (the approval is void)
```

Decisions:
- Every move is one conditional UPDATE (`... WHERE id = :id AND status = :from`), so two clicks
  (or a click and the scheduler) cannot both win; the loser gets :class:`IllegalTransition`.
- The approver is a different user holding the approver role. Approval stores a SHA-256 of what
  was approved (text, audience, senders, provider, rate, window, schedule); launch recomputes it
  and refuses when anything changed, even if a caller bypassed the `edit` action.
- A yearly campaign's hash covers its local month, day and time, not its year: approving a yearly
  campaign approves its recurrence, so next year's copy (see :func:`next_occurrence`) carries the
  approval. A one-off campaign's hash covers its exact UTC time.
- A delegated campaign's letters are written on submit, inside the same transaction, and their
  hashes join the approval hash: approving it approves each letter word for word. It is never
  scheduled or launched (Loa sends nothing); "request" records that the letters went out.
- Launch here only moves the status; materialising deliveries and enqueueing is the dispatch
  engine's (``workers.dispatch.launch``).
- The caller commits; nothing here commits.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from typing import Any, Protocol

from sqlalchemy import update
from sqlalchemy.orm import Session, object_session

from campaigns import delegation, fields, localtime
from campaigns import statuses as st
from campaigns.db import utcnow
from campaigns.models import Campaign, Delivery
from campaigns.rendering import variables_in

DRAFT = "draft"
PENDING_APPROVAL = "pending_approval"
APPROVED = "approved"
SCHEDULED = "scheduled"
RUNNING = "running"
PAUSED = "paused"
COMPLETED = "completed"
REJECTED = "rejected"
CANCELLED = "cancelled"
REQUESTED = "requested"  # a delegated campaign's letters went out to the operators
STATES = (
    DRAFT,
    PENDING_APPROVAL,
    APPROVED,
    SCHEDULED,
    RUNNING,
    PAUSED,
    REQUESTED,
    COMPLETED,
    REJECTED,
    CANCELLED,
)
FINAL_STATES = frozenset({COMPLETED, CANCELLED})

SUBMIT = "submit"
APPROVE = "approve"
REJECT = "reject"
SCHEDULE = "schedule"
LAUNCH = "launch"
PAUSE = "pause"
RESUME = "resume"
COMPLETE = "complete"
CANCEL = "cancel"
EDIT = "edit"
REQUEST = "request"
ACTIONS = (
    SUBMIT,
    APPROVE,
    REJECT,
    SCHEDULE,
    LAUNCH,
    REQUEST,
    PAUSE,
    RESUME,
    COMPLETE,
    CANCEL,
    EDIT,
)

# The whole state machine. A (state, action) pair that is absent is illegal.
TRANSITIONS: dict[tuple[str, str], str] = {
    (DRAFT, SUBMIT): PENDING_APPROVAL,
    (DRAFT, EDIT): DRAFT,
    (DRAFT, CANCEL): CANCELLED,
    (PENDING_APPROVAL, APPROVE): APPROVED,
    (PENDING_APPROVAL, REJECT): REJECTED,
    (PENDING_APPROVAL, EDIT): DRAFT,  # withdrawing to change something
    (PENDING_APPROVAL, CANCEL): CANCELLED,
    (APPROVED, SCHEDULE): SCHEDULED,
    (APPROVED, LAUNCH): RUNNING,
    (APPROVED, EDIT): DRAFT,
    (APPROVED, CANCEL): CANCELLED,
    (APPROVED, REQUEST): REQUESTED,
    (REQUESTED, COMPLETE): COMPLETED,
    (REQUESTED, CANCEL): CANCELLED,
    (SCHEDULED, LAUNCH): RUNNING,
    (SCHEDULED, EDIT): DRAFT,
    (SCHEDULED, CANCEL): CANCELLED,
    (RUNNING, PAUSE): PAUSED,
    (RUNNING, COMPLETE): COMPLETED,
    (RUNNING, CANCEL): CANCELLED,
    (PAUSED, RESUME): RUNNING,
    (PAUSED, CANCEL): CANCELLED,
    (REJECTED, EDIT): DRAFT,
    (REJECTED, CANCEL): CANCELLED,
}

APPROVER_ROLES = frozenset({"approver"})


class Actor(Protocol):
    """Who acts: a user (the gateway's `User` satisfies it). None means the system."""

    @property
    def id(self) -> int: ...

    @property
    def role(self) -> str: ...


class IllegalTransition(Exception):
    """The action is not allowed now; `reason` says why in words an editor understands."""

    def __init__(
        self,
        reason: str,
        code: str = "illegal_transition",
        *,
        action: str | None = None,
        status: str | None = None,
    ) -> None:
        super().__init__(reason)
        self.reason = reason
        self.code = code  # "illegal_transition", "conflict", "forbidden", "invalid"
        # The refused action and the status that refused it, for a message in the user's
        # language (the gateway names them; the domain has no labels).
        self.action = action
        self.status = status


def can(status: str, action: str) -> bool:
    """Tell whether `action` is possible from `status` (ignoring guards).

    Args:
        status: a campaign status.
        action: an action name.

    Returns:
        True when the transition table has the pair.
    """
    return (status, action) in TRANSITIONS


def actions_from(status: str) -> list[str]:
    """The actions the table allows from `status`, in :data:`ACTIONS` order (for buttons)."""
    return [a for a in ACTIONS if (status, a) in TRANSITIONS]


def _local_schedule(campaign: Campaign) -> str | None:
    at = campaign.scheduled_at
    if at is None:
        return None
    if campaign.recurrence == "yearly":
        return "yearly " + at.astimezone(localtime.zone()).strftime("%m-%d %H:%M")
    return at.astimezone(dt.UTC).isoformat()


def approval_hash(campaign: Campaign) -> str:
    """The SHA-256 of everything an approver approves.

    Args:
        campaign: the campaign as it stands.

    Returns:
        64 hex digits over the body, audience spec, senders, provider, rate, window and schedule.
    """
    return _hash_payload(_hash_fields(campaign))


def _hash_fields(campaign: Campaign) -> dict[str, Any]:
    fields_ = _loa_hash_fields(campaign)
    if delegation.is_delegated(campaign):
        session = object_session(campaign)
        letters = delegation.letter_hashes(session, campaign.id) if session is not None else []
        fields_.update(route=campaign.route, delegation=campaign.delegation or {}, letters=letters)
    return fields_


def _loa_hash_fields(campaign: Campaign) -> dict[str, Any]:
    return {
        "body": campaign.body,
        "audience": campaign.audience or {},
        "senders": list(campaign.senders or []),
        "provider": campaign.provider or "",
        "rate_per_second": campaign.rate_per_second,
        "window": [campaign.window_start, campaign.window_end],
        "schedule": _local_schedule(campaign),
        "recurrence": campaign.recurrence or "none",
    }


def _hash_payload(payload: dict[str, Any]) -> str:
    text = json.dumps(payload, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def approval_valid(campaign: Campaign) -> bool:
    """Tell whether the campaign still matches what was approved."""
    return campaign.approval_hash is not None and campaign.approval_hash == approval_hash(campaign)


def _guard(campaign: Campaign, action: str, user: Actor | None, now: dt.datetime) -> None:
    """Raise IllegalTransition when the action's conditions do not hold."""
    delegated = delegation.is_delegated(campaign)
    if action == SUBMIT:
        if not (campaign.body or "").strip():
            raise IllegalTransition("Nội dung tin nhắn đang trống.", "invalid")
        spec = campaign.audience or {}
        if delegated:
            _guard_delegated(campaign)
        elif not spec.get("lists") and not spec.get("all"):
            raise IllegalTransition("Chưa chọn danh sách người nhận.", "invalid")
    elif action in (SCHEDULE, LAUNCH) and delegated:
        raise IllegalTransition(
            "Chiến dịch này do nhà mạng gửi: Loa không lên lịch và không tự gửi.", "invalid"
        )
    elif action == REQUEST:
        if not delegated:
            raise IllegalTransition("Chiến dịch này do Loa gửi, không gửi đề nghị nhà mạng.")
        _require_approval(campaign)
    elif action == APPROVE:
        # Self-approval first: it is the more useful reason for an editor who tries it.
        if user is not None and campaign.created_by_id == user.id:
            raise IllegalTransition("Không được tự duyệt chiến dịch do mình soạn.", "forbidden")
        if user is None or user.role not in APPROVER_ROLES:
            raise IllegalTransition("Chỉ người có vai trò phê duyệt mới được duyệt.", "forbidden")
    elif action == REJECT:
        if user is None or user.role not in APPROVER_ROLES:
            raise IllegalTransition("Chỉ người có vai trò phê duyệt mới được từ chối.", "forbidden")
    elif action == SCHEDULE:
        if campaign.scheduled_at is None:
            raise IllegalTransition("Chưa đặt thời điểm gửi.", "invalid")
        if campaign.scheduled_at <= now:
            raise IllegalTransition("Thời điểm gửi đã qua.", "invalid")
        _require_approval(campaign)
    elif action == LAUNCH:
        _require_approval(campaign)


def _guard_delegated(campaign: Campaign) -> None:
    """What a delegated campaign needs before approval: operators, areas, a date, no variables
    (the operators send the text as written)."""
    spec = campaign.audience or {}
    if not spec.get("operators"):
        raise IllegalTransition("Chưa chọn nhà mạng nào.", "invalid")
    if not spec.get("all") and not spec.get("districts") and not spec.get("wards"):
        raise IllegalTransition("Chưa chọn địa bàn (toàn tỉnh hoặc các huyện, xã).", "invalid")
    if campaign.scheduled_at is None:
        raise IllegalTransition("Chưa đặt ngày nhà mạng gửi tin.", "invalid")
    if variables_in(campaign.body or ""):
        raise IllegalTransition(
            "Nhà mạng gửi nguyên văn cho mọi thuê bao: nội dung không được chứa biến như {ten}.",
            "invalid",
        )


def _require_approval(campaign: Campaign) -> None:
    if not approval_valid(campaign):
        raise IllegalTransition(
            "Chiến dịch đã thay đổi sau khi được duyệt; cần duyệt lại.", "approval_void"
        )


def _changes(
    campaign: Campaign, action: str, user: Actor | None, reason: str | None, now: dt.datetime
) -> dict[str, Any]:
    """The columns an action sets besides the status."""
    if action == SUBMIT:
        return {"rejection_reason": None}
    if action == APPROVE:
        assert user is not None  # the guard ran
        return {
            "approved_by_id": user.id,
            "approved_at": now,
            "approval_hash": approval_hash(campaign),
        }
    if action in (REJECT, EDIT):
        voided: dict[str, Any] = {
            "approved_by_id": None,
            "approved_at": None,
            "approval_hash": None,
        }
        if action == REJECT:
            voided["rejection_reason"] = (reason or "").strip() or None
        return voided
    if action == LAUNCH:
        return {"launched_at": now, "paused_reason": None, "error_streak": 0}
    if action == PAUSE:
        return {"paused_reason": (reason or "").strip() or None}
    if action == RESUME:
        return {"paused_reason": None, "error_streak": 0}
    if action == COMPLETE:
        return {"completed_at": now}
    if action == CANCEL:
        # A cancelled campaign is not paused any more: its paused reason would only mislead.
        return {"completed_at": now, "paused_reason": None}
    return {}


def _skip_pending(session: Session, campaign_id: int, now: dt.datetime) -> int:
    """Mark the deliveries still waiting as skipped (cancelled); returns how many.

    Deliveries already handed to a worker (``sending``) keep their course: the provider may
    have them, and the reconciler settles them.
    """
    result = session.execute(
        update(Delivery)
        .where(Delivery.campaign_id == campaign_id, Delivery.status == st.PENDING)
        .values(
            status=st.SKIPPED,
            skip_reason=st.SKIP_CANCELLED,
            lease_until=None,
            next_attempt_at=None,
            finished_at=now,
            updated_at=now,
        )
        .execution_options(synchronize_session=False)
    )
    return int(getattr(result, "rowcount", 0) or 0)


def transition(
    session: Session,
    campaign: Campaign,
    action: str,
    user: Actor | None,
    reason: str | None = None,
    now: dt.datetime | None = None,
) -> Campaign:
    """Apply one action to a campaign with a conditional UPDATE.

    Args:
        session: the caller commits (the UPDATE holds the row until then).
        campaign: the campaign; pending attribute changes are flushed first.
        action: one of :data:`ACTIONS`.
        user: who acts; None for the system (the scheduler, the dispatch engine).
        reason: for reject (shown to the editor) and pause.
        now: the current time (tests pass one); default :func:`campaigns.db.utcnow`.

    Returns:
        The campaign, refreshed from the database.

    Raises:
        IllegalTransition: when the table has no such move, a guard refuses (wrong role,
            self-approval, approval void, missing schedule), or another request moved the
            campaign first (code "conflict").
    """
    now = now or utcnow()
    if action not in ACTIONS:
        raise IllegalTransition(f"Thao tác không tồn tại: {action}.", "invalid")
    session.flush()
    source = campaign.status
    target = TRANSITIONS.get((source, action))
    if target is None:
        raise IllegalTransition(
            f"Không thể {action} khi chiến dịch đang ở trạng thái {source}.",
            action=action,
            status=source,
        )
    _guard(campaign, action, user, now)
    if action == SUBMIT and delegation.is_delegated(campaign):
        delegation.prepare_letters(session, campaign, now)
    values = {"status": target, "updated_at": now, **_changes(campaign, action, user, reason, now)}
    result = session.execute(
        update(Campaign)
        .where(Campaign.id == campaign.id, Campaign.status == source)
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    if getattr(result, "rowcount", 0) != 1:
        session.refresh(campaign)
        raise IllegalTransition(
            f"Chiến dịch vừa được người khác chuyển sang trạng thái {campaign.status}.",
            "conflict",
            action=action,
            status=campaign.status,
        )
    if action == CANCEL:
        _skip_pending(session, campaign.id, now)
    if action == REQUEST:
        delegation.mark_requested(session, campaign, user.id if user else None, now)
    session.refresh(campaign)
    return campaign


MAX_RATE = fields.MAX_RATE  # segments per second per sender


def change_rate(session: Session, campaign: Campaign, rate: float) -> Campaign:
    """Change the sending rate of a running or paused campaign; the engine reads it each chunk.

    The rate is an operating control, not content: the approval stays valid (its hash is
    recomputed with the new rate in the same conditional UPDATE), so a campaign can be slowed
    or sped up while it sends without going back for approval. Callers audit the change.

    Args:
        session: the caller commits.
        campaign: the campaign.
        rate: segments per second per sender, above 0 and at most :data:`MAX_RATE`.

    Returns:
        The campaign, refreshed.

    Raises:
        IllegalTransition: for a rate out of range ("invalid") or a campaign that is not
            running or paused.
    """
    if not 0 < rate <= MAX_RATE:
        raise IllegalTransition(f"Tốc độ phải lớn hơn 0 và không quá {MAX_RATE:g}.", "invalid")
    if campaign.status not in (RUNNING, PAUSED):
        raise IllegalTransition(
            f"Chỉ đổi tốc độ khi chiến dịch đang gửi hoặc tạm dừng (đang: {campaign.status}).",
            action="rate",
            status=campaign.status,
        )
    was_valid = approval_valid(campaign)
    campaign_after = {**_hash_fields(campaign), "rate_per_second": rate}
    values: dict[str, Any] = {"rate_per_second": rate, "updated_at": utcnow()}
    if was_valid:
        values["approval_hash"] = _hash_payload(campaign_after)
    done = session.execute(
        update(Campaign)
        .where(Campaign.id == campaign.id, Campaign.status.in_((RUNNING, PAUSED)))
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    if done.rowcount != 1:  # type: ignore[attr-defined]
        raise IllegalTransition("Chiến dịch vừa đổi trạng thái; hãy tải lại trang.", "conflict")
    session.refresh(campaign)
    return campaign


EDITABLE_FIELDS = frozenset(
    {
        "route",
        "delegation",
        "name",
        "body",
        "audience",
        "senders",
        "provider",
        "rate_per_second",
        "window_start",
        "window_end",
        "scheduled_at",
        "recurrence",
    }
)


def edit(
    session: Session, campaign: Campaign, user: Actor | None, changes: dict[str, Any]
) -> Campaign:
    """Change a campaign's fields; an approved, pending or scheduled campaign returns to draft.

    Args:
        session: the caller commits.
        campaign: the campaign.
        user: who edits.
        changes: new values of :data:`EDITABLE_FIELDS` (validated by the caller).

    Returns:
        The campaign, refreshed.

    Raises:
        IllegalTransition: for a running, paused, completed or cancelled campaign, or an unknown
            field.
    """
    unknown = set(changes) - EDITABLE_FIELDS
    if unknown:
        raise IllegalTransition(f"Không sửa được trường: {', '.join(sorted(unknown))}.", "invalid")
    if not can(campaign.status, EDIT):
        raise IllegalTransition(
            f"Không thể sửa khi chiến dịch đang ở trạng thái {campaign.status}.",
            action=EDIT,
            status=campaign.status,
        )
    # Move to draft first so the approval is void before the new values are visible.
    transition(session, campaign, EDIT, user)
    for key, value in changes.items():
        setattr(campaign, key, value)
    session.flush()
    return campaign


def _same_local_time_in(year: int, template: dt.datetime) -> dt.datetime:
    local = template.astimezone(localtime.zone())
    day = local.day
    # 29 February falls back to 28 February in common years.
    if local.month == 2 and day == 29:
        is_leap = year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)
        day = 29 if is_leap else 28
    return local.replace(year=year, day=day).astimezone(dt.UTC)


def next_occurrence(at: dt.datetime, after: dt.datetime) -> dt.datetime:
    """The first yearly repetition of `at` (same local month, day and time) later than `after`.

    Args:
        at: an aware datetime, e.g. 30 July 08:00 Asia/Ho_Chi_Minh.
        after: an aware datetime.

    Returns:
        An aware UTC datetime strictly after `after` and after `at`.
    """
    year = max(at.astimezone(localtime.zone()).year, after.astimezone(localtime.zone()).year)
    candidate = _same_local_time_in(year, at)
    while candidate <= after or candidate <= at:
        year += 1
        candidate = _same_local_time_in(year, at)
    return candidate


def next_run(campaign: Campaign, now: dt.datetime) -> dt.datetime | None:
    """When a campaign should (have) run next.

    Args:
        campaign: the campaign.
        now: the current time, aware.

    Returns:
        For a campaign not yet launched, its `scheduled_at` (possibly past: it is due). For a
        launched yearly campaign, the next repetition after `now` and after its launch. None for
        an unscheduled campaign, a launched one-off campaign, or a cancelled one.
    """
    at = campaign.scheduled_at
    if at is None or campaign.status == CANCELLED:
        return None
    launched = campaign.launched_at
    if launched is None or launched < at:
        return at
    if campaign.recurrence == "yearly":
        return next_occurrence(at, max(now, launched))
    return None


def is_due(campaign: Campaign, now: dt.datetime) -> bool:
    """Tell whether a scheduled campaign's time has come."""
    when = next_run(campaign, now)
    return campaign.status == SCHEDULED and when is not None and when <= now


def copy_for_next_year(session: Session, campaign: Campaign, now: dt.datetime) -> Campaign:
    """Arm next year's run of a yearly campaign as a new scheduled campaign.

    The copy keeps the text, audience and settings, and the approval (the hash of a yearly
    campaign does not cover the year), so it launches by itself next year unless someone
    edits it, which voids the approval as usual.

    Args:
        session: the caller commits.
        campaign: a yearly campaign that has just been launched.
        now: the current time.

    Returns:
        The new campaign (flushed, with its id).
    """
    assert campaign.scheduled_at is not None
    when = next_occurrence(campaign.scheduled_at, now)
    copy = Campaign(
        name=campaign.name,
        body=campaign.body,
        status=SCHEDULED,
        audience=dict(campaign.audience or {}),
        senders=list(campaign.senders or []),
        provider=campaign.provider,
        rate_per_second=campaign.rate_per_second,
        window_start=campaign.window_start,
        window_end=campaign.window_end,
        scheduled_at=when,
        recurrence=campaign.recurrence,
        encoding=campaign.encoding,
        segments_per_message=campaign.segments_per_message,
        audience_size=campaign.audience_size,
        created_by_id=campaign.created_by_id,
        approved_by_id=campaign.approved_by_id,
        approved_at=campaign.approved_at,
        approval_hash=campaign.approval_hash,
    )
    session.add(copy)
    session.flush()
    return copy
