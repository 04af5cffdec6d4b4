"""`bench/bench_rate.py` at a tiny size: the interface and sane figures, no timing target."""

from __future__ import annotations

import pytest

from bench import bench_rate
from tests.bench.smoke import check_named_rows

pytestmark = pytest.mark.slow


def test_windows_leave_out_the_partial_first_and_last_seconds() -> None:
    """Full seconds only, gaps counted as zero, in segments (4 per message)."""
    assert bench_rate.windows([[10, 3], [11, 50], [13, 49], [14, 7]]) == [200, 0, 196]
    assert bench_rate.windows([[10, 3], [11, 50]]) == []


def test_rate_reports_the_peak_and_mean_window_against_the_limit() -> None:
    """Two workers send for a few seconds; the peak is at least the mean; both near the limit."""
    rows = check_named_rows(bench_rate.run(0.001), {"rate-peak", "rate-mean"})
    peak, mean = rows["rate-peak"], rows["rate-mean"]
    assert peak["baseline_value"] == mean["baseline_value"] == bench_rate.LIMIT
    assert peak["value"] >= mean["value"]
    assert mean["value"] < bench_rate.LIMIT * 3  # the limiter holds, roughly, even here
    assert peak["pass"] == (peak["value"] <= bench_rate.LIMIT * 1.05)
