"""The operators' inbox: per-queue tip lists, a tip's page and the work on it, the live count,
the urgency dashboard, and the case packet with its hand-off.

Views parse input and render; every rule about who may do what to which tip lives in
``gateway.tips.casework``, which the views call for each action.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask import (
    Blueprint,
    Flask,
    Response,
    abort,
    flash,
    jsonify,
    make_response,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import Session

from campaigns import localtime
from campaigns.db import utcnow
from campaigns.models import Area
from campaigns.reports import NONE_KEY
from gateway import audit, db, labels
from gateway.admin import (
    charts,
    day_start_utc,
    keyset_page,
    known_queues,
    local_day,
    packet,
    register_helpers,
)
from gateway.auth import current, require
from gateway.models import User
from gateway.roles import TIP_ROLES, allowed
from gateway.tips import casework, replies, states
from gateway.tips.casework import CaseworkError, InboxFilters, NotAllowed
from gateway.tips.models import Tip, TipEvent, TipNote
from gateway.web import register_nav

bp = Blueprint("inbox", __name__, url_prefix="/inbox")

FILTER_ARGS = (
    "queue",
    "status",
    "priority",
    "channel",
    "district",
    "since",
    "until",
    "q",
    "assigned",
    "unread",
)
CHANNELS = ("sms", "smpp", "http_mo", "web", "call")


def _user() -> User:
    user = current()
    if user is None:  # require() has run; this only narrows the type
        abort(401)
    return user


def _tip(tip_id: int, permission: str = "tips.view") -> Tip:
    """The tip if the current user may ``permission`` it; 404 when missing, 403 out of scope."""
    try:
        return casework.get_tip(db.session(), _user(), tip_id, permission)
    except LookupError:
        abort(404)
    except NotAllowed:
        abort(403)


def _one_of(name: str, choices: Any) -> str:
    value = request.args.get(name, "")
    if value and value not in choices:
        abort(400, description=f"unknown {name}")
    return value


def _filters() -> InboxFilters:
    """The inbox filters from the query string; 400 on a value that cannot be meant."""
    district = request.args.get("district", "")
    if district and not district.isdigit():
        abort(400, description="district is an area id")
    since = local_day(request.args.get("since"))
    until = local_day(request.args.get("until"))
    return InboxFilters(
        queue=request.args.get("queue", "")[:64],
        status=_one_of("status", (*states.STATES, "open")),
        priority=_one_of("priority", states.PRIORITIES),
        channel=_one_of("channel", CHANNELS),
        district_id=int(district) if district else None,
        since=day_start_utc(since) if since else None,
        until=day_start_utc(until + dt.timedelta(days=1)) if until else None,
        search=request.args.get("q", "")[:200],
        assigned=_one_of("assigned", ("me", "none")),
        unread=request.args.get("unread") == "1",
    )


def _queue_tabs(s: Session, user: User) -> list[tuple[str, int]]:
    """The queues the user sees, each with its open-tip count (primary or shared)."""
    queues = casework.visible_queues(user, known_queues(s))
    return list(casework.open_counts(s, user, queues).items())


@bp.get("/")
@require("tips.view")
def tip_list() -> Any:
    """The tips of the user's queues under the chosen filters, newest first."""
    user, s = _user(), db.session()
    filters = _filters()
    rows, after, is_first = keyset_page(
        s, casework.visible_tips_query(s, user, filters), Tip.received_at, Tip.id
    )
    args = {k: request.args[k] for k in FILTER_ARGS if request.args.get(k)}
    return render_template(
        "inbox/tip_list.html",
        rows=rows,
        after=after,
        is_first=is_first,
        args=args,
        tabs=_queue_tabs(s, user),
        districts=s.scalars(select(Area).where(Area.kind != "province").order_by(Area.name)),
        users=_user_names(s),
        channels=CHANNELS,
        **_label_tables(),
    )


@bp.get("/count.json")
@require("tips.view")
def count_json() -> Any:
    """The live counts for the nav badge (polled by inbox.js)."""
    resp = jsonify(casework.inbox_counts(db.session(), _user()))
    resp.headers["Cache-Control"] = "no-store"
    return resp


@bp.get("/dashboard")
@require("tips.view")
def dashboard() -> Any:
    """Counts per queue and state, and the overdue unacknowledged tips (urgent first).

    The block of counts computes them itself (``inbox_dashboard()``, as on the home page): the
    page passing them too counted everything twice."""
    return render_template("inbox/tip_dashboard.html", **_label_tables(), period=_period())


