"""Who may see which tips, and the inbox queries built on that: one rule, in Python and in SQL.

:func:`may_see` decides for one tip; :func:`scope_condition` is the same rule as an SQL
condition, derived from ``gateway.roles.may_see_queue`` over the queues in use, so the inbox
list, its counts and the per-tip check can never disagree. Nothing here changes a tip (the
state-changing work is in :mod:`gateway.tips.casework`), except that :func:`get_tip` audits
and commits a denied attempt.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field

from sqlalchemy import (
    ColumnElement,
    Select,
    SQLColumnExpression,
    String,
    and_,
    case,
    cast,
    false,
    func,
    or_,
    select,
    true,
)
from sqlalchemy.orm import Session

from campaigns.areas import names_by_id
from campaigns.db import utcnow
from campaigns.models import Campaign
from campaigns.reports import NONE_KEY, local_bucket
from campaigns.text import fold
from gateway import audit
from gateway.models import User
from gateway.roles import allowed, may_see_queue, queue_scope
from gateway.tips import count_triggers, search_index, states
from gateway.tips.models import Tip, TipCount, TipDay, TipRead


class NotAllowed(PermissionError):
    """The user's role or scope does not allow this on this tip."""


# --- who may see what -------------------------------------------------------------------------


def tip_queues(tip: Tip) -> list[str]:
    """The queue of ``tip`` and every queue it is shared with."""
    return [tip.queue, *(q for q in (tip.shared_with or []) if q != tip.queue)]


def may_see(user: User | None, tip: Tip) -> bool:
    """Whether ``user`` may see ``tip``: their role and scope see its queue or a shared one."""
    if user is None or not user.active or not allowed(user.role, "tips.view"):
        return False
    return any(may_see_queue(user.role, user.scope, q) for q in tip_queues(tip))


def may_work(user: User | None, tip: Tip) -> bool:
    """Whether ``user`` may triage, note, reply to and hand off ``tip``."""
    return user is not None and may_see(user, tip) and allowed(user.role, "tips.work")


def get_tip(session: Session, user: User, tip_id: int, permission: str = "tips.view") -> Tip:
    """The tip ``tip_id`` if ``user`` may ``permission`` it.

    Raises:
        LookupError: no such tip.
        NotAllowed: it exists but is outside the user's role or scope (the attempt is audited).
    """
    tip = session.get(Tip, tip_id)
    if tip is None:
        raise LookupError(tip_id)
    if not may_see(user, tip) or not allowed(user.role, permission):
        audit.record("tip.denied", actor=user, object_type="tip", object_id=tip.id, session=session)
        session.commit()
        raise NotAllowed(f"user {user.id} may not see tip {tip.id}")
    return tip


def visible_queues(user: User, queues: Iterable[str]) -> list[str]:
    """Those of ``queues`` that ``user`` may see, in order."""
    return [q for q in queues if may_see_queue(user.role, user.scope, q)]


def scope_condition(session: Session, user: User) -> ColumnElement[bool]:
    """An SQL condition true for exactly the tips ``user`` may see (see :func:`may_see`).

    Built from ``gateway.roles.queue_scope``, the data behind ``may_see_queue``, so the inbox
    query and the per-tip check can never disagree; it reads nothing (the queues in use used to be
    found with two DISTINCT scans of every tip on each call). ``session`` is kept for callers.
    """
    del session
    return _scope_on(user, Tip.queue, cast(Tip.shared_with, String))


def _scope_on(
    user: User, queue: SQLColumnExpression[str], shared_text: SQLColumnExpression[str]
) -> ColumnElement[bool]:
    """:func:`scope_condition` on any row that has a tip's queue and the text of its
    ``shared_with`` (a tip, or a counter row of ``tip_counts``)."""
    if not allowed(user.role, "tips.view") or not user.active:
        return false()
    seen = queue_scope(user.role, user.scope)
    if seen.every:
        return true()
    names = sorted(seen.names)
    # shared_with is a JSON list; its text holds each queue as "name" (names are ASCII).
    parts = [
        *([queue.in_(names)] if names else []),
        *(queue.startswith(p, autoescape=True) for p in seen.prefixes),
        *(shared_text.contains(f'"{q}"', autoescape=True) for q in names),
        *(shared_text.contains(f'"{p}', autoescape=True) for p in seen.prefixes),
    ]
    return or_(*parts) if parts else false()


