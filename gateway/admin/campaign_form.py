"""The composer's form: reading and checking its fields, and the SMS facts shown beside the text.

Kept apart from the views so the same reading serves "save" and "preview", and the same SMS facts
serve the server-rendered page and the ``/campaigns/sms-info`` endpoint polled by composer.js.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from werkzeug.datastructures import MultiDict

from campaigns import delegation, encoding, fields, localtime
from campaigns.models import Campaign
from campaigns.text import nfc, to_ascii_variant
from campaigns.windows import DEFAULT_END, DEFAULT_START
from gateway.labels import field_problem
from gateway.settings import PROVIDERS


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


def local_input(value: dt.datetime | None) -> str:
    """A UTC time as the value of a ``datetime-local`` input, in Loa's time zone."""
    if value is None:
        return ""
    return value.astimezone(localtime.zone()).strftime("%Y-%m-%dT%H:%M")


def _ints(values: list[str]) -> list[int]:
    return sorted({int(v) for v in values if v.strip().isdigit()})


def _words(text: str, limit: int) -> list[str]:
    """Comma- or newline-separated items, trimmed, deduplicated in order."""
    items = (w.strip()[:limit] for w in re.split(r"[,\n;]", text))
    return list(dict.fromkeys(w for w in items if w))


def read_form(form: MultiDict[str, str]) -> CampaignForm:
    """Read the composer's fields by the campaign rules (:mod:`campaigns.fields`); never raises,
    problems go to ``errors`` keyed by field."""
    errors: dict[str, str] = {}

    def read(key: str, reader: Callable[[], Any], fallback: Any) -> Any:
        try:
            return reader()
        except fields.Invalid as problem:
            errors.setdefault(problem.field, field_problem(problem))
            return fallback

    raw_name, raw_body = form.get("name", ""), form.get("body", "")
    name = read("name", lambda: fields.name(raw_name), raw_name.strip()[: fields.NAME_MAX])
    body = read("body", lambda: fields.body(raw_body), nfc(raw_body)[: fields.BODY_MAX])
    rate = read("rate_per_second", lambda: fields.rate(form.get("rate_per_second")), None)
    start = form.get("window_start", "").strip() or DEFAULT_START
    end = form.get("window_end", "").strip() or DEFAULT_END
    read("window", lambda: fields.window(start, end), None)
    scheduled_at = read("scheduled_at", lambda: fields.scheduled_at(form.get("scheduled_at")), None)
    raw_recurrence = form.get("recurrence", "none")
    recurrence = raw_recurrence if raw_recurrence in fields.RECURRENCES else "none"
    read("recurrence", lambda: fields.recurrence(raw_recurrence, scheduled_at), None)
    chosen = [form.get("provider", ""), form.get("fallback_provider", "")]
    provider = read(
        "provider",
        lambda: fields.providers(list(dict.fromkeys(n.strip() for n in chosen)), PROVIDERS),
        "",
    )
    senders = read(
        "senders",
        lambda: fields.senders(_words(form.get("senders", ""), fields.SENDER_MAX)),
        [],
    )
    audience = {
        "lists": list(dict.fromkeys(v.strip() for v in form.getlist("lists") if v.strip())),
        "districts": _ints(form.getlist("districts")),
        "wards": _ints(form.getlist("wards")),
        "tags": _words(form.get("tags", ""), 40),
    }
    if form.get("all_contacts"):
        audience["all"] = True
    route = form.get("route", delegation.ROUTE_LOA)
    route = route if route in delegation.ROUTES else delegation.ROUTE_LOA
    plan: dict[str, str] = {}
    if route == delegation.ROUTE_OPERATORS:
        audience = {
            key: audience[key] for key in ("districts", "wards", "all") if audience.get(key)
        }
        audience["operators"] = list(
            dict.fromkeys(v.strip()[:20] for v in form.getlist("operators") if v.strip())
        )
        plan = {
            "contact_name": form.get("contact_name", "").strip()[:120],
            "contact_phone": form.get("contact_phone", "").strip()[:40],
        }
        for key in ("answer_by", "report_by"):
            day = form.get(key, "").strip()
            try:
                plan[key] = dt.date.fromisoformat(day).isoformat() if day else ""
            except ValueError:
                errors.setdefault(key, field_problem(fields.Invalid(key, fields.BAD_DATE)))
    values = {
        "name": name,
        "body": body,
        "audience": audience,
        "senders": senders,
        "provider": provider,
        "rate_per_second": rate,
        "window_start": start,
        "window_end": end,
        "scheduled_at": scheduled_at,
        "recurrence": recurrence,
        "route": route,
        "delegation": plan,
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
                "operators": list(audience.get("operators", [])),
                **({"all": True} if audience.get("all") else {}),
            },
            "senders": list(campaign.senders or []),
            "provider": campaign.provider or "",
            "rate_per_second": campaign.rate_per_second,
            "window_start": campaign.window_start,
            "window_end": campaign.window_end,
            "scheduled_at": campaign.scheduled_at,
            "recurrence": campaign.recurrence,
            "route": campaign.route or delegation.ROUTE_LOA,
            "delegation": dict(campaign.delegation or {}),
        }
    )


def empty_form() -> CampaignForm:
    """A new campaign's defaults (the legal window 07:00–22:00)."""
    return CampaignForm(
        {
            "name": "",
            "body": "",
            "audience": {"lists": [], "districts": [], "wards": [], "tags": [], "operators": []},
            "senders": [],
            "provider": "",
            "rate_per_second": None,
            "window_start": "07:00",
            "window_end": "22:00",
            "scheduled_at": None,
            "recurrence": "none",
            "route": delegation.ROUTE_LOA,
            "delegation": {},
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
