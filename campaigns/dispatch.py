"""The dispatch engine: materialise deliveries, plan batches, claim, send, record.

Free of Redis and RQ (listmonk's shape): the engine depends on two narrow interfaces passed in,
a :class:`~campaigns.sending.Sender` (the provider) and a :class:`Throttle` (the shared token
bucket), plus a clock and a sleep so tests freeze time. The jobs in ``workers.dispatch`` wire
them to Redis and the configured provider.

How the invariants hold:
1. one INSERT…SELECT with ON CONFLICT DO NOTHING on (campaign, phone), after a launch that is
   itself a conditional UPDATE: launching twice or concurrently creates nothing twice;
2. a chunk is claimed with one conditional UPDATE ``pending → sending`` (attempts + 1, a lease)
   before the provider is called; results are recorded ``WHERE status = 'sending'``; only
   :attr:`Outcome.RETRY` makes a delivery ``pending`` again; :attr:`Outcome.UNKNOWN` leaves it
   leased for the reconciler (:mod:`campaigns.reconcile`), which never resends;
3. every row is inserted as ``pending`` or ``skipped`` with a reason and only moves between
   statuses, so the counts always sum to ``audience_size``;
6. opted-out (and do-not-contact) numbers are inserted as skipped, and each claimed chunk is
   checked again just before sending;
7. the window is checked before each chunk (and after waiting for tokens); when it is closed,
   or closes within :data:`MIN_WINDOW_LEFT` seconds, the campaign moves ``running → paused``
   with reason :data:`PAUSED_WINDOW`, which the reconciler resumes at the next opening;
   ``validity_seconds`` makes the provider drop what it could not deliver before the close;
10. tokens are segments, taken per chunk of about one second of the campaign's rate, read from
    the campaign row before every chunk so a rate change applies while running.
"""

from __future__ import annotations

import datetime as dt
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, cast

