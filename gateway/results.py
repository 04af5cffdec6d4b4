"""The department's results report for a period (issue 13): broadcasts of both routes and their
reach, tips by channel, queue, area and week, and how tips were handled and how fast.

Decisions:
- Figures only: no tip text, no number, no name of a tipster ever enters the report.
- Reach keeps its two sources apart: ``accepted_by_smsc`` counts Loa's own deliveries the
  operator's SMSC accepted (sent or delivered), ``reported_by_operators`` the subscribers the
  operators said their own sending reached. They are never added together.
- A campaign belongs to the period by the day it went out (Loa's: launched; the operators':
  their sending day). Tips belong by the time they arrived; weeks start on Monday, local time.
- Time to first action is from a tip's arrival to the first step a person took on it
  (acknowledged, assigned, noted, replied, handed off, closed); tips nobody has touched count as
  not yet acted on.
"""

from __future__ import annotations

import datetime as dt
import math
import statistics
from collections import Counter
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from campaigns import delegation, lifecycle, localtime
from campaigns import statuses as st
from campaigns.models import Area, Campaign, Contact, Delivery
from campaigns.text import fold
from gateway.tips import states
from gateway.tips.models import Tip, TipEvent

ACCEPTED = (st.SENT, st.DELIVERED)
MAX_DAYS = 731  # two years: a plan's period, or a year compared with the last


class PeriodError(ValueError):
    """The period asked for cannot be read; the message says why."""


def plan_period(today: dt.date) -> tuple[dt.date, dt.date]:
    """The plan's peak (1 July – 30 September) of this year, or of last year before July."""
    year = today.year if today.month >= 7 else today.year - 1
    return dt.date(year, 7, 1), dt.date(year, 9, 30)


def read_period(args: Any) -> tuple[dt.date, dt.date]:
    """``from`` and ``to`` (YYYY-MM-DD) from a query; the plan's peak when both are absent.

    Raises:
        PeriodError: a date that cannot be read, ``from`` after ``to``, or a period too long.
    """
    raw_from, raw_to = args.get("from", "").strip(), args.get("to", "").strip()
    if not raw_from and not raw_to:
        return plan_period(dt.datetime.now(localtime.zone()).date())
    try:
        since, until = dt.date.fromisoformat(raw_from), dt.date.fromisoformat(raw_to)
    except ValueError:
        raise PeriodError(str(_("Cần hai ngày from và to dạng YYYY-MM-DD."))) from None
    if since > until:
        raise PeriodError(str(_("Ngày bắt đầu phải trước ngày kết thúc.")))
    if (until - since).days > MAX_DAYS:
        raise PeriodError(str(_("Kỳ báo cáo dài tối đa %(n)d ngày.", n=MAX_DAYS)))
    return since, until


RESOLUTIONS = states.RESOLUTIONS
UNKNOWN = ""  # the key of an unknown area or carrier


def period_bounds(since: dt.date, until: dt.date) -> tuple[dt.datetime, dt.datetime]:
    """The UTC instants of the local days ``since`` (from its start) to ``until`` (to its end)."""
    zone = localtime.zone()
    start = dt.datetime.combine(since, dt.time(), tzinfo=zone)
    end = dt.datetime.combine(until + dt.timedelta(days=1), dt.time(), tzinfo=zone)
    return start.astimezone(dt.UTC), end.astimezone(dt.UTC)


def _local_day(at: dt.datetime | None) -> dt.date | None:
    return at.astimezone(localtime.zone()).date() if at else None


def week_start(day: dt.date) -> dt.date:
    return day - dt.timedelta(days=day.weekday())


def build(session: Session, since: dt.date, until: dt.date) -> dict[str, Any]:
    """The whole report for the local days ``since``..``until`` (inclusive), JSON-ready."""
    start, end = period_bounds(since, until)
    campaigns = _campaigns(session, start, end)
    reach_area, reach_operator = _reach(session, campaigns)
    tips = _tips(session, start, end)
    broadcast_weeks = {week_start(c["day"]) for c in campaigns if c["day"] is not None}
    weeks = []
    week = week_start(since)
    while week <= until:
        weeks.append(
            {
                "week_start": week.isoformat(),
                "tips": tips["by_week"].get(week, 0),
                "broadcast": week in broadcast_weeks,
            }
        )
        week += dt.timedelta(days=7)
    return {
        "period": {"from": since.isoformat(), "to": until.isoformat()},
        "campaigns": [
            {
                **{k: v for k, v in c.items() if k not in ("day", "reach")},
                "day": c["day"].isoformat() if c["day"] else None,
            }
            for c in campaigns
        ],
        "reach_by_area": reach_area,
        "reach_by_operator": reach_operator,
        "tips": {
            "total": tips["total"],
            "by_channel": tips["by_channel"],
            "by_queue": tips["by_queue"],
            "by_area": tips["by_area"],
            "by_week": weeks,
        },
        "handling": _handling(session, start, end),
    }


