"""``Ghi nhận cuộc gọi``: a 111 or police operator logs a phone call as a tip (channel ``call``)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask import (
    Blueprint,
    Flask,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from campaigns import localtime
from campaigns.db import utcnow
from gateway import audit, db
from gateway.auth import current, require
from gateway.tip_forms import read_body
from gateway.tips import intake, replies

bp = Blueprint("tips_calls", __name__, url_prefix="/tips/calls")
MAX_BODY_CHARS = 5000
MAX_REQUEST_BYTES = 64 * 1024


def _received_at(raw: str) -> dt.datetime | None:
    """A ``datetime-local`` value in the local zone, as UTC; None when empty or invalid."""
    if not raw:
        return None
    try:
        local = dt.datetime.fromisoformat(raw)
    except ValueError:
        return None
    zone = localtime.zone()
    when = local.replace(tzinfo=zone).astimezone(dt.UTC) if local.tzinfo is None else local
    return when if when <= utcnow() + dt.timedelta(minutes=5) else None


def _page(errors: list[str], status: int = 200) -> Any:
    return render_template(
        "tips/call_new.html",
        errors=errors,
        body=request.form.get("body", "")[: MAX_BODY_CHARS * 2],
        phone=request.form.get("phone", "")[:40],
        received_at=request.form.get("received_at", "")[:20],
        max_chars=MAX_BODY_CHARS,
    ), status


@bp.route("/new", methods=["GET", "POST"])
@require("tips.log_call")
def new() -> Any:
    """Log a call: what the caller said, their number if they gave it, and when they called."""
    if request.method == "GET":
        return _page([])
    body, errors = read_body(
        MAX_REQUEST_BYTES, MAX_BODY_CHARS, _("Vui lòng nhập nội dung cuộc gọi.")
    )
    raw_phone = request.form.get("phone", "").strip()
    sender, reachable = intake.sender_of(raw_phone) if raw_phone else (None, False)
    if raw_phone and sender is None:
        errors.append(_("Số điện thoại không hợp lệ."))
    raw_when = request.form.get("received_at", "").strip()
    when = _received_at(raw_when)
    if raw_when and when is None:
        errors.append(_("Thời điểm gọi không hợp lệ."))
    if errors:
        return _page(errors, 400)
    user = current()
    s = db.session()
    line = db.tipline()
    tip, _created = intake.store_tip(
        s, line, channel="call", body=body, given_phone=sender, author=user, received_at=when
    )
    reply_ids = []
    if sender and reachable and request.form.get("confirm_sms"):
        reply = replies.queue_reply(
            s,
            to_phone=sender,
            body=replies.ack_text(line.settings),
            kind=replies.ACK,
            tip_id=tip.id,
        )
        reply_ids = [reply.id] if reply else []
    audit.record(
        "tip.call_logged", object_type="tip", object_id=tip.id, details={"queue": tip.queue}
    )
    s.commit()
    intake.notify_after_commit(line, tip, reply_ids)
    flash(_("Đã lưu cuộc gọi thành tin #%(id)s.", id=tip.id), "success")
    return redirect(url_for("tips_calls.new"))


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
    from gateway.web import register_nav

    register_nav(app, "tips_calls.new", _l("Ghi nhận cuộc gọi"), "tips.log_call")
