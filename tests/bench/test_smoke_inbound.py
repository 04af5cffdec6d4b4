"""The ``inbound`` benchmark at a tiny size, under gunicorn: rows well formed, tips stored once."""

from __future__ import annotations

import pytest

from bench import bench_inbound
from tests.bench.smoke import check_rows


@pytest.mark.slow
def test_inbound_benchmark_rows() -> None:
    """Rate, p99 at 80 % and stored-once rows; every answered tip was stored exactly once."""
    rows = {r["name"]: r for r in bench_inbound.run(0.0004)}
    check_rows(list(rows.values()), "inbound")
    assert set(rows) == {"inbound", "inbound.p99_at_80pct", "inbound.stored_once"}
    assert rows["inbound"]["value"] > 0 and rows["inbound"]["baseline_value"] > 0
    stored = rows["inbound.stored_once"]
    assert stored["pass"] and stored["value"] == stored["baseline_value"] > 0
