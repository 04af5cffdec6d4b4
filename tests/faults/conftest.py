"""Fixtures of the fault suite: a reproducible seed, a Redis a scenario may kill, the witness
provider, Loa's settings pointed at both, and the scenario's processes."""

from __future__ import annotations

import datetime as dt
import os
import random
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from gateway.settings import Settings
from tests.faults.stack import ControlledRedis, Stack
from tests.faults.witness import Witness


def _seed() -> int:
    given = os.environ.get("LOA_FAULT_SEED")
    return int(given) if given else int(dt.datetime.now(dt.UTC).strftime("%Y%m%d"))


SEED = _seed()


def pytest_report_header(config: pytest.Config) -> str:
    return f"fault suite: LOA_FAULT_SEED={SEED}"


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    report = yield
    if report.failed and "tests/faults" in item.nodeid.replace(os.sep, "/"):
        report.sections.append(("fault seed", f"rerun with LOA_FAULT_SEED={SEED}"))
    return report


@pytest.fixture
def seed() -> int:
    return SEED


@pytest.fixture
def rng(request: pytest.FixtureRequest) -> random.Random:
    """Random points of this scenario: the same for the same seed and test (print the seed)."""
    print(f"LOA_FAULT_SEED={SEED}")
    return random.Random(SEED ^ zlib.crc32(request.node.name.encode()))


@pytest.fixture
def fault_redis() -> Iterator[ControlledRedis]:
    """This scenario's own Redis, which it may kill and start again empty."""
    server = ControlledRedis()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def redis_url(fault_redis: ControlledRedis) -> str:
    """Every fixture of the suite (``redis_conn``, ``app``) uses the scenario's Redis."""
    return fault_redis.url


@pytest.fixture
def witness() -> Iterator[Witness]:
    with Witness() as w:
        yield w


@pytest.fixture
def settings(settings: Settings, witness: Witness) -> Settings:
    """Twilio pointed at the witness, with the sender's limit far above what we reach."""
    return settings.model_copy(
        update={
            "provider": "twilio",
            "twilio_account_sid": witness.account_sid,
            "twilio_auth_token": SecretStr(witness.auth_token),
            "twilio_from": "LOA-SOCTRANG",
            "twilio_api_base_url": witness.url,
            "rate_per_second": 10_000.0,
        }
    )


@pytest.fixture
def stack(settings: Settings, tmp_path: Path) -> Iterator[Stack]:
    s = Stack(settings, tmp_path)
    yield s
    s.close()
