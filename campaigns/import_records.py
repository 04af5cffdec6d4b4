"""The record of a contact import: its counts and every rejected row, kept in SQL.

An import's result is a report about an uploaded file that people come back to (the result page,
the rejected-rows download, from the admin pages or the API, on any web host), so it lives in
the ``contact_imports`` table, not in Redis nor in a local file. A random URL-safe token names
it in links; who may read it is the caller's business (the web layer checks permissions).

A small file imports inside its request (:func:`import_now`). A large one (1.2 million rows take
a minute or more) is stored in SQL in pieces by :func:`store_upload` and imported by a worker
with :func:`run_stored`, which keeps its progress on the record as it goes: ``queued`` →
``running`` → ``done`` or ``failed``. A worker killed midway leaves it ``running``; running it
again is safe (contacts are upserted), at most :data:`MAX_ATTEMPTS` times.
"""

from __future__ import annotations

import csv
import io
import re
import secrets
import tempfile
from typing import IO, Any

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.orm import Session

from campaigns.db import utcnow
from campaigns.importing import INLINE_REJECTS, ImportFailed, ImportResult, import_contacts
from campaigns.models import ContactImport, ContactImportPart
from campaigns.text import nfc

# A cap on the stored CSV (about a million rejected rows): a bigger file is cut at a row's end
# and its record says ``rejects_complete: false``.
REJECTS_MAX_CHARS = 32 * 1024 * 1024
SPOOL_BYTES = 1024 * 1024  # rejected rows stay in memory up to this size, then go to a temp file
FILENAME_MAX = 200
_TOKEN = re.compile(r"[A-Za-z0-9_-]{20,64}")
PART_BYTES = 1024 * 1024  # an upload waiting for a worker is stored in pieces of this size
MAX_ATTEMPTS = 3  # runs of a stored import (a worker killed midway) before it is failed

QUEUED, RUNNING, DONE, FAILED = "queued", "running", "done", "failed"
STATUSES = (QUEUED, RUNNING, DONE, FAILED)
UNFINISHED = (QUEUED, RUNNING)


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
    record = ContactImport(
        token=secrets.token_urlsafe(24),
        list_id=list_id,
        filename=_clean(filename[:FILENAME_MAX]),
        created_by_id=created_by,
        list_name=result.list_name,
    )
    _finish(record, result, rejected_csv)
    session.add(record)
    session.flush()
    return record


def _finish(record: ContactImport, result: ImportResult, rejected_csv: str) -> None:
    counts: dict[str, Any] = result.as_dict()
    counts.pop("rejected", None)
    counts["rejects_complete"] = len(rejected_csv) <= REJECTS_MAX_CHARS
    if not counts["rejects_complete"]:
        # csv.writer ends rows with \r\n: keep whole rows only.
        rejected_csv = rejected_csv[: rejected_csv.rfind("\r\n", 0, REJECTS_MAX_CHARS) + 2]
    if record.counts and "attempts" in record.counts:
        counts["attempts"] = record.counts["attempts"]
    record.counts = counts
    record.rejected_csv = _clean(rejected_csv)
    record.list_id = result.list_id
    record.status = DONE
    record.error = ""
    record.finished_at = utcnow()


def import_now(
    session: Session, stream: IO[bytes], list_name: str, *, filename: str, created_by: int | None
) -> tuple[ImportResult, ContactImport]:
    """Import a file inside the caller's request and record the result (flushed; the caller
    commits with its audit).

    Raises:
        ImportFailed: the file cannot be read or has no phone column (the caller rolls back).
    """
    with rejects_buffer() as rejects:
        result = import_contacts(
            session, stream, list_name, filename=filename, created_by=created_by, rejects=rejects
        )
        rejected_csv = read_rejects(rejects)
    record = save_import(
        session,
        result,
        rejected_csv,
        list_id=result.list_id,
        filename=filename,
        created_by=created_by,
    )
    return result, record


def store_upload(
    session: Session, stream: IO[bytes], list_name: str, *, filename: str, created_by: int | None
) -> ContactImport:
    """Keep an uploaded file in SQL for a worker to import; the new record is ``queued``.

    Flushed, not committed: the caller commits, then enqueues the job (the reconciler enqueues
    it again if that is lost).
    """
    record = ContactImport(
        token=secrets.token_urlsafe(24),
        filename=_clean(filename[:FILENAME_MAX]),
        created_by_id=created_by,
        list_name=nfc(list_name).strip()[:200],
        status=QUEUED,
        counts={},
    )
    session.add(record)
    session.flush()
    size = seq = 0
    while piece := stream.read(PART_BYTES):
        session.execute(insert(ContactImportPart).values(import_id=record.id, seq=seq, data=piece))
        seq += 1
        size += len(piece)
    record.size_bytes = size
    session.flush()
    return record


