"""What the campaign pages show, gathered from the domain: the composer's facts (SMS, audience,
cost, time, warnings, sample renders), the approval queue's figures, the actions a user may take.

The one place where the admin pages call into ``campaigns.*``; views stay free of domain logic.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from flask import current_app
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from redis.exceptions import RedisError
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from campaigns import audiences, composer, cost, delegation, killswitch, lifecycle, rendering
from campaigns.db import utcnow
from campaigns.models import Area, Campaign, Contact, ListMember
from campaigns.phones import mask
from gateway import db, jobs, labels, queues
from gateway import killswitch as gateway_killswitch
from gateway.admin.campaign_form import set_encoding, sms_info
from gateway.models import AuditEvent, User
from gateway.roles import CAMPAIGN_ACTIONS, allowed

PENDING_APPROVAL = lifecycle.PENDING_APPROVAL
ACTIVE_STATUSES = (lifecycle.RUNNING, lifecycle.PAUSED, lifecycle.SCHEDULED)
TEST_SEND_MAX = 50  # a seed list of officials, not a second broadcast
SAMPLES = 3

# Actions a person can take from the campaign page, with the permission each needs. "complete"
# belongs to the dispatch engine and "edit" is the composer, so neither is a button.
ACTION_PERMISSIONS = CAMPAIGN_ACTIONS
ACTION_LABELS: dict[str, Any] = labels.CAMPAIGN_ACTION_LABELS
# Actions whose reason the domain records (and the reject reason is shown to the editor).
REASON_ACTIONS = frozenset({lifecycle.REJECT, lifecycle.PAUSE, lifecycle.CANCEL})


def actions_for(campaign: Campaign) -> list[str]:
    """The buttons the lifecycle table allows now, in its order."""
    return [a for a in lifecycle.actions_from(campaign.status) if a in ACTION_PERMISSIONS]


def transition(
    session: Session, campaign: Campaign, action: str, user: User, reason: str
) -> str | None:
    """Apply ``action``; returns None on success, else the domain's reason (nothing applied)."""
    try:
        lifecycle.transition(session, campaign, action, user, reason or None)
    except lifecycle.IllegalTransition as exc:
        return labels.transition_problem(exc)
    return None


def launching(campaign: Campaign) -> bool:
    """Whether the campaign's launch is queued or under way but has not yet made it run.

    The page hands the launch to a worker, so the campaign stays approved for a moment; during
    it the page says so and refuses a second launch. Without Redis nothing can be queued.
    """
    if campaign.status != lifecycle.APPROVED:
        return False
    try:
        q = queues.queue(jobs.LAUNCH.queue, db.redis())
        return queues.alive(q, str(jobs.LAUNCH.job_id(campaign.id)))
    except RedisError:
        return False


def cancel_reason(session: Session, campaign: Campaign) -> str | None:
    """The reason given when the campaign was cancelled (kept in its audit event), if any."""
    if campaign.status != lifecycle.CANCELLED:
        return None
    details = session.scalar(
        select(AuditEvent.details)
        .where(
            AuditEvent.action == f"campaign.{lifecycle.CANCEL}",
            AuditEvent.object_type == "campaign",
            AuditEvent.object_id == str(campaign.id),
        )
        .order_by(AuditEvent.id.desc())
        .limit(1)
    )
    reason = (details or {}).get("reason")
    return str(reason) if reason else None


def launch_problem(campaign: Campaign) -> str | None:
    """Why ``campaign`` cannot be launched now (the lifecycle's own checks), or None."""
    if launching(campaign):
        return str(_l("Chiến dịch đang được chuẩn bị gửi; không cần bấm lại."))
    if not lifecycle.can(campaign.status, lifecycle.LAUNCH):
        return str(_l("Không thể bắt đầu gửi khi chiến dịch chưa được duyệt hoặc đã chạy."))
    if not lifecycle.approval_valid(campaign):
        return str(_l("Chiến dịch đã thay đổi sau khi được duyệt; cần duyệt lại."))
    return None


