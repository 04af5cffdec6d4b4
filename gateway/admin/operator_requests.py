"""A delegated campaign's letters and follow-up, and the department's letter wording.

Adds its views to the ``campaigns`` blueprint (imported by ``campaigns.init_app``). The domain
(``campaigns.delegation``, ``campaigns.letters``) decides; these views read forms and answer.
"""

from __future__ import annotations

from typing import Any

from flask import Response, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _

from campaigns import delegation, letters, lifecycle, operator_reports
from campaigns.areas import AreaIndex
from campaigns.db import utcnow
from campaigns.models import Area, Campaign, LetterTemplate, OperatorRequest
from gateway import audit, db, labels
from gateway.admin import campaign_panel as panel
from gateway.admin.campaigns import bp, campaign_or_404
from gateway.auth import current, require
from gateway.i18n import number

TEMPLATE_FIELDS = (
    ("issuer_parent", 200),
    ("issuer", 200),
    ("symbol", 60),
    ("place", 100),
    ("subject", 500),
    ("opening", 3000),
    ("closing", 3000),
    ("signer_title", 200),
    ("signer_name", 200),
    ("copies_to", 1000),
)


def _request_or_404(campaign: Campaign, request_id: int) -> OperatorRequest:
    req = db.session().get(OperatorRequest, request_id)
    if req is None or req.campaign_id != campaign.id:
        abort(404)
    return req


