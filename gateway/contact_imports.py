"""How the admin pages and the API start a contact import: inside the request, or in a worker.

A file up to ``LOA_IMPORT_ASYNC_BYTES`` imports inside its request (its result at once, as
always); a larger one, or any file when the API client sends ``Prefer: respond-async``, is
stored in SQL and a worker imports it (``workers.imports``) while its page shows the progress.
Both are audited under the uploader's name.
"""

from __future__ import annotations

import logging
import os
from typing import IO

from flask import current_app
from redis.exceptions import RedisError
from werkzeug.datastructures import FileStorage

from campaigns import import_records
from campaigns.importing import ImportResult
from campaigns.models import ContactImport
from gateway import audit, db, jobs
from gateway.models import User

log = logging.getLogger("loa.web")


def size_of(upload: FileStorage) -> int:
    """The uploaded file's size in bytes (Werkzeug has it in memory or a temporary file)."""
    stream: IO[bytes] = upload.stream
    here = stream.tell()
    size = stream.seek(0, os.SEEK_END)
    stream.seek(here)
    return size


def in_worker(upload: FileStorage, prefer: str | None = None) -> bool:
    """Whether this upload imports in a worker: larger than the threshold, or the client asked
    for it (RFC 7240 ``Prefer: respond-async``)."""
    asked = any(
        p.split(";")[0].strip().lower() == "respond-async" for p in (prefer or "").split(",")
    )
    threshold: int = current_app.config["LOA_SETTINGS"].import_async_bytes
    return asked or size_of(upload) > threshold


def run_now(upload: FileStorage, list_name: str, user: User) -> tuple[ImportResult, ContactImport]:
    """Import inside the request, record and audit it; committed.

    Raises:
        ImportFailed: the file cannot be read or has no phone column (rolled back).
    """
    s = db.session()
    try:
        result, record = import_records.import_now(
            s, upload.stream, list_name, filename=upload.filename or "", created_by=user.id
        )
    except Exception:
        s.rollback()
        raise
    audit.record(
        "contacts.import",
        actor=user,
        object_type="contact_list",
        object_id=result.list_id,
        details=import_records.audit_details(record),
    )
    s.commit()
    return result, record


def start(upload: FileStorage, list_name: str, user: User) -> ContactImport:
    """Store the upload for a worker, audit it, commit, and enqueue its import."""
    s = db.session()
    record = import_records.store_upload(
        s, upload.stream, list_name, filename=upload.filename or "", created_by=user.id
    )
    audit.record(
        "contacts.import_queued",
        actor=user,
        object_type="contact_import",
        object_id=record.id,
        details={"list": record.list_name, "size_bytes": record.size_bytes, "result": record.token},
    )
    s.commit()
    try:
        jobs.IMPORT_CONTACTS.enqueue(db.redis(), record.id, key=(record.id,))
    except RedisError:  # the reconciler enqueues it once Redis is back
        log.warning(
            "import %s stored; Redis unreachable, the reconciler will enqueue it", record.id
        )
    return record
