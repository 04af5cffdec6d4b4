"""The `loa` command: users, tokens, phone, sms-info, db upgrade and the worker."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from campaigns.models import Area
from gateway.models import ApiToken, User


def test_users_create_prints_the_password(runner: Any, session: Any) -> None:
    """`loa users create` makes a user of the role and scope given."""
    session.add(Area(name="Kế Sách", kind="district", police_queue="police_ke_sach"))
    session.commit()
    result = runner.invoke(
        args=[
            "users",
            "create",
            "Cong.An@Loa.test",
            "--role",
            "police",
            "--scope",
            "police_ke_sach",
        ]
    )
    assert result.exit_code == 0, result.output
    user = session.scalar(select(User).where(User.email == "cong.an@loa.test"))
    assert (user.role, user.scope) == ("police", "police_ke_sach")
    assert "password=" in result.output


@pytest.mark.parametrize(
    ("role", "scope", "says"),
    [
        ("police", None, "needs --scope"),
        ("police", "police_atlantis", "does not fit role police"),
        ("police", "hotline_111", "does not fit role police"),
        ("hotline_111", "border_guard", "use one of hotline_111"),
        ("editor", "police_province", "use no scope"),
    ],
    ids=["police-without-scope", "unknown-queue", "other-kind", "wrong-fixed-queue", "editor"],
)
def test_users_create_refuses_a_scope_that_does_not_fit(
    runner: Any, session: Any, role: str, scope: str | None, says: str
) -> None:
    """An unknown queue, a queue of another kind, or a police user without a scope is refused
    (no user is created); the message lists the scopes that fit."""
    args = ["users", "create", "x@loa.test", "--role", role]
    result = runner.invoke(args=args + (["--scope", scope] if scope else []))
    assert result.exit_code == 1
    assert says in result.output
    assert session.scalar(select(User).where(User.email == "x@loa.test")) is None


def test_users_create_accepts_the_province_scope_for_police(runner: Any, session: Any) -> None:
    """``--scope police_province`` is the explicit whole-province choice."""
    args = ["users", "create", "p@loa.test", "--role", "police", "--scope", "police_province"]
    result = runner.invoke(args=args)
    assert result.exit_code == 0, result.output
    assert session.scalar(select(User.scope).where(User.email == "p@loa.test")) == "police_province"


def test_users_create_refuses_an_unknown_role(runner: Any) -> None:
    """An unknown role is a usage error listing the roles."""
    result = runner.invoke(args=["users", "create", "x@loa.test", "--role", "mayor"])
    assert result.exit_code == 2
    assert "hotline_111" in result.output


def test_tokens_create_prints_a_working_token(runner: Any, session: Any) -> None:
    """`loa tokens create` prints a token whose hash is stored, never the token itself."""
    runner.invoke(args=["users", "create", "api@loa.test", "--role", "editor"])
    result = runner.invoke(args=["tokens", "create", "api@loa.test"])
    token = result.output.strip()
    assert token.startswith("loa_")
    stored = session.scalars(select(ApiToken.token_hash)).all()
    assert len(stored) == 1 and token not in stored[0]


def test_phone_prints_one_json_line_per_number(runner: Any) -> None:
    """`loa phone` normalises each number on a line of its own."""
    result = runner.invoke(args=["phone", "0912 345 678", "01688123456", "banana"])
    lines = [json.loads(line) for line in result.output.splitlines()]
    assert [line["e164"] for line in lines[:2]] == ["+84912345678", "+84388123456"]
    assert lines[2]["valid"] is False and lines[2]["reason"]
    assert set(lines[0]) == {"input", "e164", "valid", "type", "carrier", "reason"}


def test_sms_info_prints_one_json_line_per_text(runner: Any) -> None:
    """`loa sms-info` gives encoding and segments of each text."""
    from tests.factories import OFFICIAL_TEXT

    result = runner.invoke(args=["sms-info", OFFICIAL_TEXT, "hello"])
    official, hello = (json.loads(line) for line in result.output.splitlines())
    assert (official["encoding"], official["segments"], official["ascii_variant_segments"]) == (
        "UCS-2",
        4,
        2,
    )
    assert (hello["encoding"], hello["segments"], hello["non_gsm"]) == ("GSM-7", 1, "")


def test_the_console_script_runs_db_upgrade(tmp_path: Path, redis_url: str) -> None:
    """The installed `loa` script migrates a new SQLite database from nothing."""
    loa = Path(sys.executable).with_name("loa")
    env = {"LOA_VAR_DIR": str(tmp_path), "LOA_REDIS_URL": redis_url, "PATH": "/usr/bin:/bin"}
    done = subprocess.run([str(loa), "db", "upgrade"], env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "loa.db").exists()
    bad = subprocess.run(
        [str(loa), "db", "upgrade"], env={**env, "LOA_PORT": "0"}, capture_output=True, text=True
    )
    assert bad.returncode == 2 and "LOA_PORT" in bad.stderr


def test_worker_burst_runs_queued_jobs(runner: Any, redis_conn: Any) -> None:
    """`loa worker --burst` serves the queues and stops when they are empty."""
    from gateway import queues

    job = queues.queue("events", redis_conn).enqueue("os.getpid")
    result = runner.invoke(args=["worker", "--burst"])
    assert result.exit_code == 0, result.output
    job.refresh()
    assert job.get_status() == "finished"


def test_worker_refuses_unknown_queues(runner: Any) -> None:
    """A typo in --queues is an error, not a worker listening on nothing."""
    result = runner.invoke(args=["worker", "--burst", "--queues", "bulk,replys"])
    assert result.exit_code != 0
    assert "replys" in str(result.exception) + result.output


def test_a_fresh_database_routes_tips_without_demo_data(tmp_path: Path, redis_url: str) -> None:
    """`loa db upgrade` alone gives the default routing rules: with the areas loaded, a tip
    naming Kế Sách reaches its police, a child's tip 111, an urgent word makes it urgent."""
    from redis import Redis

    from campaigns.areas import load_soc_trang_2024
    from campaigns.db import make_engine, make_sessionmaker
    from gateway.settings import load_settings
    from gateway.tips.intake import store_tip
    from gateway.tips.line import TipLine
    from gateway.tips.models import RoutingRule
    from gateway.tips.routing import DEFAULT_RULES

    loa = Path(sys.executable).with_name("loa")
    env = {"LOA_VAR_DIR": str(tmp_path), "LOA_REDIS_URL": redis_url, "PATH": "/usr/bin:/bin"}
    done = subprocess.run([str(loa), "db", "upgrade"], env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    engine = make_engine(f"sqlite:///{tmp_path / 'loa.db'}")
    line = TipLine(load_settings(var_dir=tmp_path, redis_url=redis_url), Redis.from_url(redis_url))
    try:
        with make_sessionmaker(engine)() as s:
            assert len(s.scalars(select(RoutingRule)).all()) == len(DEFAULT_RULES)
            load_soc_trang_2024(s)
            s.commit()
            district, _ = store_tip(
                s, line, channel="web", body="Có người lạ dụ lao động ở Kế Sách"
            )
            child, _ = store_tip(s, line, channel="web", body="Trẻ em bị dụ đi làm xa")
            urgent, _ = store_tip(s, line, channel="web", body="Cứu tôi, tôi bị nhốt")
            s.commit()
            assert (district.queue, child.queue) == ("police_ke_sach", "hotline_111")
            assert (urgent.queue, urgent.priority) == ("police_province", "urgent")
            assert urgent.shared_with == ["hotline_111"]  # a victim who needs support
        again = subprocess.run([str(loa), "db", "upgrade"], env=env, capture_output=True, text=True)
        assert again.returncode == 0, again.stderr
        with make_sessionmaker(engine)() as s:
            assert len(s.scalars(select(RoutingRule)).all()) == len(DEFAULT_RULES)  # not twice
    finally:
        engine.dispose()
