"""Admin pages of broadcast campaigns: list, composer, campaign page and its actions, approval
queue, test send and the global kill switch. Progress and reports live in ``campaign_reports``.

Every decision (who may approve, which action is legal now, what a campaign costs) is the
domain's; these views read forms, call the domain, and show its answer.
"""

from __future__ import annotations

from typing import Any

from flask import (
    Blueprint,
    Flask,
    abort,
    current_app,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select

from campaigns import delegation, fields, lifecycle
from campaigns.db import utcnow
from campaigns.models import Area, Campaign, ContactList
from campaigns.windows import window_of
from gateway import audit, db, jobs, labels, roles
from gateway.admin import campaign_form as forms
from gateway.admin import campaign_panel as panel
from gateway.admin import keyset_page
from gateway.auth import current, require
from gateway.models import User
from gateway.roles import allowed
from gateway.web import register_nav

bp = Blueprint("campaigns", __name__, url_prefix="/campaigns")

TEST_LIST = "Cán bộ thử nghiệm"  # the default seed list of officials for test sends

STATUS_LABELS = labels.CAMPAIGN_STATE_LABELS


def campaign_or_404(campaign_id: int) -> Campaign:
    """The campaign with ``campaign_id``; 404 when there is none."""
    campaign = db.session().get(Campaign, campaign_id)
    if campaign is None:
        abort(404)
    return campaign


@bp.get("/")
@require("campaigns.view")
def index() -> Any:
    """Every campaign, newest first, with its status."""
    status = request.args.get("status", "")
    stmt = select(Campaign).order_by(Campaign.created_at.desc(), Campaign.id.desc())
    if status in STATUS_LABELS:
        stmt = stmt.where(Campaign.status == status)
    rows, after, is_first = keyset_page(
        db.session(), stmt, Campaign.created_at, Campaign.id, scalars=True
    )
    return render_template(
        "campaigns/campaign_list.html",
        campaigns=rows,
        after=after,
        is_first=is_first,
        status=status,
    )


def _choices() -> dict[str, Any]:
    """Lists and areas to pick an audience from."""
    s = db.session()
    areas = list(s.scalars(select(Area).order_by(Area.name)))
    return {
        "all_lists": list(s.scalars(select(ContactList.name).order_by(ContactList.name))),
        "all_districts": [a for a in areas if a.kind in ("district", "town", "city")],
        "all_wards": [a for a in areas if a.kind in ("commune", "ward")],
        "provider_labels": labels.PROVIDER_LABELS,
        "default_provider": current_app.config["LOA_SETTINGS"].provider,
        "route_labels": labels.CAMPAIGN_ROUTE_LABELS,
        "all_operators": delegation.operators(s),
    }


def _composer(form: forms.CampaignForm, campaign: Campaign | None, status: int = 200) -> Any:
    facts = panel.compose_facts(db.session(), form.values) if form.values["body"] else None
    return (
        render_template(
            "campaigns/campaign_form.html",
            form=form,
            campaign=campaign,
            facts=facts,
            sms=forms.sms_info(form.values["body"]),
            local_input=forms.local_input,
            **_choices(),
        ),
        status,
    )


@bp.get("/new")
@require("campaigns.edit")
def new() -> Any:
    """An empty composer."""
    return _composer(forms.empty_form(), None)


@bp.post("/new")
@require("campaigns.edit")
def create() -> Any:
    """Save a new draft ("save"), or show the composer's facts without saving ("preview")."""
    form = forms.read_form(request.form)
    if request.form.get("do") == "preview" or not form.ok:
        return _composer(form, None, 200 if form.ok else 422)
    user = current()
    campaign = Campaign(created_by_id=user.id if user else None, status="draft")
    forms.apply(campaign, form.values)
    s = db.session()
    panel.measure(s, campaign)
    s.add(campaign)
    s.flush()
    audit.record("campaign.create", object_type="campaign", object_id=campaign.id)
    s.commit()
    flash(_("Đã lưu bản nháp."), "success")
    # The campaign's page: its facts and the next step ("Gửi phê duyệt"); "Sửa" goes back.
    return redirect(url_for(".show", campaign_id=campaign.id))


def _editable(campaign: Campaign) -> Any:
    """None when the composer may change ``campaign``, else a redirect to its page."""
    if lifecycle.can(campaign.status, lifecycle.EDIT):
        return None
    flash(_("Chiến dịch đang gửi hoặc đã kết thúc: không sửa được nữa."), "error")
    return redirect(url_for(".show", campaign_id=campaign.id))


@bp.get("/<int:campaign_id>/edit")
@require("campaigns.edit")
def edit(campaign_id: int) -> Any:
    """The composer for a saved campaign, with its facts computed on the server."""
    campaign = campaign_or_404(campaign_id)
    return _editable(campaign) or _composer(forms.from_campaign(campaign), campaign)


@bp.post("/<int:campaign_id>/edit")
@require("campaigns.edit")
def update(campaign_id: int) -> Any:
    """Save ("save"; an approved campaign returns to draft) or preview the typed values."""
    campaign = campaign_or_404(campaign_id)
    refused = _editable(campaign)
    if refused is not None:
        return refused
    form = forms.read_form(request.form)
    if request.form.get("do") == "preview" or not form.ok:
        return _composer(form, campaign, 200 if form.ok else 422)
    user = current()
    assert user is not None
    s = db.session()
    problem = panel.edit(s, campaign, user, form.values)
    if problem is not None:
        s.rollback()
        flash(problem, "error")
        return _composer(form, campaign, 409)
    panel.measure(s, campaign)
    audit.record("campaign.edit", object_type="campaign", object_id=campaign.id)
    s.commit()
    flash(_("Đã lưu bản nháp."), "success")
    return redirect(url_for(".show", campaign_id=campaign.id))


@bp.post("/sms-info")
@require("campaigns.view")
def sms_info() -> Any:
    """Encoding, segments and the characters forcing UCS-2 of the posted ``text`` (JSON)."""
    text = request.form.get("text")
    if text is None and request.is_json:
        payload = request.get_json(silent=True)
        text = payload.get("text") if isinstance(payload, dict) else None
    if not isinstance(text, str):
        return jsonify(error="bad_request", detail="text is required"), 400
    if len(text) > fields.BODY_MAX:
        return jsonify(error="too_long", detail=f"at most {fields.BODY_MAX} characters"), 413
    return jsonify(forms.sms_info(text))


def _actions(campaign: Campaign) -> list[str]:
    """The lifecycle actions allowed now that the current user's role may take."""
    user = current()
    return [
        a
        for a in panel.actions_for(campaign)
        if user is not None and allowed(user.role, panel.ACTION_PERMISSIONS[a])
    ]


@bp.get("/approvals")
@require("campaigns.view")
def approvals() -> Any:
    """Campaigns waiting for approval, with text, audience size, segments and cost."""
    s = db.session()
    rows = list(
        s.scalars(
            select(Campaign)
            .where(Campaign.status == panel.PENDING_APPROVAL)
            .order_by(Campaign.updated_at)
        )
    )
    items = [(c, {**panel.approval_facts(s, c), "actions": _actions(c)}) for c in rows]
    return render_template("campaigns/approval_list.html", items=items)


@bp.get("/<int:campaign_id>")
@require("campaigns.view")
def show(campaign_id: int) -> Any:
    """A campaign: its text, audience, schedule, status and the actions allowed now; for a
    delegated campaign, its operators, letters and follow-up."""
    campaign = campaign_or_404(campaign_id)
    s = db.session()
    user = current()
    lists = list(s.scalars(select(ContactList.name).order_by(ContactList.name)))
    may_edit = user is not None and allowed(user.role, "campaigns.edit")
    launching = panel.launching(campaign)
    actions = [a for a in _actions(campaign) if not (launching and a == lifecycle.LAUNCH)]
    return render_template(
        "campaigns/campaign_detail.html",
        campaign=campaign,
        launching=launching,
        cancel_reason=panel.cancel_reason(s, campaign),
        actions=actions,
        sms=forms.sms_info(campaign.body),
        facts=panel.compose_facts(s, forms.from_campaign(campaign).values),
        author=s.get(User, campaign.created_by_id) if campaign.created_by_id else None,
        approver=s.get(User, campaign.approved_by_id) if campaign.approved_by_id else None,
        test_lists=lists,
        test_list_default=TEST_LIST if TEST_LIST in lists else (lists[0] if lists else ""),
        can_test=may_edit,
        can_override_window=user is not None and user.role == roles.ADMIN,
        can_edit=may_edit and lifecycle.can(campaign.status, lifecycle.EDIT),
        **panel.delegated_page(s, campaign, user),
        can_change_rate=user is not None
        and allowed(user.role, "campaigns.operate")
        and campaign.status in (lifecycle.RUNNING, lifecycle.PAUSED),
        default_rate=current_app.config["LOA_SETTINGS"].rate_per_second,
        provider_labels=labels.PROVIDER_LABELS,
    )


@bp.post("/<int:campaign_id>/actions/<action>")
@require("campaigns.view")
def act(campaign_id: int, action: str) -> Any:
    """Apply a lifecycle action; the domain decides whether it is legal and says why not."""
    if action not in panel.ACTION_PERMISSIONS:
        abort(404)
    user = current()
    assert user is not None  # require() let only a logged-in user through
    if not allowed(user.role, panel.ACTION_PERMISSIONS[action]):
        abort(403)
    campaign = campaign_or_404(campaign_id)
    reason = request.form.get("reason", "").strip()[:500]
    back = request.form.get("back", "")
    # Only a local path: this value comes from the form.
    target = back if back.startswith("/") and not back.startswith("//") else None
    target = target or url_for(".show", campaign_id=campaign_id)
    s = db.session()
    if action == lifecycle.LAUNCH:
        # The dispatch engine moves the campaign to running and materialises its deliveries in
        # one transaction; the page only checks what it can and hands the launch over.
        problem = panel.launch_problem(campaign)
    else:
        problem = panel.transition(s, campaign, action, user, reason)
    if problem is not None:
        s.rollback()
        flash(problem, "error")
        return redirect(target)
    audit.record(
        f"campaign.{action}",
        object_type="campaign",
        object_id=campaign.id,
        details={"reason": reason} if reason else None,
    )
    s.commit()
    if action == lifecycle.LAUNCH:
        jobs.LAUNCH.enqueue(db.redis(), campaign.id, key=(campaign.id,))
    flash(_("Đã thực hiện: %(action)s.", action=panel.ACTION_LABELS[action]), "success")
    return redirect(target)


@bp.post("/<int:campaign_id>/rate")
@require("campaigns.operate")
def change_rate(campaign_id: int) -> Any:
    """Change a running or paused campaign's rate; the engine picks it up at its next chunk."""
    campaign = campaign_or_404(campaign_id)
    s = db.session()
    before = campaign.rate_per_second
    try:
        lifecycle.change_rate(s, campaign, float(request.form.get("rate_per_second", "")))
    except ValueError:
        flash(_("Tốc độ phải là một số."), "error")
    except lifecycle.IllegalTransition as exc:
        s.rollback()
        flash(labels.transition_problem(exc), "error")
    else:
        audit.record(
            "campaign.rate",
            object_type="campaign",
            object_id=campaign.id,
            details={"from": before, "to": campaign.rate_per_second},
        )
        s.commit()
        flash(_("Đã đổi tốc độ."), "success")
    return redirect(url_for(".show", campaign_id=campaign_id))


@bp.post("/<int:campaign_id>/test-send")
@require("campaigns.edit")
def test_send(campaign_id: int) -> Any:
    """Send the draft to a seed list of officials, through the replies lane."""
    campaign = campaign_or_404(campaign_id)
    name = request.form.get("list", TEST_LIST).strip() or TEST_LIST
    s = db.session()
    lst = s.scalar(select(ContactList).where(ContactList.name == name))
    size = (s.scalar(select(func.count()).select_from(panel.members_of(lst.id))) if lst else 0) or 0
    if lst is None or size == 0:
        flash(_("Danh sách thử nghiệm “%(name)s” không có ai.", name=name), "error")
        return redirect(url_for(".show", campaign_id=campaign_id))
    if size > panel.TEST_SEND_MAX:
        flash(_("Danh sách thử nghiệm quá lớn (tối đa %(n)d số).", n=panel.TEST_SEND_MAX), "error")
        return redirect(url_for(".show", campaign_id=campaign_id))
    # Test sends respect the campaign's sending window (legal hours) like the campaign; only
    # an admin may override it, and the override is audited.
    override = request.form.get("override_window") == "1"
    if not window_of(campaign).is_open(utcnow()):
        user = current()
        if not override or user is None or user.role != roles.ADMIN:
            flash(_("Ngoài khung giờ gửi của chiến dịch: không gửi thử."), "error")
            return redirect(url_for(".show", campaign_id=campaign_id), 303)
        audit.record(
            "campaign.test_window_override",
            object_type="campaign",
            object_id=campaign.id,
            details={"list": name, "recipients": size},
        )
    else:
        override = False
    # No RQ retry: a rerun after a failure could only repeat what was sent (each message is
    # claimed; what was left queued is picked up by the replies lane's catch-up).
    job_id = jobs.TEST_SEND.enqueue(
        db.redis(), campaign.id, lst.id, override, key=(campaign.id, lst.id), retry=None
    )
    audit.record(
        "campaign.test_send",
        object_type="campaign",
        object_id=campaign.id,
        details={"list": name, "recipients": size, "job": job_id, "override_window": override},
    )
    s.commit()
    flash(_("Đã xếp lịch gửi thử tới %(n)d số của “%(name)s”.", n=size, name=name), "success")
    return redirect(url_for(".show", campaign_id=campaign_id))


@bp.route("/kill-switch", methods=["GET", "POST"])
@require("campaigns.kill_switch")
def kill_switch() -> Any:
    """Stop every running campaign at once with a recorded reason, or release the stop."""
    s = db.session()
    user = current()
    if request.method == "POST":
        if request.form.get("do") == "release":
            # Recorded first: the domain commits the release together with this event.
            audit.record("kill_switch.release")
            if panel.release_kill_switch(s, user):
                flash(_("Đã gỡ lệnh dừng khẩn cấp."), "success")
            return redirect(url_for(".kill_switch"))
        reason = request.form.get("reason", "").strip()[:500]
        if not reason:
            flash(_("Hãy ghi lý do dừng khẩn cấp."), "error")
            return redirect(url_for(".kill_switch"))
        audit.record("kill_switch.engage", details={"reason": reason})
        paused = panel.engage_kill_switch(s, reason, user)  # commits, with the audit event
        flash(_("Đã dừng khẩn cấp: %(n)d chiến dịch tạm dừng.", n=paused), "success")
        return redirect(url_for(".kill_switch"))
    active = list(s.scalars(select(Campaign).where(Campaign.status.in_(panel.ACTIVE_STATUSES))))
    return render_template(
        "campaigns/kill_switch.html", active=active, switch=panel.kill_switch_state(s)
    )


def init_app(app: Flask) -> None:
    """Register the pages (with the progress and report views) and their menu entries."""
    from gateway.admin import (
        campaign_reports,  # noqa: F401  (adds its routes to bp)
        operator_requests,  # noqa: F401  (adds its routes to bp)
    )

    app.register_blueprint(bp)
    app.jinja_env.globals.update(
        campaign_status_label=status_label,
        action_labels=panel.ACTION_LABELS,
        reason_actions=panel.REASON_ACTIONS,
        launching_label=labels.LAUNCHING_LABEL,
    )
    register_nav(app, "campaigns.index", _l("Chiến dịch"), "campaigns.view")
    register_nav(app, "campaigns.approvals", _l("Chờ phê duyệt"), "campaigns.approve")
    register_nav(app, "campaigns.kill_switch", _l("Dừng khẩn cấp"), "campaigns.kill_switch")


def status_label(status: str) -> str:
    """The Vietnamese name of a campaign status."""
    return str(STATUS_LABELS.get(status, status))
