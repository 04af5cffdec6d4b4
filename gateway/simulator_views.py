"""The citizen phone: a page that plays a citizen's handset against the simulator provider.

A person picks a number, reads what Loa sent to it (the simulator's outbox, newest first) and
replies as that citizen. The reply enters Loa exactly as a provider's inbound SMS would
(``gateway.tips.intake.receive_inbound``), and the acknowledgement appears in the thread.

A demo and testing tool: never registered in production; for admins only (``simulator.use``).
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Flask, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select

from campaigns import statuses
from campaigns.phones import mask, normalize
from gateway import audit, db
from gateway.auth import require
from gateway.providers import InboundMessage
from gateway.providers.simulator import IN, OUT, SimulatorMessage, new_message_id
from gateway.tips.intake import receive_inbound
from gateway.web import register_nav

bp = Blueprint("simulator", __name__, url_prefix="/simulator")

MAX_BODY = 1600  # ten concatenated segments: more than any handset sends at once
THREAD_SIZE = 100
RECENT_NUMBERS = 30
LOA_SENDER = "Loa"


def _number(raw: str) -> str | None:
    """The number as E.164 when it parses, else the trimmed text (a foreign or odd sender)."""
    raw = raw.strip()[:32]
    if not raw:
        return None
    return normalize(raw).e164 or raw


def _recent_numbers() -> list[tuple[int, str]]:
    """(newest message id, number) of the numbers with the latest messages."""
    newest = func.max(SimulatorMessage.id)
    rows = db.session().execute(
        select(newest, SimulatorMessage.phone)
        .group_by(SimulatorMessage.phone)
        .order_by(newest.desc())
        .limit(RECENT_NUMBERS)
    )
    return [(int(mid), phone) for mid, phone in rows]


def _chosen(values: Any) -> str | None:
    """The number chosen: by a message of its thread (``m``, keeps it out of URLs) or typed."""
    mid = values.get("m", "")
    if mid.isdigit():
        return db.session().scalar(
            select(SimulatorMessage.phone).where(SimulatorMessage.id == int(mid))
        )
    return _number(values.get("phone", ""))


def _thread(phone: str) -> list[SimulatorMessage]:
    return list(
        db.session().scalars(
            select(SimulatorMessage)
            .where(SimulatorMessage.phone == phone)
            .order_by(SimulatorMessage.id.desc())
            .limit(THREAD_SIZE)
        )
    )


def _page(phone: str | None, error: str | None = None, body: str = "", status: int = 200) -> Any:
    messages = _thread(phone) if phone else []
    return (
        render_template(
            "simulator/phone.html",
            phone=phone,
            masked=mask(phone) if phone else "",
            thread_key=messages[0].id if messages else None,
            recent=[(mid, p, mask(p)) for mid, p in _recent_numbers()],
            messages=messages,
            error=error,
            body=body,
        ),
        status,
    )


@bp.get("")
@require("simulator.use")
def phone() -> Any:
    """The phone: a number picker and, for the chosen number, its SMS thread (audited: it
    shows what that number sent, tips included)."""
    chosen = _chosen(request.args)
    if chosen is not None:
        audit.record("simulator.view", object_type="simulator", details={"phone": mask(chosen)})
        db.session().commit()
    return _page(chosen)


@bp.post("/send")
@require("simulator.use")
def send() -> Any:
    """Send an SMS as the citizen ``phone``: it becomes an inbound message, then a tip."""
    phone_ = _chosen(request.form)
    body = request.form.get("body", "")
    if phone_ is None:
        return _page(None, _("Hãy nhập số điện thoại của người gửi."), body, 400)
    if not body.strip():
        return _page(phone_, _("Tin nhắn trống."), body, 400)
    if len(body) > MAX_BODY:
        return _page(phone_, _("Tin nhắn quá dài (tối đa %(n)d ký tự).", n=MAX_BODY), body, 400)
    s = db.session()
    message_id = new_message_id()
    citizen = SimulatorMessage(
        direction=IN,
        phone=phone_,
        body=body,
        provider_message_id=message_id,
        status="received",
    )
    s.add(citizen)
    audit.record("simulator.sms", object_type="simulator", details={"from": mask(phone_)})
    inbound = InboundMessage(
        provider="simulator", provider_message_id=message_id, sender=phone_, body=body
    )
    ack = receive_inbound(
        s, db.tipline(), inbound
    )  # commits the citizen's message, its tip and the audit
    if ack:
        s.add(
            SimulatorMessage(
                direction=OUT,
                phone=phone_,
                sender=LOA_SENDER,
                body=ack,
                provider_message_id=new_message_id(),
                status=statuses.DELIVERED,
            )
        )
        s.commit()
    return redirect(url_for("simulator.phone", m=citizen.id))


def init_app(app: Flask) -> None:
    """Register the page only outside production, whatever the provider: it shows inbound
    messages and sends as any number."""
    settings = app.config["LOA_SETTINGS"]
    if settings.env == "production":
        return
    app.register_blueprint(bp)
    register_nav(app, "simulator.phone", _l("Điện thoại mô phỏng"), "simulator.use")
