"""The public tip form (``/bao-tin``, also ``/report``): no login, no JavaScript, anonymous.

It is the one set of views without ``require``: anybody may report. CSRF stays on (the form
carries the token; a cross-site post is refused), each client may post a few tips per window
(Redis counter; with Redis down the form stays open, since losing a tip is worse than spam),
and the request body is capped so a large post gets 413 before it is read.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from flask import Blueprint, Flask, redirect, render_template, request, url_for
from flask_babel import gettext as _
from redis.exceptions import RedisError

from gateway import db
from gateway.tip_forms import read_body
from gateway.tips import intake, replies

log = logging.getLogger("loa.tips")
bp = Blueprint("tips_public", __name__)

MAX_BODY_CHARS = 2000
MAX_REQUEST_BYTES = 16 * 1024
RATE_LIMIT = 5  # tips per client …
RATE_WINDOW = 600  # … per this many seconds


def _rate_limited() -> bool:
    """Count this post against the client's address; True when over the limit."""
    slot = int(time.time() // RATE_WINDOW)
    key = f"loa:tipform:{request.remote_addr or '-'}:{slot}"
    try:
        r = db.redis()
        pipe = r.pipeline()
        pipe.incr(key)
        pipe.expire(key, RATE_WINDOW * 2)
        count = int(pipe.execute()[0])
    except (RedisError, OSError) as exc:
        log.warning("tip form rate limiter unavailable (%s); allowing", type(exc).__name__)
        return False
    return count > RATE_LIMIT


def _form(errors: list[str], status: int = 200) -> Any:
    return render_template(
        "tips/public_form.html",
        errors=errors,
        body=request.form.get("body", "")[: MAX_BODY_CHARS * 2],
        phone=request.form.get("phone", "")[:40],
        max_chars=MAX_BODY_CHARS,
    ), status


@bp.route("/bao-tin", methods=["GET", "POST"])
@bp.route("/report", methods=["GET", "POST"])
def form() -> Any:
    """Show the form; on POST store the tip and show the confirmation."""
    if request.method == "GET":
        return _form([])
    body, errors = read_body(
        MAX_REQUEST_BYTES, MAX_BODY_CHARS, _("Vui lòng nhập nội dung tin báo.")
    )
    raw_phone = request.form.get("phone", "").strip()
    sender, reachable = intake.sender_of(raw_phone) if raw_phone else (None, False)
    if raw_phone and not reachable:
        errors.append(_("Số điện thoại không hợp lệ. Bạn có thể để trống để báo tin ẩn danh."))
    if errors:
        return _form(errors, 400)
    if _rate_limited():
        # The text stays in the form: the citizen can retry later or call instead.
        return _form(
            [
                _(
                    "Bạn đã gửi nhiều tin trong ít phút. Vui lòng thử lại sau ít phút, "
                    "hoặc gọi ngay 113 (Công an) hay 111 (miễn phí, 24/7)."
                )
            ],
            429,
        )
    s = db.session()
    line = db.tipline()
    tip, _created = intake.store_tip(s, line, channel="web", body=body, given_phone=sender)
    reply_ids = []
    if sender and request.form.get("confirm_sms"):
        reply = replies.queue_reply(
            s,
            to_phone=sender,
            body=replies.ack_text(line.settings),
            kind=replies.ACK,
            tip_id=tip.id,
        )
        reply_ids = [reply.id] if reply else []
    s.commit()
    intake.notify_after_commit(line, tip, reply_ids)
    return redirect(url_for("tips_public.thanks"))


@bp.get("/bao-tin/da-nhan")
def thanks() -> Any:
    """The confirmation, with 111 and 113 (it shows nothing of the tip)."""
    return render_template("tips/public_thanks.html")


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
