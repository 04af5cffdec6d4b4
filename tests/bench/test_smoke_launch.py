"""`bench/bench_launch.py` at a tiny size: the interface and sane figures, no timing target."""

from __future__ import annotations

import pytest

from bench import bench_launch
from tests.bench.smoke import check_named_rows


def test_launch_reports_its_time_against_the_bare_insert_select() -> None:
    """The ratio is Loa's time over the baseline's (lower is better); pass follows the target."""
    row = check_named_rows(bench_launch.run(0.001), {"launch"})["launch"]
    assert row["unit"] == "s"
    assert row["ratio"] == pytest.approx(row["value"] / row["baseline_value"], rel=0.01)
    assert row["pass"] == (row["ratio"] <= 1.5)
