"""A token bucket in Redis, shared by every worker on every host (one Lua script, atomic).

Tokens are SMS segments (invariant 10). :func:`take` reserves tokens and answers how long the
caller must wait before sending them: the bucket may go into debt, so concurrent workers queue up
fairly behind each other instead of spinning. The rate and burst are arguments of every call, so
an editor who changes a running campaign's rate changes the pace at the next take. Time comes
from the Redis server (``TIME``), so workers whose clocks disagree still share one bucket.
"""

from __future__ import annotations

from redis import Redis

PREFIX = "loa:bucket:"

# KEYS[1] bucket; ARGV: tokens, rate (tokens/s), burst (bucket size).
# State: the token count (negative = debt) at time ts. Returns the wait in seconds as a string,
# since Redis truncates Lua numbers to integers.
_TAKE = """
local tokens = tonumber(ARGV[1])
local rate = tonumber(ARGV[2])
local burst = tonumber(ARGV[3])
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local state = redis.call('HMGET', KEYS[1], 'tokens', 'ts')
local have = tonumber(state[1])
local ts = tonumber(state[2])
if have == nil or ts == nil then
  have = burst
  ts = now
end
have = math.min(burst, have + math.max(0, now - ts) * rate)
have = math.min(burst, have - tokens)
redis.call('HSET', KEYS[1], 'tokens', tostring(have), 'ts', tostring(now))
local idle = math.ceil((burst - have) / rate) + 60
redis.call('EXPIRE', KEYS[1], idle)
if have >= 0 then
  return '0'
end
return tostring(-have / rate)
"""


class TokenBucket:
    """The shared limiter; satisfies ``campaigns.dispatch.Throttle``."""

    def __init__(self, redis: Redis) -> None:
        self.redis = redis
        self._script = redis.register_script(_TAKE)

    def take(self, key: str, tokens: float, rate: float, burst: float | None = None) -> float:
        """Reserve ``tokens`` from bucket ``key`` filling at ``rate`` per second.

        Args:
            key: the bucket, e.g. ``twilio:LOA-SOCTRANG`` (a provider and sender).
            tokens: segments about to be sent; a negative number gives unused tokens back.
            rate: tokens per second (> 0).
            burst: the bucket size; default one second of ``rate`` (at least one token).
        Returns:
            seconds to wait before sending (0 when the tokens were there).
        """
        if rate <= 0:
            raise ValueError("rate must be positive")
        size = max(1.0, rate) if burst is None else burst
        wait = self._script(keys=[PREFIX + key], args=[tokens, rate, size])
        return float(wait)


def take(redis: Redis, key: str, tokens: float, rate: float, burst: float | None = None) -> float:
    """:meth:`TokenBucket.take` on ``redis`` (a convenience for one-off calls)."""
    return TokenBucket(redis).take(key, tokens, rate, burst)
