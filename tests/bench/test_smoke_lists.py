"""The ``lists`` benchmark at a tiny size: every list answers and each row is well formed, on
the kind of database under test (``--db=postgresql`` runs it as ``bench.run --postgresql``)."""

from __future__ import annotations

import pytest

from bench import bench_lists
from tests.bench.smoke import check_rows

BOTH_DATABASES = True


@pytest.mark.slow
@pytest.mark.usefixtures("bench_database")
def test_lists_benchmark_rows() -> None:
    """One row per list and depth, each timed (Loa's page is never faster than nothing)."""
    rows = bench_lists.run(0.0002)
    check_rows(rows, "lists")
    assert {r["name"].removeprefix("lists.") for r in rows} == {
        "contacts", "contacts.deep", "contacts.search", "contacts.list", "contacts.list.deep",
        "contact_lists", "audit", "audit.deep", "audit.filter",
        "optouts", "optouts.deep",
    }  # fmt: skip
    assert all(r["value"] > 0 and r["baseline_value"] > 0 for r in rows)
