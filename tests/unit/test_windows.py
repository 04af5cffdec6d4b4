"""Sending windows in Asia/Ho_Chi_Minh: open/closed, next opening, closing time, midnight."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from campaigns.windows import Window, window_of

TZ = ZoneInfo("Asia/Ho_Chi_Minh")


def local(day: int, hour: int, minute: int = 0, second: int = 0) -> dt.datetime:
    """A time in Ho Chi Minh City on ``day`` July 2026, as aware UTC."""
    return dt.datetime(2026, 7, day, hour, minute, second, tzinfo=TZ).astimezone(dt.UTC)


@pytest.mark.parametrize(
    ("start", "end", "now", "expected"),
    [
        ("07:00", "22:00", local(30, 6, 59, 59), False),
        ("07:00", "22:00", local(30, 7, 0), True),
        ("07:00", "22:00", local(30, 21, 59, 59), True),
        ("07:00", "22:00", local(30, 22, 0), False),
        ("07:00", "22:00", local(30, 23, 30), False),
        ("00:00", "24:00", local(30, 3, 0), True),
        ("20:00", "06:00", local(30, 23, 0), True),
        ("20:00", "06:00", local(30, 5, 59), True),
        ("20:00", "06:00", local(30, 6, 0), False),
        ("20:00", "06:00", local(30, 12, 0), False),
        ("08:00", "24:00", local(30, 23, 59), True),
    ],
)
def test_is_open(start: str, end: str, now: dt.datetime, expected: bool) -> None:
    """The start is inclusive, the end exclusive, in local time; windows may span midnight."""
    assert Window.parse(start, end).is_open(now) is expected


@pytest.mark.parametrize(
    ("start", "end", "now", "opening"),
    [
        ("07:00", "22:00", local(30, 23, 0), local(31, 7, 0)),
        ("07:00", "22:00", local(30, 3, 0), local(30, 7, 0)),
        ("07:00", "22:00", local(30, 9, 0), local(30, 9, 0)),
        ("20:00", "06:00", local(30, 12, 0), local(30, 20, 0)),
    ],
)
def test_next_opening(start: str, end: str, now: dt.datetime, opening: dt.datetime) -> None:
    """The next opening is now when open, else the next local start."""
    assert Window.parse(start, end).next_opening(now) == opening


@pytest.mark.parametrize(
    ("start", "end", "now", "closes", "left"),
    [
        ("07:00", "22:00", local(30, 21, 0), local(30, 22, 0), 3600.0),
        ("07:00", "22:00", local(30, 23, 0), None, 0.0),
        ("20:00", "06:00", local(30, 23, 0), local(31, 6, 0), 7 * 3600.0),
        ("00:00", "24:00", local(30, 12, 0), None, None),
    ],
)
def test_closes_at_and_seconds_left(
    start: str, end: str, now: dt.datetime, closes: dt.datetime | None, left: float | None
) -> None:
    """Closing time of the open window, and the seconds left (None: never closes)."""
    window = Window.parse(start, end)
    assert window.closes_at(now) == closes
    assert window.seconds_left(now) == left


@pytest.mark.parametrize(
    "bad",
    [
        ("7", "22:00"),
        ("24:00", "06:00"),
        ("07:00", "07:00"),
        ("07:00", "25:00"),
        ("07:60", "22:00"),
    ],
)
def test_invalid_windows_are_refused(bad: tuple[str, str]) -> None:
    """Malformed times, a 24:00 start and empty windows raise ValueError."""
    with pytest.raises(ValueError):
        Window.parse(*bad)


def test_window_of_defaults_to_legal_hours() -> None:
    """A campaign without a window gets 07:00–22:00."""

    class Bare:
        window_start = None
        window_end = None

    assert window_of(Bare()) == Window(7 * 60, 22 * 60)
