"""The global kill switch: a SQL record (the truth) and a Redis flag (what workers read fast).

Engaging writes and commits the record first (which also pauses every running campaign, see
:mod:`campaigns.killswitch`), then sets the flag, so a Redis outage cannot hide a stop: the
workers also read the campaign's status before every chunk, and the record at the start of
every batch (:func:`sync`), rebuilding the flag when Redis lost it.
"""

from __future__ import annotations

from redis import Redis
from sqlalchemy.orm import Session

from campaigns import killswitch
from campaigns.models import KillSwitch

FLAG = "loa:kill_switch"


def engage(session: Session, redis: Redis | None, reason: str, by: int | None = None) -> KillSwitch:
    """Stop every campaign; commits. Raises ValueError when the reason is empty."""
    switch = killswitch.engage(session, reason, by)
    session.commit()
    if redis is not None:
        redis.set(FLAG, switch.reason.encode("utf-8"))
    return switch


def release(session: Session, redis: Redis | None, by: int | None = None) -> bool:
    """Release the stop (paused campaigns stay paused); commits; whether one was engaged."""
    released = killswitch.release(session, by)
    session.commit()
    if redis is not None:
        redis.delete(FLAG)
    return released


def reason_from_flag(redis: Redis) -> str | None:
    """The reason in the Redis flag, or None when it is not set (the fast check)."""
    value = redis.get(FLAG)
    if value is None:
        return None
    return value.decode("utf-8") if isinstance(value, bytes) else str(value)


def sync(redis: Redis, session: Session) -> str | None:
    """Make the flag match the SQL record (the truth) and return the engaged reason, if any.

    Rebuilds a flag that Redis lost, and clears one left behind by a release that only wrote
    SQL. Workers call it at the start of every batch.
    """
    switch = killswitch.active(session)
    if switch is None:
        redis.delete(FLAG)
        return None
    redis.set(FLAG, switch.reason.encode("utf-8"))
    return switch.reason
