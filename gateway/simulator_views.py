"""The citizen phone: a page that plays citizens' handsets against the simulator provider.

A person picks a number and reads what that phone received and sent, taken from Loa's own
records, as an operator would find them: the campaign messages sent to it (deliveries, with
their text rendered as dispatch renders it), the replies and acknowledgements (replies) and the
tips it sent (tips). Test sends leave no per-recipient record in Loa, so they do not show.

Sending as a citizen goes through the simulator provider's inbound parser and the tip line's
intake (``gateway.tips.intake.receive_inbound``), exactly as a Twilio inbound SMS does: the tip
is stored and routed, committed, and acknowledged. The answer a webhook would carry back (the
acknowledgement, or a keyword's confirmation that Loa does not record) is shown once.

A demo and testing tool: never registered in production; for admins only (``simulator.use``).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from flask import Blueprint, Flask, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import aliased

from campaigns import statuses
from campaigns.models import Area, Campaign, Contact, Delivery
from campaigns.phones import mask, normalize
from campaigns.rendering import contact_variables_from_row, render
from gateway import audit, db, labels, webhooks
from gateway.admin.campaign_reports import STATUS_LABELS
from gateway.auth import require
from gateway.providers.simulator import new_message_id
from gateway.tips.intake import receive_inbound
from gateway.tips.models import Reply, Tip
from gateway.web import register_nav

bp = Blueprint("simulator", __name__, url_prefix="/simulator")

MAX_BODY = 1600  # ten concatenated segments: more than any handset sends at once
THREAD_SIZE = 100  # newest items of each kind
RECENT_NUMBERS = 30
RECENT_SCAN = 500  # newest rows of each kind scanned for the picker
LOA_SENDER = "Loa"
IN, OUT = "in", "out"
# A delivery that reached the provider (or may have): what a handset may have received.
HANDED_OVER = (
    statuses.SENT, statuses.DELIVERED, statuses.UNDELIVERED, statuses.FAILED, statuses.UNKNOWN,
)  # fmt: skip
# Keys of the picker and of the hidden field: a record of the thread, so no number is in a URL.
# Key letter -> (the record's id, its number).
KINDS: dict[str, tuple[Any, Any]] = {
    "d": (Delivery.id, Delivery.phone),
    "r": (Reply.id, Reply.to_phone),
    "t": (Tip.id, Tip.sender),
}


@dataclass(frozen=True, slots=True)
class Item:
    """One SMS on the phone's screen."""

    direction: str  # in (the citizen sent it), out (Loa sent it)
    key: str  # d<delivery id>, r<reply id>, t<tip id>
    body: str
    sender: str
    at: dt.datetime
    status: str = ""
    error_code: str | None = None


def _number(raw: str) -> str | None:
    """The number as E.164 when it parses, else the trimmed text (a foreign or odd sender)."""
    raw = raw.strip()[:20]
    if not raw:
        return None
    return normalize(raw).e164 or raw


def _phone_of(key: str) -> str | None:
    """The number of the record ``key`` (``d12``, ``r3``, ``t7``; bare digits: a tip)."""
    kind, ident = (key[:1], key[1:]) if key[:1] in KINDS else ("t", key)
    if not ident.isdigit():
        return None
    id_column, phone_column = KINDS[kind]
    phone: str | None = db.session().scalar(select(phone_column).where(id_column == int(ident)))
    return phone


def _chosen(values: Any) -> str | None:
    """The number chosen: by a record of its thread (``m``, keeps it out of URLs) or typed."""
    key = values.get("m", "")
    if key:
        return _phone_of(key)
    return _number(values.get("phone", ""))


def _recent_numbers() -> list[tuple[str, str]]:
    """(key, number) of the numbers with the latest messages, newest first."""
    s = db.session()
    newest: dict[str, tuple[dt.datetime, str]] = {}
    queries = [
        ("d", select(Delivery.id, Delivery.phone, Delivery.sent_at)
            .where(Delivery.status.in_(HANDED_OVER), Delivery.sent_at.is_not(None))
            .order_by(Delivery.sent_at.desc())),
        ("r", select(Reply.id, Reply.to_phone, Reply.created_at).order_by(Reply.id.desc())),
        ("t", select(Tip.id, Tip.sender, Tip.received_at)
            .where(Tip.provider == "simulator", Tip.sender.is_not(None))
            .order_by(Tip.id.desc())),
    ]  # fmt: skip
    for kind, query in queries:
        for ident, phone, at in s.execute(query.limit(RECENT_SCAN)):
            if phone is None or at is None:
                continue
            if phone not in newest or at > newest[phone][0]:
                newest[phone] = (at, f"{kind}{ident}")
    ranked = sorted(newest.items(), key=lambda kv: kv[1][0], reverse=True)
    return [(key, phone) for phone, (_at, key) in ranked[:RECENT_NUMBERS]]


