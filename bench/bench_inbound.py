"""``inbound``: signed Twilio inbound tips through Loa's whole intake (signature, store, route,
TwiML) under gunicorn as ``make run`` starts it, with 1,200,000 deliveries and 100,000 tips
already stored; against a bare Flask endpoint under the same gunicorn flags that parses the form
and answers TwiML without storing.

Three figures: the peak rate (closed loop, 16 keep-alive connections), the p99 latency at 80 %
of Loa's peak (open loop, latency counted from when each request was due), and every 2xx stored
exactly once (tips counted by their MessageSid afterwards).
"""

from __future__ import annotations

import random
import sqlite3
import tempfile
from pathlib import Path
from typing import Any

from bench import support_bench2 as sb

DELIVERIES = 1_200_000
TIPS = 100_000
REQUESTS = 4_000


def _tips(
    pair: sb.Pair, first: int, count: int, recipients: int, signed: bool, tag: str = "in"
) -> list[bytes]:
    rnd = random.Random(first)
    out = []
    for i in range(first, first + count):
        form = {
            "MessageSid": f"SM{tag}{i:030d}",
            "AccountSid": sb.TWILIO_SID,
            "From": sb.phone(rnd.randrange(recipients)),
            "To": "+12025550100",
            "Body": rnd.choice(sb.BODIES).format(d="Kế Sách"),
        }
        path = "/webhooks/twilio/sms"
        out.append(pair.signed(path, form) if signed else sb.form_request(path, form, {}))
    return out


def run(size: float) -> list[dict[str, Any]]:
    recipients = max(500, int(DELIVERIES * size))
    requests = max(60, int(REQUESTS * min(1.0, size * 10)))
    with (
        tempfile.TemporaryDirectory(prefix="loa-bench-inbound-") as tmp,
        sb.site(Path(tmp), sb.free()) as site,
    ):
        site.loa("areas", "load", "soc-trang-2024")  # as a real install has them: tips name places
        sb.fill_campaign(site.db_path, recipients)
        sb.fill_tips(site.url, max(100, int(TIPS * size)))
        with sb.loa_and_bare(site) as pair:
            sb.load(pair.loa_port, _tips(pair, 0, 20, recipients, True, "wa"))  # warm both apps
            sb.load(pair.bare_port, _tips(pair, 0, 20, recipients, False))
            loa = sb.load(pair.loa_port, _tips(pair, 100, requests, recipients, True))
            bare = sb.load(pair.bare_port, _tips(pair, 100, requests, recipients, False))
            rate = 0.8 * loa.rate
            steady = sb.load(
                pair.loa_port, _tips(pair, 10**7, requests // 2, recipients, True), 32, rate
            )
        ok = sum(1 for code in (*loa.statuses, *steady.statuses) if 200 <= code < 300)
        con = sqlite3.connect(site.db_path)
        stored, distinct = con.execute(
            "SELECT count(*), count(DISTINCT provider_message_id) FROM tips"
            " WHERE provider_message_id LIKE 'SMin%'"
        ).fetchone()
        con.close()
    ratio = loa.rate / bare.rate if bare.rate else 0.0
    bare_label = "bare Flask TwiML endpoint, same gunicorn flags"
    return [
        sb.row(
            "inbound",
            loa.rate,
            "req/s",
            bare_label,
            bare.rate,
            ratio,
            "≥ 0.5×",
            ratio >= 0.5,
            p50_ms=round(loa.ms(50), 1),
            p99_ms=round(loa.ms(99), 1),
            baseline_p99_ms=round(bare.ms(99), 1),
            deliveries=recipients,
        ),
        sb.row(
            "inbound.p99_at_80pct",
            steady.ms(99),
            "ms p99",
            "the 25 ms limit",
            25.0,
            steady.ms(99) / 25,
            "p99 ≤ 25 ms",
            steady.ms(99) <= 25,
            offered_rate=round(rate, 1),
            achieved_rate=round(steady.rate, 1),
        ),
        sb.row(
            "inbound.stored_once",
            stored,
            "tips",
            "2xx answers",
            ok,
            stored / ok if ok else 0.0,
            "= 1 (every 2xx stored exactly once)",
            stored == ok == distinct and ok > 0,
        ),
    ]


if __name__ == "__main__":
    import json
    import sys

    for r in run(float(sys.argv[1]) if len(sys.argv) > 1 else 1.0):
        print(json.dumps(r, ensure_ascii=False))
