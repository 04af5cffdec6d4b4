"""Structured logs: one JSON line per event with the request's or the job's id, and never a tip
body or a full phone number, even when a real worker process handles the work."""

from __future__ import annotations

import datetime as dt
import io
import json
import logging
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr
from redis import Redis
from sqlalchemy import select
from sqlalchemy.orm import Session
from twilio.request_validator import RequestValidator

from campaigns import dispatch, statuses
from campaigns.db import utcnow
from campaigns.models import Delivery
from gateway import logs
from gateway.settings import Settings
from gateway.tips.models import Reply, Roster, Tip
from gateway.tips.routing import seed_default_rules
from tests.factories import create_user, mobile
from tests.integration.dispatch_support import approved_campaign, bulk_contacts
from tests.integration.ops_support import LOA, loa_env
from workers import dispatch as jobs

TOKEN = "twilio-token-for-log-tests"
BASE = "https://loa.example.gov.vn"
SMS_TIPSTER = "+84981230001"
FORM_TIPSTER = "+84981230002"
OFFICER = "+84981130001"
SMS_BODY = "Khẩn cấp! Có người bị nhốt ở bến Trần Đề"
FORM_BODY = "Một người lạ dụ dỗ các em gái đi làm xa ở Kế Sách"
REPLY_BODY = "Cảm ơn anh, công an xã Đại Hải sẽ liên hệ lại"


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """Twilio's inbound webhook is signed with these; sending stays on the simulator."""
    return settings.model_copy(
        update={
            "twilio_account_sid": "AC" + "1" * 32,
            "twilio_auth_token": SecretStr(TOKEN),
            "public_base_url": BASE,
            "log_format": "json",
        }
    )


@pytest.fixture
def captured(app: Any, settings: Settings) -> Iterator[io.StringIO]:
    """This process's log lines, as ``loa`` writes them, in a buffer."""
    stream = io.StringIO()
    root = logging.getLogger()
    level = root.level
    handler = logs.configure(settings, stream)
    yield stream
    root.removeHandler(handler)
    root.setLevel(level)