def _campaigns(session: Session, start: dt.datetime, end: dt.datetime) -> list[dict[str, Any]]:
    """The broadcasts that went out in the period, oldest first, with their reach."""
    direct = session.scalars(
        select(Campaign).where(
            Campaign.route != delegation.ROUTE_OPERATORS,
            Campaign.launched_at >= start,
            Campaign.launched_at < end,
        )
    ).all()
    delegated = session.scalars(
        select(Campaign).where(
            Campaign.route == delegation.ROUTE_OPERATORS,
            Campaign.status.in_((lifecycle.REQUESTED, lifecycle.COMPLETED)),
            Campaign.scheduled_at >= start,
            Campaign.scheduled_at < end,
        )
    ).all()
    accepted: Counter[int] = Counter()
    delivered: Counter[int] = Counter()
    for campaign_id, status, n in session.execute(
        select(Delivery.campaign_id, Delivery.status, func.count())
        .where(Delivery.campaign_id.in_([c.id for c in direct]), Delivery.status.in_(ACCEPTED))
        .group_by(Delivery.campaign_id, Delivery.status)
    ):
        accepted[campaign_id] += int(n)
        if status == st.DELIVERED:
            delivered[campaign_id] += int(n)
    rows: list[dict[str, Any]] = [
        {
            "id": c.id,
            "name": c.name,
            "route": delegation.ROUTE_LOA,
            "status": c.status,
            "day": _local_day(c.launched_at),
            "segments_per_message": c.segments_per_message,
            "accepted_by_smsc": int(accepted.get(c.id, 0)),
            "delivered": int(delivered.get(c.id, 0)),
            "reported_by_operators": None,
        }
        for c in direct
    ]
    for c in delegated:
        reach = delegation.reach(session, c.id)
        rows.append(
            {
                "id": c.id,
                "name": c.name,
                "route": delegation.ROUTE_OPERATORS,
                "status": c.status,
                "day": _local_day(c.scheduled_at),
                "segments_per_message": c.segments_per_message,
                "accepted_by_smsc": None,
                "delivered": None,
                "reported_by_operators": reach.total,
                "operators": {
                    r.operator.code: {"status": r.status, "reached": r.reached_total}
                    for r in reach.by_operator
                },
                "reach": reach,  # read once, also for the reach by area and operator
            }
        )
    return sorted(rows, key=lambda r: (r["day"] or dt.date.max, r["id"]))


