"""`rate`: two workers send one campaign with a configured limit of 200 segments/s for 60 s.

Loa: a running campaign of the official text (4 UCS-2 segments) at ``rate_per_second = 200``,
launched by the real launch job, sent by two ``loa worker --queues bulk --burst`` processes that
share the token bucket in Redis, to the stub (0 ms). The stub counts requests per second of
arrival; each request is one message of 4 segments. Baseline: the configured limit itself.
Targets: every full 1-second window ≤ 105 % of the limit; the mean of the full windows ≥ 95 %.
Size 1.0 = 60 s of sending (3,000 messages); at least 5 s.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
from typing import Any

from bench.bench_dispatch import ACCOUNT, SENDER, TOKEN
from bench.support_bench1 import ROOT, result, stub_server, stub_stats
from bench.support_db_bench1 import OFFICIAL_TEXT, fresh_database, private_redis, seed_campaign

LIMIT = 200.0  # segments per second
SEGMENTS = 4  # the official text, UCS-2
WORKERS = 2
FULL_SECONDS = 60


def windows(per_second: list[list[int]]) -> list[int]:
    """Segments in each full second: the first and last (partial) seconds are left out."""
    counts = dict((int(s), int(c)) for s, c in per_second)
    if len(counts) < 3:
        return []
    first, last = min(counts), max(counts)
    return [counts.get(t, 0) * SEGMENTS for t in range(first + 1, last)]


def send(seconds: float) -> list[int]:
    """Send ``seconds`` of the campaign with two workers; the segments of each full second."""
    from gateway.settings import Settings
    from workers import dispatch, runtime

    n = int(LIMIT / SEGMENTS * seconds)
    with (
        tempfile.TemporaryDirectory(prefix="loa-bench-rate-") as tmp,
        fresh_database(tmp) as url,
        private_redis() as redis_url,
        stub_server(0.0) as base_url,
    ):
        # One number in a hundred is opted out (seed_campaign): add them back to the count.
        campaign_id = seed_campaign(url, n + n // 99 + 1, rate=LIMIT, body=OFFICIAL_TEXT)
        runtime.configure(Settings(database_url=url, redis_url=redis_url))
        launched = dispatch.launch(campaign_id)
        runtime.reset()
        assert launched["launched"], launched
        env = {
            **os.environ,
            "LOA_DATABASE_URL": url,
            "LOA_REDIS_URL": redis_url,
            "LOA_PROVIDER": "twilio",
            "LOA_TWILIO_ACCOUNT_SID": ACCOUNT,
            "LOA_TWILIO_AUTH_TOKEN": TOKEN,
            "LOA_TWILIO_FROM": SENDER,
            "LOA_TWILIO_API_BASE_URL": base_url,
            "LOA_VAR_DIR": tmp,
            # The configured limit is the sender's (a campaign's rate can only lower it).
            "LOA_RATE_PER_SECOND": str(LIMIT),
        }
        stub_stats(base_url, reset=True)
        workers = [
            subprocess.Popen(
                [str(ROOT / ".venv" / "bin" / "loa"), "worker", "--queues", "bulk", "--burst"],
                cwd=tmp,
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            for _ in range(WORKERS)
        ]
        for w in workers:
            if w.wait(timeout=seconds * 3 + 120) != 0:
                raise RuntimeError(f"a worker exited with {w.returncode}")
        stats = stub_stats(base_url)
    assert stats["count"] >= n * 0.99, (stats["count"], n)
    return windows(stats["per_second"])


def run(size: float) -> list[dict[str, Any]]:
    per_second = send(max(5.0, FULL_SECONDS * size))
    peak = max(per_second)
    mean = sum(per_second) / len(per_second)
    return [
        result(
            "rate-peak",
            peak,
            "seg/s",
            "the configured limit",
            LIMIT,
            peak / LIMIT,
            "every 1-s window ≤ 1.05×",
            peak <= LIMIT * 1.05,
        ),
        result(
            "rate-mean",
            mean,
            "seg/s",
            "the configured limit",
            LIMIT,
            mean / LIMIT,
            "mean ≥ 0.95×",
            mean >= LIMIT * 0.95,
        ),
    ]