def _lines(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def _forms(e164: str) -> list[str]:
    """The ways a full number can be written: +84…, 84…, 0…"""
    return [e164, e164[1:], "0" + e164[3:]]


def test_request_id_is_honoured_when_sane_else_generated(
    client: Any, captured: io.StringIO
) -> None:
    """A proxy's X-Request-ID comes back and tags the request's line; a strange one is replaced
    by a fresh id; without one, each request gets its own."""
    given = "req-0123456789abcdef"
    assert client.get("/healthz", headers={"X-Request-ID": given}).headers["X-Request-ID"] == given
    odd = client.get("/healthz", headers={"X-Request-ID": 'x" {evil}'}).headers["X-Request-ID"]
    first = client.get("/healthz").headers["X-Request-ID"]
    second = client.get("/healthz").headers["X-Request-ID"]
    assert odd != 'x" {evil}' and len(odd) == 32
    assert first != second
    lines = [line for line in _lines(captured.getvalue()) if line["logger"] == "loa.web"]
    assert [line["request_id"] for line in lines] == [given, odd, first, second]
    assert lines[0]["msg"] == "GET /healthz 200" and lines[0]["status"] == 200


def test_text_format_names_the_request_and_the_job(settings: Settings) -> None:
    """``LOA_LOG_FORMAT=text`` (make run's default) reads as one line per event, with the ids."""
    stream = io.StringIO()
    root = logging.getLogger()
    level = root.level
    handler = logs.configure(settings.model_copy(update={"log_format": ""}), stream)
    try:
        with logs.job_context("send-7-3"):
            logging.getLogger("loa.test").info("sent to %s", "+84912345678")
        token = logs.request_id.set("abcdef0123456789")
        logging.getLogger("loa.test").warning("refused")
        logs.request_id.reset(token)
    finally:
        root.removeHandler(handler)
        root.setLevel(level)
    first, second = stream.getvalue().splitlines()
    assert "INFO loa.test [job=send-7-3] sent to +84 91x xxx 678" in first
    assert "WARNING loa.test [abcdef0123456789] refused" in second
    assert (
        logs.log_format(settings.model_copy(update={"log_format": "", "env": "production"}))
        == "json"
    )


@pytest.mark.slow
def test_no_body_or_number_in_the_logs_of_web_and_worker(
    app: Any,
    client: Any,
    session: Session,
    redis_conn: Redis,
    settings: Settings,
    captured: io.StringIO,
    login_as: Any,
    tmp_path: Path,
) -> None:
    """An inbound SMS tip (signed webhook), a public form tip, an operator's reply and a campaign
    batch, handled by a real ``loa worker`` process: every line of both logs is JSON with its
    request or job id, and none holds a tip's text, a reply's text or a full phone number."""
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

    params = {"MessageSid": "SM" + "a" * 32, "From": SMS_TIPSTER, "To": "+15005550006",
              "Body": SMS_BODY, "AccountSid": "AC" + "1" * 32}  # fmt: skip
    sig = RequestValidator(TOKEN).compute_signature(BASE + "/webhooks/twilio/sms", params)
    resp = client.post("/webhooks/twilio/sms", data=params, headers={"X-Twilio-Signature": sig})
    assert resp.status_code == 200
    form = {"body": FORM_BODY, "phone": "0" + FORM_TIPSTER[3:], "confirm_sms": "1"}
    assert client.post("/bao-tin", data=form).status_code == 302
    tip = session.scalar(select(Tip).where(Tip.sender == SMS_TIPSTER))
    assert tip is not None
    login_as("police", scope=tip.queue)
    resp = client.post(f"/inbox/{tip.id}/reply", data={"body": REPLY_BODY})
    assert resp.status_code == 303, resp.data

    bulk_contacts(session, 5)
    campaign = approved_campaign(session)
    dispatch.launch(session, campaign.id)
    jobs.enqueue_planned(session, redis_conn, campaign.id)

    env = loa_env(settings, tmp_path, LOA_LOG_FORMAT="json")
    worker = subprocess.run(
        [LOA, "worker", "--burst", "--queues", "replies,bulk,events"],
        env=env, cwd=tmp_path, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert worker.returncode == 0, worker.stderr[-2000:]

    session.expire_all()
    sent = session.scalars(select(Reply.kind).where(Reply.status == statuses.SENT)).all()
    assert {"reply", "alert", "ack"} <= set(sent)  # the work really ran in the worker
    done = session.scalars(select(Delivery.status).where(Delivery.campaign_id == campaign.id))
    assert set(done) <= {statuses.SENT, statuses.DELIVERED}

    web, work = _lines(captured.getvalue()), _lines(worker.stdout + worker.stderr)
    assert all(line["request_id"] for line in web if line["logger"] == "loa.web")
    assert len([line for line in web if line["logger"] == "loa.web"]) >= 3
    job_lines = [line for line in work if line.get("job_id")]
    assert any(line["job_id"].startswith("send-") for line in job_lines)  # a campaign batch
    assert len({line["job_id"] for line in job_lines}) >= 3
    everything = captured.getvalue() + worker.stdout + worker.stderr
    numbers = [SMS_TIPSTER, FORM_TIPSTER, OFFICER] + [mobile(i) for i in range(5)]
    for secret in [SMS_BODY, FORM_BODY, REPLY_BODY, "Khẩn cấp", "dụ dỗ"]:
        assert secret not in everything
    for number in numbers:
        for written in _forms(number):
            assert written not in everything, written


def test_a_library_passing_its_own_job_id_is_logged(
    settings: Settings, captured: io.StringIO
) -> None:
    """RQ logs some failures with ``extra={"job_id": …}``: the record is kept (no KeyError) and
    its id shows, while Loa's own job context wins when both exist."""
    rq_log = logging.getLogger("loa.test.library")  # as rq.worker does
    rq_log.error("job failed to deserialize", extra={"job_id": "from-rq"})
    with logs.job_context("from-loa"):
        rq_log.error("job failed", extra={"job_id": "from-rq"})
    first, second = _lines(captured.getvalue())
    assert first["job_id"] == "from-rq" and second["job_id"] == "from-loa"
