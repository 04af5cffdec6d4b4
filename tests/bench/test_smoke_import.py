"""`bench/bench_import.py` at a tiny size: the interface and sane figures, no timing target."""

from __future__ import annotations

import pytest

from bench import bench_import
from tests.bench.smoke import check_named_rows


def test_import_reports_rows_per_second_against_the_bare_loop() -> None:
    """Both sides read every row; the ratio is Loa's rate over the baseline's; RSS is measured."""
    row = check_named_rows(bench_import.run(0.001), {"import"})["import"]
    assert row["unit"] == "rows/s"
    assert row["ratio"] == pytest.approx(row["value"] / row["baseline_value"], rel=0.01)
    assert 20 < row["peak_rss_mb"] < 2000
    assert row["pass"] == (row["ratio"] >= 3 and row["peak_rss_mb"] <= 300)


def test_the_generated_file_has_junk_and_duplicates(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """The CSV is realistic: some junk rows, some repeated numbers, old 11-digit numbers."""
    path = tmp_path / "c.csv"
    bench_import.write_csv(path, 5000)
    phones = [line.split(",")[0] for line in path.read_text(encoding="utf-8").splitlines()[1:]]
    assert len(phones) == 5000
    assert len(set(phones)) < len(phones) * 0.99
    assert any(p in bench_import.JUNK for p in phones)
    assert any(p.startswith("016") for p in phones)
