"""``progress``: the live progress JSON (polled every 3 s per open tab) and
``GET /api/v1/campaigns/{id}`` of a running 1,200,000-recipient campaign.

Both are requested through Flask's test client in this process (login or bearer token, the
view, its queries); the baseline is a bare Flask route in the same client running an indexed
``SELECT … LIMIT 50`` of the campaign's deliveries.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from bench import support_bench2 as sb

RECIPIENTS = 1_200_000
REPEAT = 15


def run(size: float) -> list[dict[str, Any]]:
    recipients = max(500, int(RECIPIENTS * size))
    repeat = REPEAT if size >= 0.01 else 3
    results = []
    with (
        tempfile.TemporaryDirectory(prefix="loa-bench-progress-") as tmp,
        sb.site(Path(tmp), sb.free()) as site,
        sb.environment(site.env),
    ):
        cid = sb.fill_campaign(site.db_path, recipients)
        from gateway import create_app, db
        from gateway.auth import create_user, new_token

        app = create_app()
        sql = (
            f"SELECT id, phone, status, sent_at FROM deliveries WHERE campaign_id = {cid}"  # noqa: S608
            " ORDER BY id LIMIT 50"
        )
        with sb.bare_select_client(site.url, sql) as bare, app.app_context():
            browser = sb.signed_in(app, "editor")
            user, _ = create_user("api@bench.test", "editor", password=None)
            _, token = new_token(user, "bench")
            db.session().commit()
            api = app.test_client()
            auth = {"Authorization": f"Bearer {token}"}
            pages = {
                "progress.json": lambda: browser.get(f"/campaigns/{cid}/progress.json"),
                "api_campaign": lambda: api.get(f"/api/v1/campaigns/{cid}", headers=auth),
            }
            for name, get in pages.items():
                results.append(
                    sb.page_row(
                        f"progress.{name}",
                        get,
                        bare,
                        repeat,
                        "p95 ≤ 50 ms",
                        50,
                        recipients=recipients,
                    )
                )
        app.extensions["loa.engine"].dispose()
    return results


if __name__ == "__main__":
    import json
    import sys

    for r in run(float(sys.argv[1]) if len(sys.argv) > 1 else 1.0):
        print(json.dumps(r, ensure_ascii=False))
