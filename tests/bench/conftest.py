"""The benchmarks' smoke runs fill their own throwaway SQLite databases and Redis, whatever
``--db`` says, so they run once: in the SQLite pass of ``make test``. A module that sets
``BOTH_DATABASES = True`` runs in the PostgreSQL pass too, against the database under test
(as ``bench.run --postgresql`` runs it)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.integration.test_migrations import empty_database

HERE = Path(__file__).resolve().parent


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if config.getoption("--db") == "sqlite":
        return
    once = pytest.mark.skip(
        reason="a benchmark smoke run uses its own SQLite: it runs in the SQLite pass"
    )
    for item in items:
        both = getattr(item.module, "BOTH_DATABASES", False)  # type: ignore[attr-defined]
        if HERE in Path(str(item.path)).resolve().parents and not both:
            item.add_marker(once)


@pytest.fixture
def bench_database(database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """For a ``BOTH_DATABASES`` module in the PostgreSQL pass: an empty database of its own as
    ``LOA_DATABASE_URL``, as ``bench.run --postgresql`` gives a benchmark (SQLite: nothing)."""
    if database_url.startswith("postgres"):
        monkeypatch.setenv("LOA_DATABASE_URL", empty_database(database_url, tmp_path, "bench"))
