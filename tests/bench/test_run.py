"""``bench.run``: how the benchmarks of one run are put together."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from bench import bench_callbacks, run
from bench.support_bench1 import DISPATCH_RATE


def _row(name: str, value: float) -> dict[str, Any]:
    return {
        "name": name,
        "value": value,
        "unit": "msg/s",
        "baseline": "x",
        "baseline_value": 1.0,
        "ratio": value,
        "target": "x",
        "pass": True,
    }


@pytest.mark.parametrize(("given", "expected"), [("", 1234.0), ("7", 7.0)], ids=["unset", "given"])
def test_callbacks_compare_with_this_runs_dispatch(
    given: str, expected: float, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """In one run, ``callbacks`` reads the rate ``dispatch`` measured just before (not the one
    an earlier run left in results.json); a rate the caller gave is kept."""
    seen: dict[str, float | None] = {}

    def one(name: str, size: float) -> list[dict[str, Any]]:
        if name == "dispatch":
            return [_row("dispatch@0ms", 1234.0)]
        seen[name] = bench_callbacks.dispatch_rate()
        return [_row("callbacks", 1.0)]

    monkeypatch.setenv(DISPATCH_RATE, given)
    monkeypatch.setattr(run, "run_one", one)
    assert run.run_all(["dispatch", "callbacks"], 0.01, str(tmp_path / "results.json")) == 0
    assert seen == {"callbacks": expected}


def test_the_web_benchmarks_run_gunicorn_with_make_runs_processes_and_threads() -> None:
    """The bench's gunicorn has the workers and threads of scripts/run.sh (its figures are
    ``make run``'s): the two lists of flags are kept apart, so this keeps them equal."""
    from bench.support_bench2 import GUNICORN_FLAGS, ROOT

    line = next(
        x for x in (ROOT / "scripts" / "run.sh").read_text().splitlines() if "bin/gunicorn" in x
    )
    words = line.split()
    for flag in ("--workers", "--threads"):
        assert GUNICORN_FLAGS[GUNICORN_FLAGS.index(flag) + 1] == words[words.index(flag) + 1]
