"""The ``callbacks`` benchmark at a tiny size, under gunicorn: every 2xx receipt was applied."""

from __future__ import annotations

import pytest

from bench import bench_callbacks, support_bench2
from tests.bench.smoke import check_rows


@pytest.mark.slow
def test_callbacks_benchmark_rows(monkeypatch: pytest.MonkeyPatch) -> None:
    """The rate against the bare endpoint, and against a given dispatch rate."""
    monkeypatch.setenv("LOA_BENCH_DISPATCH_RATE", "1")
    rows = {r["name"]: r for r in bench_callbacks.run(0.0004)}
    check_rows(list(rows.values()), "callbacks")
    main = support_bench2.DETAILS["callbacks"]
    assert main["applied"] == main["answered_2xx"] + 20 > 20  # + the 20 warm-up receipts
    assert rows["callbacks.vs_dispatch"]["baseline_value"] == 1
