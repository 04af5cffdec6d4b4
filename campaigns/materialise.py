"""Launching a campaign: move it to ``running`` and materialise one delivery per recipient.

Materialising is one INSERT…SELECT over the audience, never a Python loop over rows; the rows
are numbered into batches in SQL, which :mod:`campaigns.dispatch` then plans, claims and sends.

How the invariants hold here:
1. one INSERT…SELECT with ON CONFLICT DO NOTHING on (campaign, phone), after a launch that is
   itself a conditional UPDATE: launching twice or concurrently creates nothing twice;
3. every row is inserted as ``pending`` or ``skipped`` with a reason (and then only moves
   between statuses), so the counts always sum to ``audience_size``;
6. opted-out (and do-not-contact) numbers are inserted as skipped; :func:`skip_reason` is the
   rule, which the dispatch engine applies again to each claimed chunk just before sending.
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

from campaigns import lifecycle
from campaigns import statuses as st
from campaigns.audiences import audience_select
from campaigns.db import UTCDateTime, utcnow
from campaigns.encoding import analyze
from campaigns.models import Campaign, Delivery, OptOut
from campaigns.rendering import render

BATCH_SIZE = 250  # deliveries per batch job: a few hundred

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

    Opted-out, do-not-contact and invalid numbers are inserted as ``skipped`` with their
    reason (:func:`skip_reason`); the others as ``pending``, numbered into batches of
    ``batch_size`` in SQL (row_number over the sendable rows). Rows that exist already are left alone (ON CONFLICT DO NOTHING).

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
        # A list imported a minute ago may not be analysed yet: on stale statistics (empty
        # tables) PostgreSQL joins 200,000 contacts by nested loops and the launch never ends.
        session.execute(text("ANALYZE contacts, list_members, opt_outs, sender_flags"))
    aud = audience_select(session, campaign.audience or {}, include_invalid=True).subquery("aud")
    reason = skip_reason(aud.c.phone, aud.c.invalid)
    marked = select(aud.c.contact_id, aud.c.phone, reason.label("skip_reason")).subquery("marked")
    sendable = marked.c.skip_reason.is_(None)
    number = func.row_number().over(partition_by=sendable, order_by=marked.c.contact_id)
    at = literal(now, UTCDateTime())
    rows = select(
        literal(campaign.id),
        marked.c.contact_id,
        marked.c.phone,
        case((sendable, st.PENDING), else_=st.SKIPPED),
        marked.c.skip_reason,
        case((sendable, (number - 1) // batch_size), else_=-1),
        literal(estimate_segments(campaign.body)),
        literal(0),
        case((sendable, null()), else_=at),
        at,
    ).where(true())  # SQLite needs a WHERE before ON CONFLICT in INSERT…SELECT
    names = [
        "campaign_id",
        "contact_id",
        "phone",
        "status",
        "skip_reason",
        "batch_no",
        "segments",
        "attempts",
        "finished_at",
        "updated_at",
    ]
    stmt = _insert(session).from_select(names, rows)
    session.execute(stmt.on_conflict_do_nothing(index_elements=["campaign_id", "phone"]))
    size = session.scalar(select(func.count()).where(Delivery.campaign_id == campaign.id)) or 0
    session.execute(
        update(Campaign)
        .where(Campaign.id == campaign.id)
        .values(audience_size=size, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    return int(size)


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
