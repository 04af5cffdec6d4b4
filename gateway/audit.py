"""The append-only audit log: who did what to which object, and from where.

``details`` must never carry a tip body or a full phone number; callers pass masked values.
"""

from __future__ import annotations

from typing import Any

from flask import has_request_context, request
from sqlalchemy import event
from sqlalchemy.orm import Session

from gateway import db
from gateway.models import AuditEvent, User


def record(
    action: str,
    actor: User | None = None,
    object_type: str | None = None,
    object_id: object = None,
    details: dict[str, Any] | None = None,
    session: Session | None = None,
) -> AuditEvent:
    """Add an audit event to the session; it is written with the caller's commit."""
    if actor is None and has_request_context():
        from gateway.auth import current  # late: auth imports this module

        actor = current()
    event_ = AuditEvent(
        actor_id=actor.id if actor is not None else None,
        action=action,
        object_type=object_type,
        object_id=None if object_id is None else str(object_id),
        details=details or {},
        ip=request.remote_addr if has_request_context() else None,
    )
    (session or db.session()).add(event_)
    return event_


@event.listens_for(Session, "before_flush")
def _append_only(session: Session, _ctx: object, _instances: object) -> None:
    for obj in list(session.dirty) + list(session.deleted):
        if isinstance(obj, AuditEvent):
            raise PermissionError("the audit log is append-only")
