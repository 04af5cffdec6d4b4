"""The results report for a period (``/reports/ket-qua``): the page, DOCX and XLSX.

The figures come from ``gateway.results`` (the API serves the same as JSON); this module reads
the period from the query, shapes labels and renders the three forms.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask import Blueprint, Flask, Response, abort, render_template, request
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from campaigns import delegation, localtime
from gateway import audit, db, labels, result_files, results
from gateway.admin import charts, queue_label
from gateway.auth import require
from gateway.web import register_nav

bp = Blueprint("reports", __name__, url_prefix="/reports")


def week_chart(report: dict[str, Any]) -> Any:
    """Tips per week, the weeks with a broadcast marked."""
    weeks = report["tips"]["by_week"]
    points = {
        dt.date.fromisoformat(w["week_start"]).strftime("%d/%m"): {"tips": w["tips"]} for w in weeks
    }
    marked = frozenset(
        dt.date.fromisoformat(w["week_start"]).strftime("%d/%m") for w in weeks if w["broadcast"]
    )
    return charts.columns(
        _("Tin báo theo tuần (tuần có chiến dịch được tô nền)"),
        points,
        [("tips", str(_("Tin báo")), charts.BLUE)],
        marked=marked,
        mark_label=_("tuần có chiến dịch"),
    )


def words() -> dict[str, Any]:
    """Labels for the codes the report holds (routes, states, channels, queues, results)."""
    return {
        "route_labels": labels.CAMPAIGN_ROUTE_LABELS,
        "campaign_labels": labels.CAMPAIGN_STATE_LABELS,
        "channel_labels": labels.CHANNEL_LABELS,
        "resolution_labels": labels.RESOLUTION_LABELS,
        "queue_label": queue_label,
    }


def _period_or_error() -> tuple[dt.date, dt.date] | tuple[None, str]:
    try:
        return results.read_period(request.args)
    except results.PeriodError as exc:
        return None, str(exc)


@bp.get("/ket-qua")
@require("reports.results")
def results_page() -> Any:
    """The report on screen, with its period form and the two downloads."""
    since, until = _period_or_error()
    if since is None:
        return render_template("reports/results.html", report=None, error=until, **words()), 422
    assert isinstance(until, dt.date)
    report = results.build(db.session(), since, until)
    labelled = words()
    return render_template(
        "reports/results.html",
        report=report,
        tables=result_files.tables(report, result_files.Texts.from_labels(labelled)),
        chart=week_chart(report),
        error=None,
        **labelled,
    )


@bp.get("/ket-qua.<kind>")
@require("reports.results")
def results_file(kind: str) -> Any:
    """The report as DOCX (administrative layout, tables and a chart) or XLSX (raw figures)."""
    if kind not in ("docx", "xlsx"):
        abort(404)
    since, until = _period_or_error()
    if since is None:
        abort(422, until)
    assert isinstance(until, dt.date)
    s = db.session()
    report = results.build(s, since, until)
    texts = result_files.Texts.from_labels(words())
    if kind == "docx":
        wording = delegation.template(s)
        head = result_files.Heading(
            wording.issuer_parent,
            wording.issuer,
            wording.place,
            wording.signer_title,
            wording.signer_name,
        )
        today = dt.datetime.now(localtime.zone()).date()
        data = result_files.docx_bytes(report, texts, head, today)
        mimetype = result_files.DOCX_TYPE
    else:
        data, mimetype = result_files.xlsx_bytes(report, texts), result_files.XLSX_TYPE
    audit.record(
        "reports.results_download",
        object_type="report",
        details={"from": since.isoformat(), "to": until.isoformat(), "as": kind},
    )
    db.session().commit()
    name = f"bao-cao-ket-qua-{since.isoformat()}-{until.isoformat()}.{kind}"
    return Response(
        data, mimetype=mimetype, headers={"Content-Disposition": f'attachment; filename="{name}"'}
    )


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
    register_nav(app, "reports.results_page", _l("Báo cáo kết quả"), "reports.results")
