"""Helpers shared by the admin blueprints: paging, local-day filters and queue names."""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask import abort, g, request
from flask_babel import lazy_gettext as _l
from sqlalchemy import Select, and_, or_, select
from sqlalchemy.orm import InstrumentedAttribute, Session

from campaigns import localtime, phones
from campaigns.db import utcnow
from campaigns.models import Area
from gateway import labels
from gateway.security import MAX_ID

PER_PAGE = 50

# Queues that exist whatever the areas are; district police queues come from the areas table.
FIXED_QUEUES: dict[str, Any] = labels.QUEUE_LABELS


def page_number() -> int:
    """The ``page`` query argument (1 when missing or invalid), capped so OFFSETs stay sane."""
    value = request.args.get("page", "1")
    return min(max(int(value), 1), 10_000) if value.isdigit() else 1


def one_page(
    session: Session, stmt: Select[*tuple[Any, ...]], scalars: bool = True
) -> tuple[list[Any], int, bool]:
    """The page of ``stmt`` that ``?page=`` asks for: ``(rows, page, has_next)``.

    For short lists only (the users): an OFFSET reads every row before its page, and pages past
    :func:`page_number`'s cap cannot be reached. Lists that grow with use page by
    :func:`keyset_page`. One row past the page is fetched to learn whether another page follows,
    without a COUNT. ``scalars=False`` returns whole result rows.
    """
    page = page_number()
    paged = stmt.limit(PER_PAGE + 1).offset((page - 1) * PER_PAGE)
    rows = list(session.scalars(paged) if scalars else session.execute(paged).all())
    return rows[:PER_PAGE], page, len(rows) > PER_PAGE


def keyset_page(
    session: Session,
    stmt: Select[*tuple[Any, ...]],
    at: InstrumentedAttribute[dt.datetime] | None,
    key: InstrumentedAttribute[int],
    scalars: bool = False,
    joined: InstrumentedAttribute[int] | None = None,
) -> tuple[list[Any], str | None, bool]:
    """The page of ``stmt`` after ``?after=``, newest first: ``stmt`` is ordered by ``at`` desc
    then ``key`` desc, or by ``key`` desc alone when ``at`` is None.

    Returns ``(rows, next_cursor, is_first)``. The cursor is the last row's sort key
    (``<at>_<key>``, or ``<key>``), so a page costs one index range scan however deep it is (an
    OFFSET reads every row before it) and every row can be reached. A malformed cursor is a 400.
    The rows are whole result rows whose first item is an entity; ``at`` and ``key`` are read
    from columns the row selects by those names, or else from that entity. ``scalars=True``
    returns the entities. ``joined`` is a column that ``stmt`` joins equal to ``key`` (a
    list's members and their contacts): it is bounded by the cursor too, since neither database
    carries a range across a join, and PostgreSQL otherwise walked the contacts from the newest.
    """
    after = request.args.get("after", "")
    if after:
        stmt = stmt.where(_after(after, at, key))
        if joined is not None:
            stmt = stmt.where(_after(after, at, joined))
    rows = list(session.execute(stmt.limit(PER_PAGE + 1)).all())
    page, cursor = rows[:PER_PAGE], None
    if len(rows) > PER_PAGE:
        last = _row_value(page[-1], key)
        cursor = str(last) if at is None else f"{_row_value(page[-1], at).isoformat()}_{last}"
    return [r[0] for r in page] if scalars else page, cursor, not after


def _after(cursor: str, at: InstrumentedAttribute[dt.datetime] | None, key: Any) -> Any:
    """The condition for the rows after ``cursor`` (see :func:`keyset_page`); 400 if malformed."""
    at_text, sep, key_text = cursor.rpartition("_")
    last_at = None
    try:
        last_key = int(key_text) if key_text.isdecimal() and len(key_text) <= 20 else 0
        last_at = dt.datetime.fromisoformat(at_text) if at is not None else None
    except ValueError:
        last_key = 0
    if not 0 < last_key <= MAX_ID or bool(sep) != (at is not None):
        abort(400, description="after= is not a cursor of this list")
    if at is None:
        return key < last_key
    if last_at is None or last_at.tzinfo is None:  # times are stored in UTC
        abort(400, description="after= is not a cursor of this list")
    return or_(at < last_at, and_(at == last_at, key < last_key))


