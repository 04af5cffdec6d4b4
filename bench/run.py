"""Run Loa's benchmarks, write ``bench/results.json`` and print the table.

    .venv/bin/python -m bench.run [--size 1.0] [--only import,launch] [--out bench/results.json]

Each benchmark is a module ``bench/bench_<name>.py`` with ``run(size) -> list[dict]``; size 1.0
is the issue's full size (1.2 million contacts…), 0.001 a smoke run. Each one measures Loa and
its baseline in the same run, so the ratios hold on a noisy machine.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import sys
import time
import traceback
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.support_bench1 import DISPATCH_RATE, FIELDS, machine, table  # noqa: E402
from bench.support_db_bench1 import database_kind  # noqa: E402

# The benchmarks, in the order they run.
BENCHMARKS = [
    "import", "launch", "dispatch", "rate", "inbound", "callbacks", "inbox", "lists", "progress",
]  # fmt: skip
# Those that also run against PostgreSQL (`--postgresql`).
POSTGRESQL = ["import", "launch", "dispatch", "inbox", "lists"]


def run_one(name: str, size: float) -> list[dict[str, Any]]:
    """One benchmark's rows, checked against the interface."""
    module = importlib.import_module(f"bench.bench_{name}")
    rows: list[dict[str, Any]] = module.run(size)
    for row in rows:
        missing = [f for f in FIELDS if f not in row]
        if missing:
            raise ValueError(f"bench_{name} returned a row without {', '.join(missing)}")
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=float, default=float(os.environ.get("BENCH_SIZE", 1.0)))
    parser.add_argument("--only", default="", help="comma-separated benchmark names")
    parser.add_argument("--out", default=str(ROOT / "bench" / "results.json"))
    parser.add_argument(
        "--postgresql", action="store_true", help="start a throwaway PostgreSQL and use it"
    )
    args = parser.parse_args(argv)
    names = [n.strip() for n in args.only.split(",") if n.strip()] or (
        POSTGRESQL if args.postgresql else BENCHMARKS
    )
    unknown = sorted(set(names) - set(BENCHMARKS))
    if unknown:
        parser.error(f"unknown benchmark(s): {', '.join(unknown)}; known: {', '.join(BENCHMARKS)}")
    if args.postgresql:
        from tests.servers import postgres_server

        with postgres_server() as url:
            os.environ["LOA_DATABASE_URL"] = url
            try:
                return run_all(names, args.size, args.out)
            finally:
                del os.environ["LOA_DATABASE_URL"]
    return run_all(names, args.size, args.out)


def _share_dispatch_rate(rows: list[dict[str, Any]]) -> None:
    """Let ``callbacks`` compare with this run's dispatch rate at 0 ms (its
    ``LOA_BENCH_DISPATCH_RATE``), not with the one an earlier run left in ``results.json``;
    a rate given by the caller is kept."""
    for row in rows:
        if row["name"] == "dispatch@0ms" and not os.environ.get(DISPATCH_RATE):
            os.environ[DISPATCH_RATE] = str(row["value"])


def run_all(names: list[str], size: float, out: str) -> int:
    """Run ``names`` at ``size``; write ``out`` and print the table; 1 when one failed to run."""
    rows: list[dict[str, Any]] = []
    failed: list[str] = []
    for name in names:
        started = time.perf_counter()
        print(f"# {name} (size {size:g}, {database_kind()}) …", file=sys.stderr, flush=True)
        try:
            got = run_one(name, size)
        except Exception:
            traceback.print_exc()
            failed.append(name)
        else:
            rows.extend(got)
            _share_dispatch_rate(got)
        print(f"# {name}: {time.perf_counter() - started:.0f} s", file=sys.stderr, flush=True)
    Path(out).write_text(json.dumps(rows, ensure_ascii=False, indent=2) + "\n")
    print(f"{machine()}; database {database_kind()}; size {size:g}\n")
    print(table(rows))
    if failed:
        print(f"\nbenchmarks that failed to run: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
