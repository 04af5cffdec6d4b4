"""The audit-log page (admins): every recorded action, filtered by action, user, object and date."""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask import Blueprint, Flask, render_template, request
from flask_babel import lazy_gettext as _l
from sqlalchemy import Select, select

from campaigns.text import fold
from gateway import db, labels
from gateway.admin import (
    day_start_utc,
    keyset_page,
    local_day,
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


def _by_label(table: dict[str, Any]) -> list[str]:
    """The codes of a label table, in the order of their labels as the reader sees them."""
    return sorted(table, key=lambda code: fold(str(table[code])))


@bp.get("/")
@require("audit.view")
def audit_list() -> Any:
    """One page of the audit log under the chosen filters.

    The filters offer every action and object type that has a label (every one written has:
    the tests check), in the order of their labels, rather than reading which ones the log holds
    (two passes over a log of millions of events)."""
    args = {k: request.args.get(k, "")[:200] for k in FILTERS}
    rows, after, is_first = keyset_page(db.session(), filtered_events(args), None, AuditEvent.id)
    return render_template(
        "audit/event_list.html",
        rows=rows,
        after=after,
        is_first=is_first,
        args=args,
        actions=_by_label(labels.AUDIT_ACTION_LABELS),
        object_types=_by_label(labels.AUDIT_OBJECT_LABELS),
        filters={k: v for k, v in args.items() if v},
    )


def init_app(app: Flask) -> None:
    register_helpers(app)
    app.register_blueprint(bp)
    register_nav(app, "audit_log.audit_list", _l("Nhật ký kiểm toán"), "audit.view")
