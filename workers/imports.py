"""A large contact import, run by a worker from the file stored in SQL (issue 12).

The web stores the upload (``campaigns.import_records.store_upload``) and enqueues
``jobs.IMPORT_CONTACTS`` on the ``bulk`` lane, where long work waits without delaying a tip; the
reconciler enqueues it again if Redis lost it. The import page and ``GET
/api/v1/contacts/imports/<token>`` show its progress, which this job writes to the record after
each chunk of 5,000 contacts. The outcome is audited under the uploader's name.
"""

from __future__ import annotations

import logging

from sqlalchemy.orm import Session

from campaigns import import_records
from gateway import audit, jobs
from gateway.models import User
from workers import runtime

log = logging.getLogger("loa.worker")


def run_import(import_id: int) -> str | None:
    """Run the stored import ``import_id``; its status at the end (None: nothing to run)."""
    with runtime.session() as s:
        record = import_records.run_stored(s, import_id)
        if record is None:
            return None
        actor = s.get(User, record.created_by_id) if record.created_by_id else None
        done = record.status == import_records.DONE
        audit.record(
            "contacts.import" if done else "contacts.import_failed",
            actor=actor,
            object_type="contact_list",
            object_id=record.list_id,
            details=import_records.audit_details(record) if done else {"result": record.token},
            session=s,
        )
        s.commit()
        log.info("contact import %s %s", import_id, record.status)
        return record.status


def enqueue_unfinished(s: Session) -> list[int]:
    """Enqueue every import waiting for a worker or left running by a dead one (the
    reconciler's pass; an import whose job is alive is skipped by its deterministic id)."""
    ids = import_records.unfinished(s)
    for import_id in ids:
        jobs.IMPORT_CONTACTS.enqueue(runtime.redis(), import_id, key=(import_id,))
    return ids
