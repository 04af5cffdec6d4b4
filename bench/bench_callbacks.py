"""``callbacks``: signed Twilio status callbacks applied to the deliveries of a
1,200,000-recipient campaign, under gunicorn as ``make run`` starts it; against the bare Flask
endpoint of ``bench.bare_webhook`` under the same flags, which parses the form and answers 204.

Two figures: the rate against the bare endpoint (≥ 0.5×), and the rate against the ``dispatch``
benchmark's rate at 0 ms (≥ 2×: receipts must never lag sends). That second figure needs the
dispatch rate: ``LOA_BENCH_DISPATCH_RATE`` (msg/s; ``bench.run`` sets it from the ``dispatch``
benchmark when both run), else the first ``dispatch`` row in msg/s of ``bench/results.json``;
without either it is left out.
"""

from __future__ import annotations

import json
import os
import random
import sqlite3
import tempfile
from pathlib import Path
from typing import Any

from bench import support_bench2 as sb
from bench.support_bench1 import DISPATCH_RATE

DELIVERIES = 1_200_000
REQUESTS = 4_000
RESULTS = sb.ROOT / "bench" / "results.json"


def dispatch_rate() -> float | None:
    """The dispatch rate at 0 ms to compare with, or None when none is known."""
    if os.environ.get(DISPATCH_RATE):
        return float(os.environ[DISPATCH_RATE])
    try:
        rows = json.loads(RESULTS.read_text())
    except (OSError, ValueError):
        return None
    for r in rows if isinstance(rows, list) else []:
        if str(r.get("name", "")).startswith("dispatch") and r.get("unit") == "msg/s":
            return float(r["value"])
    return None


def _receipts(pair: sb.Pair, ids: list[int], signed: bool) -> list[bytes]:
    out = []
    for d_id in ids:
        form = {
            "MessageSid": f"SM{1:08d}{d_id - 1:024d}",
            "MessageStatus": "delivered",
            "AccountSid": sb.TWILIO_SID,
            "To": sb.phone(d_id - 1),
        }
        path = f"/webhooks/twilio/status/{d_id}"
        out.append(pair.signed(path, form) if signed else sb.form_request(path, form, {}))
    return out


def _delivered(db_path: Path, campaign_id: int) -> int:
    con = sqlite3.connect(db_path)
    n = con.execute(
        "SELECT count(*) FROM deliveries WHERE campaign_id = ? AND status = 'delivered'",
        (campaign_id,),
    ).fetchone()[0]
    con.close()
    return int(n)


def run(size: float) -> list[dict[str, Any]]:
    recipients = max(500, int(DELIVERIES * size))
    requests = max(60, int(REQUESTS * min(1.0, size * 10)))
    with (
        tempfile.TemporaryDirectory(prefix="loa-bench-callbacks-") as tmp,
        sb.site(Path(tmp), sb.free()) as site,
    ):
        cid = sb.fill_campaign(site.db_path, recipients)
        # Deliveries whose status is "sent" (fill_campaign: i % 10 < 6), id = i + 1, in random
        # order as receipts arrive.
        sent = [i + 1 for i in range(recipients) if i % 10 < 6]
        ids = random.Random(7).sample(sent, min(len(sent), requests + 20))
        before = _delivered(site.db_path, cid)
        with sb.loa_and_bare(site) as pair:
            sb.load(pair.loa_port, _receipts(pair, ids[:20], True))
            sb.load(pair.bare_port, _receipts(pair, ids[:20], False))
            loa = sb.load(pair.loa_port, _receipts(pair, ids[20:], True))
            bare = sb.load(pair.bare_port, _receipts(pair, ids[20:], False))
        delivered = _delivered(site.db_path, cid) - before
    ok = sum(1 for code in loa.statuses if 200 <= code < 300)
    ratio = loa.rate / bare.rate if bare.rate else 0.0
    rows = [
        sb.row(
            "callbacks",
            loa.rate,
            "req/s",
            "bare Flask endpoint, same gunicorn flags",
            bare.rate,
            ratio,
            "≥ 0.5×",
            ratio >= 0.5 and delivered == ok + 20,
            p50_ms=round(loa.ms(50), 1),
            p99_ms=round(loa.ms(99), 1),
            applied=delivered,
            answered_2xx=ok,
            deliveries=recipients,
        )
    ]
    sends = dispatch_rate()
    if sends:
        rows.append(
            sb.row(
                "callbacks.vs_dispatch",
                loa.rate,
                "req/s",
                "dispatch at 0 ms (msg/s)",
                sends,
                loa.rate / sends,
                "≥ 2×",
                loa.rate >= 2 * sends,
            )
        )
    return rows


if __name__ == "__main__":
    import sys

    for r in run(float(sys.argv[1]) if len(sys.argv) > 1 else 1.0):
        print(json.dumps(r, ensure_ascii=False))