def edit(session: Session, campaign: Campaign, user: User, values: Mapping[str, Any]) -> str | None:
    """Save the composer's values (an approved campaign returns to draft); None or the reason."""
    try:
        lifecycle.edit(session, campaign, user, dict(values))
    except lifecycle.IllegalTransition as exc:
        return labels.transition_problem(exc)
    return None


def measure(session: Session, campaign: Campaign) -> None:
    """Store what the campaign list shows before a launch: encoding, segments, audience size.

    The launch recounts the audience when it materialises the deliveries.
    """
    set_encoding(campaign)
    if delegation.is_delegated(campaign):
        campaign.audience_size = 0  # the operators' subscribers: Loa lists nobody
        return
    try:
        campaign.audience_size = audiences.size(session, campaign.audience or {})
    except audiences.AudienceError:
        campaign.audience_size = 0


def _settings() -> Any:
    return current_app.config["LOA_SETTINGS"]


def members_of(list_id: int) -> Any:
    """A subquery of the contact ids of one list."""
    return select(ListMember.contact_id).where(ListMember.list_id == list_id).subquery()


EMPTY_PREVIEW: dict[str, Any] = {
    "total": 0,
    "opted_out": 0,
    "sendable": 0,
    "by_district": {},
    "by_carrier": {},
}


def audience_preview(session: Session, spec: Mapping[str, Any]) -> dict[str, Any]:
    """The domain's audience preview, with ``error`` set (and nobody in it) for a bad spec."""
    try:
        return audiences.preview(session, spec)
    except audiences.AudienceError as exc:
        return {**EMPTY_PREVIEW, "error": str(exc)}


def sample_contacts(session: Session, spec: Mapping[str, Any], limit: int = SAMPLES) -> list[Any]:
    """Up to ``limit`` real contacts of the audience, for the rendered preview."""
    try:
        ids = audiences.audience_select(session, spec).with_only_columns(Contact.id)
    except audiences.AudienceError:
        return []
    return list(session.scalars(select(Contact).where(Contact.id.in_(ids.limit(limit)))))


def _cost(segments: int, preview: Mapping[str, Any]) -> cost.CostEstimate:
    # Opted-out contacts are skipped, never sent: they cost nothing. They are spread over the
    # carriers in proportion, which is exact enough for an estimate.
    total = preview["total"] or 1
    share = preview["sendable"] / total
    sendable = {name: round(n * share) for name, n in preview["by_carrier"].items()}
    settings = _settings()
    return cost.estimate(segments, sendable, settings.price_per_segment, settings.carrier_prices)


def compose_facts(session: Session, values: Mapping[str, Any]) -> dict[str, Any]:
    """Everything the composer shows beside the text.

    Returns a dict with ``sms`` (encoding, segments, highlighted spans, ASCII variant),
    ``audience`` (the domain's preview: total, opted out, by district, by carrier), ``cost``,
    ``ascii_cost``, ``plan`` (sending time and daily windows at the configured rate),
    ``warnings`` and ``samples`` (the text rendered for real contacts of the audience).
    """
    body = values.get("body") or ""
    spec = values.get("audience") or {}
    sms = sms_info(body)
    if values.get("route") == delegation.ROUTE_OPERATORS:
        return delegated_facts(session, body, spec, values)
    preview = audience_preview(session, spec)
    estimate = _cost(sms["segments"], preview)
    ascii_estimate = _cost(sms["ascii_variant_segments"], preview)
    senders = list(values.get("senders") or [])
    rate = values.get("rate_per_second") or _settings().rate_per_second
    seconds = cost.send_duration(estimate.segments, rate, max(1, len(senders)))
    start = values.get("scheduled_at") or utcnow()
    try:
        sending: cost.SendPlan | None = cost.plan(
            seconds, start, values["window_start"], values["window_end"]
        )
    except ValueError:
        sending = None
    samples = [
        {
            "contact": c,
            "masked": mask(c.phone),
            "text": rendering.render(body, rendering.contact_variables(c)),
        }
        for c in sample_contacts(session, spec)
    ]
    return {
        "sms": sms,
        "audience": preview,
        "cost": estimate,
        "ascii_cost": ascii_estimate,
        "rate": rate,
        "senders": max(1, len(senders)),
        "plan": sending,
        "duration": dt.timedelta(seconds=round(seconds)),
        "warnings": composer.check(
            body, senders or None, window=(values["window_start"], values["window_end"])
        ),
        "samples": samples,
    }


