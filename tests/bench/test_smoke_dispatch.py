"""`bench/bench_dispatch.py` at a tiny size: the interface and sane figures, no timing target."""

from __future__ import annotations

import pytest

from bench import bench_dispatch
from tests.bench.smoke import check_named_rows

pytestmark = pytest.mark.slow


def test_dispatch_compares_loa_with_the_bare_sdk_loops_and_the_naive_design() -> None:
    """Loa, the best bare loop, the naive design and the stub, at 0 and 100 ms; and Loa from a
    campaign larger than the messages it sends, against Loa from the campaign of their size."""
    names = {
        f"{kind}@{ms}ms"
        for kind in ("dispatch", "dispatch-naive", "dispatch-stub")
        for ms in (0, 100)
    } | {"dispatch-province@0ms"}
    rows = check_named_rows(bench_dispatch.run(0.001), names)
    for ms in (0, 100):
        loa = rows[f"dispatch@{ms}ms"]
        assert loa["unit"] == "msg/s"
        assert loa["ratio"] == pytest.approx(loa["value"] / loa["baseline_value"], rel=0.02)
        assert loa["pass"] == (loa["ratio"] >= 0.8)
        naive = rows[f"dispatch-naive@{ms}ms"]
        assert naive["value"] == loa["value"]
        assert naive["pass"] == (naive["ratio"] >= 20)
        stub = rows[f"dispatch-stub@{ms}ms"]
        assert stub["baseline_value"] == loa["value"]
        assert stub["value"] >= loa["baseline_value"]  # it served at least the best bare loop
    province = rows["dispatch-province@0ms"]
    assert province["baseline_value"] == rows["dispatch@0ms"]["value"]
    assert province["pass"] == (province["ratio"] >= 0.8)
    # at 100 ms a one-connection-at-a-time sender could not pass 10 msg/s: the loops overlap
    assert rows["dispatch@100ms"]["baseline_value"] > 10
