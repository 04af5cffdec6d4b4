"""What a campaign looks like over /api/v1: request validation, JSON output, OpenAPI schemas.

Decisions:
- Input is validated strictly: unknown fields, a bad ``HH:MM``, an unknown list, an empty body or
  a rate ≤ 0 are 422 with a message naming the field.
- ``scheduled_at`` is ISO 8601; a time without an offset is read as Asia/Ho_Chi_Minh (how the
  information department writes times), and stored in UTC.
"""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

from flask import current_app

from campaigns import audiences, composer, cost, lifecycle, reports
from campaigns import statuses as st
from campaigns.models import Campaign
from campaigns.sending import provider_names
from campaigns.windows import Window
from gateway import db
from gateway.api import schema
from gateway.settings import PROVIDERS

TZ = ZoneInfo("Asia/Ho_Chi_Minh")
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
    }
)


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
    if "providers" in data:
        values["provider"] = ",".join(_providers(data["providers"]))
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


def _providers(value: Any) -> list[str]:
    """A list of provider names, in order of failover (empty: LOA_PROVIDER)."""
    if not isinstance(value, list) or not all(isinstance(x, str) for x in value):
        raise Invalid("'providers' phải là danh sách tên nhà cung cấp.")
    names = [x.strip() for x in value if x.strip()]
    unknown = [n for n in names if n not in PROVIDERS]
    if unknown or len(set(names)) != len(names):
        raise Invalid(f"'providers' chỉ gồm các tên khác nhau trong: {', '.join(PROVIDERS)}.")
    return names


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


# --- OpenAPI schemas ----------------------------------------------------------------------

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
        },
        "required": ["name", "body", "lists"],
    },
)
