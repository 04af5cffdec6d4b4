"""The ``inbox`` benchmark at a tiny size: every page answers and each row is well formed, on
the kind of database under test (``--db=postgresql`` runs it as ``bench.run --postgresql``)."""

from __future__ import annotations

import pytest

from bench import bench_inbox
from tests.bench.smoke import check_rows

BOTH_DATABASES = True


@pytest.mark.slow
@pytest.mark.usefixtures("bench_database")
def test_inbox_benchmark_rows() -> None:
    """One row per page and role, each timed (Loa's page is never faster than nothing)."""
    rows = bench_inbox.run(0.0002)
    check_rows(rows, "inbox")
    assert {r["name"] for r in rows} == {
        f"inbox.{case}.{role}" for case in bench_inbox.CASES for role in bench_inbox.ROLES
    }
    assert all(r["value"] > 0 and r["baseline_value"] > 0 for r in rows)
