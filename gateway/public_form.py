"""The public tip form (``/bao-tin``, also ``/report``): no login, no JavaScript, anonymous.

It is the one set of views without ``require``: anybody may report. CSRF stays on (the form
carries the token; a cross-site post is refused), and the request body is capped so a large post
gets 413 before it is read.

A tip is never refused for being one too many. Each client (its address after ``ProxyFix``, see
``LOA_TRUSTED_PROXIES``) may post a few tips per window, and the whole form a few hundred; past
either, the form comes back with the text kept, a signed wait token and "wait N seconds, then
send again". A post with a token that is old enough and not used before is stored. A flood so
costs a round trip and a wait per tip. With Redis down the form stays open, since losing a tip
is worse than spam.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import math
import secrets
import time
from typing import Any

from flask import Blueprint, Flask, current_app, redirect, render_template, request, url_for
from flask_babel import gettext as _
from itsdangerous import BadData, URLSafeTimedSerializer
from redis.exceptions import RedisError

from gateway import db
from gateway.tip_forms import read_body
from gateway.tips import intake, replies

log = logging.getLogger("loa.tips")
bp = Blueprint("tips_public", __name__)

MAX_BODY_CHARS = 2000
MAX_REQUEST_BYTES = 16 * 1024
RATE_LIMIT = 5  # tips per client …
FLOOD_LIMIT = 200  # … or from everybody together …
RATE_WINDOW = 600  # … per this many seconds, before a post must wait
TOKEN_MAX_AGE = 3600  # a wait token older than this earns a new one
WAIT_SALT = "loa-tipform-wait"


def _busy() -> bool:
    """Count this post for its client and for the whole form; True when either is over."""
    slot = int(time.time() // RATE_WINDOW)
    # A keyed hash: no tipster's address sits in Redis.
    secret = str(current_app.config["SECRET_KEY"]).encode()
    client = hmac.new(secret, (request.remote_addr or "-").encode(), hashlib.sha256)
    keys = (f"loa:tipform:{client.hexdigest()[:32]}:{slot}", f"loa:tipform:all:{slot}")
    try:
        pipe = db.redis().pipeline()
        for key in keys:
            pipe.incr(key)
            pipe.expire(key, RATE_WINDOW * 2)
        counts = pipe.execute()
    except (RedisError, OSError) as exc:
        log.warning("tip form rate limiter unavailable (%s); allowing", type(exc).__name__)
        return False
    return int(counts[0]) > RATE_LIMIT or int(counts[2]) > FLOOD_LIMIT


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=WAIT_SALT)


def _new_token() -> str:
    """A wait token: a random nonce, signed with the time it was issued."""
    return str(_serializer().dumps({"n": secrets.token_urlsafe(16)}))


def _still_waiting(token: str) -> tuple[int, str] | None:
    """None when this token lets the post through (and is now spent); else the seconds still to
    wait and the token to send back. A young token goes back unchanged (its clock keeps
    running); a bad, stale or used one earns a new one."""
    wait = current_app.config["LOA_SETTINGS"].tip_form_wait_seconds
    try:
        payload, issued = _serializer().loads(token, max_age=TOKEN_MAX_AGE, return_timestamp=True)
        nonce = str(payload["n"])
    except (BadData, TypeError, KeyError):
        return wait, _new_token()
    left = math.ceil(wait - (time.time() - issued.timestamp()))
    if left > 0:
        return left, token
    try:
        first = db.redis().set(f"loa:tipform:nonce:{nonce}", 1, nx=True, ex=TOKEN_MAX_AGE + 60)
    except (RedisError, OSError):
        return None  # as the limiter: without Redis the form stays open
    return None if first else (wait, _new_token())


def _form(errors: list[str], status: int = 200, wait_token: str | None = None) -> Any:
    if wait_token is None:  # a tipster's token survives a correction of the form
        wait_token = request.form.get("wait_token", "")[:500]
    return render_template(
        "tips/public_form.html",
        errors=errors,
        body=request.form.get("body", "")[: MAX_BODY_CHARS * 2],
        phone=request.form.get("phone", "")[:40],
        confirm_sms=bool(request.form.get("confirm_sms")),
        wait_token=wait_token,
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
    if _busy():
        waiting = _still_waiting(request.form.get("wait_token", ""))
        if waiting is not None:
            seconds, token = waiting
            log.info("tip form busy: a post was asked to wait %d s", seconds)
            # The text stays in the form: the tipster waits, then presses send again.
            message = _(
                "Hệ thống đang nhận nhiều tin. Vui lòng đợi %(n)s giây rồi bấm Gửi lại.", n=seconds
            )
            page, status = _form([message], 429, wait_token=token)
            return page, status, {"Retry-After": str(seconds)}
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
