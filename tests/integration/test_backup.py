"""``loa backup`` / ``loa restore``: a backup taken while tips arrive by webhook and a real
worker sends a campaign restores to a consistent database at the latest migration."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from alembic.script import ScriptDirectory
from pydantic import SecretStr
from redis import Redis
from rq import Worker
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session
from twilio.request_validator import RequestValidator

from campaigns import dispatch, statuses
from campaigns.db import make_engine, make_sessionmaker
from campaigns.models import Campaign, Delivery
from gateway import backup, migrate, queues
from gateway.models import AuditEvent
from gateway.settings import Settings
from gateway.tips.models import Tip, TipEvent
from tests.integration.dispatch_support import approved_campaign, bulk_contacts
from tests.integration.ops_support import LOA, loa_env
from tests.integration.test_migrations import empty_database
from workers import dispatch as jobs

TOKEN = "twilio-token-for-backup-tests"
BASE = "https://loa.example.gov.vn"
AUDIENCE = 1500


@pytest.fixture
def settings(settings: Settings, tmp_path: Path) -> Settings:
    """A database built by the migrations (a backup carries Alembic's version), and Twilio's
    inbound webhook."""
    url = empty_database(settings.effective_database_url, tmp_path, "loa_live")
    migrate.upgrade(url)
    return settings.model_copy(
        update={
            "database_url": url,
            "twilio_account_sid": "AC" + "1" * 32,
            "twilio_auth_token": SecretStr(TOKEN),
            "public_base_url": BASE,
        }
    )


def _post_tips(app: Any, stop: threading.Event, posted: list[int]) -> None:
    """Signed Twilio webhooks, one after another, until ``stop``."""
    with app.app_context():
        client = app.test_client()
        n = 0
        while not stop.is_set():
            n += 1
            params = {"MessageSid": f"SM{n:032d}", "From": f"+8498123{n:04d}",
                      "To": "+15005550006", "Body": f"tin báo số {n}",
                      "AccountSid": "AC" + "1" * 32}  # fmt: skip
            sig = RequestValidator(TOKEN).compute_signature(BASE + "/webhooks/twilio/sms", params)
            resp = client.post("/webhooks/twilio/sms", data=params,
                               headers={"X-Twilio-Signature": sig})  # fmt: skip
            assert resp.status_code == 200
            posted.append(n)


def _counts(url: str, campaign_id: int) -> dict[str, int]:
    engine = make_engine(url)
    try:
        with make_sessionmaker(engine)() as s:
            return {
                "tips": s.scalar(select(func.count(Tip.id))) or 0,
                "created": s.scalar(
                    select(func.count(TipEvent.id)).where(TipEvent.kind == "created")
                ) or 0,
                "deliveries": s.scalar(
                    select(func.count(Delivery.id)).where(Delivery.campaign_id == campaign_id)
                ) or 0,
                "done": s.scalar(
                    select(func.count(Delivery.id)).where(
                        Delivery.campaign_id == campaign_id, Delivery.status != statuses.PENDING
                    )
                ) or 0,
                "version": int(s.scalar(text("SELECT version_num FROM alembic_version")) or 0),
            }  # fmt: skip
    finally:
        engine.dispose()


def _start_worker(settings: Settings, tmp_path: Path) -> subprocess.Popen[bytes]:
    env = loa_env(settings, tmp_path)
    return subprocess.Popen(
        [LOA, "worker", "--queues", "bulk"], env=env, cwd=tmp_path,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )  # fmt: skip


@pytest.mark.slow
def test_round_trip_while_loa_writes(
    app: Any, runner: Any, session: Session, redis_conn: Redis, settings: Settings,
    tmp_path: Path,
) -> None:  # fmt: skip
    """While tips arrive by webhook and a worker sends a campaign, ``loa backup`` copies the
    database; restored into an empty database, it passes integrity checks, is at the latest
    migration, and holds a moment in time: every tip with its 'created' event, the campaign's
    whole audience, as many tips and sends as before the backup at least and after it at most."""
    live = settings.effective_database_url
    bulk_contacts(session, AUDIENCE)
    campaign = approved_campaign(session, rate_per_second=400.0)
    dispatch.launch(session, campaign.id)
    jobs.enqueue_planned(session, redis_conn, campaign.id)
    worker = _start_worker(settings, tmp_path)
    stop, posted = threading.Event(), []
    writer = threading.Thread(target=_post_tips, args=(app, stop, posted))
    writer.start()
    try:
        deadline = time.monotonic() + 60
        while _counts(live, campaign.id)["done"] < 100 or len(posted) < 20:
            assert time.monotonic() < deadline, "the worker or the webhook writer never got going"
            time.sleep(0.1)
        before = _counts(live, campaign.id)
        path = tmp_path / "loa.backup"
        result = runner.invoke(args=["backup", str(path)])
        after = _counts(live, campaign.id)
        assert result.exit_code == 0, result.output
        assert path.stat().st_mode & 0o077 == 0  # tips and numbers: the owner's only
    finally:
        stop.set()
        writer.join(30)
        os.killpg(worker.pid, signal.SIGTERM)
        # A warm shutdown ends the batch in hand at its next chunk, once the chunks in flight
        # are answered (simulated sends whose receipts find no web server here).
        worker.wait(90)
    assert after["tips"] > before["tips"]  # tips kept arriving while the backup ran
    assert 0 < before["done"] <= after["done"] < AUDIENCE  # the campaign was sending meanwhile

    target = empty_database(live, tmp_path, "loa_restored")
    Worker.all(connection=redis_conn)  # the stopped worker has left the registry
    assert backup.restore(target, path, settings.redis_url).startswith("restored")
    got = _counts(target, campaign.id)
    head = ScriptDirectory.from_config(migrate.config(target)).get_current_head()
    assert str(got["version"]).zfill(4) == head
    assert before["tips"] <= got["tips"] <= after["tips"]
    assert got["created"] == got["tips"]  # each tip came with its event, in one transaction
    assert before["done"] <= got["done"] <= after["done"]
    assert got["deliveries"] == AUDIENCE  # invariant 3 holds in the copy
    if backup.is_sqlite(target):
        conn = sqlite3.connect(target.removeprefix("sqlite:///"))
        assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        conn.close()
    engine = make_engine(target)
    with make_sessionmaker(engine)() as s:
        assert s.scalar(select(func.count()).where(AuditEvent.action == "db.restore")) == 1
        assert s.get(Campaign, campaign.id) is not None
        if not backup.is_sqlite(target):
            # The restore vacuumed and analysed the copy: the planner has statistics at once.
            stats = s.execute(
                text("SELECT last_vacuum, last_analyze FROM pg_stat_user_tables "
                     "WHERE relname IN ('tips', 'deliveries')")
            ).all()  # fmt: skip
            assert len(stats) == 2 and all(None not in row for row in stats), stats
    engine.dispose()


def test_restore_refuses_while_a_worker_runs_and_checks_the_file(
    app: Any, runner: Any, redis_conn: Redis, settings: Settings, tmp_path: Path
) -> None:
    """A registered worker stops a restore (``--force`` overrides); a file that is not a backup
    of Loa is refused before anything changes."""
    path = tmp_path / "good.backup"
    assert runner.invoke(args=["backup", str(path)]).exit_code == 0
    worker = Worker([queues.queue(queues.BULK, redis_conn)], connection=redis_conn, name="w-1")
    worker.register_birth()
    refused = runner.invoke(args=["restore", str(path)])
    assert refused.exit_code == 1 and "1 worker(s) running (w-1)" in refused.output
    forced = runner.invoke(args=["restore", str(path), "--force"])
    assert forced.exit_code == 0, forced.output
    worker.register_death()
    junk = tmp_path / "junk.backup"
    junk.write_bytes(b"SQLite format 3\x00" + b"\x00" * 100 if backup.is_sqlite(
        settings.effective_database_url) else b"PGDMP garbage")  # fmt: skip
    bad = runner.invoke(args=["restore", str(junk)])
    assert bad.exit_code == 1 and str(junk) in bad.output
    missing = runner.invoke(args=["restore", str(tmp_path / "none.backup")])
    assert missing.exit_code == 1 and "no file" in missing.output


def test_pg_dump_missing_prints_the_command(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Without pg_dump on the PATH, backup says what to install and the command to run, with
    the password left to PGPASSWORD."""
    monkeypatch.setenv("PATH", str(tmp_path))
    url = "postgresql+psycopg://loa:s3cret-pw@db.internal:5432/loa"
    with pytest.raises(backup.BackupError) as caught:
        backup.backup(url, tmp_path / "x.dump")
    message = str(caught.value)
    assert (
        "pg_dump -Fc --no-owner -f" in message
        and "postgresql://loa@db.internal:5432/loa" in message
    )
    assert "s3cret-pw" not in message and "PGPASSWORD=" in message


def test_a_savepoint_commits_nothing_early(db_engine: Any, tmp_path: Path) -> None:
    """A row written under a savepoint is not visible to anyone else before the commit, and a
    rollback takes it back (what intake's dedupe relies on)."""
    from campaigns.db import make_engine

    engine = make_engine(empty_database(str(db_engine.url.render_as_string(False)), tmp_path,
                                        "loa_savepoint"))  # fmt: skip
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE t (x INTEGER)"))
    other = make_engine(str(engine.url.render_as_string(False)))
    try:
        with Session(engine) as s:
            s.execute(text("SELECT 1"))
            with s.begin_nested():
                s.execute(text("INSERT INTO t VALUES (1)"))
            with other.connect() as conn:
                assert conn.execute(text("SELECT count(*) FROM t")).scalar() == 0
            s.rollback()
        with other.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM t")).scalar() == 0
    finally:
        other.dispose()
        engine.dispose()
