"""The suppression list: numbers that must receive no broadcast (invariant 6: opt-outs win).

Numbers are stored in E.164; every function normalises its input first, so `0912 345 678`,
`84912345678` and `+84912345678` are the same opt-out. Opting out twice keeps the first record
(its time and channel are what the citizen did first); opting in deletes the record.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from campaigns.models import OptOut
from campaigns.phones import normalize

SMS = "sms"  # the citizen texted an opt-out keyword
HOTLINE = "hotline"  # asked by phone; staff recorded it
WEB = "web"  # the public web form
ADMIN = "admin"  # entered by an administrator or editor
PROVIDER = "provider"  # the provider reported the number unsubscribed (Twilio 21610)
CHANNELS = (SMS, HOTLINE, WEB, ADMIN, PROVIDER)

# SQL parameter lists stay below SQLite's limit (32,766 on modern builds, 999 on old ones).
_CHUNK = 900


def canonical(phone: str) -> str | None:
    """The E.164 form under which `phone` is stored, or None if it is not a number."""
    return normalize(phone).e164


def opt_out(
    session: Session, phone: str, channel: str, reason: str = "", by: int | None = None
) -> OptOut:
    """Add a number to the suppression list (idempotent).

    Args:
        session: the caller commits.
        phone: the number in any common format.
        channel: one of :data:`CHANNELS`.
        reason: free text (a keyword, "hỏi qua tổng đài", ...), cut to 200 characters.
        by: the id of the user who recorded it, if a person did.

    Returns:
        The OptOut row (the existing one when the number was opted out already).

    Raises:
        ValueError: for an unknown channel or a value that is not a phone number.
    """
    if channel not in CHANNELS:
        raise ValueError(f"unknown channel {channel!r}; choose one of {', '.join(CHANNELS)}")
    e164 = canonical(phone)
    if e164 is None:
        raise ValueError("not a phone number")
    existing = session.scalar(select(OptOut).where(OptOut.phone == e164))
    if existing is not None:
        return existing
    row = OptOut(phone=e164, channel=channel, reason=reason[:200], created_by_id=by)
    # A savepoint: a concurrent opt-out of the same number must not abort the caller's work.
    try:
        with session.begin_nested():
            session.add(row)
    except IntegrityError:
        found = session.scalar(select(OptOut).where(OptOut.phone == e164))
        if found is None:
            raise
        return found
    return row


def opt_in(session: Session, phone: str) -> bool:
    """Remove a number from the suppression list.

    Args:
        session: the caller commits.
        phone: the number in any common format.

    Returns:
        True when the number was opted out and now is not.
    """
    e164 = canonical(phone)
    if e164 is None:
        return False
    result = session.execute(delete(OptOut).where(OptOut.phone == e164))
    return bool(getattr(result, "rowcount", 0))


def is_opted_out(session: Session, phone: str) -> bool:
    """Tell whether a number is on the suppression list.

    Args:
        session: any session.
        phone: the number in any common format.

    Returns:
        True when the number must receive no broadcast.
    """
    e164 = canonical(phone)
    if e164 is None:
        return False
    return session.scalar(select(OptOut.id).where(OptOut.phone == e164)) is not None


def opted_out_among(session: Session, phones: Iterable[str]) -> set[str]:
    """The numbers of a set that are on the suppression list (bulk check).

    Args:
        session: any session.
        phones: numbers already in E.164 (as stored on contacts and deliveries); others never
            match.

    Returns:
        The subset of `phones` that is opted out.
    """
    wanted = list(dict.fromkeys(phones))
    found: set[str] = set()
    for start in range(0, len(wanted), _CHUNK):
        chunk = wanted[start : start + _CHUNK]
        found.update(session.scalars(select(OptOut.phone).where(OptOut.phone.in_(chunk))))
    return found