def _deliveries(phone: str) -> list[Item]:
    """The campaign messages handed over for ``phone``, rendered as dispatch renders them."""
    district, ward = aliased(Area), aliased(Area)
    rows = db.session().execute(
        select(
            Delivery.id, Delivery.status, Delivery.error_code, Delivery.sender, Delivery.sent_at,
            Delivery.updated_at, Campaign.body, Contact.name, district.name, ward.name,
            Contact.carrier,
        )
        .join(Campaign, Campaign.id == Delivery.campaign_id)
        .outerjoin(Contact, Contact.id == Delivery.contact_id)
        .outerjoin(district, district.id == Contact.district_id)
        .outerjoin(ward, ward.id == Contact.ward_id)
        .where(Delivery.phone == phone, Delivery.status.in_(HANDED_OVER))
        .order_by(Delivery.id.desc())
        .limit(THREAD_SIZE)
    )  # fmt: skip
    items = []
    for d_id, status, code, sender, sent_at, updated_at, body, name, dname, wname, carrier in rows:
        variables = contact_variables_from_row(phone, name, dname, wname, carrier)
        items.append(
            Item(OUT, f"d{d_id}", render(body, variables), sender or LOA_SENDER,
                 sent_at or updated_at or dt.datetime.min.replace(tzinfo=dt.UTC),
                 labels.label(STATUS_LABELS, status), code)
        )  # fmt: skip
    return items


def _thread(phone: str) -> list[Item]:
    """What ``phone`` received from Loa and sent to it, newest first."""
    s = db.session()
    replies = s.scalars(
        select(Reply)
        .where(Reply.to_phone == phone)  # staff alerts too: a phone shows all it received
        .order_by(Reply.id.desc())
        .limit(THREAD_SIZE)
    )
    tips = s.scalars(
        select(Tip)
        .where(Tip.sender == phone, Tip.provider == "simulator")
        .order_by(Tip.id.desc())
        .limit(THREAD_SIZE)
    )
    items = _deliveries(phone)
    items += [
        Item(OUT, f"r{r.id}", r.body, LOA_SENDER, r.sent_at or r.created_at,
             labels.label(labels.REPLY_STATUS_LABELS, r.status), r.error_code)
        for r in replies
    ]  # fmt: skip
    items += [Item(IN, f"t{t.id}", t.body, "", t.received_at) for t in tips]
    # A tip and its acknowledgement share a transaction: at equal times the answer is newer.
    items.sort(key=lambda i: (i.at, i.direction == OUT), reverse=True)
    return items[:THREAD_SIZE]


def _page(phone: str | None, error: str | None = None, body: str = "", status: int = 200) -> Any:
    items = _thread(phone) if phone else []
    return (
        render_template(
            "simulator/phone.html",
            phone=phone,
            masked=mask(phone) if phone else "",
            thread_key=items[0].key if items else None,
            recent=[(key, p, mask(p)) for key, p in _recent_numbers()],
            messages=items,
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
    """Send an SMS as the citizen ``phone``: it enters the tip line as any inbound SMS does."""
    phone_ = _chosen(request.form)
    body = request.form.get("body", "")
    if phone_ is None:
        return _page(None, _("Hãy nhập số điện thoại của người gửi."), body, 400)
    if not body.strip():
        return _page(phone_, _("Tin nhắn trống."), body, 400)
    if len(body) > MAX_BODY:
        return _page(phone_, _("Tin nhắn quá dài (tối đa %(n)d ký tự).", n=MAX_BODY), body, 400)
    inbound = webhooks.provider("simulator").parse_inbound(
        {"MessageSid": new_message_id(), "From": phone_, "Body": body}
    )
    s = db.session()
    audit.record("simulator.sms", object_type="simulator", details={"from": mask(phone_)})
    answer = receive_inbound(s, db.tipline(), inbound)  # commits the tip, its ack and the audit
    tip = s.scalar(
        select(Tip.id).where(
            Tip.provider == inbound.provider, Tip.provider_message_id == inbound.provider_message_id
        )
    )
    if tip is None and answer:  # a keyword's confirmation: in the webhook's answer, unrecorded
        flash(_("Loa trả lời: %(text)s", text=answer), "info")
    key = f"t{tip}" if tip is not None else next((i.key for i in _thread(phone_)), None)
    if key is None:
        return _page(phone_)
    return redirect(url_for("simulator.phone", m=key))


def init_app(app: Flask) -> None:
    """Register the page only outside production, whatever the provider: it shows inbound
    messages and sends as any number."""
    settings = app.config["LOA_SETTINGS"]
    if settings.env == "production":
        return
    app.register_blueprint(bp)
    register_nav(app, "simulator.phone", _l("Điện thoại mô phỏng"), "simulator.use")
