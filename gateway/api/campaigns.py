"""Campaigns over /api/v1: create, read, list, lifecycle actions and deliveries.

Requests are validated and campaigns shown by :mod:`gateway.api.campaign_schema`.

Decisions:
- A refused action is 409 with the lifecycle's reason (``{"error", "detail", "reason"}``), or 403
  when the user may not do it at all (self-approval, non-approver).
- ``launch`` moves the status, commits, then enqueues ``workers.dispatch.launch`` (job id
  ``launch-{id}``); a Redis outage then answers 202 with ``"enqueued": false``: the campaign is
  running in SQL and the dispatch engine's reconciler picks it up.
- Deliveries show the full number to admins and editors (they imported it); approvers see it
  masked.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import jsonify, request
from redis.exceptions import RedisError
from sqlalchemy import select

from campaigns import audiences, composer, delegation, lifecycle
from campaigns import statuses as st
from campaigns.models import Campaign, Delivery
from campaigns.phones import mask
from gateway import audit, db, jobs, labels
from gateway.api import bp, document, error
from gateway.api.campaign_schema import (
    CampaignInSchema,
    CampaignSchema,
    Invalid,
    campaign_json,
    parse_campaign,
)
from gateway.auth import current, require
from gateway.roles import ADMIN, CAMPAIGN_ACTIONS, EDITOR
from gateway.security import MAX_ID

log = logging.getLogger("loa.api")
PAGE_DEFAULT, PAGE_MAX = 100, 1000
FULL_NUMBER_ROLES = frozenset({ADMIN, EDITOR})
ACTION_PERMISSIONS = CAMPAIGN_ACTIONS


def _measure(campaign: Campaign) -> None:
    """Store the encoding and segment count of the body as sent."""
    info = composer.message_info(campaign.body)
    campaign.encoding = info.encoding
    campaign.segments_per_message = info.segments


def _get(campaign_id: int) -> Campaign | None:
    return db.session().get(Campaign, campaign_id)


# --- routes -------------------------------------------------------------------------------

_CAMPAIGN_OUT = {"application/json": {"schema": CampaignSchema}}
_ID = [{"name": "id", "in": "path", "required": True, "schema": {"type": "integer"}}]


@bp.get("/campaigns")
@require("campaigns.view", api=True)
def list_campaigns() -> Any:
    """Campaigns, newest first, paged by id (``next`` is the ``before`` of the next page)."""
    args = request.args
    try:
        limit = min(max(int(args.get("limit", PAGE_DEFAULT)), 1), PAGE_MAX)
        before = int(args["before"]) if args.get("before") else None
    except ValueError:
        return error(422, "limit và before là số nguyên.")
    if before is not None:
        before = min(max(before, 0), MAX_ID + 1)  # a huge number would overflow SQL's integer
    query = select(Campaign).order_by(Campaign.id.desc()).limit(limit + 1)
    if before is not None:
        query = query.where(Campaign.id < before)
    status = args.get("status")
    if status:
        if status not in lifecycle.STATES:
            return error(422, f"status là một trong: {', '.join(lifecycle.STATES)}.")
        query = query.where(Campaign.status == status)
    rows = list(db.session().scalars(query))
    more = len(rows) > limit
    rows = rows[:limit]
    return jsonify(
        items=[campaign_json(c) for c in rows], next=rows[-1].id if more and rows else None
    )


document(
    "/campaigns",
    "get",
    {
        "summary": "List campaigns (newest first)",
        "parameters": [
            {"name": "status", "in": "query", "schema": {"enum": list(lifecycle.STATES)}},
            {"name": "before", "in": "query", "schema": {"type": "integer"}},
            {"name": "limit", "in": "query", "schema": {"type": "integer", "maximum": PAGE_MAX}},
        ],
        "responses": {
            "200": {"description": "{items: [Campaign], next: id or null}"},
            "422": {"description": "limit or before not an integer, or an unknown status"},
        },
    },
)


def _size(audience: dict[str, Any], route: str | None) -> int:
    """How many contacts a campaign Loa sends reaches (its lists must exist); 0 for one the
    operators send (their subscribers are not Loa's contacts).

    Raises:
        audiences.AudienceError: an unknown list.
    """
    if route == delegation.ROUTE_OPERATORS:
        return 0
    s = db.session()
    audiences.resolve_lists(s, audience.get("lists", []))
    return audiences.size(s, audience)


@bp.post("/campaigns")
@require("campaigns.edit", api=True)
def create_campaign() -> Any:
    """Create a draft campaign."""
    user = current()
    assert user is not None
    s = db.session()
    try:
        values = parse_campaign(request.get_json(silent=True))
        size = _size(values["audience"], values.get("route"))
    except (Invalid, audiences.AudienceError) as exc:
        return error(422, str(exc))
    campaign = Campaign(**values, created_by_id=user.id, audience_size=size)
    _measure(campaign)
    s.add(campaign)
    s.flush()
    audit.record("campaign.create", actor=user, object_type="campaign", object_id=campaign.id)
    s.commit()
    return jsonify(campaign_json(campaign, detail=True)), 201


document(
    "/campaigns",
    "post",
    {
        "summary": "Create a draft campaign",
        "description": (
            "Audience: the union of `lists`, narrowed by `districts`/`wards` and `tags` when "
            "given. `scheduled_at` without an offset is in LOA_TIMEZONE (Asia/Ho_Chi_Minh)."
        ),
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": CampaignInSchema}},
        },
        "responses": {
            "201": {"description": "the campaign", "content": _CAMPAIGN_OUT},
            "403": {"description": "role may not edit campaigns"},
            "422": {"description": "invalid field, unknown list or area"},
        },
    },
)


@bp.get("/campaigns/<int:campaign_id>")
@require("campaigns.view", api=True)
def get_campaign(campaign_id: int) -> Any:
    """One campaign with its delivery counts, cost estimate and warnings."""
    campaign = _get(campaign_id)
    if campaign is None:
        return error(404, "Không có chiến dịch này.")
    return jsonify(campaign_json(campaign, detail=True))


document(
    "/campaigns/{id}",
    "get",
    {
        "summary": "A campaign with counts, cost estimate and warnings",
        "parameters": _ID,
        "responses": {
            "200": {"description": "the campaign", "content": _CAMPAIGN_OUT},
            "404": {"description": "unknown campaign"},
        },
    },
)


@bp.patch("/campaigns/<int:campaign_id>")
@require("campaigns.edit", api=True)
def edit_campaign(campaign_id: int) -> Any:
    """Change fields of a campaign; an approved or scheduled one returns to draft."""
    user = current()
    campaign = _get(campaign_id)
    if campaign is None:
        return error(404, "Không có chiến dịch này.")
    s = db.session()
    try:
        values = parse_campaign(request.get_json(silent=True), partial=True, current=campaign)
        if "audience" in values:
            route = values.get("route", campaign.route)
            values["audience_size"] = _size(values["audience"], route)
    except (Invalid, audiences.AudienceError) as exc:
        return error(422, str(exc))
    size = values.pop("audience_size", None)
    try:
        lifecycle.edit(s, campaign, user, values)
    except lifecycle.IllegalTransition as exc:
        s.rollback()
        return _refused(exc, campaign)
    if size is not None:
        campaign.audience_size = size
    _measure(campaign)
    audit.record(
        "campaign.edit",
        actor=user,
        object_type="campaign",
        object_id=campaign.id,
        details={"fields": sorted(values)},
    )
    s.commit()
    return jsonify(campaign_json(campaign, detail=True))


document(
    "/campaigns/{id}",
    "patch",
    {
        "summary": "Edit a campaign (voids any approval: back to draft)",
        "parameters": _ID,
        "requestBody": {"content": {"application/json": {"schema": {"type": "object"}}}},
        "responses": {
            "200": {"description": "the campaign", "content": _CAMPAIGN_OUT},
            "409": {"description": "running, paused, completed or cancelled"},
            "422": {"description": "invalid field"},
        },
    },
)


def _refused(exc: lifecycle.IllegalTransition, campaign: Campaign) -> Any:
    code = 403 if exc.code == "forbidden" else 409
    words = labels.transition_problem(exc)
    body = {
        "error": exc.code,
        "detail": words,
        "reason": words,
        "status": campaign.status,
    }
    return jsonify(body), code


def _enqueue_launch(campaign_id: int) -> bool:
    try:
        jobs.LAUNCH.enqueue(db.redis(), campaign_id, key=(campaign_id,))
    except RedisError:
        log.warning("campaign %s: launch not enqueued (Redis unavailable)", campaign_id)
        return False
    return True


def _action_view(action: str) -> Any:
    def view(campaign_id: int) -> Any:
        user = current()
        s = db.session()
        campaign = _get(campaign_id)
        if campaign is None:
            return error(404, "Không có chiến dịch này.")
        data = request.get_json(silent=True) or {}
        reason = data.get("reason") if isinstance(data, dict) else None
        if reason is not None and not isinstance(reason, str):
            return error(422, "'reason' phải là chuỗi.")
        if action == lifecycle.REJECT and not (reason or "").strip():
            return error(422, "Cần nêu lý do từ chối ('reason').")
        try:
            lifecycle.transition(s, campaign, action, user, reason=reason)
        except lifecycle.IllegalTransition as exc:
            s.rollback()
            s.refresh(campaign)
            return _refused(exc, campaign)
        audit.record(
            f"campaign.{action}",
            actor=user,
            object_type="campaign",
            object_id=campaign.id,
            details={"reason": reason} if reason else None,
        )
        s.commit()
        body = campaign_json(campaign)
        if action == lifecycle.LAUNCH:
            body["enqueued"] = _enqueue_launch(campaign.id)
            return jsonify(body), (200 if body["enqueued"] else 202)
        return jsonify(body)

    view.__name__ = f"campaign_{action}"
    view.__doc__ = f"Apply '{action}' to a campaign."
    return view


for _action, _permission in ACTION_PERMISSIONS.items():
    bp.add_url_rule(
        f"/campaigns/<int:campaign_id>/{_action}",
        endpoint=f"campaign_{_action}",
        view_func=require(_permission, api=True)(_action_view(_action)),
        methods=["POST"],
    )
    document(
        f"/campaigns/{{id}}/{_action}",
        "post",
        {
            "summary": f"{_action.capitalize()} a campaign",
            "parameters": _ID,
            "requestBody": {
                "required": False,
                "content": {
                    "application/json": {
                        "schema": {"type": "object", "properties": {"reason": {"type": "string"}}}
                    }
                },
            },
            "responses": {
                "200": {"description": "the campaign after the move"},
                **(
                    {"202": {"description": "running; launch job not enqueued yet"}}
                    if _action == lifecycle.LAUNCH
                    else {}
                ),
                "403": {"description": "role may not, or approver is the creator"},
                "404": {"description": "unknown campaign"},
                "409": {"description": "illegal from the current status (reason given)"},
            },
        },
    )


@bp.get("/campaigns/<int:campaign_id>/deliveries")
@require("campaigns.view", api=True)
def list_deliveries(campaign_id: int) -> Any:
    """Deliveries of a campaign by id (keyset paged: ``next`` is the ``after`` of the next page)."""
    user = current()
    assert user is not None
    if _get(campaign_id) is None:
        return error(404, "Không có chiến dịch này.")
    args = request.args
    try:
        limit = min(max(int(args.get("limit", PAGE_DEFAULT)), 1), PAGE_MAX)
        after = int(args["after"]) if args.get("after") else 0
    except ValueError:
        return error(422, "limit và after là số nguyên.")
    query = (
        select(Delivery)
        .where(Delivery.campaign_id == campaign_id, Delivery.id > after)
        .order_by(Delivery.id)
        .limit(limit + 1)
    )
    status = args.get("status")
    if status:
        if status not in st.ALL:
            return error(422, f"status là một trong: {', '.join(st.ALL)}.")
        query = query.where(Delivery.status == status)
    rows = list(db.session().scalars(query))
    more = len(rows) > limit
    rows = rows[:limit]
    full = user.role in FULL_NUMBER_ROLES
    items = [
        {
            "id": d.id,
            "phone": d.phone
            if full and st.staff_view(d.phone, d.skip_reason)[0]
            else mask(d.phone),
            "status": d.status,
            "skip_reason": st.staff_view(d.phone, d.skip_reason)[1],
            "error_code": d.error_code,
            "segments": d.segments,
            "attempts": d.attempts,
            "sender": d.sender,
            "sent_at": d.sent_at.isoformat() if d.sent_at else None,
            "finished_at": d.finished_at.isoformat() if d.finished_at else None,
        }
        for d in rows
    ]
    return jsonify(items=items, next=rows[-1].id if more and rows else None)


document(
    "/campaigns/{id}/deliveries",
    "get",
    {
        "summary": "Deliveries of a campaign (full number for admin/editor, masked otherwise)",
        "parameters": [
            *_ID,
            {"name": "status", "in": "query", "schema": {"type": "string"}},
            {"name": "after", "in": "query", "schema": {"type": "integer"}},
            {"name": "limit", "in": "query", "schema": {"type": "integer", "maximum": PAGE_MAX}},
        ],
        "responses": {
            "200": {"description": "{items: [...], next: cursor or null}"},
            "404": {"description": "unknown campaign"},
        },
    },
)


@bp.post("/campaigns/<int:campaign_id>/rate")
@require("campaigns.operate", api=True)
def change_rate(campaign_id: int) -> Any:
    """Change a running or paused campaign's rate (segments/s per sender); audited."""
    campaign = _get(campaign_id)
    if campaign is None:
        return error(404, "Không có chiến dịch này.")
    data = request.get_json(silent=True)
    rate = data.get("rate_per_second") if isinstance(data, dict) else None
    if isinstance(rate, bool) or not isinstance(rate, (int, float)):
        return error(422, "'rate_per_second' phải là một số (phần tin/giây mỗi đầu số).")
    s = db.session()
    before = campaign.rate_per_second
    try:
        lifecycle.change_rate(s, campaign, float(rate))
    except lifecycle.IllegalTransition as exc:
        s.rollback()
        if exc.code == "invalid":
            return error(422, exc.reason)
        s.refresh(campaign)
        return _refused(exc, campaign)
    audit.record(
        "campaign.rate",
        actor=current(),
        object_type="campaign",
        object_id=campaign.id,
        details={"from": before, "to": campaign.rate_per_second},
    )
    s.commit()
    return jsonify(campaign_json(campaign))


document(
    "/campaigns/{id}/rate",
    "post",
    {
        "summary": "Change the sending rate of a running or paused campaign",
        "parameters": _ID,
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {
                    "schema": {
                        "type": "object",
                        "properties": {
                            "rate_per_second": {
                                "type": "number",
                                "exclusiveMinimum": 0,
                                "maximum": lifecycle.MAX_RATE,
                            }
                        },
                        "required": ["rate_per_second"],
                    }
                }
            },
        },
        "responses": {
            "200": {"description": "the campaign", "content": _CAMPAIGN_OUT},
            "409": {"description": "the campaign is not running or paused"},
            "422": {"description": "not a number, or out of range"},
        },
    },
)
