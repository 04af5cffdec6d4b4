"""Redis behind Sentinel: ``redis+sentinel://`` URLs (``rediss+sentinel://`` for TLS).

``redis+sentinel://[:PASSWORD@]HOST:PORT[,HOST:PORT…]/SERVICE[/DB]`` names the sentinels and the
monitored service; the client asks the sentinels for the current primary and asks again after a
failover. The password is the primary's (``requirepass``); the sentinels are reached with it too
when they require one (``sentinel_password`` in their configuration, often the same).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, cast
from urllib.parse import unquote

from redis import Redis
from redis.sentinel import Sentinel

SCHEMES = ("redis+sentinel://", "rediss+sentinel://")
# Short timeouts, as for a plain Redis URL: an outage fails fast.
TIMEOUTS = {"socket_connect_timeout": 2, "socket_timeout": 5}


@dataclass(frozen=True)
class SentinelURL:
    """A parsed ``redis+sentinel://`` URL."""

    hosts: list[tuple[str, int]]
    service: str
    db: int
    password: str | None
    tls: bool


def is_sentinel(url: str) -> bool:
    return url.startswith(SCHEMES)


def parse(url: str) -> SentinelURL:
    """Parse a ``redis+sentinel://`` URL.

    Raises:
        ValueError: a URL without a sentinel, a service name, or with a bad port or database.
    """
    scheme, _, rest = url.partition("://")
    netloc, _, path = rest.partition("/")
    password = None
    if "@" in netloc:
        auth, _, netloc = netloc.rpartition("@")
        password = unquote(auth.partition(":")[2]) or None
    hosts = []
    for item in filter(None, netloc.split(",")):
        host, _, port = item.rpartition(":")
        if not host or not port.isdigit():
            raise ValueError(f"a sentinel is HOST:PORT, not {item!r}")
        hosts.append((host.strip("[]"), int(port)))
    service, _, db = path.partition("/")
    if not hosts or not service:
        raise ValueError(
            "expected redis+sentinel://[:PASSWORD@]HOST:PORT[,HOST:PORT…]/SERVICE[/DB]"
        )
    if db and not db.isdigit():
        raise ValueError(f"the database is a number, not {db!r}")
    return SentinelURL(hosts, unquote(service), int(db or 0), password, scheme.startswith("rediss"))


def connect(url: str) -> Redis:
    """A client of the service's current primary, found through the sentinels."""
    parsed = parse(url)
    auth = {"password": parsed.password} if parsed.password else {}
    tls = {"ssl": True} if parsed.tls else {}
    # Called through Any: redis-py before 8.2 has no annotations here (an untyped call), 8.2
    # annotates each keyword separately, which our keyword dicts cannot match.
    sentinels: Any = Sentinel
    sentinel = sentinels(
        parsed.hosts, sentinel_kwargs={**TIMEOUTS, **auth, **tls}, **TIMEOUTS, **tls
    )
    client = sentinel.master_for(parsed.service, db=parsed.db, health_check_interval=30, **auth)
    return cast(Redis, client)
