"""Launching a campaign: move it to ``running`` and materialise one delivery per recipient.

Materialising is one INSERT…SELECT over the audience, never a Python loop over rows; the rows
are numbered into batches in SQL, which :mod:`campaigns.dispatch` then plans, claims and sends.

How the invariants hold here:
1. one INSERT…SELECT with ON CONFLICT DO NOTHING on (campaign, phone), after a launch that is
   itself a conditional UPDATE: launching twice or concurrently creates nothing twice;
3. every row is committed as ``pending`` or ``skipped`` with a reason (and then only moves
   between statuses), so the counts always sum to ``audience_size``;
6. opted-out (and do-not-contact) numbers are skipped in the same transaction as the insert, so
   no one ever sees them pending; :func:`skip_reason` is the rule (opted out, then do not
   contact, then invalid), which the dispatch engine applies again to each claimed chunk just
   before sending.

Speed: the INSERT…SELECT reads the audience in contact order and numbers it with one
``row_number()`` (no sort), marking only invalid contacts (a column of the row); the opt-outs and
do-not-contact flags, a small share of the audience, are then applied by two UPDATEs that walk
those small tables and probe the new rows' (campaign, phone) index. Probing the suppression
tables for every recipient instead cost about 40 % more than the bare insert (issue 11).
A batch holds at most ``batch_size`` pending rows (fewer where skipped rows fall in it).

Counters: the database's triggers keep ``delivery_counts`` (:mod:`campaigns.count_triggers`);
on SQLite a fresh materialise pauses the row-level insert trigger and writes the campaign's
counters with one grouped INSERT over the (campaign, status, skip_reason, carrier, district)
index at the end, in the same transaction (the row trigger cost about a fifth of the launch).

Snapshot: each delivery keeps the carrier and district its contact had at launch
(``deliveries.carrier``/``district_id``); the reports' breakdowns read those, so a campaign's
report never changes when a contact is edited or deleted afterwards.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    Boolean,
    ColumnElement,
    SQLColumnExpression,
    String,
    case,
    column,
    exists,
    func,
    literal,
    null,
    select,
    table,
    text,
    true,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from campaigns import count_triggers, lifecycle
from campaigns import statuses as st
from campaigns.audiences import audience_select
from campaigns.db import UTCDateTime, utcnow
from campaigns.encoding import analyze
from campaigns.models import Campaign, Contact, Delivery, OptOut
from campaigns.rendering import render

# Deliveries per batch job: a few hundred. A batch ends with its pipeline drained (about one
# provider round trip) before the worker's next job starts; at 100 ms a round trip, 500 send a
# third faster than 250 (BENCHMARKS.md). A worker asked to stop ends a batch at its next chunk.
BATCH_SIZE = 500

# The tip line's do-not-contact flags (gateway.tips.models.SenderFlag), named here as a bare
# table so the domain keeps out of the gateway package; invariant 12 applies to broadcasts too.
_sender_flags = table("sender_flags", column("phone", String), column("do_not_contact", Boolean))


def skip_reason(
    phone: SQLColumnExpression[str], invalid: SQLColumnExpression[bool]
) -> ColumnElement[str | None]:
    """Why a number must not get a campaign message, as an SQL expression (NULL: send it).

    Args:
        phone: the column holding the E.164 number.
        invalid: the column flagging a number that failed validation.
    Returns:
        ``opted_out``, ``do_not_contact`` or ``invalid`` (first match wins), else NULL.
    """
    opted = exists().where(OptOut.phone == phone)
    dnc = exists().where(_sender_flags.c.phone == phone, _sender_flags.c.do_not_contact.is_(True))
    return case(
        (opted, st.SKIP_OPTED_OUT),
        (dnc, st.SKIP_DO_NOT_CONTACT),
        (invalid.is_(True), st.SKIP_INVALID),
        else_=null(),
    )


def _insert(session: Session) -> Any:
    dialect = session.get_bind().dialect.name
    return (postgresql if dialect == "postgresql" else sqlite).insert(Delivery)


def materialise(
    session: Session,
    campaign: Campaign,
    batch_size: int = BATCH_SIZE,
    now: dt.datetime | None = None,
) -> int:
    """Insert one delivery per audience member with one INSERT…SELECT; set ``audience_size``.

    Opted-out, do-not-contact and invalid numbers are ``skipped`` with their reason
    (:func:`skip_reason`), in the same transaction; the others ``pending``, numbered into
    batches of at most ``batch_size`` in SQL (row_number in contact order). Rows that exist
    already are left alone (ON CONFLICT DO NOTHING).

    Args:
        session: the caller commits.
        campaign: the campaign (its ``audience`` spec, see :mod:`campaigns.audiences`).
        batch_size: deliveries per batch.
        now: the current time.
    Returns:
        the audience size (all deliveries of the campaign).
    Raises:
        campaigns.audiences.AudienceError: when the spec names an unknown list or area.
    """
    now = now or utcnow()
    if session.get_bind().dialect.name == "postgresql":
        _analyze_if_stale(session)
    # The carrier and district are the delivery's snapshot: the reports read them, never the
    # contact, so a report does not change when the contact is edited or deleted later.
    aud = (
        audience_select(session, campaign.audience or {}, include_invalid=True)
        .add_columns(Contact.carrier, Contact.district_id)
        .subquery("aud")
    )
    at = literal(now, UTCDateTime())
    invalid = aud.c.invalid.is_(True)
    number = func.row_number().over(order_by=aud.c.contact_id) - 1
    segments = estimate_segments(campaign.body)
    rows = select(
        literal(campaign.id),
        aud.c.contact_id,
        aud.c.phone,
        aud.c.carrier,
        aud.c.district_id,
        case((invalid, st.SKIPPED), else_=st.PENDING),
        case((invalid, st.SKIP_INVALID), else_=null()),
        case((invalid, -1), else_=number // batch_size),
        literal(segments),
        literal(0),
        case((invalid, at), else_=null()),
        at,
    ).where(true())  # SQLite needs a WHERE before ON CONFLICT in INSERT…SELECT
    names = [
        "campaign_id",
        "contact_id",
        "phone",
        "carrier",
        "district_id",
        "status",
        "skip_reason",
        "batch_no",
        "segments",
        "attempts",
        "finished_at",
        "updated_at",
    ]
    # SQLite: a campaign with no delivery yet (every launch) has its counters written once at
    # the end, not by a row trigger per insert (PostgreSQL's trigger counts the statement).
    fresh = session.get_bind().dialect.name == "sqlite" and not is_materialised(
        session, campaign.id
    )
    if fresh:
        count_triggers.defer_inserts(session.connection(), campaign.id)
    stmt = _insert(session).from_select(names, rows)
    session.execute(stmt.on_conflict_do_nothing(index_elements=["campaign_id", "phone"]))
    # Do not contact, then opted out: the later UPDATE wins, as in skip_reason().
    dnc = select(_sender_flags.c.phone).where(_sender_flags.c.do_not_contact.is_(True))
    for reason, phones in (
        (st.SKIP_DO_NOT_CONTACT, dnc),
        (st.SKIP_OPTED_OUT, select(OptOut.phone)),
    ):
        session.execute(
            update(Delivery)
            .where(Delivery.campaign_id == campaign.id, Delivery.phone.in_(phones))
            .values(status=st.SKIPPED, skip_reason=reason, batch_no=-1, finished_at=now)
            .execution_options(synchronize_session=False)
        )
    size = session.scalar(select(func.count()).where(Delivery.campaign_id == campaign.id)) or 0
    if fresh:
        count_triggers.count_materialised(session.connection(), campaign.id, segments)
    session.execute(
        update(Campaign)
        .where(Campaign.id == campaign.id)
        .values(audience_size=size, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    return int(size)


# ANALYZE a table when it has changed by more than this share of its rows (or was never analysed).
STALE_SHARE = 0.1


def _analyze_if_stale(session: Session) -> None:
    """ANALYZE the audience's tables whose statistics are stale (PostgreSQL).

    A list imported a minute ago may not be analysed yet: on stale statistics (empty tables)
    PostgreSQL joins 200,000 contacts by nested loops and the launch never ends. Analysing
    every table before every launch cost as much as the insert itself, so only the tables
    changed by more than :data:`STALE_SHARE` since their last analysis (or never analysed).
    """
    stale = session.scalars(
        text(
            "SELECT relname FROM pg_stat_user_tables WHERE relname IN "
            "('contacts', 'list_members', 'opt_outs', 'sender_flags') AND "
            "((last_analyze IS NULL AND last_autoanalyze IS NULL) "
            "OR n_mod_since_analyze > :share * n_live_tup)"
        ),
        {"share": STALE_SHARE},
    ).all()
    if stale:
        session.execute(text("ANALYZE " + ", ".join(sorted(str(t) for t in stale))))


def estimate_segments(body: str) -> int:
    """Segments of a template rendered with empty variables (at least 1); corrected per send."""
    return max(1, analyze(render(body, _EMPTY_VARIABLES)).segments)


class _Empty(dict[str, str]):
    def __contains__(self, key: object) -> bool:
        return True

    def __missing__(self, key: str) -> str:
        return ""


_EMPTY_VARIABLES = _Empty()


def launch(
    session: Session, campaign_id: int, batch_size: int = BATCH_SIZE, now: dt.datetime | None = None
) -> bool:
    """Launch a campaign: move it to ``running`` if needed, and materialise it; commits.

    An approved or scheduled campaign is moved with the lifecycle's conditional UPDATE in the
    same transaction as the INSERT…SELECT, so a second or concurrent launch materialises
    nothing. A campaign already moved to ``running`` (the scheduler does that before enqueueing
    the launch job) is materialised when it has no delivery yet.

    Returns:
        True when this call materialised deliveries; False when there was nothing to do.
    Raises:
        campaigns.lifecycle.IllegalTransition: when the approval is void (the campaign changed
            after approval).
        campaigns.audiences.AudienceError: for an audience naming unknown lists or areas.
    """
    now = now or utcnow()
    campaign = session.get(Campaign, campaign_id)
    if campaign is None:
        return False
    if lifecycle.can(campaign.status, lifecycle.LAUNCH):
        try:
            lifecycle.transition(session, campaign, lifecycle.LAUNCH, None, now=now)
        except lifecycle.IllegalTransition as exc:
            session.rollback()
            if exc.code == "conflict":
                return False
            raise
    elif campaign.status not in (lifecycle.RUNNING, lifecycle.PAUSED) or is_materialised(
        session, campaign_id
    ):
        return False
    try:
        materialise(session, campaign, batch_size, now)
    except Exception:
        session.rollback()
        raise
    session.commit()
    return True


def is_materialised(session: Session, campaign_id: int) -> bool:
    """Whether a campaign has any delivery yet."""
    return bool(session.scalar(select(exists().where(Delivery.campaign_id == campaign_id))))