from sqlalchemy import (
    Boolean,
    String,
    Table,
    case,
    column,
    exists,
    func,
    literal,
    null,
    or_,
    select,
    table,
    true,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, aliased

from campaigns import lifecycle
from campaigns import statuses as st
from campaigns.audiences import audience_select
from campaigns.db import UTCDateTime, utcnow
from campaigns.encoding import analyze
from campaigns.models import Area, Campaign, Contact, Delivery, OptOut
from campaigns.recording import Prepared, pause, record
from campaigns.rendering import contact_variables_from_row, render
from campaigns.sending import OutboundMessage, Sender
from campaigns.windows import window_of

BATCH_SIZE = 250  # deliveries per batch job: a few hundred
LEASE_SECONDS = 300  # a claimed chunk must be recorded within this, or the reconciler takes over
MIN_WINDOW_LEFT = 60  # seconds: do not start a chunk this close to the window's end
CHUNK_SECONDS = 1.0  # a chunk is about this much sending at the campaign's rate
MAX_CHUNK = 100  # messages handed to send_many at once
HORIZON_SECONDS = 600  # enqueue only the batches the rate can send within this
DEFAULT_RATE = 10.0  # segments per second per sender (Twilio's default outside North America)
PAUSE_AFTER_ERRORS = 50  # consecutive provider errors that pause a campaign

PAUSED_WINDOW = "window"  # paused by the engine outside the window; resumed by the reconciler

D = cast(Table, Delivery.__table__)
# The tip line's do-not-contact flags (gateway.tips.models.SenderFlag), named here as a bare
# table so the domain keeps out of the gateway package; invariant 12 applies to broadcasts too.
_sender_flags = table("sender_flags", column("phone", String), column("do_not_contact", Boolean))


class Throttle(Protocol):
    """The shared rate limiter (``workers.ratelimit.TokenBucket``)."""

    def take(self, key: str, tokens: float, rate: float, burst: float | None = None) -> float:
        """Reserve ``tokens``; returns the seconds to wait before sending them."""
        ...


# --- materialising ------------------------------------------------------------------------


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
    reason; the
    others as ``pending``, numbered into batches of ``batch_size`` in SQL (row_number over the
    sendable rows). Rows that exist already are left alone (ON CONFLICT DO NOTHING).

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
    aud = audience_select(session, campaign.audience or {}, include_invalid=True).subquery("aud")
    opted = exists().where(OptOut.phone == aud.c.phone)
    dnc = exists().where(
        _sender_flags.c.phone == aud.c.phone, _sender_flags.c.do_not_contact.is_(True)
    )
    reason = case(
        (opted, st.SKIP_OPTED_OUT),
        (dnc, st.SKIP_DO_NOT_CONTACT),
        (aud.c.invalid.is_(True), st.SKIP_INVALID),
        else_=null(),
    )
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


# --- campaign moves the engine makes by itself -----------------------------------------------


def _move(
    session: Session,
    campaign_id: int,
    action: str,
    values: dict[str, Any],
    *where: Any,
) -> bool:
    """One conditional UPDATE along the lifecycle's table; True when this call moved it."""
    sources = [s for (s, a) in lifecycle.TRANSITIONS if a == action]
    target = {lifecycle.TRANSITIONS[(s, action)] for s in sources}.pop()
    result = session.execute(
        update(Campaign)
        .where(Campaign.id == campaign_id, Campaign.status.in_(sources), *where)
        .values(status=target, **values)
        .execution_options(synchronize_session=False)
    )
    return bool(getattr(result, "rowcount", 0))


def resume_after_window(session: Session, campaign_id: int, now: dt.datetime | None = None) -> bool:
    """Resume a campaign the engine paused for its window (not one a person or an error paused)."""
    values = {"paused_reason": None, "error_streak": 0, "updated_at": now or utcnow()}
    return _move(
        session, campaign_id, lifecycle.RESUME, values, Campaign.paused_reason == PAUSED_WINDOW
    )


def complete_if_done(session: Session, campaign_id: int, now: dt.datetime | None = None) -> bool:
    """Complete a running campaign that has no pending or sending delivery left."""
    left = exists().where(
        Delivery.campaign_id == campaign_id, Delivery.status.in_([st.PENDING, st.SENDING])
    )
    values = {"completed_at": now or utcnow(), "updated_at": now or utcnow()}
    return _move(session, campaign_id, lifecycle.COMPLETE, values, ~left)


# --- planning -----------------------------------------------------------------------------


def _due(now: dt.datetime) -> Any:
    return or_(Delivery.next_attempt_at.is_(None), Delivery.next_attempt_at <= now)


def due_batches(session: Session, campaign_id: int, now: dt.datetime, limit: int) -> list[int]:
    """The first ``limit`` batch numbers that hold pending deliveries due now."""
    stmt = (
        select(Delivery.batch_no)
        .where(Delivery.campaign_id == campaign_id, Delivery.status == st.PENDING, _due(now))
        .distinct()
        .order_by(Delivery.batch_no)
        .limit(limit)
    )
    return list(session.scalars(stmt))


def batches_in_flight(campaign: Campaign, batch_size: int = BATCH_SIZE) -> int:
    """How many batches may be queued at once: what the senders can send within the horizon.

    Providers drop what waits too long in their queue (Twilio: 10 hours), and a wiped Redis
    should lose little, so only the near future is enqueued; at least one batch per sender.
    """
    senders = max(1, len(campaign.senders or []))
    rate = campaign.rate_per_second or DEFAULT_RATE
    per_batch = batch_size * max(1, campaign.segments_per_message or 1)
    return max(senders, math.ceil(rate * senders * HORIZON_SECONDS / per_batch))


def plan(
    session: Session, campaign_id: int, now: dt.datetime, batch_size: int = BATCH_SIZE
) -> list[int]:
    """The batches to enqueue now (the caller skips those queued already): [] unless running."""
    campaign = session.get(Campaign, campaign_id, populate_existing=True)
    if campaign is None or campaign.status != lifecycle.RUNNING:
        return []
    return due_batches(session, campaign_id, now, batches_in_flight(campaign, batch_size))


def sender_for(senders: Sequence[str] | None, batch_no: int) -> str | None:
    """The sender of a batch: the pool is used round-robin by batch (None: provider default)."""
    return senders[batch_no % len(senders)] if senders else None


# --- claiming -----------------------------------------------------------------------------


def claim(
    session: Session,
    campaign_id: int,
    batch_no: int,
    limit: int,
    now: dt.datetime,
    sender: str | None = None,
    lease_seconds: float = LEASE_SECONDS,
) -> list[int]:
    """Claim up to ``limit`` due pending deliveries of a batch (``pending → sending``); commits.

    One conditional UPDATE: rows another worker claimed in the meantime fail the ``status =
    'pending'`` condition and are not returned (on PostgreSQL, SKIP LOCKED lets concurrent
    claimers take disjoint rows instead of waiting for each other; SQLite serialises writers).

    Returns:
        the claimed delivery ids.
    """
    ids = (
        select(Delivery.id)
        .where(
            Delivery.campaign_id == campaign_id,
            Delivery.status == st.PENDING,
            Delivery.batch_no == batch_no,
            _due(now),
        )
        .order_by(Delivery.id)
        .limit(limit)
    )
    if session.get_bind().dialect.name == "postgresql":
        # A materialised CTE runs once. As a plain IN (subquery) PostgreSQL may rescan it per
        # row, and SKIP LOCKED then skips the rows this very statement just updated, so the
        # LIMIT is exceeded.
        picked = ids.with_for_update(skip_locked=True).cte("picked").prefix_with("MATERIALIZED")
        chosen: Any = select(picked.c.id)
    else:
        chosen = ids.scalar_subquery()
    stmt = (
        update(Delivery)
        .where(Delivery.id.in_(chosen), Delivery.status == st.PENDING)
        .values(
            status=st.SENDING,
            lease_until=now + dt.timedelta(seconds=lease_seconds),
            attempts=Delivery.attempts + 1,
            sender=sender,
            updated_at=now,
        )
        .returning(Delivery.id)
        .execution_options(synchronize_session=False)
    )
    claimed = sorted(session.scalars(stmt))
    session.commit()
    return claimed


def has_due(session: Session, campaign_id: int, batch_no: int, now: dt.datetime) -> bool:
    """Whether a batch still holds pending deliveries that are due."""
    stmt = select(
        exists().where(
            Delivery.campaign_id == campaign_id,
            Delivery.status == st.PENDING,
            Delivery.batch_no == batch_no,
            _due(now),
        )
    )
    return bool(session.scalar(stmt))


def prepare(
    session: Session, body: str, ids: Sequence[int]
) -> tuple[list[Prepared], dict[int, str]]:
    """Render the claimed deliveries and find those that must not be sent after all.

    Returns:
        the deliveries to send, and ``{delivery id: skip reason}`` for the numbers opted out,
        flagged do-not-contact or found invalid since the audience was materialised.
    """
    district, ward = aliased(Area), aliased(Area)
    opted = exists().where(OptOut.phone == Delivery.phone)
    dnc = exists().where(
        _sender_flags.c.phone == Delivery.phone, _sender_flags.c.do_not_contact.is_(True)
    )
    reason = case(
        (opted, st.SKIP_OPTED_OUT),
        (dnc, st.SKIP_DO_NOT_CONTACT),
        (Contact.invalid.is_(True), st.SKIP_INVALID),
        else_=null(),
    )
    rows = session.execute(
        select(
            Delivery.id,
            Delivery.phone,
            Delivery.contact_id,
            Contact.name,
            district.name,
            ward.name,
            Contact.carrier,
            reason,
        )
        .outerjoin(Contact, Contact.id == Delivery.contact_id)
        .outerjoin(district, district.id == Contact.district_id)
        .outerjoin(ward, ward.id == Contact.ward_id)
        .where(Delivery.id.in_(list(ids)))
        .order_by(Delivery.id)
    )
    ready: list[Prepared] = []
    skipped: dict[int, str] = {}
    segments: dict[str, int] = {}
    for d_id, phone, contact_id, name, district_name, ward_name, carrier, skip in rows:
        if skip is not None:
            skipped[d_id] = skip
            continue
        variables = contact_variables_from_row(phone, name, district_name, ward_name, carrier)
        text = render(body, variables)
        if text not in segments:
            segments[text] = max(1, analyze(text).segments)
        ready.append(Prepared(d_id, phone, contact_id, text, segments[text]))
    return ready, skipped


# --- the batch loop -----------------------------------------------------------------------


@dataclass
class BatchReport:
    """What one run of a batch did, and why it stopped."""

    sent: int = 0
    retried: int = 0
    failed: int = 0
    unknown: int = 0
    skipped: int = 0
    stopped: str = "done"  # done, not_running, window, kill_switch, halt, provider_errors


@dataclass
class Dispatcher:
    """Runs batches for one worker: a session, a provider and the shared throttle."""

    session: Session
    sender: Sender
    throttle: Throttle
    clock: Callable[[], dt.datetime] = utcnow
    sleep: Callable[[float], None] = time.sleep
    killed: Callable[[], str | None] = lambda: None  # the kill switch's reason, if engaged
    default_rate: float = DEFAULT_RATE
    pause_after_errors: int = PAUSE_AFTER_ERRORS
    lease_seconds: float = LEASE_SECONDS
    max_chunk: int = MAX_CHUNK
    provider_name: str = field(default="")

    def run_batch(self, campaign_id: int, batch_no: int) -> BatchReport:
        """Send a batch's due pending deliveries, chunk by chunk, until none is left or a stop.

        Each chunk: read the campaign row (status, rate, window, senders); stop when it is not
        running, the kill switch is engaged or the window is (nearly) closed; take the chunk's
        segments from the throttle and wait; claim; skip the numbers opted out meanwhile;
        render; send; record. When nothing is left, the campaign may complete.
        """
        report = BatchReport()
        while True:
            stop = self._chunk(campaign_id, batch_no, report)
            if stop is not None:
                report.stopped = stop
                break
        if report.stopped == "done" and complete_if_done(self.session, campaign_id, self.clock()):
            self.session.commit()
        return report

    def _stop_reason(self, campaign: Any, now: dt.datetime) -> str | None:
        if campaign is None or campaign.status != lifecycle.RUNNING:
            return "not_running"
        reason = self.killed()
        if reason is not None:
            pause(self.session, campaign.id, f"kill_switch: {reason}", now)
            self.session.commit()
            return "kill_switch"
        left = window_of(campaign).seconds_left(now)
        if left is not None and left < MIN_WINDOW_LEFT:
            pause(self.session, campaign.id, PAUSED_WINDOW, now)
            self.session.commit()
            return "window"
        return None

    def _campaign(self, campaign_id: int) -> Any:
        self.session.commit()  # a fresh snapshot: the rate or status may have changed
        return self.session.execute(
            select(
                Campaign.id,
                Campaign.status,
                Campaign.body,
                Campaign.rate_per_second,
                Campaign.senders,
                Campaign.provider,
                Campaign.window_start,
                Campaign.window_end,
                Campaign.segments_per_message,
            ).where(Campaign.id == campaign_id)
        ).first()

    def _chunk(self, campaign_id: int, batch_no: int, report: BatchReport) -> str | None:
        campaign = self._campaign(campaign_id)
        now = self.clock()
        stop = self._stop_reason(campaign, now)
        if stop is not None:
            return stop
        rate = float(campaign.rate_per_second or self.default_rate)
        sender = sender_for(campaign.senders, batch_no)
        key = f"{campaign.provider or self.provider_name or self.sender.name}:{sender or 'default'}"
        per_message = max(1, campaign.segments_per_message or estimate_segments(campaign.body))
        size = max(1, min(self.max_chunk, int(rate * CHUNK_SECONDS / per_message)))
        reserved = size * per_message
        wait = self.throttle.take(key, reserved, rate)
        if wait > 0:
            self.sleep(wait)
            now = self.clock()
            stop = self._stop_reason(self._campaign(campaign_id), now)
            if stop is not None:
                self.throttle.take(key, -reserved, rate)
                return stop
        ids = claim(self.session, campaign_id, batch_no, size, now, sender, self.lease_seconds)
        if not ids:
            self.throttle.take(key, -reserved, rate)
            return None if has_due(self.session, campaign_id, batch_no, now) else "done"
        ready, skipped = prepare(self.session, campaign.body, ids)
        used = sum(p.segments for p in ready)
        if used != reserved:  # the next chunk pays (or gains) the difference
            self.throttle.take(key, used - reserved, rate)
        left = window_of(campaign).seconds_left(now)
        messages = [
            OutboundMessage(
                to=p.phone,
                body=p.body,
                sender=sender,
                delivery_id=p.delivery_id,
                validity_seconds=None if left is None else max(1, int(left)),
            )
            for p in ready
        ]
        results = self.sender.send_many(messages) if messages else []
        outcome = record(
            self.session,
            campaign_id,
            ready,
            results,
            skipped,
            self.clock(),
            self.pause_after_errors,
        )
        self.session.commit()
        report.sent += outcome.sent
        report.retried += outcome.retried
        report.failed += outcome.failed
        report.unknown += outcome.unknown
        report.skipped += len(skipped)
        return outcome.paused