def delegated_facts(
    session: Session, body: str, spec: Mapping[str, Any], values: Mapping[str, Any]
) -> dict[str, Any]:
    """What the composer shows for a campaign the operators send: the text's size, the areas
    and operators asked, warnings (variables cannot be filled by an operator)."""
    warnings = composer.check(body, None, window=(values["window_start"], values["window_end"]))
    if rendering.variables_in(body):
        warnings.insert(
            0,
            composer.DraftWarning(
                "variables_delegated",
                _("Nhà mạng gửi nguyên văn cho mọi thuê bao: hãy bỏ các biến như {name}."),
            ),
        )
    codes = set(spec.get("operators", []))
    return {
        "delegated": True,
        "sms": sms_info(body),
        "warnings": warnings,
        "operators": [o.name for o in delegation.operators(session) if o.code in codes],
        "areas": delegation.area_text(session, spec, delegation.province_name(session)),
    }


def approval_facts(session: Session, campaign: Campaign) -> dict[str, Any]:
    """The figures an approver weighs: audience size, segments, cost, who drafted it; for a
    delegated campaign, its letters."""
    if delegation.is_delegated(campaign):
        author = session.get(User, campaign.created_by_id) if campaign.created_by_id else None
        return {
            "delegated": True,
            "sms": sms_info(campaign.body),
            "requests": delegation.requests_of(session, campaign.id),
            "author": author,
        }
    preview = audience_preview(session, campaign.audience or {})
    info = sms_info(campaign.body)
    author = session.get(User, campaign.created_by_id) if campaign.created_by_id else None
    return {
        "audience": preview,
        "sms": info,
        "cost": _cost(info["segments"], preview),
        "author": author,
    }


def kill_switch_state(session: Session) -> Any:
    """The engaged kill switch, or None."""
    return killswitch.active(session)


def engage_kill_switch(session: Session, reason: str, user: User | None) -> int:
    """Pull the kill switch (commits): every running campaign pauses; returns how many."""
    running = session.scalar(
        select(func.count()).select_from(Campaign).where(Campaign.status == lifecycle.RUNNING)
    )
    gateway_killswitch.engage(session, db.redis(), reason, user.id if user else None)
    return int(running or 0)


def release_kill_switch(session: Session, user: User | None) -> bool:
    """Release the kill switch (commits; paused campaigns stay paused); whether one was engaged."""
    return gateway_killswitch.release(session, db.redis(), user.id if user else None)


def report_areas(session: Session, campaign: Campaign) -> list[Area]:
    """The areas an operator may report figures for: those chosen, or the province's
    districts when the whole province was asked."""
    spec = campaign.audience or {}
    ids = [int(i) for i in [*spec.get("districts", []), *spec.get("wards", [])]]
    stmt = select(Area).order_by(Area.name)
    if spec.get("all") or not ids:
        stmt = stmt.where(Area.kind.in_(("district", "town", "city")))
    else:
        stmt = stmt.where(Area.id.in_(ids))
    return list(session.scalars(stmt))


def delegated_page(session: Session, campaign: Campaign, user: User | None) -> dict[str, Any]:
    """What the campaign page adds for a delegated campaign (``operator_requests`` is None for
    a campaign Loa sends)."""
    if not delegation.is_delegated(campaign):
        return {"operator_requests": None, "route_labels": labels.CAMPAIGN_ROUTE_LABELS}
    s = session
    requests_ = delegation.requests_of(s, campaign.id)
    return {
        "operator_requests": requests_,
        "request_history": delegation.history(s, [r.id for r in requests_]),
        "request_moves": delegation.MOVES,
        "request_labels": labels.OPERATOR_REQUEST_LABELS,
        "route_labels": labels.CAMPAIGN_ROUTE_LABELS,
        "reached_total": sum(r.reached_total or 0 for r in requests_),
        "report_areas": report_areas(s, campaign),
        "can_follow": user is not None
        and allowed(user.role, "campaigns.operate")
        and campaign.status == lifecycle.REQUESTED,
    }
