"""The ``lists`` benchmark at a tiny size: every list answers and each row is well formed, on
the kind of database under test (``--db=postgresql`` runs it as ``bench.run --postgresql``)."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench import bench_lists
from tests.bench.smoke import check_rows
from tests.integration.test_migrations import empty_database

BOTH_DATABASES = True


@pytest.mark.slow
def test_lists_benchmark_rows(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One row per list and depth, each timed (Loa's page is never faster than nothing)."""
    if database_url.startswith("postgres"):
        monkeypatch.setenv("LOA_DATABASE_URL", empty_database(database_url, tmp_path, "bench"))
    rows = bench_lists.run(0.0002)
    check_rows(rows, "lists")
    assert {r["name"].removeprefix("lists.") for r in rows} == {
        "contacts", "contacts.deep", "contacts.search", "contacts.list", "contacts.list.deep",
        "contact_lists", "audit", "audit.deep", "audit.filter",
        "optouts", "optouts.deep",
    }  # fmt: skip
    assert all(r["value"] > 0 and r["baseline_value"] > 0 for r in rows)
