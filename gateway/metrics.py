"""``/metrics`` for Prometheus: queue depths, open tips and running campaigns' deliveries.

Values are read at scrape time from SQL and Redis (the ledger and the queues), so any number of
web copies report the same figures. Scraping needs an admin's bearer token, like every API call.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Flask, Response
from prometheus_client import CollectorRegistry, Gauge, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from sqlalchemy import func, select

from campaigns.models import Campaign, Delivery
from gateway import db, queues
from gateway.auth import require
from gateway.security import csrf
from gateway.tips import states
from gateway.tips.models import Tip

bp = Blueprint("metrics", __name__)
csrf.exempt(bp)


@bp.get("/metrics")
@require("metrics.view", api=True)
def metrics() -> Any:
    """The current figures in Prometheus' text format."""
    registry = CollectorRegistry()
    depth = Gauge("loa_queue_jobs", "Jobs waiting in an RQ queue", ["queue"], registry=registry)
    for name in queues.ALL:
        depth.labels(name).set(queues.queue(name, db.redis()).count)
    s = db.session()
    tips = Gauge(
        "loa_tips",
        "Tips by queue, status and priority",
        ["queue", "status", "priority"],
        registry=registry,
    )
    rows = s.execute(
        select(Tip.queue, Tip.status, Tip.priority, func.count())
        .where(Tip.status.in_(states.OPEN_STATES))  # an index range, not every tip
        .group_by(Tip.queue, Tip.status, Tip.priority)
    )
    for queue, status, priority, n in rows:
        tips.labels(queue, status, priority).set(n)
    deliveries = Gauge(
        "loa_deliveries",
        "Deliveries of running or paused campaigns by status",
        ["campaign", "status"],
        registry=registry,
    )
    by_campaign = s.execute(
        select(Delivery.campaign_id, Delivery.status, func.count())
        .join(Campaign, Campaign.id == Delivery.campaign_id)
        .where(Campaign.status.in_(("running", "paused")))
        .group_by(Delivery.campaign_id, Delivery.status)
    )
    for campaign_id, status, n in by_campaign:
        deliveries.labels(str(campaign_id), status).set(n)
    return Response(generate_latest(registry), mimetype=CONTENT_TYPE_LATEST)


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
