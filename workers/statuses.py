"""Delivery receipts that arrive by queue (any provider's deferred ones)."""

from __future__ import annotations

import logging
from typing import Any

from gateway.providers import WebhookError
from workers import runtime

log = logging.getLogger("loa.worker.statuses")


def process_receipt(provider: str, params: dict[str, Any], delivery_id: int | None = None) -> bool:
    """Parse a receipt with ``provider`` and apply it, as the status webhook does; True if changed.

    A receipt that cannot be read is logged and dropped: retrying would not make it readable.
    """
    try:
        update = runtime.provider(provider).parse_status(params, delivery_id)
    except WebhookError as exc:
        log.warning("dropped an unreadable %s receipt: %s", provider, exc)
        return False
    with runtime.session() as s:
        changed = update.apply(s)
        s.commit()
    return changed
