"""Cost and duration estimates: money per carrier, seconds at a rate, days of sending windows."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from campaigns.cost import estimate, plan, send_duration, window_length, windows_needed

VN = dt.timezone(dt.timedelta(hours=7))


def test_estimate_by_carrier() -> None:
    """Each carrier is priced at its own rate, unknown carriers at the default."""
    result = estimate(
        4,
        {"Viettel": 1000, "MobiFone": 500, None: 10},
        default_price=350,
        prices={"viettel": 300},
    )
    assert result.recipients == 1510
    assert result.segments == 6040
    assert result.by_carrier["Viettel"].vnd == 4000 * 300
    assert result.by_carrier["MobiFone"].vnd == 2000 * 350
    assert result.by_carrier["unknown"].segments == 40
    assert result.vnd == 4000 * 300 + 2000 * 350 + 40 * 350
    assert result.as_dict()["vnd"] == round(result.vnd)


@pytest.mark.parametrize(
    ("args", "message"),
    [((-1, {}, 350), "negative"), ((1, {"x": -1}, 350), "negative"), ((1, {}, -5), "negative")],
)
def test_estimate_refuses_negatives(args: tuple[Any, ...], message: str) -> None:
    """Negative inputs are a bug, not a discount."""
    with pytest.raises(ValueError, match=message):
        estimate(*args)


@pytest.mark.parametrize(
    ("segments", "rate", "senders", "seconds"),
    [
        (4_800_000, 100, 1, 48_000),  # the official text to 1.2 M people at 100 seg/s: 13.3 h
        (4_800_000, 10, 10, 48_000),
        (0, 10, 1, 0),
        (15, 10, 3, 0.5),
    ],
)
def test_send_duration(segments: int, rate: float, senders: int, seconds: float) -> None:
    """Duration is segments over the combined rate of the sender pool."""
    assert send_duration(segments, rate, senders) == pytest.approx(seconds)


@pytest.mark.parametrize(("rate", "senders"), [(0, 1), (-1, 1), (10, 0)])
def test_send_duration_refuses_bad_rate(rate: float, senders: int) -> None:
    """A rate of zero or no sender never finishes."""
    with pytest.raises(ValueError):
        send_duration(100, rate, senders)


@pytest.mark.parametrize(
    ("start", "end", "hours"),
    [("07:00", "22:00", 15), ("20:00", "06:00", 10), ("00:00", "24:00", 24)],
)
def test_window_length(start: str, end: str, hours: int) -> None:
    """Windows may cross midnight; 00:00–24:00 is the whole day."""
    assert window_length(start, end) == dt.timedelta(hours=hours)


@pytest.mark.parametrize("bad", ["7h", "25:00", "07:60", "07:00:00"])
def test_window_length_refuses_bad_times(bad: str) -> None:
    """A malformed time is refused with ValueError."""
    with pytest.raises(ValueError):
        window_length(bad, "22:00")


@pytest.mark.parametrize(
    ("start_local", "windows", "finish_local"),
    [
        # Launched at 07:00: 13 h 20 min fits the 15-hour window, done at 20:20 the same day.
        (dt.datetime(2025, 7, 30, 7, 0, tzinfo=VN), 1, dt.datetime(2025, 7, 30, 20, 20, tzinfo=VN)),
        # Launched at noon: 10 h today, the remaining 3 h 20 min tomorrow from 07:00.
        (
            dt.datetime(2025, 7, 30, 12, 0, tzinfo=VN),
            2,
            dt.datetime(2025, 7, 31, 10, 20, tzinfo=VN),
        ),
        # Launched at night: waits for 07:00.
        (
            dt.datetime(2025, 7, 29, 23, 0, tzinfo=VN),
            1,
            dt.datetime(2025, 7, 30, 20, 20, tzinfo=VN),
        ),
    ],
)
def test_plan_official_text(
    start_local: dt.datetime, windows: int, finish_local: dt.datetime
) -> None:
    """1.2 M × 4 segments at 100/s lays out over the 07:00–22:00 windows as expected."""
    result = plan(send_duration(4_800_000, 100), start_local)
    assert result.windows == windows
    assert result.finishes_at == finish_local.astimezone(dt.UTC)
    assert windows_needed(result.seconds, "07:00", "22:00") == 1


def test_plan_at_twilio_default_rate() -> None:
    """At Twilio's default 10 segments/s one sender needs nine 15-hour windows."""
    seconds = send_duration(4_800_000, 10)
    result = plan(seconds, dt.datetime(2025, 7, 30, 7, 0, tzinfo=VN))
    assert result.windows == windows_needed(seconds, "07:00", "22:00") == 9


def test_plan_refuses_naive_start() -> None:
    """A naive start time is ambiguous and refused."""
    with pytest.raises(ValueError):
        plan(10, dt.datetime(2025, 7, 30, 7, 0))
