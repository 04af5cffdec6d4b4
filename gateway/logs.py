"""A last line of defence: phone numbers (and the passwords in URLs, such as the Redis one) are
masked in every log record Loa's loggers emit.

Code never logs a tip body or a full number on purpose, but an exception can carry one: a
PostgreSQL error's DETAIL quotes the conflicting value (``Key (phone)=(+8491…) already exists``).
"""

from __future__ import annotations

import logging
import re
from typing import Any

from campaigns.phones import mask

# A number as people write it: international (+84…, 0084…) or national (0…), with spaces, dots or
# dashes between digit groups. Dates and counts (which start with another digit) are left alone.
_NUMBER = re.compile(r"(?<![\w+])(?:(?:\+|00)\d{1,3}[ .\-]?|0)\d{2,4}(?:[ .\-]?\d{2,4}){1,4}(?!\w)")


# The password of a URL with credentials: redis://:PASSWORD@host, postgresql://user:PASSWORD@host.
_URL_PASSWORD = re.compile(r"(\b[a-z][a-z0-9+.\-]*://[^:/@\s]*:)[^@\s/]+@", re.IGNORECASE)


def mask_url(text: str) -> str:
    """``text`` with the password of every URL in it replaced by ``***``."""
    return _URL_PASSWORD.sub(r"\1***@", text)


def _mask_match(match: re.Match[str]) -> str:
    digits = re.sub(r"[ .\-]", "", match.group(0))
    count = sum(ch.isdigit() for ch in digits)
    return mask(digits) if 9 <= count <= 15 else match.group(0)


def _scrub(text: str) -> str:
    return _NUMBER.sub(_mask_match, mask_url(text))


def scrub_record(record: logging.LogRecord) -> logging.LogRecord:
    """Rewrite a record's message and traceback with every phone number masked."""
    try:
        message = record.getMessage()
    except (TypeError, ValueError):  # a bad format string: leave it to logging's own handling
        return record
    record.msg = _scrub(message)
    record.args = None
    if record.exc_info and not record.exc_text:
        record.exc_text = logging.Formatter().formatException(record.exc_info)
    if record.exc_text:
        record.exc_text = _scrub(record.exc_text)
        record.exc_info = None  # the scrubbed text stands in for the traceback
    return record


def install() -> None:
    """Mask numbers in every log record this process creates, whichever logger or library
    (Flask, RQ, gunicorn, SQLAlchemy) makes it. Installing twice changes nothing."""
    factory = logging.getLogRecordFactory()
    if getattr(factory, "loa_masks_numbers", False):
        return

    def masked(*args: Any, **kwargs: Any) -> logging.LogRecord:
        return scrub_record(factory(*args, **kwargs))

    masked.loa_masks_numbers = True  # type: ignore[attr-defined]
    logging.setLogRecordFactory(masked)
