"""The composer's form: reading and checking its fields, and the SMS facts shown beside the text.

Kept apart from the views so the same reading serves "save" and "preview", and the same SMS facts
serve the server-rendered page and the ``/campaigns/sms-info`` endpoint polled by composer.js.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from flask import current_app
from flask_babel import gettext as _
from werkzeug.datastructures import MultiDict

from campaigns import encoding
from campaigns.models import Campaign
from campaigns.text import nfc, to_ascii_variant
from gateway.settings import PROVIDERS

BODY_MAX = 2000  # about 30 UCS-2 segments: far beyond any sensible broadcast
NAME_MAX = 200
SENDER_MAX = 40
_HHMM = re.compile(r"([01]\d|2[0-3]):[0-5]\d")
RECURRENCES = ("none", "yearly")


def sms_info(text: str) -> dict[str, Any]:
    """What ``text`` costs as SMS, with the text cut into runs so the UI can highlight the
    characters that force UCS-2 (``mark`` true) without any offset arithmetic in JavaScript.
    """
    normal = nfc(text)
    info = encoding.analyze(normal)
    forcing = set(info.non_gsm)
    spans: list[dict[str, Any]] = []
    for ch in normal:
        mark = ch in forcing
        if spans and spans[-1]["mark"] == mark:
            spans[-1]["text"] += ch
        else:
            spans.append({"text": ch, "mark": mark})
    return {
        **info.as_dict(),
        "non_gsm_list": list(info.non_gsm),
        "spans": spans,
        "ascii_variant": to_ascii_variant(normal),
    }


@dataclass
class CampaignForm:
    """The composer's values as typed, and what is wrong with them (field → message)."""

    values: dict[str, Any]
    errors: dict[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.errors


def _zone() -> ZoneInfo:
    return ZoneInfo(current_app.config["LOA_SETTINGS"].timezone)


def local_input(value: dt.datetime | None) -> str:
    """A UTC time as the value of a ``datetime-local`` input, in Loa's time zone."""
    if value is None:
        return ""
    return value.astimezone(_zone()).strftime("%Y-%m-%dT%H:%M")


def _ints(values: list[str]) -> list[int]:
    return sorted({int(v) for v in values if v.strip().isdigit()})


def _words(text: str, limit: int) -> list[str]:
    """Comma- or newline-separated items, trimmed, deduplicated in order."""
    items = (w.strip()[:limit] for w in re.split(r"[,\n;]", text))
    return list(dict.fromkeys(w for w in items if w))


def _providers(form: MultiDict[str, str], errors: dict[str, str]) -> str:
    """The chosen provider and its fallback, as the campaign stores them (``"http,smpp"``)."""
    chosen = [form.get("provider", "").strip(), form.get("fallback_provider", "").strip()]
    names = list(dict.fromkeys(n for n in chosen if n))
    if any(n not in PROVIDERS for n in names):
        errors["provider"] = _("Nhà cung cấp không hợp lệ.")
        return ""
    return ",".join(names)


def read_form(form: MultiDict[str, str]) -> CampaignForm:
    """Read the composer's fields; never raises, problems go to ``errors``."""
    errors: dict[str, str] = {}
    name = form.get("name", "").strip()
    body = nfc(form.get("body", "").replace("\r\n", "\n").strip())
    if not name:
        errors["name"] = _("Hãy đặt tên cho chiến dịch.")
    elif len(name) > NAME_MAX:
        errors["name"] = _("Tên quá dài (tối đa %(n)d ký tự).", n=NAME_MAX)
    if not body:
        errors["body"] = _("Nội dung tin nhắn không được để trống.")
    elif len(body) > BODY_MAX:
        errors["body"] = _("Nội dung quá dài (tối đa %(n)d ký tự).", n=BODY_MAX)
    rate: float | None = None
    raw_rate = form.get("rate_per_second", "").strip().replace(",", ".")
    if raw_rate:
        try:
            rate = float(raw_rate)
            if not 0 < rate <= 10_000:
                raise ValueError
        except ValueError:
            errors["rate_per_second"] = _("Tốc độ phải là một số từ 0 đến 10000 (phần/giây).")
            rate = None
    start = form.get("window_start", "07:00").strip() or "07:00"
    end = form.get("window_end", "22:00").strip() or "22:00"
    if not (_HHMM.fullmatch(start) and _HHMM.fullmatch(end)) or start >= end:
        errors["window"] = _("Khung giờ gửi phải có dạng GG:PP, giờ bắt đầu trước giờ kết thúc.")
    recurrence = form.get("recurrence", "none")
    if recurrence not in RECURRENCES:
        errors["recurrence"] = _("Lịch lặp không hợp lệ.")
        recurrence = "none"
    scheduled_at = None
    raw_when = form.get("scheduled_at", "").strip()
    if raw_when:
        try:
            local = dt.datetime.fromisoformat(raw_when)
            if local.tzinfo is None:
                local = local.replace(tzinfo=_zone())
            scheduled_at = local.astimezone(dt.UTC)
        except ValueError:
            errors["scheduled_at"] = _("Thời điểm gửi không hợp lệ.")
    if recurrence == "yearly" and scheduled_at is None:
        errors["scheduled_at"] = _("Lịch lặp hằng năm cần một thời điểm gửi.")
    audience = {
        "lists": list(dict.fromkeys(v.strip() for v in form.getlist("lists") if v.strip())),
        "districts": _ints(form.getlist("districts")),
        "wards": _ints(form.getlist("wards")),
        "tags": _words(form.get("tags", ""), 40),
    }
    if form.get("all_contacts"):
        audience["all"] = True
    values = {
        "name": name[:NAME_MAX],
        "body": body[:BODY_MAX],
        "audience": audience,
        "senders": _words(form.get("senders", ""), SENDER_MAX),
        "provider": _providers(form, errors),
        "rate_per_second": rate,
        "window_start": start,
        "window_end": end,
        "scheduled_at": scheduled_at,
        "recurrence": recurrence,
    }
    return CampaignForm(values, errors)


def from_campaign(campaign: Campaign) -> CampaignForm:
    """The form's values of a saved campaign."""
    audience = dict(campaign.audience or {})
    return CampaignForm(
        {
            "name": campaign.name,
            "body": campaign.body,
            "audience": {
                "lists": list(audience.get("lists", [])),
                "districts": list(audience.get("districts", [])),
                "wards": list(audience.get("wards", [])),
                "tags": list(audience.get("tags", [])),
                **({"all": True} if audience.get("all") else {}),
            },
            "senders": list(campaign.senders or []),
            "provider": campaign.provider or "",
            "rate_per_second": campaign.rate_per_second,
            "window_start": campaign.window_start,
            "window_end": campaign.window_end,
            "scheduled_at": campaign.scheduled_at,
            "recurrence": campaign.recurrence,
        }
    )


def empty_form() -> CampaignForm:
    """A new campaign's defaults (the legal window 07:00–22:00)."""
    return CampaignForm(
        {
            "name": "",
            "body": "",
            "audience": {"lists": [], "districts": [], "wards": [], "tags": []},
            "senders": [],
            "provider": "",
            "rate_per_second": None,
            "window_start": "07:00",
            "window_end": "22:00",
            "scheduled_at": None,
            "recurrence": "none",
        }
    )


def apply(campaign: Campaign, values: Mapping[str, Any]) -> None:
    """Copy the form's values onto a new ``campaign``, with its encoding and segment count."""
    for key, value in values.items():
        setattr(campaign, key, value)
    set_encoding(campaign)


def set_encoding(campaign: Campaign) -> None:
    """Record the body's encoding and segments per message (the dispatch throttle counts them)."""
    info = encoding.analyze(campaign.body)
    campaign.encoding = info.encoding
    campaign.segments_per_message = info.segments
