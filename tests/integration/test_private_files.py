"""Issue 9, hole 7: Redis asks for a password and the files under var/ are private (0700/0600)."""

from __future__ import annotations

import logging
import os
import secrets
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import redis
from sqlalchemy import text

from campaigns.db import make_engine
from gateway import queues
from tests import servers
from workers import runtime


def mode(path: Path) -> int:
    return path.stat().st_mode & 0o777


def test_db_upgrade_makes_a_private_database_and_wal(tmp_path: Path, redis_url: str) -> None:
    """Under a lax umask (022), `loa db upgrade` makes var/ 0700 and loa.db 0600, and the WAL
    SQLite writes beside it takes the database's mode."""
    var = tmp_path / "var"
    loa = Path(sys.executable).with_name("loa")
    env = {"LOA_VAR_DIR": str(var), "LOA_REDIS_URL": redis_url, "PATH": "/usr/bin:/bin"}
    done = subprocess.run(
        [str(loa), "db", "upgrade"], env=env, capture_output=True, text=True, umask=0o022
    )
    assert done.returncode == 0, done.stderr
    db = var / "loa.db"
    assert (mode(var), mode(db)) == (0o700, 0o600)
    engine = make_engine(f"sqlite:///{db}")
    old = os.umask(0)
    try:
        with engine.begin() as conn:  # a write, so the WAL and shared-memory files exist
            conn.execute(text("CREATE TABLE probe (x INTEGER)"))
        wal = [p for p in var.iterdir() if p.name in ("loa.db-wal", "loa.db-shm")]
        assert wal and all(mode(p) == 0o600 for p in wal)
    finally:
        os.umask(old)
        engine.dispose()


def test_the_generated_secret_key_is_private(settings: Any, tmp_path: Path) -> None:
    """Outside production the generated secret key is 0600 in a 0700 var/."""
    unset = settings.model_copy(update={"secret_key": None, "var_dir": tmp_path / "v"})
    assert len(unset.secret()) == 64
    assert (mode(tmp_path / "v"), mode(tmp_path / "v" / "secret_key")) == (0o700, 0o600)


def record(label: str) -> None:
    """A job that notes it ran."""
    runtime.redis().rpush("test:ran", label)


def test_redis_with_a_password_refuses_strangers_and_serves_loa(
    settings: Any, caplog: pytest.LogCaptureFixture
) -> None:
    """Without the password (or with a wrong one) Redis refuses; Loa, given the password URL,
    enqueues and its worker runs the job, and the password appears in no log line."""
    password = secrets.token_hex(16)
    with servers.redis_server(password=password) as url:
        assert f":{password}@" in url
        stranger = redis.Redis.from_url(url.replace(f":{password}@", ""))
        with pytest.raises(redis.AuthenticationError):
            stranger.ping()
        with pytest.raises(redis.AuthenticationError):
            redis.Redis.from_url(url.replace(password, "guess")).ping()
        stranger.close()
        conn = queues.connect(url)
        queues.enqueue(
            queues.EVENTS, "tests.integration.test_private_files.record", "ok", connection=conn
        )
        caplog.set_level(logging.INFO)
        try:
            runtime.run_worker(
                settings.model_copy(update={"redis_url": url}), [queues.EVENTS], burst=True
            )
            assert conn.lrange("test:ran", 0, -1) == [b"ok"]
        finally:
            runtime.reset()
            conn.close()
        logging.getLogger("loa.test").warning("connecting to %s", url)
    assert caplog.text and password not in caplog.text
    assert "redis://:***@127.0.0.1" in caplog.text