# --- the inbox --------------------------------------------------------------------------------


@dataclass
class InboxFilters:
    """What an operator narrows the inbox to; every field is optional."""

    queue: str = ""
    status: str = ""  # a state, or "open"
    priority: str = ""
    channel: str = ""
    district_id: int | None = None
    since: dt.datetime | None = None  # UTC, inclusive
    until: dt.datetime | None = None  # UTC, exclusive
    search: str = ""
    assigned: str = ""  # "me", "none" or ""
    unread: bool = False
    ids: list[int] = field(default_factory=list)


def visible_tips_query(
    session: Session, user: User, filters: InboxFilters | None = None
) -> Select[Tip, dt.datetime | None]:
    """Tips ``user`` may see under ``filters``, newest first, each with the user's read time.

    Search is a LIKE on the folded body, so "ke sach" finds "Kế Sách" and case never matters;
    a trigram index finds the candidates (:mod:`gateway.tips.search_index`).
    """
    f = filters or InboxFilters()
    query = (
        select(Tip, TipRead.read_at)
        .outerjoin(TipRead, and_(TipRead.tip_id == Tip.id, TipRead.user_id == user.id))
        .where(scope_condition(session, user))
    )
    if f.queue:
        query = query.where(_in_queue(f.queue))
    if f.status == "open":
        query = query.where(Tip.status.in_(states.OPEN_STATES))
    elif f.status:
        query = query.where(Tip.status == f.status)
    if f.priority:
        query = query.where(Tip.priority == f.priority)
    if f.channel:
        query = query.where(Tip.channel == f.channel)
    if f.district_id is not None:
        query = query.where(Tip.district_id == f.district_id)
    if f.since is not None:
        query = query.where(Tip.received_at >= f.since)
    if f.until is not None:
        query = query.where(Tip.received_at < f.until)
    if f.search.strip():
        folded = fold(f.search.strip())
        indexed = search_index.indexed_ids(session, folded)
        if indexed is not None:
            query = query.where(indexed)
        query = query.where(Tip.body_folded.contains(folded, autoescape=True))
    if f.assigned == "me":
        query = query.where(Tip.assigned_to_id == user.id)
    elif f.assigned == "none":
        query = query.where(Tip.assigned_to_id.is_(None))
    if f.unread:
        query = query.where(TipRead.read_at.is_(None))
    if f.ids:
        query = query.where(Tip.id.in_(f.ids))
    return query.order_by(Tip.received_at.desc(), Tip.id.desc())


def inbox_counts(session: Session, user: User) -> dict[str, int]:
    """The live counts of the nav badge (open, unread open, overdue unacknowledged tips) and of
    the inbox's announcement (newest open tip id, open urgent tips)."""
    base = visible_tips_query(session, user, InboxFilters(status="open")).order_by(None)
    sub = base.subquery()
    # One pass over the open tips (polled by every operator every 30 s): the badge's counts, and
    # for the open inbox's announcement the newest open tip's id and the open urgent tips (a rise
    # means a new urgent tip, or one escalated).
    row = session.execute(
        select(
            func.count(),
            func.count().filter(sub.c.read_at.is_(None)),
            func.max(sub.c.id),
            func.count().filter(sub.c.priority == states.URGENT),
        ).select_from(sub)
    ).one()
    open_count, unread, latest, urgent = (int(v or 0) for v in row)
    overdue = session.scalar(select(func.count()).where(_overdue_condition(session, user))) or 0
    return {
        "open": open_count,
        "unread": unread,
        "overdue": overdue,
        "latest": latest,
        "urgent": urgent,
    }


def _overdue_condition(session: Session, user: User) -> ColumnElement[bool]:
    now = utcnow()
    late = or_(
        *(
            and_(Tip.priority == priority, Tip.received_at < now - deadline)
            for priority, deadline in states.ACK_DEADLINES.items()
        )
    )
    return and_(
        scope_condition(session, user),
        Tip.status.in_(states.UNACKNOWLEDGED),
        Tip.merged_into_id.is_(None),
        late,
    )


