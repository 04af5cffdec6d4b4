"""The append-only audit log: who did what to which object, and from where.

``details`` must never carry a tip body or a full phone number; callers pass masked values.
No Flask here, so the tip line can audit from any process: in a web request, the web app
(:func:`gateway.auth.init_app`) installs :data:`ambient`, which names the signed-in user, the
client's address and the request's session when the caller leaves them out.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import event
from sqlalchemy.orm import Session

from gateway.models import AuditEvent, User


@dataclass(frozen=True, slots=True)
class Ambient:
    """What the current request knows: the user, the client's address and the session."""

    actor: User | None = None
    ip: str | None = None
    session: Session | None = None


def _nothing() -> Ambient:
    return Ambient()


# Replaced by the web app; outside a request it must answer Ambient() (nothing known).
ambient: Callable[[], Ambient] = _nothing


def record(
    action: str,
    actor: User | None = None,
    object_type: str | None = None,
    object_id: object = None,
    details: dict[str, Any] | None = None,
    session: Session | None = None,
    ip: str | None = None,
) -> AuditEvent:
    """Add an audit event to the session; it is written with the caller's commit.

    Raises:
        RuntimeError: when no session is given and none is known (outside a request).
    """
    here = ambient()
    actor = actor if actor is not None else here.actor
    session = session if session is not None else here.session
    if session is None:
        raise RuntimeError("audit.record needs a session outside a web request")
    event_ = AuditEvent(
        actor_id=actor.id if actor is not None else None,
        action=action,
        object_type=object_type,
        object_id=None if object_id is None else str(object_id),
        details=details or {},
        ip=ip if ip is not None else here.ip,
    )
    session.add(event_)
    return event_


@event.listens_for(Session, "before_flush")
def _append_only(session: Session, _ctx: object, _instances: object) -> None:
    for obj in list(session.dirty) + list(session.deleted):
        if isinstance(obj, AuditEvent):
            raise PermissionError("the audit log is append-only")
