"""Live progress, the final report and the CSV export of one campaign's deliveries.

Adds its views to the ``campaigns`` blueprint (imported by ``campaigns.init_app``). The figures
come from ``campaigns.reports``; this module only shapes them for pages and JSON.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Iterator
from typing import Any

from flask import Response, current_app, jsonify, render_template, stream_with_context
from flask_babel import gettext as _

from campaigns import delegation, localtime, reports, statuses
from campaigns.db import utcnow
from campaigns.models import Campaign
from campaigns.phones import mask
from campaigns.text import spreadsheet_safe
from gateway import audit, db, labels, results
from gateway.admin import campaign_figures as figures
from gateway.admin import charts
from gateway.admin.campaigns import bp, campaign_or_404, status_label
from gateway.admin.contacts import shows_full_numbers
from gateway.auth import require
from gateway.i18n import local_time
from gateway.tips.area_links import delegated_tip_counts
from gateway.tips.links import campaign_tip_counts

STATUS_LABELS: dict[str, Any] = labels.DELIVERY_STATUS_LABELS
SKIP_LABELS: dict[str, Any] = labels.SKIP_REASON_LABELS
CSV_BATCH = 1000


def _settings() -> Any:
    return current_app.config["LOA_SETTINGS"]


def progress_data(campaign: Campaign) -> dict[str, Any]:
    """The live figures of a campaign, JSON-ready (times in ISO 8601 UTC)."""
    now = utcnow()
    live = figures.progress(db.session(), campaign, now=now)
    opening = live["next_opening"]
    return {
        "campaign_id": campaign.id,
        "status": campaign.status,
        "status_label": str(status_label(campaign.status)),
        "paused_reason": campaign.paused_reason,
        # Only a paused campaign has a paused reason to show (a cancelled one keeps no pause).
        "paused_reason_label": labels.paused_reason(campaign.paused_reason)
        if campaign.status == "paused"
        else "",
        **live,
        "next_opening_local": local_time(dt.datetime.fromisoformat(opening)) if opening else "",
    }


@bp.get("/<int:campaign_id>/progress")
@require("campaigns.view")
def progress(campaign_id: int) -> Any:
    """Live progress; progress.js refreshes it from ``progress.json``."""
    campaign = campaign_or_404(campaign_id)
    return render_template(
        "campaigns/campaign_progress.html",
        campaign=campaign,
        data=progress_data(campaign),
        status_labels=STATUS_LABELS,
        default_rate=_settings().rate_per_second,
    )


@bp.get("/<int:campaign_id>/progress.json")
@require("campaigns.view")
def progress_json(campaign_id: int) -> Any:
    """Counts, rate, ETA, window state, errors by code and paused reason, as JSON."""
    resp = jsonify(progress_data(campaign_or_404(campaign_id)))
    resp.headers["Cache-Control"] = "no-store"
    return resp


def _delivery_series() -> charts.Series:
    return [
        (statuses.DELIVERED, str(STATUS_LABELS[statuses.DELIVERED]), charts.GREEN),
        (statuses.SENT, str(STATUS_LABELS[statuses.SENT]), charts.BLUE),
        (statuses.FAILED, _("Lỗi hoặc không giao được"), charts.RED),
        (statuses.UNKNOWN, str(STATUS_LABELS[statuses.UNKNOWN]), charts.ORANGE),
    ]


def _merged(rows: dict[str, dict[str, int]]) -> dict[str, dict[str, int]]:
    """Undelivered counted with failed: the chart has one colour for "did not arrive"."""
    out = {}
    for name, counts in rows.items():
        merged = dict(counts)
        merged[statuses.FAILED] = merged.get(statuses.FAILED, 0) + merged.pop(
            statuses.UNDELIVERED, 0
        )
        out[_("Chưa rõ") if name in ("", reports.NONE_KEY) else name] = merged
    return out


def report_charts(campaign_id: int, by_district: dict[str, dict[str, int]]) -> dict[str, Any]:
    """The report's two pictures: deliveries by district and over time (local hours)."""
    offset = localtime.zone().utcoffset(dt.datetime.now())
    minutes = int(offset.total_seconds() // 60) if offset else 0
    hours = reports.over_time(db.session(), campaign_id, minutes)
    series = _delivery_series()
    return {
        "by_district": charts.stacked_bars(
            _("Tin theo huyện/thị xã"), _merged(by_district), series, _("tin")
        ),
        "over_time": charts.columns(
            _("Tin gửi đi theo giờ (giờ Việt Nam)"), _merged(hours), series
        ),
        "hours": _merged(hours),
        "series": series,
    }


@bp.get("/<int:campaign_id>/report")
@require("campaigns.view")
def report(campaign_id: int) -> Any:
    """The final report: counts that add up to the audience, breakdowns, cost and tips."""
    campaign = campaign_or_404(campaign_id)
    s = db.session()
    if delegation.is_delegated(campaign):
        tips = delegated_tip_counts(s, campaign, _settings().tip_link_days)
        window = delegation.broadcast_window(campaign, _settings().tip_link_days)
        return render_template(
            "campaigns/delegated_report.html",
            campaign=campaign,
            reach=delegation.reach(s, campaign.id),
            beside=results.beside(s, campaign, *window) if window else None,
            tips=tips,
            request_labels=labels.OPERATOR_REQUEST_LABELS,
        )
    data = reports.summary(s, campaign.id, _settings().price_per_segment)
    skipped = {
        key.removeprefix("skipped_"): n
        for key, n in data["counts"].items()
        if key.startswith("skipped_")
    }
    return render_template(
        "campaigns/campaign_report.html",
        campaign=campaign,
        report=data,
        total=reports.total(data["counts"]),
        skipped=skipped,
        tips=campaign_tip_counts(s, campaign.id),
        charts=report_charts(campaign.id, data["by_district"]),
        status_labels=STATUS_LABELS,
        skip_labels=SKIP_LABELS,
    )


CSV_HEADER = (
    "delivery_id",
    "phone",
    "status",
    "skip_reason",
    "error_code",
    "carrier",
    "district",
    "segments",
    "attempts",
    "sent_at",
    "finished_at",
)


@bp.get("/<int:campaign_id>/deliveries.csv")
@require("campaigns.view")
def deliveries_csv(campaign_id: int) -> Any:
    """Every delivery of the campaign as CSV, streamed; the export is audited.

    Numbers are in full only for contact managers, as on every page.
    """
    campaign = campaign_or_404(campaign_id)
    full = shows_full_numbers()
    audit.record(
        "campaign.export_deliveries",
        object_type="campaign",
        object_id=campaign.id,
        details={"full_numbers": full},
    )
    db.session().commit()
    engine = db.engine()

    def rows() -> Iterator[str]:
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        buffer.write("\ufeff")  # a BOM, so Excel reads the Vietnamese names as UTF-8
        writer.writerow(CSV_HEADER)
        # A connection of its own: the request's session is closed once the view returns.
        with engine.connect() as conn:
            for row in figures.iter_deliveries(conn, campaign.id, batch=CSV_BATCH):
                values = list(row)
                may_show, values[3] = statuses.staff_view(values[1], values[3])
                values[1] = values[1] if full and may_show else mask(values[1])
                writer.writerow(["" if v is None else spreadsheet_safe(v) for v in values])
                if buffer.tell() > 64 * 1024:
                    yield buffer.getvalue()
                    buffer.seek(0)
                    buffer.truncate()
        yield buffer.getvalue()

    return Response(
        stream_with_context(rows()),
        mimetype="text/csv",
        headers={
            "Content-Disposition": f'attachment; filename="campaign-{campaign.id}-deliveries.csv"',
            "Cache-Control": "no-store",
        },
    )
