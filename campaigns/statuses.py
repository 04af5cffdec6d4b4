"""Delivery statuses and their ranks: a status only ever moves forward (invariant 8)."""

from __future__ import annotations

import datetime as dt
import functools
from typing import Any, cast

from sqlalchemy import CursorResult, Table, Update, bindparam, func, select, update
from sqlalchemy.orm import Session

from campaigns.db import utcnow
from campaigns.models import Delivery

PENDING = "pending"  # materialised, not yet handed to a provider
SENDING = "sending"  # claimed by a worker under a lease; the provider call is in flight
SENT = "sent"  # the provider accepted it (has a provider message id)
DELIVERED = "delivered"  # the operator's SMSC accepted it (all that "delivered" means in Vietnam)
UNDELIVERED = "undelivered"  # the carrier could not deliver it
FAILED = "failed"  # refused for good (invalid number, unsubscribed, blocked …)
UNKNOWN = "unknown"  # the outcome cannot be known (worker died mid-send, timeout after sending)
SKIPPED = "skipped"  # never sent, with a reason (opted out, invalid number, duplicate)

ALL = (PENDING, SENDING, SENT, DELIVERED, UNDELIVERED, FAILED, UNKNOWN, SKIPPED)
FINAL = frozenset({DELIVERED, UNDELIVERED, FAILED, SKIPPED})

# A receipt may move a delivery only to a higher rank; the failures outrank delivered, so a
# failed segment of a multi-part message is never overwritten by a later segment's success.
RANK = {
    PENDING: 0,
    SENDING: 1,
    UNKNOWN: 2,
    SENT: 3,
    DELIVERED: 4,
    UNDELIVERED: 5,
    FAILED: 6,
    SKIPPED: 7,
}

SKIP_OPTED_OUT = "opted_out"
SKIP_INVALID = "invalid"
SKIP_DUPLICATE = "duplicate"
SKIP_DO_NOT_CONTACT = "do_not_contact"
SKIP_CANCELLED = "cancelled"
# What campaign staff see instead of do_not_contact: a police decision about a tipster is not
# theirs to know (the number is masked as well).
SKIP_SUPPRESSED = "suppressed"


def staff_view(phone: str, skip_reason: str | None) -> tuple[bool, str | None]:
    """Whether campaign staff may see ``phone`` in full, and the skip reason they see."""
    if skip_reason == SKIP_DO_NOT_CONTACT:
        return False, SKIP_SUPPRESSED
    return True, skip_reason


def apply_receipt(
    session: Session,
    *,
    delivery_id: int | None,
    provider_message_id: str | None,
    status: str,
    error_code: str | None = None,
    segment: int | None = None,
    at: dt.datetime | None = None,
) -> bool:
    """Apply a delivery receipt, moving the delivery forward only (invariant 8).

    One conditional UPDATE (``... WHERE id = :id AND status IN (<lower ranks>)``) makes duplicate
    and out-of-order receipts harmless, even when two workers apply them at once. For a message
    sent in segments, each segment's receipt is applied alike: failures outrank ``delivered``, so
    a failed segment fails the message and a later segment's success cannot undo it. The caller
    commits.

    Args:
        session: the caller's session (the change joins its transaction).
        delivery_id: Loa's delivery id (from the status-callback URL), if known.
        provider_message_id: the provider's id; finds the delivery when ``delivery_id`` is None,
            and fills in a delivery whose id was never stored.
        status: Loa's status (one of :data:`ALL`), already mapped from the provider's.
        error_code: the provider's error code, if any.
        segment: the segment number of a per-segment receipt (ranks make it irrelevant here).
        at: when the receipt was received; now when omitted.
    Returns:
        whether a delivery changed.
    Raises:
        ValueError: for a status that is not one of Loa's.
    """
    if status not in RANK:
        raise ValueError(f"unknown delivery status {status!r}")
    if delivery_id is None:
        if not provider_message_id:
            return False
        delivery_id = session.scalar(
            select(Delivery.id).where(Delivery.provider_message_id == provider_message_id).limit(1)
        )
        if delivery_id is None:
            return False
    # The parameters are not named after columns: Core would add those to the SET clause.
    params: dict[str, Any] = {"d_id": delivery_id, "new_status": status, "at": at or utcnow()}
    if error_code:
        params["new_error"] = error_code[:20]
    if provider_message_id:
        params["new_message_id"] = provider_message_id[:64]
    stmt = _receipt_update(status, bool(error_code), bool(provider_message_id))
    result = session.execute(stmt, params)
    return cast(CursorResult[Any], result).rowcount > 0


@functools.cache
def _receipt_update(status: str, with_error: bool, with_message_id: bool) -> Update:
    """The conditional UPDATE a receipt runs, built once per shape (receipts arrive at the send
    rate: building and keying the statement anew cost as much as running it)."""
    d = cast(Table, Delivery.__table__)
    at = bindparam("at", type_=d.c.updated_at.type)
    values: dict[str, Any] = {"status": bindparam("new_status"), "updated_at": at}
    if with_error:
        values["error_code"] = bindparam("new_error")
    if status in FINAL:
        values["finished_at"] = at
    if status == SENT:
        values["sent_at"] = func.coalesce(d.c.sent_at, at)
    if with_message_id:
        values["provider_message_id"] = func.coalesce(
            d.c.provider_message_id, bindparam("new_message_id")
        )
    lower = [s for s, rank in RANK.items() if rank < RANK[status]]
    return update(d).where(d.c.id == bindparam("d_id"), d.c.status.in_(lower)).values(**values)
