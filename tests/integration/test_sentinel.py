"""Redis behind Sentinel: a ``redis+sentinel://`` URL reaches the primary the sentinel names."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from redis import Redis

from gateway import queues, sentinel
from gateway.settings import SettingsError, load_settings
from tests import servers

PASSWORD = "sentinel-test-pw"


@pytest.fixture
def sentinel_url(tmp_path: Path) -> Iterator[tuple[str, str]]:
    """A password-protected Redis and one real sentinel monitoring it as ``loa``; yields the
    sentinel URL and the primary's own URL."""
    with servers.redis_server(password=PASSWORD) as primary:
        port = primary.rsplit(":", 1)[1].split("/")[0]
        sport = servers.free_port()
        conf = tmp_path / "sentinel.conf"
        conf.write_text(
            f"port {sport}\nbind 127.0.0.1\ndir {tmp_path}\n"
            f"sentinel monitor loa 127.0.0.1 {port} 1\n"
            f"sentinel auth-pass loa {PASSWORD}\n"
        )
        proc = subprocess.Popen(
            [servers._binary("redis-server"), str(conf), "--sentinel"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            servers.wait_for_port(sport, proc=proc)
            yield f"redis+sentinel://:{PASSWORD}@127.0.0.1:{sport}/loa/0", primary
        finally:
            proc.terminate()
            proc.wait(10)


def test_a_sentinel_url_reaches_the_primary(sentinel_url: tuple[str, str]) -> None:
    """Loa's connection through the sentinel writes to the primary, and queues work on it."""
    url, primary = sentinel_url
    client = queues.connect(url)
    direct = Redis.from_url(primary)
    try:
        client.set("loa:sentinel-test", "1")
        assert direct.get("loa:sentinel-test") == b"1"
        queues.queue(queues.EVENTS, client).enqueue("workers.reconciler.run")
        assert queues.queue(queues.EVENTS, direct).count == 1
    finally:
        client.close()
        direct.close()


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("redis+sentinel://s1:26379,s2:26379/loa/2", ([("s1", 26379), ("s2", 26379)], "loa", 2, None, False)),
        ("rediss+sentinel://:p%40ss@10.0.0.1:26379/loa", ([("10.0.0.1", 26379)], "loa", 0, "p@ss", True)),
    ],
    ids=["two-sentinels-db2", "tls-password"],
)  # fmt: skip
def test_parse(url: str, expected: tuple[object, ...]) -> None:
    got = sentinel.parse(url)
    assert (got.hosts, got.service, got.db, got.password, got.tls) == expected


@pytest.mark.parametrize(
    "url",
    ["redis+sentinel://s1:26379", "redis+sentinel://s1/loa", "redis+sentinel://s1:26379/loa/x"],
    ids=["no-service", "no-port", "bad-db"],
)
def test_a_bad_sentinel_url_is_a_settings_error(url: str) -> None:
    """A malformed sentinel URL stops start-up with a hint, like any bad setting."""
    with pytest.raises(SettingsError, match="LOA_REDIS_URL"):
        load_settings(redis_url=url)
