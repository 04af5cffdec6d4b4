"""/metrics: Prometheus figures for admins' tokens only."""

from __future__ import annotations

from typing import Any

from gateway.auth import create_token
from tests.factories import create_tip, create_user


def test_metrics_need_an_admin_token(client: Any) -> None:
    """Anonymous → 401; an operator's token → 403."""
    assert client.get("/metrics").status_code == 401
    token = create_token(create_user("police"))
    assert client.get("/metrics", headers={"Authorization": f"Bearer {token}"}).status_code == 403


def test_metrics_report_open_tips_and_queues(client: Any) -> None:
    """Open tips are counted by queue and priority; each RQ queue's depth is reported."""
    create_tip("Có người bị nhốt, cứu với", priority="urgent")
    token = create_token(create_user("admin"))
    resp = client.get("/metrics", headers={"Authorization": f"Bearer {token}"})
    assert resp.status_code == 200
    text = resp.get_data(as_text=True)
    assert 'loa_queue_jobs{queue="replies"}' in text
    tips = [line for line in text.splitlines() if line.startswith("loa_tips{")]
    assert len(tips) == 1 and 'priority="urgent"' in tips[0] and tips[0].endswith(" 1.0")
    assert "nhốt" not in text  # figures only, never a tip's words
