"""Loa's logs: one line per event (JSON in production, readable text for ``make run``), each with
the web request's id or the RQ job's id, and phone numbers masked in every record.

Masking is the last line of defence: phone numbers (and the passwords in URLs, such as the Redis
one) are masked in every log record Loa's loggers emit, whoever made it.

Code never logs a tip body or a full number on purpose, but an exception can carry one: a
PostgreSQL error's DETAIL quotes the conflicting value (``Key (phone)=(+8491…) already exists``).
"""

from __future__ import annotations

import contextlib
import contextvars
import datetime as dt
import json
import logging
import re
import sys
import time
import uuid
from collections.abc import Iterator
from typing import IO, TYPE_CHECKING, Any

from campaigns.phones import mask

if TYPE_CHECKING:
    from flask import Flask, Response

    from gateway.settings import Settings

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
        record = scrub_record(factory(*args, **kwargs))
        # Prefixed: RQ passes ``extra={"job_id": …}`` itself, and logging refuses to overwrite.
        record.loa_request_id = request_id.get()
        record.loa_job_id = job_id.get()
        return record

    masked.loa_masks_numbers = True  # type: ignore[attr-defined]
    logging.setLogRecordFactory(masked)


# --- structured logs ------------------------------------------------------------------------
# The web request or RQ job a record belongs to. Context variables, so a thread (gunicorn's
# gthread worker) or a work horse carries its own; the record factory copies them onto records.
request_id: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "loa_request_id", default=None
)
job_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("loa_job_id", default=None)

# What an incoming X-Request-ID may be (a proxy's UUID or trace id); anything else is replaced.
_SANE_REQUEST_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:\-]{7,63}")
REQUEST_ID_HEADER = "X-Request-ID"
_HANDLER_NAME = "loa"
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s [%(context)s] %(message)s"
# The attributes every LogRecord has; anything else was passed with ``extra=`` and is kept.
_STANDARD = set(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {
    "message",
    "asctime",
    "request_id",
    "job_id",
    "loa_request_id",
    "loa_job_id",
    "context",
}


def _context(record: logging.LogRecord, key: str) -> str | None:
    """The record's request or job id: Loa's context variable, else one passed as ``extra``."""
    value = getattr(record, f"loa_{key}", None) or getattr(record, key, None)
    return str(value) if value else None


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time (UTC, ISO 8601), level, logger, message, the request and
    job ids when there are any, the fields given with ``extra=`` and the traceback.

    The stdlib's ``json`` suffices: python-json-logger would add a dependency for these 20 lines.
    """

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "ts": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(
                timespec="milliseconds"
            ),
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for key in ("request_id", "job_id"):
            if value := _context(record, key):
                line[key] = value
        for key, value in record.__dict__.items():
            if key not in _STANDARD and not key.startswith("_"):
                line[key] = (
                    value
                    if isinstance(value, (int, float, bool, type(None)))
                    else _scrub(str(value))
                )
        if record.exc_info and not record.exc_text:
            record.exc_text = _scrub(self.formatException(record.exc_info))
        if record.exc_text:
            line["exc"] = record.exc_text
        return json.dumps(line, ensure_ascii=False)


class _TextFormatter(logging.Formatter):
    """``make run``'s readable lines, with ``[request id]`` or ``[job=id]`` after the logger."""

    def format(self, record: logging.LogRecord) -> str:
        job = _context(record, "job_id")
        record.__dict__["context"] = f"job={job}" if job else _context(record, "request_id") or "-"
        return super().format(record)


def log_format(settings: Settings) -> str:
    """``LOA_LOG_FORMAT``, or when empty: JSON in production, readable text elsewhere."""
    if settings.log_format:
        return settings.log_format
    return "json" if settings.env == "production" else "text"


def configure(settings: Settings, stream: IO[str] | None = None) -> logging.Handler:
    """Send every log record of this process to ``stream`` (stderr) in ``LOA_LOG_FORMAT`` at
    ``LOA_LOG_LEVEL``. Called by the entry points (``wsgi.py``, ``loa worker``), never on import;
    calling it again replaces Loa's handler."""
    install()
    handler = logging.StreamHandler(stream if stream is not None else sys.stderr)
    handler.set_name(_HANDLER_NAME)
    handler.setFormatter(
        JsonFormatter() if log_format(settings) == "json" else _TextFormatter(TEXT_FORMAT)
    )
    root = logging.getLogger()
    for old in [h for h in root.handlers if h.get_name() == _HANDLER_NAME]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(settings.log_level)
    return handler


def _new_request_id(incoming: str | None) -> str:
    if incoming and _SANE_REQUEST_ID.fullmatch(incoming):
        return incoming
    return uuid.uuid4().hex


def init_app(app: Flask) -> None:
    """Give every web request an id (the proxy's ``X-Request-ID`` when sane), log one line per
    request (method, path without its query, status, milliseconds) and return the id."""
    from flask import g, request

    web_log = logging.getLogger("loa.web")

    @app.before_request
    def _start() -> None:
        g.loa_request_token = request_id.set(
            _new_request_id(request.headers.get(REQUEST_ID_HEADER))
        )
        g.loa_request_started = time.perf_counter()

    @app.after_request
    def _finish(response: Response) -> Response:
        rid = request_id.get()
        if rid:
            response.headers[REQUEST_ID_HEADER] = rid
            started = g.get("loa_request_started")
            ms = round((time.perf_counter() - started) * 1000, 1) if started else None
            web_log.info(
                "%s %s %s",
                request.method,
                request.path,
                response.status_code,
                extra={"status": response.status_code, "duration_ms": ms},
            )
        return response

    @app.teardown_request
    def _forget(_exc: BaseException | None) -> None:
        token = g.pop("loa_request_token", None)
        if token is not None:
            request_id.reset(token)


@contextlib.contextmanager
def job_context(id_: str) -> Iterator[None]:
    """Within the block, every record carries ``job_id``."""
    token = job_id.set(id_)
    try:
        yield
    finally:
        job_id.reset(token)
