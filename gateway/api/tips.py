"""``GET /api/v1/tips`` and ``GET /api/v1/tips/{id}``: tips in the token user's scope.

Scope is ``gateway.roles.may_see_queue`` on the tip's primary queue or any queue it is shared
with. Senders are masked; every call is audited (the list with its filters, a tip by id).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask import jsonify, request
from sqlalchemy import select

from campaigns.phones import mask
from gateway import audit, db
from gateway.api import bp, document, error, schema
from gateway.auth import current, require
from gateway.models import User
from gateway.roles import may_see_queue
from gateway.security import MAX_ID
from gateway.tips import states
from gateway.tips.models import Tip
from gateway.tips.visibility import scope_condition

PAGE_MAX = 200
PAGE_DEFAULT = 50


def may_see(user: User, tip: Tip) -> bool:
    """Whether ``user`` may see ``tip`` (its queue, or a queue it is shared with)."""
    return any(
        may_see_queue(user.role, user.scope, q) for q in (tip.queue, *(tip.shared_with or ()))
    )


def tip_json(tip: Tip) -> dict[str, Any]:
    """A tip as the API shows it (sender masked)."""
    return {
        "id": tip.id,
        "channel": tip.channel,
        "queue": tip.queue,
        "shared_with": list(tip.shared_with or ()),
        "priority": tip.priority,
        "status": tip.status,
        "received_at": tip.received_at.isoformat(),
        "body": tip.body,
        "sender": mask(tip.sender) if tip.sender else None,
        "given_phone": mask(tip.given_phone) if tip.given_phone else None,  # unverified
    }


def _since(raw: str) -> dt.datetime:
    when = dt.datetime.fromisoformat(raw.replace("Z", "+00:00"))
    return when if when.tzinfo else when.replace(tzinfo=dt.UTC)


@bp.get("/tips")
@require("tips.view", api=True)
def list_tips() -> Any:
    """Tips in scope, newest first, paged by id (``next`` is the cursor for the next page)."""
    user = current()
    assert user is not None
    args = request.args
    query = select(Tip).order_by(Tip.id.desc())
    try:
        limit = min(max(int(args.get("limit", PAGE_DEFAULT)), 1), PAGE_MAX)
        cursor = int(args["before"]) if args.get("before") else None
        if cursor is not None and not 0 < cursor <= MAX_ID:
            raise ValueError("cursor out of range")
        if args.get("since"):
            query = query.where(Tip.received_at >= _since(args["since"]))
    except ValueError:
        return error(400, "limit and before are integers; since is an ISO 8601 time")
    if args.get("status"):
        if args["status"] not in states.STATES:
            return error(400, f"status is one of {', '.join(states.STATES)}")
        query = query.where(Tip.status == args["status"])
    if args.get("priority"):
        if args["priority"] not in states.PRIORITIES:
            return error(400, f"priority is one of {', '.join(states.PRIORITIES)}")
        query = query.where(Tip.priority == args["priority"])
    queue = args.get("queue")
    if queue:
        if not may_see_queue(user.role, user.scope, queue):
            return error(403, "that queue is outside your scope")
        query = query.where(Tip.queue == queue)
    s = db.session()
    # Scope, shared queues included, is an SQL condition: one page reads one page of rows.
    query = query.where(scope_condition(s, user))
    if cursor is not None:
        query = query.where(Tip.id < cursor)
    items = list(s.scalars(query.limit(limit + 1)))
    more = len(items) > limit
    items = items[:limit]
    audit.record(
        "tip.list",
        actor=user,
        details={k: args[k] for k in ("queue", "status", "priority", "since") if k in args},
    )
    s.commit()
    return jsonify(
        items=[tip_json(t) for t in items], next=str(items[-1].id) if more and items else None
    )


@bp.get("/tips/<int:tip_id>")
@require("tips.view", api=True)
def get_tip(tip_id: int) -> Any:
    """One tip; 404 when it does not exist, 403 when it is outside the user's scope."""
    user = current()
    assert user is not None
    s = db.session()
    tip = s.get(Tip, tip_id)
    if tip is None:
        return error(404, "no such tip")
    if not may_see(user, tip):
        audit.record("tip.denied", actor=user, object_type="tip", object_id=tip.id)
        s.commit()
        return error(403, "this tip is outside your scope")
    audit.record("tip.view", actor=user, object_type="tip", object_id=tip.id)
    s.commit()
    return jsonify(tip_json(tip))


_TIP = schema(
    "Tip",
    {
        "type": "object",
        "properties": {
            "id": {"type": "integer"},
            "channel": {"type": "string", "enum": ["sms", "smpp", "http_mo", "web", "call"]},
            "queue": {"type": "string"},
            "shared_with": {"type": "array", "items": {"type": "string"}},
            "priority": {"type": "string", "enum": list(states.PRIORITIES)},
            "status": {"type": "string", "enum": list(states.STATES)},
            "received_at": {"type": "string", "format": "date-time"},
            "body": {"type": "string"},
            "sender": {"type": ["string", "null"], "description": "masked number"},
        },
        "required": [
            "id", "channel", "queue", "shared_with", "priority", "status", "received_at", "body",
            "sender",
        ],
    },
)  # fmt: skip
_ERR = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}

document(
    "/tips",
    "get",
    {
        "summary": "Tips in your scope, newest first",
        "tags": ["tips"],
        "parameters": [
            {"name": n, "in": "query", "schema": {"type": t}, "description": d}
            for n, t, d in (
                ("queue", "string", "only this queue (must be in your scope)"),
                ("status", "string", "new, acknowledged, in_progress, handed_off, closed"),
                ("priority", "string", "urgent or normal"),
                ("since", "string", "ISO 8601 time: received at or after"),
                ("limit", "integer", f"page size, 1–{PAGE_MAX} (default {PAGE_DEFAULT})"),
                ("before", "integer", "the cursor: the previous page's `next`"),
            )
        ],
        "responses": {
            "200": {
                "description": "a page of tips",
                "content": {
                    "application/json": {
                        "schema": {
                            "type": "object",
                            "properties": {
                                "items": {"type": "array", "items": _TIP},
                                "next": {"type": ["string", "null"]},
                            },
                        }
                    }
                },
            },
            "400": {"description": "a bad filter", "content": _ERR},
            "403": {"description": "role or queue outside your scope", "content": _ERR},
        },
    },
)
document(
    "/tips/{id}",
    "get",
    {
        "summary": "One tip",
        "tags": ["tips"],
        "parameters": [
            {"name": "id", "in": "path", "required": True, "schema": {"type": "integer"}}
        ],
        "responses": {
            "200": {"description": "the tip", "content": {"application/json": {"schema": _TIP}}},
            "403": {"description": "outside your scope", "content": _ERR},
            "404": {"description": "no such tip", "content": _ERR},
        },
    },
)