def _reach(
    session: Session, campaigns: list[dict[str, Any]]
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Reach by area and by operator, each source in its own column."""
    direct_ids = [c["id"] for c in campaigns if c["route"] == delegation.ROUTE_LOA]
    by_area: dict[str, dict[str, int]] = {}
    by_operator: dict[str, dict[str, int]] = {}
    if direct_ids:
        area_rows = session.execute(
            select(Area.name, func.count())
            .select_from(Delivery)
            .outerjoin(Contact, Contact.id == Delivery.contact_id)
            .outerjoin(Area, Area.id == Contact.district_id)
            .where(Delivery.campaign_id.in_(direct_ids), Delivery.status.in_(ACCEPTED))
            .group_by(Area.name)
        )
        for name, n in area_rows:
            by_area.setdefault(name or UNKNOWN, {})["accepted_by_smsc"] = int(n)
        carrier_rows = session.execute(
            select(Contact.carrier, func.count())
            .select_from(Delivery)
            .outerjoin(Contact, Contact.id == Delivery.contact_id)
            .where(Delivery.campaign_id.in_(direct_ids), Delivery.status.in_(ACCEPTED))
            .group_by(Contact.carrier)
        )
        for carrier, n in carrier_rows:
            by_operator.setdefault(carrier or UNKNOWN, {})["accepted_by_smsc"] = int(n)
    names = {fold(o.name): o.name for o in delegation.operators(session, active_only=False)}
    for c in campaigns:
        if c["route"] != delegation.ROUTE_OPERATORS:
            continue
        reach = c.get("reach") or delegation.reach(session, c["id"])
        for area, per_operator in reach.by_area.items():
            row = by_area.setdefault(area, {})
            row["reported_by_operators"] = row.get("reported_by_operators", 0) + sum(
                per_operator.values()
            )
        unplaced = sum(reach.unplaced.values())
        if unplaced:
            row = by_area.setdefault(UNKNOWN, {})
            row["reported_by_operators"] = row.get("reported_by_operators", 0) + unplaced
        for r in reach.by_operator:
            if r.reached_total is not None:
                name = names.get(fold(r.operator.name), r.operator.name)
                row = by_operator.setdefault(name, {})
                row["reported_by_operators"] = row.get("reported_by_operators", 0) + r.reached_total

    def listed(table: dict[str, dict[str, int]], key: str) -> list[dict[str, Any]]:
        return [
            {
                key: name,
                "accepted_by_smsc": row.get("accepted_by_smsc", 0),
                "reported_by_operators": row.get("reported_by_operators", 0),
            }
            for name, row in sorted(table.items(), key=lambda kv: (kv[0] == UNKNOWN, kv[0]))
        ]

    return listed(by_area, "area"), listed(by_operator, "operator")


def _tips(session: Session, start: dt.datetime, end: dt.datetime) -> dict[str, Any]:
    """Counts of the tips that arrived in the period (merged duplicates count once)."""
    district = func.coalesce(Tip.district_id, Contact.district_id)
    rows = session.execute(
        select(Tip.channel, Tip.queue, Area.name, Tip.received_at)
        .select_from(Tip)
        .outerjoin(Contact, Contact.phone == Tip.sender)
        .outerjoin(Area, Area.id == district)
        .where(Tip.received_at >= start, Tip.received_at < end, Tip.merged_into_id.is_(None))
    ).all()
    channels: Counter[str] = Counter()
    queues: Counter[str] = Counter()
    areas: Counter[str] = Counter()
    weeks: Counter[dt.date] = Counter()
    zone = localtime.zone()
    for channel, queue, area, received in rows:
        channels[channel] += 1
        queues[queue] += 1
        areas[area or UNKNOWN] += 1
        weeks[week_start(received.astimezone(zone).date())] += 1
    return {
        "total": len(rows),
        "by_channel": dict(sorted(channels.items())),
        "by_queue": dict(sorted(queues.items())),
        "by_area": dict(sorted(areas.items(), key=lambda kv: (kv[0] == UNKNOWN, kv[0]))),
        "by_week": dict(weeks),
    }


def _minutes(seconds: list[float], share: float) -> float | None:
    if not seconds:
        return None
    if share == 0.5:
        return round(statistics.median(seconds) / 60, 1)
    ordered = sorted(seconds)  # nearest rank: the smallest value with ``share`` at or below it
    return round(ordered[max(0, math.ceil(share * len(ordered)) - 1)] / 60, 1)


def _handling(session: Session, start: dt.datetime, end: dt.datetime) -> dict[str, Any]:
    """How the period's tips were closed, and how fast a person first acted, by queue."""
    in_period = (Tip.received_at >= start) & (Tip.received_at < end) & Tip.merged_into_id.is_(None)
    resolutions = dict(
        session.execute(
            select(Tip.resolution, func.count()).where(in_period).group_by(Tip.resolution)
        ).all()
    )
    first = (
        select(TipEvent.tip_id, func.min(TipEvent.at).label("first_at"))
        .where(TipEvent.actor_id.is_not(None))
        .group_by(TipEvent.tip_id)
        .subquery()
    )
    rows = session.execute(
        select(Tip.queue, Tip.received_at, first.c.first_at)
        .outerjoin(first, first.c.tip_id == Tip.id)
        .where(in_period)
    ).all()
    per_queue: dict[str, list[float]] = {}
    counts: Counter[str] = Counter()
    for queue, received, first_at in rows:
        counts[queue] += 1
        if first_at is not None:
            per_queue.setdefault(queue, []).append(max(0.0, (first_at - received).total_seconds()))
    return {
        "by_resolution": {r: int(resolutions.get(r, 0)) for r in RESOLUTIONS},
        "open": int(resolutions.get(None, 0)),
        "first_action": [
            {
                "queue": queue,
                "tips": counts[queue],
                "acted": len(per_queue.get(queue, [])),
                "median_minutes": _minutes(per_queue.get(queue, []), 0.5),
                "p90_minutes": _minutes(per_queue.get(queue, []), 0.9),
            }
            for queue in sorted(counts)
        ],
    }


def beside(
    session: Session, campaign: Campaign, since: dt.datetime, until: dt.datetime
) -> dict[str, Any]:
    """A delegated campaign's reported reach beside what Loa's own broadcasts launched between
    ``since`` and ``until`` had accepted by an SMSC, by area and by operator (two columns, never
    added): ``{"campaigns": [names], "reach_by_area": [...], "reach_by_operator": [...]}``."""
    own = [c for c in _campaigns(session, since, until) if c["route"] == delegation.ROUTE_LOA]
    this = {"id": campaign.id, "route": delegation.ROUTE_OPERATORS}
    by_area, by_operator = _reach(session, [*own, this])
    return {
        "campaigns": [c["name"] for c in own],
        "reach_by_area": by_area,
        "reach_by_operator": by_operator,
    }
