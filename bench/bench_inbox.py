"""``inbox``: the inbox list, its queue counts, a filter and a search (with and without
diacritics; words in no tip; a phrase in 1 tip of 35), and the home page and the tip dashboard,
as a district police operator and as the provincial police, with 1,000,000 tips, on SQLite or
(``bench.run --postgresql``) PostgreSQL.

Loa's pages are requested through Flask's test client in this process (the whole view: login
check, scope, query, template); the baseline is a bare Flask route in the same process and the
same client running an indexed ``SELECT … ORDER BY received_at DESC LIMIT 50``, so both pay the
same request overhead and only the work differs.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from bench import support_bench2 as sb

TIPS = 1_000_000
REPEAT = 15
CASES = {
    "list": "/inbox/",
    "counts": "/inbox/count.json",
    "filter": "/inbox/?status=open&priority=urgent",
    "search": "/inbox/?q=K%E1%BA%BF+S%C3%A1ch",  # "Kế Sách"
    "search_folded": "/inbox/?q=ke+sach",
    # Found in no tip: without an index, the worst case (every tip read to fill no page).
    "search_none": "/inbox/?q=kh%C3%B4ng+c%C3%B3",  # "không có"
    # One body of five in one district of seven: in 1 tip of 35.
    "search_phrase": "/inbox/?q=lao+%C4%91%E1%BB%99ng%2C+nh%C3%A0+%E1%BB%9F+K%E1%BA%BF+S%C3%A1ch",
    # Beyond the list, the pages a user opens first: the home page (its dashboard block:
    # the all-time queue × state table, open tips by priority, the overdue ones) and the tip
    # dashboard with its two charts over 90 days.
    "home": "/",
    "dashboard": "/inbox/dashboard",
}
BARE_SQL = (
    "SELECT id, received_at, queue, status, priority, body FROM tips"
    " ORDER BY received_at DESC LIMIT 50"
)
ROLES = {"district": "police_ke_sach", "province": "police_province"}


def run(size: float) -> list[dict[str, Any]]:
    tips = max(200, int(TIPS * size))
    repeat = REPEAT if size >= 0.01 else 3
    results = []
    with (
        tempfile.TemporaryDirectory(prefix="loa-bench-inbox-") as tmp,
        sb.site(Path(tmp), sb.free(), sb.postgresql_url()) as site,
        sb.environment(site.env),
    ):
        sb.fill_tips(site.url, tips)
        from gateway import create_app

        app = create_app()
        with sb.bare_select_client(site.url, BARE_SQL) as bare, app.app_context():
            clients = {role: sb.signed_in(app, "police", scope) for role, scope in ROLES.items()}
            for case, url in CASES.items():
                for role, client in clients.items():
                    results.append(
                        sb.page_row(
                            f"inbox.{case}.{role}",
                            lambda c=client, u=url: c.get(u),
                            bare,
                            repeat,
                            "≤ 5× and ≤ 150 ms",
                            150,
                            max_ratio=5,
                            tips=tips,
                        )
                    )
        app.extensions["loa.engine"].dispose()
    return results


if __name__ == "__main__":
    import json
    import sys

    for r in run(float(sys.argv[1]) if len(sys.argv) > 1 else 1.0):
        print(json.dumps(r, ensure_ascii=False))