def overdue_tips(session: Session, user: User, limit: int = 50) -> list[Tip]:
    """Unacknowledged tips past their priority's deadline (urgent first, oldest first).

    The deadlines are ``states.ACK_DEADLINES``, as for the alerts of ``gateway.tips.urgency``;
    unlike its ``overdue()``, this follows the user's scope, shared tips included.
    """
    query = (
        select(Tip)
        .where(_overdue_condition(session, user))
        .order_by((Tip.priority == states.URGENT).desc(), Tip.received_at)
        .limit(limit)
    )
    return list(session.scalars(query))


def open_by_priority(session: Session, user: User) -> dict[str, int]:
    """For the dashboard: open tips the user sees (primary queue or shared), not merged into
    another, by priority; summed from the counters the database keeps (``tip_counts``)."""
    total = func.sum(TipCount.n)
    rows = session.execute(
        select(TipCount.priority, total)
        .where(
            _scope_on(user, TipCount.queue, TipCount.shared_with),
            TipCount.status.in_(states.OPEN_STATES),
            TipCount.merged == 0,
        )
        .group_by(TipCount.priority)
        .having(total != 0)
    )
    return {priority: int(count) for priority, count in rows}


def oldest_unacknowledged(session: Session, user: User) -> Tip | None:
    """The tip that has waited longest for someone to take it, among those the user sees."""
    return session.scalar(
        select(Tip)
        .where(
            scope_condition(session, user),
            Tip.status.in_(states.UNACKNOWLEDGED),
            Tip.merged_into_id.is_(None),
        )
        .order_by(Tip.received_at, Tip.id)
        .limit(1)
    )


def tips_over_period(
    session: Session, user: User, since: dt.datetime, offset_minutes: int
) -> tuple[dict[str, dict[str, int]], dict[str, dict[str, int]]]:
    """For the dashboard's pictures: tips the user sees received since ``since``, by local day
    (``YYYY-MM-DD`` → priority → count, in order) and by district name (largest first; merged
    tips count once, in the tip they were merged into).

    At Vietnam's offset the whole days come from the counters the database keeps
    (``tip_days``, the user's scope applied to each counter row as to a tip) and only the part
    of the first day after ``since`` from the tips: with a year of 1,000,000 tips, counting the
    tips themselves took 0.65 s for 90 days and 1.5 s for a year. Another offset counts the tips.
    """
    if offset_minutes == count_triggers.DAY_OFFSET_MINUTES:
        shift = dt.timedelta(minutes=offset_minutes)
        first_whole = (since + shift).date() + dt.timedelta(days=1)
        boundary = dt.datetime.combine(first_whole, dt.time(), tzinfo=dt.UTC) - shift
        rows = [
            *_counted_days(session, user, first_whole.isoformat()),
            *_tips_by_day(session, user, since, boundary, offset_minutes),
        ]
    else:
        rows = _tips_by_day(session, user, since, None, offset_minutes)
    names = names_by_id(session, (d for _day, d, _p, _n in rows if d))
    by_day: dict[str, dict[str, int]] = {}
    by_district: dict[str, dict[str, int]] = {}
    for label, district_id, priority, n in rows:
        per_day = by_day.setdefault(str(label), {})
        per_day[priority] = per_day.get(priority, 0) + int(n)
        per_district = by_district.setdefault(names.get(district_id or 0) or NONE_KEY, {})
        per_district[priority] = per_district.get(priority, 0) + int(n)
    ordered = sorted(by_district.items(), key=lambda kv: (-sum(kv[1].values()), kv[0]))
    return dict(sorted(by_day.items())), dict(ordered)


DayRow = tuple[str, int | None, str, int]  # local day, district id (0 or None: none), priority, n


def _counted_days(session: Session, user: User, first_day: str) -> list[DayRow]:
    """The counted tips the user sees, by local day from ``first_day`` on, district, priority."""
    total = func.sum(TipDay.n)
    key = (TipDay.day, TipDay.district_id, TipDay.priority)
    query = (
        select(*key, total)
        .where(_scope_on(user, TipDay.queue, TipDay.shared_with), TipDay.day >= first_day)
        .group_by(*key)
        .having(total != 0)
    )
    return [(d, district, p, int(n)) for d, district, p, n in session.execute(query)]