def _row_value(row: Any, column: InstrumentedAttribute[Any]) -> Any:
    """The value of ``column`` (a mapped attribute) in ``row``: the column the row selects by
    that name, or else that attribute of its first item, an entity."""
    selected = row._mapping
    return selected[column.key] if column.key in selected else getattr(row[0], column.key)


def local_day(value: str | None) -> dt.date | None:
    """A ``YYYY-MM-DD`` form value as a date; None when empty; 400 when malformed."""
    if not value:
        return None
    try:
        day = dt.date.fromisoformat(value.strip())
    except ValueError:
        abort(400, description="dates are written YYYY-MM-DD")
    if not 2000 <= day.year <= 2999:  # and a day later still fits a datetime
        abort(400, description="dates are between the years 2000 and 2999")
    return day


def day_start_utc(day: dt.date) -> dt.datetime:
    """Midnight of ``day`` in Loa's time zone, as a UTC time (filters speak local days)."""
    zone = localtime.zone()
    return dt.datetime.combine(day, dt.time(), zone).astimezone(dt.UTC)


def known_queues(session: Session) -> list[str]:
    """Every queue a tip can be in: the fixed ones and each area's police queue."""
    area_queues = session.scalars(
        select(Area.police_queue).where(Area.police_queue.is_not(None)).distinct()
    )
    queues = list(FIXED_QUEUES)
    queues += sorted(q for q in area_queues if q and q not in FIXED_QUEUES)
    return queues


def area_names() -> dict[str, str]:
    """Each area police queue's area name, read once per request."""
    if "loa_area_names" not in g:
        from gateway import db

        rows = db.session().execute(select(Area.police_queue, Area.name))
        g.loa_area_names = {q: n for q, n in rows if q}
    names: dict[str, str] = g.loa_area_names
    return names


def queue_label(queue: str | None) -> str:
    """A human name for a queue: ``police_ke_sach`` → "Công an Kế Sách" (never the raw id)."""
    if not queue or queue in FIXED_QUEUES:
        return labels.queue_name(queue, {})
    return labels.queue_name(queue, area_names())


SCOPE_PROBLEMS: dict[str, Any] = {
    "no_scope": _l("Vai trò này không có phạm vi."),
    "unknown": _l("Phạm vi không tồn tại."),
    "wrong_kind": _l("Phạm vi không hợp với vai trò."),
}


def scope_problem(role: str, scope: str | None, queues: list[str]) -> str | None:
    """Why ``scope`` does not fit ``role`` (a key of :data:`SCOPE_PROBLEMS`), or None.

    Tip roles work one queue of their kind (police may also have none: the whole province);
    campaign roles and admins have no scope.
    """
    if role in ("admin", "editor", "approver"):
        return None if not scope else "no_scope"
    if not scope:
        return None
    if scope not in queues:
        return "unknown"
    fits = {
        "police": scope.startswith("police_"),
        "border_guard": scope == "border_guard",
        "hotline_111": scope == "hotline_111",
    }
    return None if fits.get(role, False) else "wrong_kind"


def scope_error(role: str, scope: str | None, queues: list[str]) -> str | None:
    """Why ``scope`` does not fit ``role`` (a message for the form), or None when it fits."""
    problem = scope_problem(role, scope, queues)
    return None if problem is None else str(SCOPE_PROBLEMS[problem])


def register_helpers(app: Any) -> None:
    """Make the shared helpers available to templates (idempotent: every area may call it)."""
    app.jinja_env.globals.setdefault("queue_label", queue_label)
    app.jinja_env.globals.setdefault("mask_phone", phones.mask)
    app.jinja_env.globals.setdefault("paused_reason_label", labels.paused_reason)
    app.jinja_env.globals.setdefault("wait_text", labels.wait_text)
    app.jinja_env.globals.setdefault(
        "window_notice", lambda start, end: labels.window_notice(start, end, utcnow())
    )
    app.jinja_env.globals.setdefault("audit_action_label", labels.audit_action)
    app.jinja_env.globals.setdefault("audit_object_label", labels.audit_object)
    app.jinja_env.globals.setdefault(
        "audit_detail_label", lambda action, k, v: labels.audit_detail(action, k, v, area_names())
    )
