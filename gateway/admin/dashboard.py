"""The home page's blocks per role (issue 12): campaigns in flight for the campaign team, and
the system's health for an admin. The tip-line block is ``inbox.dashboard_data``.

Each block reads only what it shows: the campaigns in flight (a handful) with their live
figures, the RQ lanes' depths and workers from Redis, the provider errors of the last hour (of
the campaigns in flight or finished within the hour, through the campaign index), and the kill
switch.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask import Flask
from redis.exceptions import RedisError
from rq import Worker
from sqlalchemy import func, or_, select

from campaigns import delegation, lifecycle, localtime
from campaigns.db import utcnow
from campaigns.models import Campaign, Delivery
from gateway import db, labels, queues
from gateway.admin import campaign_figures as figures
from gateway.admin import campaign_panel as panel

IN_FLIGHT = 20  # campaigns shown; the campaign list has the rest
ERRORS_SINCE = dt.timedelta(hours=1)
# A worker whose heartbeat is older than this is shown as silent (RQ beats every few seconds
# while idle, and at least once per job timeout while busy).
SILENT_AFTER = dt.timedelta(minutes=2)


def campaigns_in_flight() -> list[dict[str, Any]]:
    """Running, paused and scheduled campaigns with progress, ETA and the next window."""
    s, now = db.session(), utcnow()
    order = (Campaign.status == lifecycle.RUNNING).desc(), Campaign.id.desc()
    rows = s.scalars(
        select(Campaign)
        .where(Campaign.status.in_(panel.ACTIVE_STATUSES))
        .order_by(*order)
        .limit(IN_FLIGHT)
    )
    shown = []
    for campaign in rows:
        data = figures.progress(s, campaign, now)
        shown.append(
            {
                "campaign": campaign,
                "progress": data,
                "notice": labels.window_notice(campaign.window_start, campaign.window_end, now),
            }
        )
    return shown


def operator_reminders() -> list[delegation.Reminder]:
    """Operators that have not answered a delegated campaign by the date it set."""
    today = utcnow().astimezone(localtime.zone()).date()
    return delegation.reminders(db.session(), today)


def _aware(at: dt.datetime | None) -> dt.datetime | None:
    if at is None:
        return None
    return at if at.tzinfo is not None else at.replace(tzinfo=dt.UTC)


def health() -> dict[str, Any]:
    """Queue depths, workers and their heartbeats, provider errors of the last hour, the kill
    switch. Redis being down is shown, not raised."""
    s, now = db.session(), utcnow()
    lanes: list[dict[str, Any]] = []
    workers: list[dict[str, Any]] = []
    redis_error = None
    try:
        conn = db.redis()
        for name in queues.ALL:
            q = queues.queue(name, conn)
            lanes.append({"name": name, "waiting": q.count, "failed": q.failed_job_registry.count})
        for w in Worker.all(connection=conn):
            beat = _aware(w.last_heartbeat)
            workers.append(
                {
                    "name": w.name,
                    "state": w.get_state(),
                    "lanes": [q.name for q in w.queues],
                    "heartbeat": beat,
                    "silent": beat is None or now - beat > SILENT_AFTER,
                }
            )
    except RedisError as exc:
        redis_error = type(exc).__name__
    since = now - ERRORS_SINCE
    lately = select(Campaign.id).where(
        or_(Campaign.status.in_(panel.ACTIVE_STATUSES), Campaign.completed_at >= since)
    )
    recent = or_(Delivery.finished_at >= since, Delivery.next_attempt_at >= since)
    errors = dict(
        s.execute(
            select(Delivery.error_code, func.count())
            .where(Delivery.campaign_id.in_(lately), Delivery.error_code.is_not(None), recent)
            .group_by(Delivery.error_code)
            .order_by(func.count().desc())
        ).all()
    )
    return {
        "lanes": lanes,
        "workers": sorted(workers, key=lambda w: w["name"]),
        "redis_error": redis_error,
        "errors": errors,
        "kill_switch": panel.kill_switch_state(s),
        "now": now,
    }


def init_app(app: Flask) -> None:
    app.jinja_env.globals.update(
        campaigns_in_flight=campaigns_in_flight,
        operator_reminders=operator_reminders,
        operator_request_label=lambda code: labels.label(labels.OPERATOR_REQUEST_LABELS, code),
        health_dashboard=health,
        lane_label=lambda code: labels.label(labels.LANE_LABELS, code),
        worker_state_label=lambda code: labels.label(labels.WORKER_STATE_LABELS, code),
    )
