"""What a campaign looks like over /api/v1: request validation, JSON output, OpenAPI schemas.

Decisions:
- Input is validated strictly: unknown fields, a bad ``HH:MM``, an unknown list, an empty body or
  a rate ≤ 0 are 422 with a message naming the field.
- ``scheduled_at`` is ISO 8601; a time without an offset is read in Loa's time zone
  (``LOA_TIMEZONE``, how the information department writes times), and stored in UTC.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from flask import current_app

from campaigns import audiences, composer, cost, delegation, fields, lifecycle, reports
from campaigns import statuses as st
from campaigns.models import Campaign
from campaigns.sending import provider_names
from gateway import db
from gateway.api import schema
from gateway.labels import field_problem
from gateway.settings import PROVIDERS

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
        "providers",
        "rate_per_second",
        "window",
        "scheduled_at",
        "recurrence",
        "route",
        "operators",
        "delegation",
    }
)
DELEGATION_KEYS = {"contact_name": 120, "contact_phone": 40, "answer_by": 10, "report_by": 10}


class Invalid(ValueError):
    """A request field is invalid; the message is shown to the caller."""


def _field(read: Callable[..., Any], *args: Any) -> Any:
    """Apply a campaign rule (:mod:`campaigns.fields`), its refusal worded for the API."""
    try:
        return read(*args)
    except fields.Invalid as problem:
        raise Invalid(f"'{problem.field}': {field_problem(problem)}") from None


def _str_list(data: dict[str, Any], key: str) -> list[Any]:
    value = data.get(key, [])
    if not isinstance(value, list) or not all(
        isinstance(v, (str, int)) and not isinstance(v, bool) for v in value
    ):
        raise Invalid(f"'{key}' phải là một danh sách tên hoặc mã.")
    return value


def parse_campaign(
    data: Any, partial: bool = False, current: Campaign | None = None
) -> dict[str, Any]:
    """Validate a create (or partial edit of ``current``) request into Campaign column values,
    by the same rules as the composer form (:mod:`campaigns.fields`).

    Raises:
        Invalid: naming the first bad field.
    """
    if not isinstance(data, dict):
        raise Invalid("Cần một object JSON.")
    unknown = set(data) - FIELDS
    if unknown:
        raise Invalid(f"Trường không được hỗ trợ: {', '.join(sorted(unknown))}.")
    values: dict[str, Any] = {}

    def current_value(column: str) -> Any:
        return getattr(current, column, None) if partial else None

    if "name" in data or not partial:
        values["name"] = _field(fields.name, data.get("name"))
    if "body" in data or not partial:
        values["body"] = _field(fields.body, data.get("body"))
    route = data.get("route", current_value("route") or delegation.ROUTE_LOA)
    if route not in delegation.ROUTES:
        raise Invalid(f"'route' là một trong: {', '.join(delegation.ROUTES)}.")
    if "route" in data:
        values["route"] = route
    audience_keys = {"lists", "all", "districts", "wards", "tags", "operators"} & set(data)
    if audience_keys or not partial or "route" in data:
        values["audience"] = _audience(data, route)
    if "delegation" in data:
        values["delegation"] = _delegation(data["delegation"])
    if "sender" in data and "senders" in data:
        raise Invalid("Chỉ dùng 'sender' hoặc 'senders', không cả hai.")
    if "sender" in data:
        values["senders"] = _field(fields.senders, [data["sender"]])
    if "senders" in data:
        if not isinstance(data["senders"], list):
            raise Invalid("'senders' phải là danh sách chuỗi.")
        values["senders"] = _field(fields.senders, data["senders"])
    if "providers" in data:
        if not isinstance(data["providers"], list):
            raise Invalid("'providers' phải là danh sách tên nhà cung cấp.")
        values["provider"] = _field(fields.providers, data["providers"], PROVIDERS)
    if "rate_per_second" in data:
        rate = data["rate_per_second"]
        if isinstance(rate, str):  # JSON numbers only: "10" is a client's bug, not a rate
            raise Invalid("'rate_per_second' phải là một số.")
        values["rate_per_second"] = _field(fields.rate, rate)
    if "window" in data:
        window = data["window"]
        if not isinstance(window, dict) or set(window) != {"start", "end"}:
            raise Invalid('\'window\' phải có dạng {"start": "HH:MM", "end": "HH:MM"}.')
        values["window_start"], values["window_end"] = _field(
            fields.window, window["start"], window["end"]
        )
    if "scheduled_at" in data:
        values["scheduled_at"] = _field(fields.scheduled_at, data["scheduled_at"])
    if "recurrence" in data or "scheduled_at" in data or not partial:
        # yearly needs a time: the new one, or the one stored when an edit leaves it
        when = values["scheduled_at"] if "scheduled_at" in data else current_value("scheduled_at")
        recurrence = _field(
            fields.recurrence, data.get("recurrence", current_value("recurrence")), when
        )
        if "recurrence" in data or not partial:
            values["recurrence"] = recurrence
    return values


def _audience(data: dict[str, Any], route: str) -> dict[str, Any]:
    spec: dict[str, Any] = {k: _str_list(data, k) for k in ("lists", "districts", "wards", "tags")}
    if data.get("all") is True:
        spec["all"] = True
    elif "all" in data and data["all"] is not False:
        raise Invalid("'all' phải là true hoặc false.")
    if route == delegation.ROUTE_OPERATORS:
        known = {o.code for o in delegation.operators(db.session())}
        codes = _str_list(data, "operators")
        unknown = sorted(str(c) for c in codes if c not in known)
        if unknown or not codes:
            raise Invalid(f"'operators' là một hoặc nhiều mã trong: {', '.join(sorted(known))}.")
        if not spec.get("all") and not spec["districts"] and not spec["wards"]:
            raise Invalid("Cần \"all\": true (toàn tỉnh) hoặc 'districts'/'wards'.")
        spec = {k: spec[k] for k in ("all", "districts", "wards") if spec.get(k)}
        return {**spec, "operators": list(dict.fromkeys(codes))}
    if not spec["lists"] and not spec.get("all"):
        raise Invalid("'lists' cần ít nhất một danh sách (hoặc \"all\": true).")
    return {k: v for k, v in spec.items() if v}


def _delegation(value: Any) -> dict[str, str]:
    """The contact person and answer dates of a delegated campaign."""
    if not isinstance(value, dict) or set(value) - set(DELEGATION_KEYS):
        raise Invalid(f"'delegation' là object với các khóa: {', '.join(DELEGATION_KEYS)}.")
    out = {}
    for key, limit in DELEGATION_KEYS.items():
        text = value.get(key, "")
        if not isinstance(text, str) or len(text) > limit:
            raise Invalid(f"'delegation.{key}' là chuỗi tối đa {limit} ký tự.")
        if key.endswith("_by") and text:
            try:
                text = dt.date.fromisoformat(text).isoformat()
            except ValueError:
                raise Invalid(f"'delegation.{key}' là một ngày YYYY-MM-DD.") from None
        out[key] = text.strip()
    return out


# --- output -------------------------------------------------------------------------------


def _settings() -> Any:
    return current_app.config["LOA_SETTINGS"]


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
        "providers": provider_names(campaign.provider) or [_settings().provider],
        "rate_per_second": campaign.rate_per_second,
        "window": {"start": campaign.window_start, "end": campaign.window_end},
        "scheduled_at": campaign.scheduled_at.isoformat() if campaign.scheduled_at else None,
        "recurrence": campaign.recurrence,
        "route": campaign.route,
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
    if delegation.is_delegated(campaign):
        out["delegation"] = campaign.delegation or {}
        out["operator_requests"] = [
            {
                "operator": r.operator.code,
                "status": r.status,
                "letter_number": r.letter.get("number"),
                "letter_hash": r.letter_hash,
                "requested_at": r.requested_at.isoformat() if r.requested_at else None,
                "reached_total": r.reached_total,
                "reached_by_area": r.reached_by_area or {},
            }
            for r in delegation.requests_of(db.session(), campaign.id)
        ]
    elif detail:
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
    warnings = composer.check(
        campaign.body,
        list(campaign.senders or []) or _default_senders(),
        window=(campaign.window_start, campaign.window_end),
    )
    return {
        "audience_size": size,
        "counts": {k: counts.get(k, 0) for k in st.ALL},
        "skipped_by_reason": {
            k.removeprefix("skipped_"): v for k, v in counts.items() if k.startswith("skipped_")
        },
        "cost_estimate": {**estimate.as_dict(), "currency": "VND", "duration": duration},
        "warnings": [w.as_dict() for w in warnings],
    }


# --- OpenAPI schemas ----------------------------------------------------------------------

CampaignSchema = schema(
    "Campaign",
    {
        "type": "object",
        "properties": {
            "id": {"type": "integer"},
            "status": {"type": "string", "enum": list(lifecycle.STATES)},
            "route": {"type": "string", "enum": list(delegation.ROUTES)},
            "operator_requests": {"type": "array", "items": {"type": "object"}},
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
            "providers": {
                "type": "array",
                "items": {"type": "string", "enum": list(PROVIDERS)},
                "description": "in order: what one refuses for certain goes to the next",
            },
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
            "route": {
                "type": "string",
                "enum": list(delegation.ROUTES),
                "description": "direct: Loa sends; operators: the mobile operators are asked",
            },
            "operators": {
                "type": "array",
                "items": {"type": "string"},
                "description": "operator codes (viettel, vinaphone, …) when route is operators",
            },
            "delegation": {
                "type": "object",
                "additionalProperties": False,
                "properties": {
                    "contact_name": {"type": "string", "maxLength": 120},
                    "contact_phone": {"type": "string", "maxLength": 40},
                    "answer_by": {"type": "string", "format": "date"},
                    "report_by": {"type": "string", "format": "date"},
                },
            },
        },
        "required": ["name", "body"],
    },
)
