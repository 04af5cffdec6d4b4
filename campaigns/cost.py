"""What a broadcast costs in money and in time.

Money: segments per message × recipients × the price of one segment on the recipient's carrier
(a configurable dict of carrier → VND, falling back to ``settings.price_per_segment``).

Time: providers throttle segments, not messages (invariant 10), so a campaign of `S` segments
sent by `n` senders at `r` segments/s each takes `S / (n·r)` seconds of sending, and it only
sends inside its daily window (default 07:00–22:00, Asia/Ho_Chi_Minh; invariant 7). The official
text (4 segments) to 1.2 million people at 100 segments/s is 48,000 s ≈ 13.3 h: one 15-hour
window when it starts at 07:00, two when it starts at noon.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping
from dataclasses import dataclass, field

from campaigns import localtime
from campaigns.windows import DAY_MINUTES, Window

DEFAULT_WINDOW = ("07:00", "22:00")
_DAY = dt.timedelta(days=1)


@dataclass(frozen=True, slots=True)
class CarrierCost:
    """The cost on one carrier."""

    recipients: int
    segments: int
    price_per_segment: float
    vnd: float


@dataclass(frozen=True, slots=True)
class CostEstimate:
    """The money a campaign costs."""

    recipients: int
    segments: int
    vnd: float
    by_carrier: dict[str, CarrierCost] = field(default_factory=dict)

    def as_dict(self) -> dict[str, object]:
        """Return a JSON-ready dict (amounts rounded to whole đồng)."""
        return {
            "recipients": self.recipients,
            "segments": self.segments,
            "vnd": round(self.vnd),
            "by_carrier": {
                name: {
                    "recipients": c.recipients,
                    "segments": c.segments,
                    "price_per_segment": c.price_per_segment,
                    "vnd": round(c.vnd),
                }
                for name, c in self.by_carrier.items()
            },
        }


def estimate(
    segments_per_message: int,
    recipients_by_carrier: Mapping[str | None, int],
    default_price: float,
    prices: Mapping[str, float] | None = None,
) -> CostEstimate:
    """Estimate what sending one message to each recipient costs.

    Args:
        segments_per_message: segments of one message (from `campaigns.encoding.analyze`).
        recipients_by_carrier: recipients per carrier name; None or "" means unknown carrier.
        default_price: VND per segment when a carrier has no price of its own.
        prices: VND per segment by carrier name (case-insensitive).

    Returns:
        The total and a breakdown by carrier ("unknown" for numbers without a carrier).

    Raises:
        ValueError: for a negative segment count, recipient count or price.
    """
    if segments_per_message < 0 or default_price < 0:
        raise ValueError("segments and prices must not be negative")
    table = {k.casefold(): float(v) for k, v in (prices or {}).items()}
    if any(v < 0 for v in table.values()):
        raise ValueError("prices must not be negative")
    by_carrier: dict[str, CarrierCost] = {}
    for carrier, count in recipients_by_carrier.items():
        if count < 0:
            raise ValueError("recipient counts must not be negative")
        name = carrier or "unknown"
        price = table.get(name.casefold(), default_price)
        previous = by_carrier.get(name)
        recipients = count + (previous.recipients if previous else 0)
        segments = recipients * segments_per_message
        by_carrier[name] = CarrierCost(recipients, segments, price, segments * price)
    return CostEstimate(
        recipients=sum(c.recipients for c in by_carrier.values()),
        segments=sum(c.segments for c in by_carrier.values()),
        vnd=sum(c.vnd for c in by_carrier.values()),
        by_carrier=by_carrier,
    )


def send_duration(segments_total: int, rate_per_second: float, senders: int = 1) -> float:
    """Seconds of sending needed, ignoring the window.

    Args:
        segments_total: all segments of the campaign.
        rate_per_second: segments per second per sender.
        senders: senders sending in parallel (a pool), at least 1.

    Returns:
        `segments_total / (rate_per_second × senders)`.

    Raises:
        ValueError: for a rate ≤ 0, no senders or negative segments.
    """
    if rate_per_second <= 0 or senders < 1 or segments_total < 0:
        raise ValueError("rate must be > 0, senders ≥ 1 and segments ≥ 0")
    return segments_total / (rate_per_second * senders)


def window_length(start: str, end: str) -> dt.timedelta:
    """The length of a daily window (`campaigns.windows` rules: an end before the start crosses
    midnight, 24:00 is the end of the day).

    Raises:
        ValueError: for a malformed time or an empty window.
    """
    window = Window.parse(start, end)
    return dt.timedelta(minutes=(window.end - window.start) % DAY_MINUTES or DAY_MINUTES)


@dataclass(frozen=True, slots=True)
class SendPlan:
    """When sending ends when it starts at `starts_at` and runs only inside the window."""

    seconds: float  # sending time, outside pauses
    windows: int  # how many daily windows it touches (days of sending)
    starts_at: dt.datetime  # first moment a message can go (aware, UTC)
    finishes_at: dt.datetime  # aware, UTC


def plan(
    seconds: float,
    start: dt.datetime,
    window_start: str = DEFAULT_WINDOW[0],
    window_end: str = DEFAULT_WINDOW[1],
) -> SendPlan:
    """Lay `seconds` of sending over daily windows in local time (:mod:`campaigns.localtime`).

    Args:
        seconds: from :func:`send_duration`.
        start: when the campaign is launched (aware).
        window_start: "HH:MM" local.
        window_end: "HH:MM" local; before the start means the window crosses midnight.

    Returns:
        The plan; `windows` is 0 only for zero seconds.

    Raises:
        ValueError: for a bad "HH:MM" or a naive `start`.
    """
    if start.tzinfo is None:
        raise ValueError("start must be timezone-aware")
    length = window_length(window_start, window_end)
    opens = dt.timedelta(minutes=Window.parse(window_start, window_end).start)
    local = start.astimezone(localtime.zone())
    # The window that contains `local`, or the next one: yesterday's may still be open.
    day = local.date() - _DAY
    while True:
        w_open = dt.datetime.combine(day, dt.time(), localtime.zone()) + opens
        if w_open + length > local:
            break
        day += _DAY
    first = max(local, w_open)
    if seconds <= 0:
        return SendPlan(0.0, 0, first.astimezone(dt.UTC), first.astimezone(dt.UTC))
    remaining = dt.timedelta(seconds=seconds)
    cursor, windows = first, 0
    while True:
        windows += 1
        available = w_open + length - cursor
        if remaining <= available:
            finish = cursor + remaining
            return SendPlan(seconds, windows, first.astimezone(dt.UTC), finish.astimezone(dt.UTC))
        remaining -= available
        w_open += _DAY
        cursor = w_open


def windows_needed(seconds: float, window_start: str, window_end: str) -> int:
    """Daily windows needed when sending starts as a window opens (the best case).

    Args:
        seconds: from :func:`send_duration`.
        window_start: "HH:MM".
        window_end: "HH:MM".

    Returns:
        `ceil(seconds / window length)`; 0 for nothing to send.
    """
    if seconds <= 0:
        return 0
    return math.ceil(seconds / window_length(window_start, window_end).total_seconds())
