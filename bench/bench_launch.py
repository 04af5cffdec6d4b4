"""`launch`: a campaign to 1,200,000 recipients materialised and every batch job enqueued.

Loa: the real launch job, ``workers.dispatch.launch`` (one INSERT…SELECT with the opt-out and
do-not-contact checks and the batch numbering, then one RQ job per batch of ``BATCH_SIZE`` on a
real Redis). The campaign's rate (8,000 segments/s) lets the planner enqueue every batch at once.
Baseline, same run, same database: the bare ``INSERT … SELECT`` of the same rows through the
driver (``sqlite3`` on SQLite), with the same columns (the contact's carrier and district
snapshot included), without the checks and with the delivery counters' triggers dropped
(counting is Loa's work). Target: Loa ≤ 1.5× the baseline's time.
"""

from __future__ import annotations

import tempfile
import time
from typing import Any

from bench.support_bench1 import result
from bench.support_db_bench1 import fresh_database, private_redis, seed_campaign
from campaigns.materialise import BATCH_SIZE

FULL_RECIPIENTS = 1_200_000
ROUNDS = 2

BARE = """
INSERT INTO deliveries (campaign_id, contact_id, phone, carrier, district_id, status, batch_no,
                        segments, attempts, updated_at)
SELECT :campaign, c.id, c.phone, c.carrier, c.district_id, 'pending',
       (row_number() OVER (ORDER BY c.id) - 1) / :batch_size, 4, 0, CURRENT_TIMESTAMP
FROM list_members m JOIN contacts c ON c.id = m.contact_id
WHERE m.list_id = (SELECT id FROM contact_lists WHERE name = 'bench')
"""


def _reset(engine: Any, redis: Any, campaign_id: int) -> None:
    from sqlalchemy import text

    with engine.begin() as c:
        c.execute(text("DELETE FROM deliveries"))
        c.execute(text("DELETE FROM delivery_counts"))
        c.execute(
            text("UPDATE campaigns SET status = 'running', audience_size = 0 WHERE id = :id"),
            {"id": campaign_id},
        )
    redis.flushdb()


def bare(engine: Any, campaign_id: int) -> float:
    """The baseline: the bare INSERT…SELECT on the driver's own connection, committed."""
    from campaigns import count_triggers

    # The baseline pays no counter trigger: counting is Loa's work (``_reset`` clears them).
    with engine.begin() as conn:
        count_triggers.uninstall(conn)
    raw = engine.raw_connection()
    try:
        cur = raw.cursor()
        sql = BARE.replace(":campaign", str(int(campaign_id))).replace(
            ":batch_size", str(BATCH_SIZE)
        )
        start = time.perf_counter()
        cur.execute(sql)
        raw.commit()
        return time.perf_counter() - start
    finally:
        raw.close()
        with engine.begin() as conn:
            count_triggers.install(conn)


def loa(campaign_id: int) -> tuple[float, dict[str, Any]]:
    """Loa's launch job, as a worker runs it."""
    from workers import dispatch

    start = time.perf_counter()
    out = dispatch.launch(campaign_id)
    return time.perf_counter() - start, out


def run(size: float) -> list[dict[str, Any]]:
    from gateway.settings import Settings
    from workers import runtime

    n = max(500, int(FULL_RECIPIENTS * size))
    with (
        tempfile.TemporaryDirectory(prefix="loa-bench-launch-") as tmp,
        fresh_database(tmp) as url,
        private_redis() as redis_url,
    ):
        campaign_id = seed_campaign(url, n, rate=8000.0)
        runtime.configure(Settings(database_url=url, redis_url=redis_url))
        engine, redis = runtime.engine(), runtime.redis()
        bare_times, loa_times = [], []
        for _ in range(ROUNDS):
            _reset(engine, redis, campaign_id)
            bare_times.append(bare(engine, campaign_id))
            _reset(engine, redis, campaign_id)
            took, out = loa(campaign_id)
            loa_times.append(took)
            batches = -(-int(n * 0.99) // BATCH_SIZE)
            assert out["launched"] and out["audience_size"] == n, out
            assert len(out["enqueued"]) >= batches - 1, (len(out["enqueued"]), batches)
        runtime.reset()
    base, fast = min(bare_times), min(loa_times)
    ratio = fast / base
    return [
        result(
            "launch",
            fast,
            "s",
            "bare INSERT…SELECT",
            base,
            ratio,
            "≤ 1.5× the baseline's time",
            ratio <= 1.5,
        )
    ]
