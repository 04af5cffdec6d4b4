"""Loa's local time zone, in one place: ``LOA_TIMEZONE`` (Asia/Ho_Chi_Minh unless set).

Times are stored in UTC (invariant 9); windows, schedules, filters by day and what people see are
local. The domain cannot read the gateway's settings, so :func:`gateway.settings.load_settings`
calls :func:`configure` once it has validated the setting, in every process (web, worker, CLI).
Vietnam has had no daylight saving time since 1975, so a fixed zone is safe, but nothing here
assumes it.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

DEFAULT = "Asia/Ho_Chi_Minh"

_zone = ZoneInfo(DEFAULT)


def zone() -> ZoneInfo:
    """The configured local zone."""
    return _zone


def configure(name: str) -> None:
    """Use ``name`` (an IANA zone, already validated) as the local zone from now on."""
    global _zone
    _zone = ZoneInfo(name)


def to_utc(local: dt.datetime) -> dt.datetime:
    """An aware UTC time: a naive ``local`` is read in the local zone, an aware one converted."""
    if local.tzinfo is None:
        local = local.replace(tzinfo=_zone)
    return local.astimezone(dt.UTC)
