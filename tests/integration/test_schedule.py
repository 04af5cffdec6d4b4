"""The scheduler: due campaigns launch once, yearly ones re-arm, changed ones go back to draft."""

from __future__ import annotations

import datetime as dt
from typing import Any

from redis import Redis
from sqlalchemy import select
from sqlalchemy.orm import Session

from campaigns import lifecycle
from campaigns.models import Campaign
from gateway import queues
from tests.factories import create_campaign, create_user
from workers import runtime, schedule

AT = dt.datetime(2025, 7, 30, 1, 0, tzinfo=dt.UTC)  # 30/7 08:00 Asia/Ho_Chi_Minh


def _scheduled(**kw: Any) -> Campaign:
    editor = create_user("editor")
    campaign = create_campaign(
        audience={"lists": ["x"]},
        scheduled_at=AT,
        status="scheduled",
        created_by_id=editor.id,
        **kw,
    )
    campaign.approval_hash = lifecycle.approval_hash(campaign)
    from gateway import db

    db.session().commit()
    return campaign


def test_due_campaign_launches_once(app: Any, session: Session, redis_conn: Redis) -> None:
    """A due campaign is launched and its launch job enqueued once, even if run_due runs twice."""
    campaign = _scheduled()
    assert schedule.run_due(AT - dt.timedelta(seconds=1)) == []
    assert schedule.run_due(AT) == [campaign.id]
    assert schedule.run_due(AT + dt.timedelta(seconds=30)) == []
    session.expire_all()
    assert session.get(Campaign, campaign.id).status == "running"  # type: ignore[union-attr]
    bulk = queues.queue("bulk", redis_conn)
    assert bulk.job_ids == [f"launch-{campaign.id}"]
    assert bulk.fetch_job(f"launch-{campaign.id}").func_name == "workers.dispatch.launch"  # type: ignore[union-attr]


def test_yearly_campaign_rearms(app: Any, session: Session) -> None:
    """Launching a yearly campaign arms next year's copy, still approved."""
    campaign = _scheduled(recurrence="yearly")
    schedule.run_due(AT + dt.timedelta(minutes=1))
    session.expire_all()
    rows = list(session.scalars(select(Campaign).order_by(Campaign.id)))
    assert [c.status for c in rows] == ["running", "scheduled"]
    nxt = rows[1]
    assert nxt.scheduled_at == dt.datetime(2026, 7, 30, 1, 0, tzinfo=dt.UTC)
    assert lifecycle.approval_valid(nxt)
    assert schedule.run_due(dt.datetime(2026, 7, 30, 1, 0, tzinfo=dt.UTC)) == [nxt.id]
    assert campaign.id != nxt.id


def test_changed_after_approval_goes_back_to_draft(
    app: Any, session: Session, redis_conn: Redis
) -> None:
    """A campaign edited behind the lifecycle's back is not launched: it returns to draft."""
    campaign = _scheduled()
    campaign.body = "Nội dung đã bị sửa"
    session.commit()
    assert schedule.run_due(AT) == []
    session.expire_all()
    again = session.get(Campaign, campaign.id)
    assert again is not None and again.status == "draft" and again.approval_hash is None
    assert queues.queue("bulk", redis_conn).job_ids == []


def test_registered_as_periodic() -> None:
    """run_due is a periodic job every 30 seconds."""
    assert any(p.func == "workers.schedule.run_due" and p.every == 30 for p in runtime.PERIODIC)


def test_scheduled_launch_job_materialises_and_sends(
    app: Any, session: Session, redis_conn: Redis, rq_worker: Any
) -> None:
    """End to end: the scheduler moves the campaign to running, and the launch job it enqueued
    still materialises every recipient and the batches send them through the simulator."""
    from campaigns import reports
    from tests.factories import create_list

    create_list("Toàn tỉnh", size=5)
    campaign = _scheduled(window_start="00:00", window_end="24:00")
    campaign.audience = {"lists": ["Toàn tỉnh"]}
    campaign.approval_hash = lifecycle.approval_hash(campaign)
    session.commit()
    assert schedule.run_due(AT) == [campaign.id]
    rq_worker.run()
    session.expire_all()
    counts = reports.counts(session, campaign.id)
    assert reports.total(counts) == 5
    assert counts["pending"] == counts["sending"] == 0
    assert counts["sent"] + counts["delivered"] == 5
