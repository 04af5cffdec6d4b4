"""Invariant 11 with real worker processes: an urgent tip's alert never waits for a broadcast."""

from __future__ import annotations

import datetime as dt
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from redis import Redis
from rq import Queue
from sqlalchemy import select
from sqlalchemy.orm import Session

from campaigns import dispatch
from campaigns.db import utcnow
from gateway import db, queues
from gateway.providers import InboundMessage
from gateway.tips.intake import receive_inbound
from gateway.tips.models import Reply, Roster
from gateway.tips.routing import seed_default_rules
from tests.factories import create_user
from tests.integration.dispatch_support import approved_campaign, bulk_contacts
from workers import dispatch as jobs

RUN_SH = Path(__file__).resolve().parents[2] / "scripts" / "run.sh"
BODY = "Khẩn cấp! Cứu tôi, tôi bị nhốt"
TIPSTER = "+84981230001"
OFFICER = "+84981130001"


@pytest.mark.slow
def test_an_urgent_alert_is_sent_within_seconds_during_a_broadcast(
    app: Any, session: Session, redis_conn: Redis, settings: Any, tmp_path: Path
) -> None:
    """The workers make run starts (their lanes read from scripts/run.sh), a 2,000-recipient
    broadcast waiting for rate tokens and a flood of 1,000 receipts on ``events``: the on-duty
    officer's SMS alert for an urgent tip leaves within 5 seconds, and it carries neither the
    tip's text nor the tipster's number."""
    seed_default_rules(session)
    officer = create_user("police", scope="police_province", phone=OFFICER)
    now = utcnow()
    session.add(
        Roster(
            queue="police_province", user_id=officer.id,
            starts_at=now - dt.timedelta(hours=1), ends_at=now + dt.timedelta(hours=1),
        )
    )  # fmt: skip
    session.commit()
    bulk_contacts(session, 2000)
    campaign = approved_campaign(session, rate_per_second=1.0)
    dispatch.launch(session, campaign.id)
    jobs.enqueue_planned(session, redis_conn, campaign.id)
    assert queues.queue("bulk", redis_conn).count >= 2  # a backlog of batches
    receipt = ("simulator", {"MessageSid": "SIM0", "MessageStatus": "delivered"}, None)
    queues.queue("events", redis_conn).enqueue_many(
        [Queue.prepare_data("workers.statuses.process_receipt", args=receipt) for _ in range(1000)]
    )
    lanes = [q or "replies,bulk,events" for q in re.findall(r'loa" worker(?: --queues (\S+))?', RUN_SH.read_text())]  # fmt: skip
    assert "bulk" in lanes  # broadcasts have a worker of their own

    env = dict(os.environ)
    env.update(
        LOA_ENV="test",
        LOA_DATABASE_URL=settings.database_url,
        LOA_REDIS_URL=settings.redis_url,
        LOA_VAR_DIR=str(tmp_path / "var"),
        LOA_SECRET_KEY="test-secret-key-not-for-production",
        LOA_PROVIDER="simulator",
    )
    loa = str(Path(sys.executable).with_name("loa"))
    workers = [
        subprocess.Popen(
            [loa, "worker", "--queues", lane],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,  # a process group: the work horses go with their worker
        )
        for lane in lanes
    ]
    try:
        deadline = time.monotonic() + 30  # the bulk worker is busy with a batch
        while queues.queue("bulk", redis_conn).started_job_registry.count == 0:
            assert time.monotonic() < deadline, "the bulk worker never started a batch"
            time.sleep(0.1)
        inbound = InboundMessage("simulator", "SM-urgent", TIPSTER, BODY)
        receive_inbound(db.session(), db.tipline(), inbound, inline_reply=False)
        stored = time.monotonic()
        alert = None
        while time.monotonic() < stored + 5:
            session.expire_all()
            alert = session.scalar(
                select(Reply).where(Reply.kind == "alert", Reply.status == "sent")
            )
            if alert is not None:
                break
            time.sleep(0.1)
        assert alert is not None, "no alert sent within 5 seconds"
        assert alert.to_phone == OFFICER
        assert BODY not in alert.body and TIPSTER[-6:] not in alert.body
        assert queues.queue("bulk", redis_conn).count >= 1  # the broadcast still waits
    finally:
        for w in workers:  # the bulk worker's batch waits for tokens: no warm shutdown
            os.killpg(w.pid, signal.SIGKILL)
        for w in workers:
            w.wait(20)
