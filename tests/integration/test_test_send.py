"""Test sends and replies are paced and claimed like deliveries (issue 10, item 2): a test send
is never retried wholesale, each message is a claimed ``Reply`` row, both take tokens from the
sender's bucket, and a test send respects the campaign's window unless an admin overrides it
(audited)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from redis import Redis
from sqlalchemy import select
from sqlalchemy.orm import Session

from campaigns import localtime
from gateway import queues
from gateway.models import AuditEvent
from gateway.tips.models import Reply
from tests.factories import create_campaign, create_list, mobile
from workers import notifications
from workers import test_send as jobs
from workers.ratelimit import PREFIX, TokenBucket

SEED = "Cán bộ thử nghiệm"


def _closed() -> dict[str, str]:
    """A one-minute window two hours from now (local time): closed whenever the test runs."""
    at = dt.datetime.now(localtime.zone()) + dt.timedelta(hours=2)
    end = at + dt.timedelta(minutes=1)
    return {"window_start": at.strftime("%H:%M"), "window_end": end.strftime("%H:%M")}


OPEN = {"window_start": "00:00", "window_end": "24:00"}


def _post(client: Any, campaign_id: int, **form: str) -> Any:
    return client.post(f"/campaigns/{campaign_id}/test-send", data={"list": SEED, **form})


def _events(session: Session, action: str) -> list[AuditEvent]:
    session.expire_all()
    return list(session.scalars(select(AuditEvent).where(AuditEvent.action == action)))


def test_a_test_send_is_never_retried_wholesale(
    client: Any, auth: Any, session: Session, redis_conn: Redis, rq_worker: Any
) -> None:
    """The job carries no RQ retry (a rerun after send_many would send to everyone again);
    each message is a claimed Reply row, sent once."""
    create_list(SEED, size=3)
    campaign = create_campaign(**OPEN)
    auth.login("editor")
    assert _post(client, campaign.id).status_code == 302
    (job,) = queues.queue(queues.REPLIES, redis_conn).jobs
    assert job.retries_left is None
    rq_worker.run()
    session.expire_all()
    rows = list(session.scalars(select(Reply).where(Reply.kind == jobs.TEST)))
    assert sorted(r.status for r in rows) == ["sent"] * 3
    # A second run of a claimed message sends nothing.
    assert notifications.claim_reply(session, rows[0].id) is False


def test_a_test_send_outside_the_window_is_refused(
    client: Any, auth: Any, session: Session, redis_conn: Redis
) -> None:
    """Outside the campaign's window an editor's test send is refused, nothing is queued."""
    create_list(SEED, size=2)
    campaign = create_campaign(**_closed())
    auth.login("editor")
    page = _post(client, campaign.id, override_window="1")
    assert page.status_code == 303
    assert queues.queue(queues.REPLIES, redis_conn).count == 0
    assert _events(session, "campaign.test_window_override") == []


def test_an_admin_may_override_the_window_audited(
    client: Any, auth: Any, session: Session, redis_conn: Redis, rq_worker: Any
) -> None:
    """An admin who ticks the override sends outside the window; the override is audited."""
    create_list(SEED, size=2)
    campaign = create_campaign(**_closed())
    auth.login("admin")
    assert _post(client, campaign.id).status_code == 303  # no override ticked: refused
    assert _post(client, campaign.id, override_window="1").status_code == 302
    (event,) = _events(session, "campaign.test_window_override")
    assert str(event.object_id) == str(campaign.id)
    rq_worker.run()
    (sent,) = _events(session, "campaign.test_sent")
    assert sent.details["sent"] == 2 and sent.details["override_window"] is True


def test_the_job_rechecks_the_window(app: Any, session: Session) -> None:
    """A job that runs after the window closed sends nothing (unless overridden)."""
    lst = create_list(SEED, size=2)
    campaign = create_campaign(**_closed())
    assert jobs.send_test(campaign.id, lst.id) == {
        "sent": 0,
        "failed": 0,
        "skipped": 0,
        "window": 1,
    }
    assert session.scalars(select(Reply)).all() == []


def test_test_sends_and_replies_take_tokens_from_the_senders_bucket(
    app: Any, session: Session, redis_conn: Redis
) -> None:
    """Both draw on the bucket the campaigns on that sender share (``provider:sender``)."""
    lst = create_list(SEED, size=2)
    campaign = create_campaign(**OPEN)
    assert jobs.send_test(campaign.id, lst.id)["sent"] == 2
    assert redis_conn.exists(PREFIX + "simulator:default")
    redis_conn.delete(PREFIX + "simulator:default")
    reply = Reply(to_phone=mobile(900), body="Loa: đã nhận", kind="reply", status="queued")
    session.add(reply)
    session.commit()
    assert notifications.send_reply(reply.id) == "sent"
    assert redis_conn.exists(PREFIX + "simulator:default")


def test_a_reply_never_waits_behind_a_broadcast_but_the_broadcast_pays(
    app: Any, session: Session, redis_conn: Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A reply on a sender whose bucket a broadcast has drained goes at once (invariant 11);
    the debt it leaves makes the sender's next taker wait longer."""
    bucket = TokenBucket(redis_conn)
    key = "simulator:default"
    rate = 1.0  # one segment a second, so the reply's segment is a whole second of debt
    monkeypatch.setattr(notifications.runtime.settings(), "rate_per_second", rate)
    bucket.take(key, 30, rate)  # a broadcast reserved three seconds of the limit
    slept: list[float] = []
    monkeypatch.setattr(notifications.time, "sleep", slept.append)
    reply = Reply(to_phone=mobile(901), body="Loa: đã nhận", kind="reply", status="queued")
    session.add(reply)
    session.commit()
    assert notifications.send_reply(reply.id) == "sent"
    assert slept == []  # it did not wait
    # 30 reserved + the reply's 1 + this 1, less what refilled meanwhile (well under 0.5 s)
    assert bucket.take(key, 1, rate) > 30.5
