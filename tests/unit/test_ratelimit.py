"""The shared token bucket (a Lua script on a real Redis): segments per second across workers."""

from __future__ import annotations

import threading

import pytest
from redis import Redis

from workers.ratelimit import PREFIX, TokenBucket


def test_burst_is_free_then_debt_means_waiting(redis_conn: Redis) -> None:
    """A full bucket gives its burst at once; the next tokens wait tokens/rate seconds."""
    bucket = TokenBucket(redis_conn)
    assert bucket.take("twilio:A", 10, rate=10) == 0.0
    wait = bucket.take("twilio:A", 20, rate=10)
    assert 1.9 < wait <= 2.0


def test_buckets_are_per_key(redis_conn: Redis) -> None:
    """Each sender of a pool has its own bucket."""
    bucket = TokenBucket(redis_conn)
    bucket.take("twilio:A", 100, rate=10)
    assert bucket.take("twilio:B", 10, rate=10) == 0.0


def test_refund_gives_tokens_back(redis_conn: Redis) -> None:
    """Negative tokens return unused reservations (capped at the burst)."""
    bucket = TokenBucket(redis_conn)
    bucket.take("k", 30, rate=10)
    bucket.take("k", -30, rate=10)
    assert bucket.take("k", 10, rate=10) < 0.01


def test_rate_change_applies_to_the_next_take(redis_conn: Redis) -> None:
    """The rate is an argument of each take, so a running campaign's new rate applies at once."""
    bucket = TokenBucket(redis_conn)
    bucket.take("k", 10, rate=10)
    slow = bucket.take("k", 10, rate=1)
    assert slow > 9.0


def test_concurrent_takers_share_one_rate(redis_conn: Redis) -> None:
    """Eight threads reserving 100 tokens each at 100/s queue up behind each other: 7–8 s of debt."""
    bucket = TokenBucket(redis_conn)
    waits: list[float] = []
    lock = threading.Lock()

    def worker() -> None:
        w = TokenBucket(redis_conn).take("shared", 100, rate=100)
        with lock:
            waits.append(w)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(round(w) for w in waits) == [0, 1, 2, 3, 4, 5, 6, 7]
    assert bucket.take("shared", 0, rate=100) == pytest.approx(7.0, abs=0.2)


def test_state_lives_in_redis_with_an_expiry(redis_conn: Redis) -> None:
    """The bucket is a Redis hash that expires when idle."""
    TokenBucket(redis_conn).take("twilio:X", 5, rate=10)
    assert redis_conn.exists(PREFIX + "twilio:X")
    assert 0 < redis_conn.ttl(PREFIX + "twilio:X") <= 61


def test_rate_must_be_positive(redis_conn: Redis) -> None:
    """A zero rate is a bug, refused before Redis is asked."""
    with pytest.raises(ValueError):
        TokenBucket(redis_conn).take("k", 1, rate=0)
