"""The record of a contact import: its counts and every rejected row, kept in SQL.

An import's result is a report about an uploaded file that people come back to (the result page,
the rejected-rows download, from the admin pages or the API, on any web host), so it lives in
the ``contact_imports`` table, not in Redis nor in a local file. A random URL-safe token names
it in links; who may read it is the caller's business (the web layer checks permissions).
"""

from __future__ import annotations

import csv
import io
import re
import secrets
import tempfile
from typing import IO, Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from campaigns.importing import INLINE_REJECTS, ImportResult
from campaigns.models import ContactImport

# A cap on the stored CSV (about a million rejected rows): a bigger file is cut at a row's end
# and its record says ``rejects_complete: false``.
REJECTS_MAX_CHARS = 32 * 1024 * 1024
SPOOL_BYTES = 1024 * 1024  # rejected rows stay in memory up to this size, then go to a temp file
FILENAME_MAX = 200
_TOKEN = re.compile(r"[A-Za-z0-9_-]{20,64}")


def rejects_buffer() -> tempfile.SpooledTemporaryFile[str]:
    """A text buffer to pass as ``import_contacts(rejects=...)``; use it as a context manager."""
    return tempfile.SpooledTemporaryFile(
        max_size=SPOOL_BYTES, mode="w+", encoding="utf-8", newline=""
    )


def read_rejects(buffer: IO[str]) -> str:
    """What was written to ``buffer``, from the start, at most one char over the cap."""
    buffer.seek(0)
    return buffer.read(REJECTS_MAX_CHARS + 1)


def _clean(text: str) -> str:
    # PostgreSQL text cannot hold NUL; a stray one in an uploaded cell must not fail the import.
    return text.replace("\x00", "\ufffd")


def save_import(
    session: Session,
    result: ImportResult,
    rejected_csv: str,
    *,
    list_id: int | None,
    filename: str,
    created_by: int | None,
) -> ContactImport:
    """Record what an import did; flushed, not committed (the caller commits with its audit).

    Args:
        session: the session to add the record to.
        result: the import's counts (its inline rejected rows are not stored twice).
        rejected_csv: every rejected row as CSV with its header, as ``import_contacts`` wrote it.
        list_id: the list the contacts went to.
        filename: the uploaded file's name (cut to 200 characters).
        created_by: the user who imported, when known.

    Returns:
        The new record, with its random ``token``.
    """
    counts: dict[str, Any] = result.as_dict()
    counts.pop("rejected", None)
    counts["rejects_complete"] = len(rejected_csv) <= REJECTS_MAX_CHARS
    if not counts["rejects_complete"]:
        # csv.writer ends rows with \r\n: keep whole rows only.
        rejected_csv = rejected_csv[: rejected_csv.rfind("\r\n", 0, REJECTS_MAX_CHARS) + 2]
    record = ContactImport(
        token=secrets.token_urlsafe(24),
        list_id=list_id,
        filename=_clean(filename[:FILENAME_MAX]),
        created_by_id=created_by,
        counts=counts,
        rejected_csv=_clean(rejected_csv),
    )
    session.add(record)
    session.flush()
    return record


def find_import(session: Session, token: str) -> ContactImport | None:
    """The import named by ``token``, or None when there is none (or the token is malformed)."""
    if not _TOKEN.fullmatch(token):
        return None
    return session.scalar(select(ContactImport).where(ContactImport.token == token))


def inline_rejects(record: ContactImport, limit: int = INLINE_REJECTS) -> list[dict[str, object]]:
    """The first ``limit`` rejected rows as ``{"line", "value", "reason"}``, read from the CSV."""
    rows: list[dict[str, object]] = []
    reader = csv.reader(io.StringIO(record.rejected_csv))
    next(reader, None)  # the header
    for row in reader:
        if len(rows) >= limit:
            break
        if len(row) == 3:
            rows.append({"line": int(row[0]), "value": row[1], "reason": row[2]})
    return rows


def summary(record: ContactImport) -> dict[str, Any]:
    """The import as ``ImportResult.as_dict`` gave it, plus ``filename`` and ``rejects_complete``."""
    return {**record.counts, "filename": record.filename, "rejected": inline_rejects(record)}
