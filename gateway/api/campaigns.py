"""Campaigns over /api/v1: create, read, list, lifecycle actions and deliveries.

Decisions:
- Input is validated strictly: unknown fields, a bad ``HH:MM``, an unknown list, an empty body or
  a rate ≤ 0 are 422 with a message naming the field.
- ``scheduled_at`` is ISO 8601; a time without an offset is read as Asia/Ho_Chi_Minh (how the
  information department writes times), and stored in UTC.
- A refused action is 409 with the lifecycle's reason (``{"error", "detail", "reason"}``), or 403
  when the user may not do it at all (self-approval, non-approver).
- ``launch`` moves the status, commits, then enqueues ``workers.dispatch.launch`` (job id
  ``launch-{id}``); a Redis outage then answers 202 with ``"enqueued": false``: the campaign is
  running in SQL and the dispatch engine's reconciler picks it up.
- Deliveries show the full number to admins and editors (they imported it); approvers see it
  masked.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any
from zoneinfo import ZoneInfo

from flask import current_app, jsonify, request
from redis.exceptions import RedisError
from sqlalchemy import select

from campaigns import audiences, composer, cost, lifecycle, reports
from campaigns import statuses as st
from campaigns.models import Campaign, Delivery
from campaigns.phones import mask
from campaigns.windows import Window
from gateway import audit, db, queues
from gateway.api import bp, document, error, schema
from gateway.auth import current, require
from gateway.roles import ADMIN, CAMPAIGN_ACTIONS, EDITOR

log = logging.getLogger("loa.api")
TZ = ZoneInfo("Asia/Ho_Chi_Minh")
PAGE_DEFAULT, PAGE_MAX = 100, 1000
FULL_NUMBER_ROLES = frozenset({ADMIN, EDITOR})
FIELDS = frozenset(
    {
        "name",
        "body",
        "lists",
        "all",
        "districts",
        "wards",
        "tags",
        "sender",
        "senders",
        "rate_per_second",
        "window",
        "scheduled_at",
        "recurrence",
    }
)
ACTION_PERMISSIONS = CAMPAIGN_ACTIONS


class Invalid(ValueError):
    """A request field is invalid; the message is shown to the caller."""


# --- validation ---------------------------------------------------------------------------


def _text(data: dict[str, Any], key: str, limit: int) -> str:
    value = data.get(key)
    if not isinstance(value, str) or not value.strip():
        raise Invalid(f"'{key}' không được để trống.")
    if len(value) > limit:
        raise Invalid(f"'{key}' dài quá {limit} ký tự.")
    return value.strip() if key == "name" else value


def _str_list(data: dict[str, Any], key: str) -> list[Any]:
    value = data.get(key, [])
    if not isinstance(value, list) or not all(
        isinstance(v, (str, int)) and not isinstance(v, bool) for v in value
    ):
        raise Invalid(f"'{key}' phải là một danh sách tên hoặc mã.")
    return value


def _when(value: Any) -> dt.datetime | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise Invalid("'scheduled_at' phải là thời điểm ISO 8601.")
    try:
        when = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise Invalid(f"'scheduled_at' không phải thời điểm ISO 8601: {value!r}.") from None
    when = when if when.tzinfo else when.replace(tzinfo=TZ)
    return when.astimezone(dt.UTC)


def parse_campaign(data: Any, partial: bool = False) -> dict[str, Any]:
    """Validate a create (or partial edit) request into Campaign column values.

    Raises:
        Invalid: naming the first bad field.
    """
    if not isinstance(data, dict):
        raise Invalid("Cần một object JSON.")
    unknown = set(data) - FIELDS
    if unknown:
        raise Invalid(f"Trường không được hỗ trợ: {', '.join(sorted(unknown))}.")
    values: dict[str, Any] = {}
    for key, limit in (("name", 200), ("body", 2000)):
        if key in data or not partial:
            values[key] = _text(data, key, limit)
    audience_keys = {"lists", "all", "districts", "wards", "tags"} & set(data)
    if audience_keys or not partial:
        spec: dict[str, Any] = {
            k: _str_list(data, k) for k in ("lists", "districts", "wards", "tags")
        }
        if data.get("all") is True:
            spec["all"] = True
        elif "all" in data and data["all"] is not False:
            raise Invalid("'all' phải là true hoặc false.")
        if not spec["lists"] and not spec.get("all"):
            raise Invalid("'lists' cần ít nhất một danh sách (hoặc \"all\": true).")
        values["audience"] = {k: v for k, v in spec.items() if v}
    if "sender" in data and "senders" in data:
        raise Invalid("Chỉ dùng 'sender' hoặc 'senders', không cả hai.")
    if "sender" in data:
        sender = data["sender"]
        if not isinstance(sender, str) or not 1 <= len(sender.strip()) <= 40:
            raise Invalid("'sender' phải là chuỗi 1–40 ký tự.")
        values["senders"] = [sender.strip()]
    if "senders" in data:
        senders = data["senders"]
        if not isinstance(senders, list) or not all(
            isinstance(x, str) and 1 <= len(x.strip()) <= 40 for x in senders
        ):
            raise Invalid("'senders' phải là danh sách chuỗi 1–40 ký tự.")
        values["senders"] = [x.strip() for x in senders]
    if "rate_per_second" in data:
        rate = data["rate_per_second"]
        if rate is not None and (
            isinstance(rate, bool) or not isinstance(rate, (int, float)) or not 0 < rate <= 10_000
        ):
            raise Invalid("'rate_per_second' phải là số lớn hơn 0 (tối đa 10000).")
        values["rate_per_second"] = None if rate is None else float(rate)
    if "window" in data:
        window = data["window"]
        if not isinstance(window, dict) or set(window) != {"start", "end"}:
            raise Invalid('\'window\' phải có dạng {"start": "HH:MM", "end": "HH:MM"}.')
        if not all(isinstance(window[k], str) for k in ("start", "end")):
            raise Invalid("'window' cần giờ dạng HH:MM.")
        try:
            Window.parse(window["start"], window["end"])
        except ValueError as exc:
            raise Invalid(f"'window' không hợp lệ: {exc}.") from None
        values["window_start"], values["window_end"] = window["start"], window["end"]
    if "scheduled_at" in data:
        values["scheduled_at"] = _when(data["scheduled_at"])
    if "recurrence" in data:
        if data["recurrence"] not in ("none", "yearly"):
            raise Invalid("'recurrence' là 'none' hoặc 'yearly'.")
        values["recurrence"] = data["recurrence"]
    return values


# --- reading ------------------------------------------------------------------------------


def _settings() -> Any:
    return current_app.config["LOA_SETTINGS"]


def _measure(campaign: Campaign) -> None:
    """Store the encoding and segment count of the body as sent."""
    info = composer.message_info(campaign.body)
    campaign.encoding = info.encoding
    campaign.segments_per_message = info.segments


def _default_senders() -> list[str]:
    sender = getattr(_settings(), "twilio_from", "")
    return [sender] if sender else []


def campaign_json(campaign: Campaign, detail: bool = False) -> dict[str, Any]:
    """A campaign as the API shows it; `detail` adds counts, cost and warnings."""
    out: dict[str, Any] = {
        "id": campaign.id,
        "name": campaign.name,
        "status": campaign.status,
        "body": campaign.body,
        "audience": campaign.audience or {},
        "senders": list(campaign.senders or []),
        "rate_per_second": campaign.rate_per_second,
        "window": {"start": campaign.window_start, "end": campaign.window_end},
        "scheduled_at": campaign.scheduled_at.isoformat() if campaign.scheduled_at else None,
        "recurrence": campaign.recurrence,
        "encoding": campaign.encoding,
        "segments_per_message": campaign.segments_per_message,
        "audience_size": campaign.audience_size,
        "created_by_id": campaign.created_by_id,
        "approved_by_id": campaign.approved_by_id,
        "approval_valid": lifecycle.approval_valid(campaign),
        "rejection_reason": campaign.rejection_reason,
        "paused_reason": campaign.paused_reason,
        "actions": lifecycle.actions_from(campaign.status),
        "created_at": campaign.created_at.isoformat() if campaign.created_at else None,
    }
    if detail:
        out.update(_detail(campaign))
    return out


def _detail(campaign: Campaign) -> dict[str, Any]:
    s = db.session()
    counts = reports.counts(s, campaign.id)
    materialised = reports.total(counts)
    by_carrier: dict[str | None, int] = {}
    if materialised:
        size = materialised
        for carrier, row in reports.by_carrier(s, campaign.id).items():
            by_carrier[carrier] = sum(row.values())
    else:
        try:
            preview = audiences.preview(s, campaign.audience or {})
            size = preview["total"]
            by_carrier = dict(preview["by_carrier"])
        except audiences.AudienceError:
            size = campaign.audience_size
    settings = _settings()
    estimate = cost.estimate(
        campaign.segments_per_message,
        by_carrier,
        settings.price_per_segment,
        settings.carrier_prices,
    )
    rate = campaign.rate_per_second or settings.rate_per_second
    senders = max(1, len(campaign.senders or []))
    seconds = cost.send_duration(estimate.segments, rate, senders)
    start = campaign.scheduled_at or dt.datetime.now(dt.UTC)
    try:
        plan = cost.plan(seconds, start, campaign.window_start, campaign.window_end)
        duration: dict[str, Any] = {
            "seconds": round(seconds),
            "windows": plan.windows,
            "finishes_at": plan.finishes_at.isoformat(),
        }
    except ValueError:
        duration = {"seconds": round(seconds), "windows": None, "finishes_at": None}
    warnings = composer.check(campaign.body, list(campaign.senders or []) or _default_senders())
    return {
        "audience_size": size,
        "counts": {k: counts.get(k, 0) for k in st.ALL},
        "skipped_by_reason": {
            k.removeprefix("skipped_"): v for k, v in counts.items() if k.startswith("skipped_")
        },
        "cost_estimate": {**estimate.as_dict(), "currency": "VND", "duration": duration},
        "warnings": [w.as_dict() for w in warnings],
    }


def _get(campaign_id: int) -> Campaign | None:
    return db.session().get(Campaign, campaign_id)


# --- routes -------------------------------------------------------------------------------

CampaignSchema = schema(
    "Campaign",
    {
        "type": "object",
        "properties": {
            "id": {"type": "integer"},
            "status": {"type": "string", "enum": list(lifecycle.STATES)},
            "audience_size": {"type": "integer"},
            "counts": {
                "type": "object",
                "properties": {k: {"type": "integer"} for k in st.ALL},
            },
            "segments_per_message": {"type": "integer"},
            "encoding": {"type": "string"},
            "cost_estimate": {"type": "object"},
            "warnings": {"type": "array"},
        },
        "required": ["id", "status"],
    },
)
CampaignInSchema = schema(
    "CampaignIn",
    {
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "name": {"type": "string", "maxLength": 200},
            "body": {"type": "string", "minLength": 1},
            "lists": {"type": "array", "items": {"type": ["string", "integer"]}},
            "all": {"type": "boolean"},
            "districts": {"type": "array"},
            "wards": {"type": "array"},
            "tags": {"type": "array", "items": {"type": "string"}},
            "sender": {"type": "string"},
            "senders": {"type": "array", "items": {"type": "string"}},
            "rate_per_second": {"type": "number", "exclusiveMinimum": 0},
            "window": {
                "type": "object",
                "properties": {
                    "start": {"type": "string", "pattern": "^[0-2][0-9]:[0-5][0-9]$"},
                    "end": {"type": "string", "pattern": "^[0-2][0-9]:[0-5][0-9]$"},
                },
                "required": ["start", "end"],
            },
            "scheduled_at": {"type": "string", "format": "date-time"},
            "recurrence": {"type": "string", "enum": ["none", "yearly"]},
        },
        "required": ["name", "body", "lists"],
    },
)
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
            {"name": "status", "in": "query", "schema": {"type": "string"}},
            {"name": "before", "in": "query", "schema": {"type": "integer"}},
            {"name": "limit", "in": "query", "schema": {"type": "integer", "maximum": PAGE_MAX}},
        ],
        "responses": {"200": {"description": "{items: [Campaign], next: id or null}"}},
    },
)


@bp.post("/campaigns")
@require("campaigns.edit", api=True)
def create_campaign() -> Any:
    """Create a draft campaign."""
    user = current()
    assert user is not None
    s = db.session()
    try:
        values = parse_campaign(request.get_json(silent=True))
        audiences.resolve_lists(s, values["audience"].get("lists", []))
        size = audiences.size(s, values["audience"])
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
            "given. `scheduled_at` without an offset is Asia/Ho_Chi_Minh."
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
        values = parse_campaign(request.get_json(silent=True), partial=True)
        if "audience" in values:
            audiences.resolve_lists(s, values["audience"].get("lists", []))
            values["audience_size"] = audiences.size(s, values["audience"])
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
    body = {
        "error": exc.code,
        "detail": exc.reason,
        "reason": exc.reason,
        "status": campaign.status,
    }
    return jsonify(body), code


def _enqueue_launch(campaign_id: int) -> bool:
    try:
        queues.enqueue(
            queues.BULK, "workers.dispatch.launch", campaign_id, job_id=f"launch-{campaign_id}"
        )
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
            "phone": d.phone if full else mask(d.phone),
            "status": d.status,
            "skip_reason": d.skip_reason,
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
