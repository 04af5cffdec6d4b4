"""The audit-log page (admins): every recorded action, filtered by action, user, object and date."""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask import Blueprint, Flask, render_template, request
from flask_babel import lazy_gettext as _l
from sqlalchemy import Select, select

from gateway import db
from gateway.admin import (
    day_start_utc,
    local_day,
    one_page,
    register_helpers,
)
from gateway.auth import require
from gateway.models import AuditEvent, User
from gateway.web import register_nav

bp = Blueprint("audit_log", __name__, url_prefix="/audit")

FILTERS = ("action", "user", "object_type", "object_id", "since", "until")


def filtered_events(args: dict[str, str]) -> Select[AuditEvent, User]:
    """Audit events matching the filter ``args`` (any of :data:`FILTERS`), newest first.

    ``user`` is a user id or a (part of an) email; ``since``/``until`` are local days, inclusive.
    """
    query = select(AuditEvent, User).outerjoin(User, AuditEvent.actor_id == User.id)
    if args.get("action"):
        query = query.where(AuditEvent.action == args["action"])
    who = args.get("user", "").strip()
    if who.isdigit():
        query = query.where(AuditEvent.actor_id == int(who))
    elif who:
        query = query.where(User.email.contains(who.lower(), autoescape=True))
    if args.get("object_type"):
        query = query.where(AuditEvent.object_type == args["object_type"])
    if args.get("object_id"):
        query = query.where(AuditEvent.object_id == args["object_id"].strip())
    since = local_day(args.get("since"))
    if since is not None:
        query = query.where(AuditEvent.at >= day_start_utc(since))
    until = local_day(args.get("until"))
    if until is not None:
        query = query.where(AuditEvent.at < day_start_utc(until + dt.timedelta(days=1)))
    return query.order_by(AuditEvent.id.desc())


@bp.get("/")
@require("audit.view")
def audit_list() -> Any:
    """One page of the audit log under the chosen filters."""
    args = {k: request.args.get(k, "")[:200] for k in FILTERS}
    s = db.session()
    rows, page, has_next = one_page(s, filtered_events(args), scalars=False)
    actions = sorted(a for a in s.scalars(select(AuditEvent.action).distinct()) if a)
    object_types = sorted(
        t for t in s.scalars(select(AuditEvent.object_type).distinct()) if t is not None
    )
    return render_template(
        "audit/event_list.html",
        rows=rows,
        page=page,
        has_next=has_next,
        args=args,
        actions=actions,
        object_types=object_types,
        filters={k: v for k, v in args.items() if v},
    )


def init_app(app: Flask) -> None:
    register_helpers(app)
    app.register_blueprint(bp)
    register_nav(app, "audit_log.audit_list", _l("Nhật ký kiểm toán"), "audit.view")