@bp.get("/<int:campaign_id>/letters/<int:request_id>.<kind>")
@require("campaigns.view")
def letter(campaign_id: int, request_id: int, kind: str) -> Any:
    """One operator's request letter as DOCX or PDF, rendered from its stored text."""
    if kind not in ("docx", "pdf"):
        abort(404)
    campaign = campaign_or_404(campaign_id)
    req = _request_or_404(campaign, request_id)
    if kind == "docx":
        data, mimetype = letters.docx_bytes(req.letter), letters.DOCX_TYPE
    else:
        try:
            font = current_app.config["LOA_SETTINGS"].letter_font
            data, mimetype = letters.pdf_bytes(req.letter, font), letters.PDF_TYPE
        except letters.FontMissing as exc:
            flash(str(exc), "error")
            return redirect(url_for(".show", campaign_id=campaign.id))
    audit.record(
        "campaign.letter_download",
        object_type="campaign",
        object_id=campaign.id,
        details={"operator": req.operator.code, "number": req.letter.get("number"), "as": kind},
    )
    db.session().commit()
    name = f"cong-van-{req.letter_no}-{req.letter_year}-{req.operator.code}.{kind}"
    return Response(
        data,
        mimetype=mimetype,
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


def _figures(form: Any, areas: list[Area]) -> tuple[int | None, dict[int, int]]:
    """The total and the per-area figures typed in the follow-up form."""
    total = delegation.read_count(form.get("reached_total"))
    by_area = {}
    for area in areas:
        n = delegation.read_count(form.get(f"area_{area.id}"))
        if n is not None:
            by_area[area.id] = n
    return total, by_area


@bp.post("/<int:campaign_id>/operators/<int:request_id>")
@require("campaigns.operate")
def follow_up(campaign_id: int, request_id: int) -> Any:
    """Record an operator's answer: acknowledged, sending, reported (with figures), declined.
    When every operator has answered, the campaign is complete."""
    campaign = campaign_or_404(campaign_id)
    req = _request_or_404(campaign, request_id)
    back = redirect(url_for(".show", campaign_id=campaign.id) + "#operators")
    if campaign.status != lifecycle.REQUESTED:
        flash(
            _("Chỉ theo dõi được sau khi đã gửi công văn và trước khi chiến dịch kết thúc."),
            "error",
        )
        return back
    user = current()
    assert user is not None
    s = db.session()
    status = request.form.get("status", "")
    try:
        total, by_area = _figures(request.form, panel.report_areas(db.session(), campaign))
        delegation.advance(
            s,
            req,
            status,
            user.id,
            note=request.form.get("note", "")[:500],
            reached_total=total,
            reached_by_area=by_area,
        )
    except delegation.RequestError as exc:
        s.rollback()
        flash(str(exc), "error")
        return back
    _recorded(campaign, req)
    flash(
        _(
            "Đã cập nhật %(operator)s: %(status)s.",
            operator=req.operator.name,
            status=labels.OPERATOR_REQUEST_LABELS[status],
        ),
        "success",
    )
    return back


@bp.post("/<int:campaign_id>/operators/<int:request_id>/import")
@require("campaigns.operate")
def import_report(campaign_id: int, request_id: int) -> Any:
    """Read an operator's report from its spreadsheet (CSV or XLSX): the subscribers reached,
    in total and by area. The columns used are remembered for that operator."""
    campaign = campaign_or_404(campaign_id)
    req = _request_or_404(campaign, request_id)
    back = redirect(url_for(".show", campaign_id=campaign.id) + "#operators")
    upload = request.files.get("file")
    if campaign.status != lifecycle.REQUESTED or delegation.REPORTED not in delegation.MOVES.get(
        req.status, ()
    ):
        flash(_("Chỉ nhập được báo cáo của nhà mạng đang được theo dõi."), "error")
        return back
    if upload is None or not upload.filename:
        flash(_("Chưa chọn tệp báo cáo của nhà mạng."), "error")
        return back
    s = db.session()
    operator = req.operator
    chosen = {
        key: request.form.get(f"{key}_column", "").strip()[:200]
        for key in (operator_reports.AREA, operator_reports.REACHED)
    }
    mapping = chosen if all(chosen.values()) else dict(operator.column_map or {})
    try:
        report = operator_reports.read_report(
            upload.stream, upload.filename, AreaIndex.load(s), mapping
        )
        delegation.advance(
            s,
            req,
            delegation.REPORTED,
            current_user_id(),
            note=_("Nhập từ tệp %(name)s", name=upload.filename[:100]),
            reached_total=report.total,
            reached_by_area=report.by_area,
        )
    except operator_reports.ReportFileError as exc:
        s.rollback()
        return render_template(
            "campaigns/operator_import.html",
            campaign=campaign,
            req=req,
            message=str(exc),
            headers=exc.headers,
        ), 422
    except delegation.RequestError as exc:
        s.rollback()
        flash(str(exc), "error")
        return back
    operator.column_map = report.mapping
    _recorded(campaign, req)
    flash(
        _(
            "Đã nhập báo cáo của %(operator)s: %(rows)s dòng, %(total)s thuê bao.",
            operator=operator.name,
            rows=report.rows,
            total=number(report.total),
        ),
        "success",
    )
    for problem in report.problems:
        flash(problem, "error")
    return back


def _recorded(campaign: Campaign, req: OperatorRequest) -> None:
    """Audit an operator's answer; complete the campaign once every operator has answered;
    commit."""
    s = db.session()
    audit.record(
        "campaign.operator_update",
        object_type="campaign",
        object_id=campaign.id,
        details={"operator": req.operator.code, "status": req.status, "reached": req.reached_total},
    )
    if delegation.all_answered(s, campaign.id):
        lifecycle.transition(s, campaign, lifecycle.COMPLETE, current())
        audit.record("campaign.complete", object_type="campaign", object_id=campaign.id)
    s.commit()


def current_user_id() -> int | None:
    user = current()
    return user.id if user else None


@bp.route("/letter-template", methods=["GET", "POST"])
@require("campaigns.edit")
def letter_template() -> Any:
    """The department's wording of the request letter, and the operators' addressees."""
    s = db.session()
    wording = delegation.template(s)
    operators = delegation.operators(s, active_only=False)
    values = {key: getattr(wording, key) for key, _limit in TEMPLATE_FIELDS}
    errors: dict[str, str] = {}
    if request.method == "POST":
        values = {key: request.form.get(key, "").strip()[:limit] for key, limit in TEMPLATE_FIELDS}
        errors = _template_problems(values)
        if not errors:
            _save_template(wording, values, operators)
            flash(_("Đã lưu mẫu công văn. Công văn soạn từ nay dùng mẫu mới."), "success")
            return redirect(url_for(".letter_template"))
    return render_template(
        "campaigns/letter_template.html",
        values=values,
        operators=operators,
        errors=errors,
        placeholders=delegation.PLACEHOLDERS,
    ), (422 if errors else 200)


def _template_problems(values: dict[str, str]) -> dict[str, str]:
    errors: dict[str, str] = {}
    for key in ("issuer", "symbol", "subject", "opening"):
        if not values[key]:
            errors[key] = _("Không được để trống.")
    for key in ("subject", "opening", "closing"):
        unknown = delegation.unknown_placeholders(values[key])
        if unknown:
            errors[key] = _(
                "Không hiểu: %(names)s. Dùng được: %(known)s.",
                names=", ".join("{" + u + "}" for u in unknown),
                known=", ".join("{" + p + "}" for p in delegation.PLACEHOLDERS),
            )
    return errors


def _save_template(wording: LetterTemplate, values: dict[str, str], operators: list[Any]) -> None:
    s = db.session()
    user = current()
    if s.get(LetterTemplate, delegation.LETTER_KIND) is None:
        s.add(wording)
    for key, value in values.items():
        setattr(wording, key, value)
    wording.updated_at = utcnow()
    wording.updated_by_id = user.id if user else None
    for op in operators:
        addressee = request.form.get(f"addressee_{op.code}", "").strip()[:300]
        op.addressee = addressee or op.addressee
        op.active = request.form.get(f"active_{op.code}") == "1"
    audit.record("campaigns.letter_template", object_type="letter_template")
    s.commit()