PERIODS = (30, 90, 365)  # days the pictures may cover


def _period() -> dict[str, Any]:
    """Tips per day and per district over the last 30, 90 or 365 days (``?days=``), with the
    days a campaign was sending marked."""
    days = request.args.get("days", type=int)
    days = days if days in PERIODS else 90
    now = utcnow()
    offset = localtime.zone().utcoffset(now.replace(tzinfo=None))
    minutes = int(offset.total_seconds() // 60) if offset else 0
    since = now - dt.timedelta(days=days)
    s, user = db.session(), _user()
    by_day, by_district = casework.tips_over_period(s, user, since, minutes)
    marked = casework.broadcast_days(s, since, minutes)
    series = [
        (p, str(labels.PRIORITY_LABELS[p]), charts.RED if p == states.URGENT else charts.BLUE)
        for p in states.PRIORITIES
    ]
    named = {_("Chưa rõ") if k == NONE_KEY else k: v for k, v in by_district.items()}
    return {
        "days": days,
        "choices": PERIODS,
        "by_day": by_day,
        "by_district": named,
        "marked": sorted(marked & set(by_day)),
        "day_chart": charts.columns(
            _("Tin báo theo ngày"), by_day, series, marked, _("Ngày có chiến dịch gửi tin")
        ),
        "district_chart": charts.stacked_bars(
            _("Tin báo theo huyện/thị xã"), named, series, _("tin báo")
        ),
    }


def dashboard_data() -> dict[str, Any]:
    """What the dashboard block shows for the current user (also usable from home/index.html)."""
    user, s = _user(), db.session()
    return {
        "by_queue": casework.counts_by_queue(s, user),
        "by_priority": casework.open_by_priority(s, user),
        "oldest": casework.oldest_unacknowledged(s, user),
        "overdue": casework.overdue_tips(s, user),
        "now": utcnow(),
        **_label_tables(),
    }


def _label_tables() -> dict[str, Any]:
    return {
        "state_labels": labels.STATE_LABELS,
        "resolution_labels": labels.RESOLUTION_LABELS,
        "priority_labels": labels.PRIORITY_LABELS,
        "channel_labels": labels.CHANNEL_LABELS,
        "event_labels": labels.EVENT_LABELS,
        "reply_kind_labels": labels.REPLY_KIND_LABELS,
        "reply_status_labels": labels.REPLY_STATUS_LABELS,
        "states": states,
    }


def _user_names(s: Session) -> dict[int, str]:
    return {
        uid: name or email for uid, name, email in s.execute(select(User.id, User.name, User.email))
    }


def _problem(exc: CaseworkError) -> str:
    """A casework refusal in the user's language."""
    return labels.casework_problem(exc.code, exc.params, str(exc))


def _render_detail(
    tip: Tip, revealed: str | None = None, error: str | None = None, status: int = 200
) -> Any:
    user, s = _user(), db.session()
    staff = s.scalars(
        select(User).where(User.active.is_(True), User.role.in_(TIP_ROLES)).order_by(User.name)
    )
    resp = make_response(
        render_template(
            "inbox/tip_detail.html",
            tip=tip,
            revealed=revealed,
            error=error,
            may_work=casework.may_work(user, tip),
            may_reveal=allowed(user.role, "tips.reveal"),
            next_states=sorted(states.MOVES.get(tip.status, ()), key=states.STATES.index),
            resolutions=states.RESOLUTIONS,
            assignees=[u for u in staff if casework.may_work(u, tip)],
            notes=s.scalars(
                select(TipNote).where(TipNote.tip_id == tip.id).order_by(TipNote.created_at)
            ).all(),
            events=s.scalars(
                select(TipEvent).where(TipEvent.tip_id == tip.id).order_by(TipEvent.at, TipEvent.id)
            ).all(),
            thread=casework.thread(s, user, tip.sender),
            do_not_contact=casework.is_do_not_contact(s, tip.sender),
            users=_user_names(s),
            queues=known_queues(s),
            **_label_tables(),
        ),
        status,
    )
    # A page with a revealed number must not be kept by the browser or a proxy.
    resp.headers["Cache-Control"] = "no-store"
    return resp


@bp.get("/<int:tip_id>")
@require("tips.view")
def tip_detail(tip_id: int) -> Any:
    """A tip's page; every view is audited and marks the tip read for the user."""
    tip = _tip(tip_id)
    s = db.session()
    casework.record_view(s, _user(), tip)
    s.commit()
    return _render_detail(tip)


def _act(tip_id: int, action: Any, done: str, permission: str = "tips.work") -> Any:
    """Run ``action(session, tip, user)``, commit, and go back to the tip (422 on bad input)."""
    tip = _tip(tip_id, permission)
    s = db.session()
    try:
        action(s, tip, _user())
    except CaseworkError as exc:
        s.rollback()
        return _render_detail(tip, error=_problem(exc), status=422)
    except NotAllowed:
        s.rollback()
        abort(403)
    s.commit()
    flash(done, "success")
    return redirect(url_for("inbox.tip_detail", tip_id=tip.id)), 303


def _form(name: str, limit: int = 5000) -> str:
    return request.form.get(name, "")[:limit]


@bp.post("/<int:tip_id>/transition")
@require("tips.work")
def tip_transition(tip_id: int) -> Any:
    """Move the tip to another state (closing needs a resolution)."""
    to_state, resolution = _form("to", 20), _form("resolution", 30) or None
    return _act(
        tip_id,
        lambda s, tip, user: casework.transition(s, tip, to_state, user, resolution),
        _("Đã cập nhật trạng thái."),
    )


@bp.post("/<int:tip_id>/assign")
@require("tips.work")
def tip_assign(tip_id: int) -> Any:
    """Assign the tip to a colleague who can see it (empty: unassign)."""
    raw = _form("user_id", 12)
    if raw and not raw.isdigit():
        abort(400, description="user_id is a number")
    assignee = db.session().get(User, int(raw)) if raw else None
    if raw and assignee is None:
        abort(400, description="no such user")
    return _act(
        tip_id,
        lambda s, tip, user: casework.assign(s, tip, assignee, user),
        _("Đã phân công."),
    )


@bp.post("/<int:tip_id>/notes")
@require("tips.work")
def tip_note(tip_id: int) -> Any:
    """Add an internal note."""
    body = _form("body")
    return _act(
        tip_id, lambda s, tip, user: casework.add_note(s, tip, user, body), _("Đã ghi chú.")
    )


@bp.post("/<int:tip_id>/reply")
@require("tips.work")
def tip_reply(tip_id: int) -> Any:
    """Send an SMS to the sender through the replies lane (refused for do-not-contact)."""
    body = _form("body", 1000)
    sent: list[int] = []

    def action(s: Session, tip: Tip, user: User) -> None:
        message = casework.reply(s, tip, user, body)
        s.flush()
        sent.append(message.id)

    answer = _act(tip_id, action, _("Đã xếp tin trả lời vào hàng gửi."))
    if sent:  # committed: hand it to the worker (a Redis outage only delays it)
        replies.enqueue_replies(db.redis(), sent)
    return answer


@bp.post("/<int:tip_id>/reveal")
@require("tips.reveal")
def tip_reveal(tip_id: int) -> Any:
    """Show the sender's full number on this answer only, after an audited reason."""
    tip = _tip(tip_id, "tips.reveal")
    s = db.session()
    try:
        number = casework.reveal(s, tip, _user(), _form("reason", 300))
    except CaseworkError as exc:
        s.rollback()
        return _render_detail(tip, error=_problem(exc), status=422)
    s.commit()
    return _render_detail(tip, revealed=number)


@bp.post("/<int:tip_id>/do-not-contact")
@require("tips.work")
def tip_do_not_contact(tip_id: int) -> Any:
    """Mark (value=1) or unmark (value=0) the sender do-not-contact."""
    value, reason = _form("value", 1) != "0", _form("reason", 200)
    return _act(
        tip_id,
        lambda s, tip, user: casework.set_do_not_contact(s, tip, user, value, reason),
        _("Đã cập nhật cờ không liên lạc."),
    )


@bp.post("/<int:tip_id>/legal-hold")
@require("tips.work")
def tip_legal_hold(tip_id: int) -> Any:
    """Put the tip under legal hold (value=1, with a reason) or release it (value=0): retention
    keeps a held tip whole."""
    from gateway import retention

    hold, reason = _form("value", 1) != "0", _form("reason", 300)
    return _act(
        tip_id,
        lambda s, tip, user: retention.set_legal_hold(s, tip, user, hold, reason),
        _("Đã cập nhật lưu giữ phục vụ điều tra."),
    )


@bp.post("/<int:tip_id>/unread")
@require("tips.view")
def tip_unread(tip_id: int) -> Any:
    """Mark the tip unread again for the current user."""
    tip = _tip(tip_id)
    s = db.session()
    casework.mark_unread(s, _user(), tip)
    s.commit()
    return redirect(url_for("inbox.tip_list")), 303


@bp.post("/<int:tip_id>/merge")
@require("tips.work")
def tip_merge(tip_id: int) -> Any:
    """Merge this tip into the primary tip whose number is given; it closes as a duplicate."""
    raw = _form("primary_id", 12).strip().lstrip("#")
    if not raw.isdigit():
        abort(400, description="primary_id is a tip number")
    primary = _tip(int(raw), "tips.work")
    return _act(
        tip_id,
        lambda s, tip, user: casework.merge(s, tip, primary, user),
        _("Đã gộp vào tin báo #%(id)s.", id=primary.id),
    )


# --- the case packet and the hand-off ---------------------------------------------------------


@bp.get("/<int:tip_id>/handoff")
@require("tips.work")
def tip_handoff(tip_id: int) -> Any:
    """The hand-off page: the packet's SHA-256, its downloads and the hand-off form."""
    tip = _tip(tip_id, "tips.work")
    built = packet.build_packet(db.session(), tip, _user(), localtime.zone())
    return render_template(
        "inbox/tip_handoff.html",
        tip=tip,
        packet=built,
        queues=known_queues(db.session()),
        may_reveal=allowed(_user().role, "tips.reveal"),
    )


@bp.route("/<int:tip_id>/packet.xlsx", methods=["GET", "POST"])
@require("tips.work")
def tip_packet(tip_id: int) -> Any:
    """Download the case packet: masked (GET) or, with a reveal reason (POST), with the number."""
    tip = _tip(tip_id, "tips.work")
    user, s = _user(), db.session()
    number = None
    if request.method == "POST":
        if not allowed(user.role, "tips.reveal"):
            abort(403)
        try:
            number = casework.reveal(s, tip, user, _form("reason", 300))
        except CaseworkError as exc:
            s.rollback()
            return _render_detail(tip, error=_problem(exc), status=422)
    built = packet.build_packet(s, tip, user, localtime.zone(), revealed_number=number)
    audit.record(
        "tip.export",
        actor=user,
        object_type="tip",
        object_id=tip.id,
        details={"sha256": built.sha256, "revealed": built.revealed},
    )
    s.commit()
    now = utcnow().astimezone(localtime.zone()).strftime("%d/%m/%Y %H:%M:%S")
    data = packet.to_xlsx(built, f"{user.name} <{user.email}>", now)
    resp = Response(data, mimetype=packet.XLSX_MIME)
    resp.headers["Content-Disposition"] = f'attachment; filename="ho-so-tin-bao-{tip.id}.xlsx"'
    resp.headers["X-Packet-SHA256"] = built.sha256
    resp.headers["Cache-Control"] = "no-store"
    return resp


@bp.post("/<int:tip_id>/hand-off")
@require("tips.work")
def tip_hand_off(tip_id: int) -> Any:
    """Record who the tip was handed to, and when; the tip becomes handed_off."""
    recipient = _form("recipient", 300)
    to_queue = _form("to_queue", 64) or None
    sha = _form("packet_sha256", 64) or None
    if to_queue is not None and to_queue not in known_queues(db.session()):
        abort(400, description="unknown queue")
    if sha is not None and (len(sha) != 64 or any(c not in "0123456789abcdef" for c in sha)):
        abort(400, description="packet_sha256 is 64 hex digits")
    return _act(
        tip_id,
        lambda s, tip, user: casework.hand_off(s, tip, user, recipient, to_queue, sha),
        _("Đã ghi nhận chuyển giao."),
    )


def init_app(app: Flask) -> None:
    register_helpers(app)
    app.register_blueprint(bp)
    register_nav(app, "inbox.tip_list", _l("Hộp thư tin báo"), "tips.view")
    app.jinja_env.globals.setdefault("inbox_dashboard", dashboard_data)
