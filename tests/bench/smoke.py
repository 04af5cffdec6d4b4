"""What every benchmark's rows must look like (``bench/run.py``'s interface), checked at tiny size."""

from __future__ import annotations

import math
from typing import Any

FIELDS = {"name", "value", "unit", "baseline", "baseline_value", "ratio", "target", "pass"}


def check_rows(rows: list[dict[str, Any]], prefix: str) -> None:
    """Each row has the interface's fields with sane values, and is named after its benchmark."""
    assert rows
    for r in rows:
        assert set(r) - {"peak_rss_mb"} == FIELDS, r
        assert r["name"] == prefix or r["name"].startswith(prefix + "."), r["name"]
        assert isinstance(r["pass"], bool)
        for key in ("value", "baseline_value", "ratio"):
            assert isinstance(r[key], (int, float)) and math.isfinite(r[key]) and r[key] >= 0, r
        assert r["unit"] and r["baseline"] and r["target"]


def check_named_rows(rows: list[dict[str, Any]], names: set[str]) -> dict[str, dict[str, Any]]:
    """Assert each row has exactly the interface's fields and sane figures; rows by name."""
    assert {r["name"] for r in rows} == names
    for row in rows:
        assert set(row) - {"peak_rss_mb"} == FIELDS, row
        assert isinstance(row["pass"], bool)
        assert row["value"] > 0 and math.isfinite(row["value"]), row
        assert row["baseline_value"] > 0, row
        assert row["unit"] and row["baseline"] and row["target"], row
        assert row["ratio"] is not None and row["ratio"] > 0, row
    return {r["name"]: r for r in rows}