def _tips_by_day(
    session: Session,
    user: User,
    since: dt.datetime,
    until: dt.datetime | None,
    offset_minutes: int,
) -> list[DayRow]:
    """The tips the user sees received from ``since`` (to ``until``), not merged, by local day,
    district and priority: one pass over them for both pictures (two GROUP BYs read them
    twice)."""
    where = [scope_condition(session, user), Tip.received_at >= since, Tip.merged_into_id.is_(None)]
    if until is not None:
        where.append(Tip.received_at < until)
    day = local_bucket(session, Tip.received_at, "day", offset_minutes)
    query = (
        select(day, Tip.district_id, Tip.priority, func.count())
        .where(*where)
        .group_by(day, Tip.district_id, Tip.priority)
    )
    return [(str(d), district, p, int(n)) for d, district, p, n in session.execute(query)]


def broadcast_days(session: Session, since: dt.datetime, offset_minutes: int) -> frozenset[str]:
    """The local days (``YYYY-MM-DD``) on which a campaign was sending, since ``since``."""
    shift = dt.timedelta(minutes=offset_minutes)
    now = utcnow()
    days: set[str] = set()
    rows = session.execute(
        select(Campaign.launched_at, Campaign.completed_at).where(
            Campaign.launched_at.is_not(None),
            or_(Campaign.completed_at.is_(None), Campaign.completed_at >= since),
        )
    )
    for launched, completed in rows:
        if launched is None:
            continue
        start: dt.datetime = max(launched, since) + shift
        end: dt.datetime = (completed or now) + shift
        day = start.date()
        while day <= end.date() and len(days) < 400:
            days.add(day.isoformat())
            day += dt.timedelta(days=1)
    return frozenset(days)


def counts_by_queue(session: Session, user: User) -> dict[str, dict[str, int]]:
    """For the dashboard: {queue: {state: count}} of the tips the user sees, by primary queue.

    Summed from the counters the database keeps (``tip_counts``), with the user's scope applied
    to each counter row as to a tip: a count of every tip took 150 ms with a year of tips.
    """
    total = func.sum(TipCount.n)
    rows = session.execute(
        select(TipCount.queue, TipCount.status, total)
        .where(_scope_on(user, TipCount.queue, TipCount.shared_with))
        .group_by(TipCount.queue, TipCount.status)
        .having(total != 0)
    )
    table: dict[str, dict[str, int]] = {}
    for queue, status, count in rows:
        table.setdefault(queue, {})[status] = int(count)
    return table


def _in_queue(queue: str) -> ColumnElement[bool]:
    """A tip is in ``queue`` when it is its primary queue or one it is shared with."""
    return _in_queue_on(queue, Tip.queue, cast(Tip.shared_with, String))


def _in_queue_on(
    queue: str, primary: SQLColumnExpression[str], shared_text: SQLColumnExpression[str]
) -> ColumnElement[bool]:
    """:func:`_in_queue` on any row with a tip's queue and the text of its ``shared_with`` (a
    JSON list whose text holds "queue")."""
    return or_(primary == queue, shared_text.contains(f'"{queue}"', autoescape=True))


def open_counts(session: Session, user: User, queues: list[str]) -> dict[str, int]:
    """Open tips the user sees in each of ``queues`` (primary or shared).

    Summed from the counters the database keeps (``tip_counts``): every tip a counter row counts
    has the row's queue and shared queues, so "in queue q" and the user's scope hold for the row
    as for each of its tips, and each tip counts once per queue. Every inbox page counts its
    tabs; counting the tips read every open tip the user sees (20–40 ms with a year of tips).
    """
    if not queues:
        return {}
    columns = [
        func.coalesce(
            func.sum(
                case((_in_queue_on(q, TipCount.queue, TipCount.shared_with), TipCount.n), else_=0)
            ),
            0,
        )
        for q in queues
    ]
    row = session.execute(
        select(*columns).where(
            _scope_on(user, TipCount.queue, TipCount.shared_with),
            TipCount.status.in_(states.OPEN_STATES),
        )
    ).one()
    return {q: int(n) for q, n in zip(queues, row, strict=True)}