def unfinished(session: Session) -> list[int]:
    """Ids of the imports waiting for a worker or left running by one."""
    return list(
        session.scalars(
            select(ContactImport.id)
            .where(ContactImport.status.in_(UNFINISHED))
            .order_by(ContactImport.id)
        )
    )


def _progress_counts(result: ImportResult, read: int, size: int, attempts: int) -> dict[str, Any]:
    return {
        "rows": result.rows,
        "added": result.added,
        "updated": result.updated,
        "duplicates": result.duplicates,
        "rejected_count": result.rejected_count,
        "bytes_read": read if result.encoding != "xlsx" else None,  # a zip is not read in order
        "size_bytes": size,
        "attempts": attempts,
    }


def run_stored(session: Session, import_id: int) -> ContactImport | None:
    """Import a stored upload (a worker's job), keeping its progress on the record.

    Committed as it goes: the record is ``running`` at the start and after each chunk of
    contacts its counts are updated; at the end it is ``done`` (or ``failed`` with the reason
    for a file that cannot be imported), and its pieces are deleted.

    Returns:
        The finished record (the caller audits it), or None when there was nothing to run (an
        unknown id, or an import already finished).
    """
    record = session.get(ContactImport, import_id)
    if record is None or record.status not in UNFINISHED:
        return None
    attempts = int((record.counts or {}).get("attempts", 0)) + 1
    if attempts > MAX_ATTEMPTS:
        return _fail(session, record, "Việc nhập bị gián đoạn nhiều lần; hãy tải tệp lên lại.")
    record.status = RUNNING
    record.counts = {"attempts": attempts}
    session.commit()
    size = record.size_bytes
    with tempfile.TemporaryFile() as file, rejects_buffer() as rejects:
        parts = session.scalar(select(func.count()).where(ContactImportPart.import_id == import_id))
        for seq in range(parts or 0):
            file.write(
                session.scalar(
                    select(ContactImportPart.data).where(
                        ContactImportPart.import_id == import_id, ContactImportPart.seq == seq
                    )
                )
                or b""
            )
        file.seek(0)

        def progress(result: ImportResult) -> None:
            counts = _progress_counts(result, file.tell(), size, attempts)
            session.execute(
                update(ContactImport).where(ContactImport.id == import_id).values(counts=counts)
            )
            session.commit()

        try:
            result = import_contacts(
                session,
                file,
                record.list_name,
                filename=record.filename,
                created_by=record.created_by_id,
                rejects=rejects,
                progress=progress,
            )
        except ImportFailed as exc:
            session.rollback()
            return _fail(session, session.get(ContactImport, import_id), str(exc))
        rejected_csv = read_rejects(rejects)
    record = session.get(ContactImport, import_id)
    assert record is not None
    _finish(record, result, rejected_csv)
    session.execute(delete(ContactImportPart).where(ContactImportPart.import_id == import_id))
    session.flush()
    return record


def _fail(session: Session, record: ContactImport | None, reason: str) -> ContactImport | None:
    if record is None:
        return None
    record.status = FAILED
    record.error = reason
    record.finished_at = utcnow()
    session.execute(delete(ContactImportPart).where(ContactImportPart.import_id == record.id))
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


def audit_details(record: ContactImport) -> dict[str, Any]:
    """What the audit log keeps of a finished import: its counts and its token, no number."""
    counts = record.counts or {}
    keys = ("rows", "added", "updated", "duplicates", "opted_out")
    return {k: counts.get(k) for k in keys} | {
        "rejected": counts.get("rejected_count"),
        "result": record.token,
    }


def summary(record: ContactImport) -> dict[str, Any]:
    """The import as ``ImportResult.as_dict`` gave it, plus ``filename``, ``rejects_complete``,
    ``status`` and, while it runs, its progress (``percent`` is None when unknown)."""
    counts = dict(record.counts or {})
    counts.setdefault("list", {"id": record.list_id, "name": record.list_name})
    read, size = counts.get("bytes_read"), counts.get("size_bytes") or record.size_bytes
    done = record.status == DONE
    return {
        **counts,
        "status": record.status,
        "error": record.error,
        "filename": record.filename,
        "percent": 100 if done else (min(99, 100 * read // size) if read and size else None),
        "rejected": inline_rejects(record) if done else [],
    }
