"""The ``progress`` benchmark at a tiny size: both pages answer and each row is well formed."""

from __future__ import annotations

import pytest

from bench import bench_progress, support_bench2
from tests.bench.smoke import check_rows


@pytest.mark.slow
def test_progress_benchmark_rows() -> None:
    """The progress JSON and the API's campaign, each timed against the bare SELECT."""
    rows = bench_progress.run(0.0004)
    check_rows(rows, "progress")
    assert [r["name"] for r in rows] == ["progress.progress.json", "progress.api_campaign"]
    assert all(r["value"] > 0 for r in rows)
    assert all(support_bench2.DETAILS[r["name"]]["recipients"] == 500 for r in rows)
