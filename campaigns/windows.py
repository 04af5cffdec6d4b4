"""Sending windows: the local hours in which a campaign may hand messages to a provider.

A window is a start and an end in local time (:mod:`campaigns.localtime`), written ``HH:MM``;
``24:00`` means the end of the day, so ``00:00``–``24:00`` is always open. Decisions:

- The start is inclusive, the end exclusive: 07:00–22:00 sends at 21:59:59, not at 22:00.
- A window may span midnight (``20:00``–``06:00``): an end earlier than the start closes on the
  next day. Legal hours never do, but a night-time test window should not need special code.
- A start equal to the end is refused (an empty window is a typo, not a policy).

Every function takes ``now`` (an aware datetime) instead of reading the clock, so tests freeze
time by passing it.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from campaigns import localtime

DAY_MINUTES = 24 * 60
DEFAULT_START = "07:00"
DEFAULT_END = "22:00"


def parse_hhmm(value: str) -> int:
    """Minutes since local midnight of ``HH:MM`` (``24:00`` gives 1440).

    Raises:
        ValueError: when the text is not a time of day.
    """
    hours, sep, minutes = value.strip().partition(":")
    if not sep or not hours.isdigit() or not minutes.isdigit() or len(minutes) != 2:
        raise ValueError(f"not a time of day (HH:MM): {value!r}")
    total = int(hours) * 60 + int(minutes)
    if int(minutes) > 59 or total > DAY_MINUTES:
        raise ValueError(f"not a time of day (00:00–24:00): {value!r}")
    return total


@dataclass(frozen=True, slots=True)
class Window:
    """A daily sending window, in minutes since local midnight (``end`` may be 1440)."""

    start: int
    end: int

    @classmethod
    def parse(cls, start: str | None, end: str | None) -> Window:
        """Build a window from ``HH:MM`` texts (None or empty means the 07:00–22:00 default).

        Raises:
            ValueError: for a malformed time, a start of 24:00, or an empty window.
        """
        s = parse_hhmm(start or DEFAULT_START)
        e = parse_hhmm(end or DEFAULT_END)
        if s == DAY_MINUTES:
            raise ValueError("a window cannot start at 24:00")
        if s == e % DAY_MINUTES and not (s == 0 and e == DAY_MINUTES):
            raise ValueError("a window must not start and end at the same time")
        return cls(s, e)

    @property
    def always_open(self) -> bool:
        return self.start == 0 and self.end == DAY_MINUTES

    def _intervals_around(self, now: dt.datetime) -> list[tuple[dt.datetime, dt.datetime]]:
        """The open intervals (UTC) that start on the local day before, of, or after ``now``."""
        zone = localtime.zone()
        today = now.astimezone(zone).date()
        spans = []
        length = (self.end - self.start) % DAY_MINUTES or DAY_MINUTES
        for offset in (-1, 0, 1):
            day = today + dt.timedelta(days=offset)
            midnight = dt.datetime.combine(day, dt.time(), tzinfo=zone)
            opens = midnight + dt.timedelta(minutes=self.start)
            spans.append(
                (
                    opens.astimezone(dt.UTC),
                    (opens + dt.timedelta(minutes=length)).astimezone(dt.UTC),
                )
            )
        return spans

    def is_open(self, now: dt.datetime) -> bool:
        """Whether a message may be handed to a provider at ``now``."""
        return self.always_open or any(a <= now < b for a, b in self._intervals_around(now))

    def closes_at(self, now: dt.datetime) -> dt.datetime | None:
        """When the window open at ``now`` closes (UTC); None when closed or always open."""
        if self.always_open:
            return None
        return next((b for a, b in self._intervals_around(now) if a <= now < b), None)

    def next_opening(self, now: dt.datetime) -> dt.datetime:
        """``now`` itself when open, else the next time the window opens (UTC)."""
        if self.is_open(now):
            return now
        return next(a for a, _b in self._intervals_around(now) if a > now)

    def seconds_left(self, now: dt.datetime) -> float | None:
        """Seconds until the window closes: 0 when closed, None when always open."""
        if self.always_open:
            return None
        closes = self.closes_at(now)
        return 0.0 if closes is None else (closes - now).total_seconds()


def window_of(campaign: object) -> Window:
    """The window of anything with ``window_start`` and ``window_end`` (a ``Campaign``)."""
    return Window.parse(
        getattr(campaign, "window_start", None), getattr(campaign, "window_end", None)
    )
