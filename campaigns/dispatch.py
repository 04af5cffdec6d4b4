"""The dispatch engine: plan batches, claim, send, record.

Free of Redis and RQ (listmonk's shape): the engine depends on two narrow interfaces passed in,
a :class:`~campaigns.sending.Sender` (the provider) and a :class:`Throttle` (the shared token
bucket), plus a clock and a sleep so tests freeze time. The jobs in ``workers.dispatch`` wire
them to Redis and the configured provider. Launching and materialising the deliveries is
:mod:`campaigns.materialise`; its public names are re-exported here (``dispatch.launch``).

How the invariants hold:
1. and 3. see :mod:`campaigns.materialise`: each recipient gets exactly one row, ``pending`` or
   ``skipped``, which afterwards only moves between statuses;
2. a chunk is claimed with one conditional UPDATE ``pending → sending`` (attempts + 1, a lease)
   before the provider is called; results are recorded ``WHERE status = 'sending'``; only
   :attr:`Outcome.RETRY` makes a delivery ``pending`` again; :attr:`Outcome.UNKNOWN` leaves it
   leased for the reconciler (:mod:`campaigns.reconcile`), which never resends;
6. each claimed chunk is checked again just before sending, by the same
   :func:`~campaigns.materialise.skip_reason` that skipped numbers when materialising;
7. the window is checked before each chunk (and after waiting for tokens); when it is closed,
   or closes within :data:`MIN_WINDOW_LEFT` seconds, the campaign moves ``running → paused``
   with reason :data:`PAUSED_WINDOW`, which the reconciler resumes at the next opening;
   ``validity_seconds`` makes the provider drop what it could not deliver before the close;
10. tokens are segments, taken per chunk of about :data:`CHUNK_SECONDS` of the campaign's rate,
    read from the campaign row before every chunk so a rate change applies while running; a
    bucket holds at most one chunk, so no 1-second window exceeds the rate by more than a chunk
    (with one-second chunks and a one-second burst it reached twice the rate). Small chunks
    keep the pace because they are pipelined: a worker claims the next chunk while up to
    :data:`PIPELINE` chunks (:data:`MAX_IN_FLIGHT` messages, what a ``kill -9`` may leave
    ``unknown``) are with the provider, and records each as it answers. Two buckets
    are taken: the sender's (``{provider}:{sender}``, at the sender's limit, a provider
    setting shared by every campaign on that sender) and the campaign's (``campaign:{id}``, at
    its own rate, which can only lower the sender's). A chunk waits for the longer of the two
    and gives unused tokens back to both. (One bucket keyed by sender but filled at the
    campaign's rate let two campaigns on one sender refill it at whichever rate called last.)

No database transaction spans a provider call: the chunk's reads and writes are committed
before ``send_many`` and again after recording, so a long campaign never holds a read snapshot
open across the network (on SQLite in WAL mode that would hold back checkpoints).
"""

from __future__ import annotations

import datetime as dt
import functools
import math
import time
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Protocol, cast

from sqlalchemy import Select, Table, Update, bindparam, exists, literal, or_, select, update
from sqlalchemy.orm import Session, aliased

from campaigns import lifecycle
from campaigns import statuses as st
from campaigns.db import UTCDateTime, utcnow
from campaigns.encoding import analyze
from campaigns.materialise import (
    BATCH_SIZE,
    estimate_segments,
    is_materialised,
    launch,
    materialise,
    skip_reason,
)
from campaigns.models import Area, Campaign, Contact, Delivery
from campaigns.recording import BACKOFF_BASE, Prepared, pause, record
from campaigns.rendering import contact_variables_from_row, render, variables_in
from campaigns.sending import OutboundMessage, Sender, SendResult
from campaigns.windows import window_of

# The engine's public names, including those of campaigns.materialise that callers
# (workers.dispatch, workers.reconciler, the tests) have always imported from here.
__all__ = [
    "BATCH_SIZE",
    "CHUNK_SECONDS",
    "DEFAULT_RATE",
    "HORIZON_SECONDS",
    "LEASE_SECONDS",
    "MAX_CHUNK",
    "MAX_IN_FLIGHT",
    "MIN_WINDOW_LEFT",
    "PAUSED_WINDOW",
    "PAUSE_AFTER_ERRORS",
    "PIPELINE",
    "BatchReport",
    "D",
    "Dispatcher",
    "Throttle",
    "batches_in_flight",
    "claim",
    "complete_if_done",
    "due_batches",
    "estimate_segments",
    "has_due",
    "is_materialised",
    "launch",
    "materialise",
    "plan",
    "prepare",
    "resume_after_window",
    "sender_for",
]

LEASE_SECONDS = 300  # a claimed chunk must be recorded within this, or the reconciler takes over
MIN_WINDOW_LEFT = 60  # seconds: do not start a chunk this close to the window's end
CHUNK_SECONDS = 0.05  # a chunk is about this much sending at the rate; also the bucket's burst
MAX_CHUNK = 100  # messages handed to send_many at once
PIPELINE = 8  # chunks a worker has in flight at once (claimed, sent, not yet recorded)
MAX_IN_FLIGHT = 2 * MAX_CHUNK  # messages a worker has in flight at once: what a kill may cost
HORIZON_SECONDS = 600  # enqueue only the batches the rate can send within this
DEFAULT_RATE = 10.0  # segments per second per sender (Twilio's default outside North America)
PAUSE_AFTER_ERRORS = 50  # consecutive provider errors that pause a campaign

PAUSED_WINDOW = "window"  # paused by the engine outside the window; resumed by the reconciler

D = cast(Table, Delivery.__table__)


# What the engine reads of its campaign before every chunk (a fresh read: a person may have
# paused it or changed its rate meanwhile).
_CAMPAIGN_ROW = select(
    Campaign.id,
    Campaign.status,
    Campaign.body,
    Campaign.rate_per_second,
    Campaign.senders,
    Campaign.provider,
    Campaign.window_start,
    Campaign.window_end,
    Campaign.segments_per_message,
).where(Campaign.id == bindparam("campaign_id"))


class Throttle(Protocol):
    """The shared rate limiter (``workers.ratelimit.TokenBucket``)."""

    def take(self, key: str, tokens: float, rate: float, burst: float | None = None) -> float:
        """Reserve ``tokens``; returns the seconds to wait before sending them."""
        ...


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


def _due(now: Any) -> Any:
    return or_(Delivery.next_attempt_at.is_(None), Delivery.next_attempt_at <= now)


def _next_due_batch(after: Any) -> Any:
    """The lowest batch number above ``after`` with a pending delivery due at ``now``: one
    seek in ``ix_deliveries_campaign_status_batch``."""
    return (
        select(Delivery.batch_no)
        .where(
            Delivery.campaign_id == bindparam("campaign_id"),
            Delivery.status == st.PENDING,
            Delivery.batch_no > after,
            _due(bindparam("now", type_=UTCDateTime())),
        )
        .order_by(Delivery.batch_no)
        .limit(1)
        .scalar_subquery()
    )


@functools.cache
def _due_batches_statement() -> Select[tuple[int]]:
    """:func:`due_batches`' query, built once: a loose index scan, batch to batch.

    ``SELECT DISTINCT batch_no … LIMIT n`` reads every pending row of the campaign (240 ms for
    1,200,000 on SQLite, at every batch's end); this recursive query seeks once per batch it
    returns (a few ms for 2,400).
    """
    found = select(_next_due_batch(-1).label("batch_no"), literal(1).label("k")).cte(
        "due_batches", recursive=True
    )
    found = found.union_all(
        select(_next_due_batch(found.c.batch_no), found.c.k + 1).where(
            found.c.batch_no.is_not(None), found.c.k < bindparam("limit")
        )
    )
    return select(found.c.batch_no).where(found.c.batch_no.is_not(None)).order_by(found.c.batch_no)


def due_batches(session: Session, campaign_id: int, now: dt.datetime, limit: int) -> list[int]:
    """The first ``limit`` batch numbers that hold pending deliveries due now, ascending."""
    if limit <= 0:
        return []
    params = {"campaign_id": campaign_id, "now": now, "limit": limit}
    return list(session.scalars(_due_batches_statement(), params))


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


@functools.cache
def _claim_statement(dialect: str) -> Update:
    """:func:`claim`'s UPDATE, built once per dialect (its values are bound parameters, named
    ``b_…``: SQLAlchemy keeps the column names for an UPDATE's own values)."""
    now = bindparam("b_now", type_=UTCDateTime())
    ids = (
        select(Delivery.id)
        .where(
            Delivery.campaign_id == bindparam("b_campaign_id"),
            Delivery.status == st.PENDING,
            Delivery.batch_no == bindparam("b_batch_no"),
            _due(now),
        )
        .order_by(Delivery.id)
        .limit(bindparam("b_limit"))
    )
    if dialect == "postgresql":
        # A materialised CTE runs once. As a plain IN (subquery) PostgreSQL may rescan it per
        # row, and SKIP LOCKED then skips the rows this very statement just updated, so the
        # LIMIT is exceeded. Rows locked and changed meanwhile fail the second status test.
        picked = ids.with_for_update(skip_locked=True).cte("picked").prefix_with("MATERIALIZED")
        chosen: Any = Delivery.id.in_(select(picked.c.id)) & (Delivery.status == st.PENDING)
    else:
        # SQLite runs the whole statement under its one write lock: the rows chosen are still
        # pending when they are updated. A second status test would only lead its planner to
        # scan every pending row (of every campaign) by ix_deliveries_status_lease instead of
        # looking up the chosen ids: 90 ms a chunk with 1,200,000 pending.
        chosen = Delivery.id.in_(ids.scalar_subquery())
    return (
        update(Delivery)
        .where(chosen)
        .values(
            status=st.SENDING,
            lease_until=bindparam("b_lease_until", type_=UTCDateTime()),
            claimed_at=now,
            attempts=Delivery.attempts + 1,
            sender=bindparam("b_sender"),
            updated_at=now,
        )
        .returning(Delivery.id)
        .execution_options(synchronize_session=False)
    )


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
    stmt = _claim_statement(session.get_bind().dialect.name)
    params = {
        "b_campaign_id": campaign_id,
        "b_batch_no": batch_no,
        "b_limit": limit,
        "b_now": now,
        "b_lease_until": now + dt.timedelta(seconds=lease_seconds),
        "b_sender": sender,
    }
    claimed = sorted(session.scalars(stmt, params))
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


@functools.cache
def _prepare_statement() -> Select[*tuple[Any, ...]]:
    """:func:`prepare`'s SELECT, built once: the claimed rows, their contact's variables and
    why each must be skipped now (None: send it)."""
    district, ward = aliased(Area), aliased(Area)
    return (
        select(
            Delivery.id,
            Delivery.phone,
            Delivery.contact_id,
            Contact.name,
            district.name,
            ward.name,
            Contact.carrier,
            skip_reason(Delivery.phone, Contact.invalid),
        )
        .outerjoin(Contact, Contact.id == Delivery.contact_id)
        .outerjoin(district, district.id == Contact.district_id)
        .outerjoin(ward, ward.id == Contact.ward_id)
        .where(Delivery.id.in_(bindparam("ids", expanding=True)))
        .order_by(Delivery.id)
    )


def prepare(
    session: Session, body: str, ids: Sequence[int]
) -> tuple[list[Prepared], dict[int, str]]:
    """Render the claimed deliveries and find those that must not be sent after all.

    Returns:
        the deliveries to send, and ``{delivery id: skip reason}`` for the numbers opted out,
        flagged do-not-contact or found invalid since the audience was materialised.
    """
    rows = session.execute(_prepare_statement(), {"ids": list(ids)})
    ready: list[Prepared] = []
    skipped: dict[int, str] = {}
    segments: dict[str, int] = {}
    same = None if variables_in(body) else render(body, {})  # no variable: one text for all
    for d_id, phone, contact_id, name, district_name, ward_name, carrier, skip in rows:
        if skip is not None:
            skipped[d_id] = skip
            continue
        text = same
        if text is None:
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
    stopped: str = "done"  # done, not_running, window, kill_switch, halt, provider_errors,
    # shutdown (the worker was asked to stop: the rest of the batch is pending)


@dataclass
class Dispatcher:
    """Runs batches for one worker: a session, a provider and the shared throttle."""

    session: Session
    sender: Sender
    throttle: Throttle
    clock: Callable[[], dt.datetime] = utcnow
    sleep: Callable[[float], None] = time.sleep
    killed: Callable[[], str | None] = lambda: None  # the kill switch's reason, if engaged
    stopping: Callable[[], bool] = lambda: False  # the worker is asked to stop (warm shutdown)
    sender_rate: float = DEFAULT_RATE  # the sender's limit (provider settings), segments/s
    pause_after_errors: int = PAUSE_AFTER_ERRORS
    lease_seconds: float = LEASE_SECONDS
    backoff_base: float = BACKOFF_BASE  # seconds before a refused message is tried again
    max_chunk: int = MAX_CHUNK
    pipeline: int = PIPELINE  # 1: each chunk is sent and recorded before the next is claimed
    max_in_flight: int = MAX_IN_FLIGHT
    provider_name: str = field(default="")

    def run_batch(self, campaign_id: int, batch_no: int) -> BatchReport:
        """Send a batch's due pending deliveries, chunk by chunk, until none is left or a stop.

        Each chunk: stop when the worker is asked to stop (its batch job ends; the reconciler
        enqueues the rest again); read the campaign row (status, rate, window, senders); stop
        when it is not running, the kill switch is engaged or the window is (nearly) closed;
        take the chunk's segments from the throttle and wait; claim; skip the numbers opted out
        meanwhile; render; hand it to the provider; record it when the provider answers. Chunks
        are pipelined: the next one is claimed while earlier ones are in flight (at most
        ``pipeline`` chunks and ``max_in_flight`` messages), and every chunk handed over is
        recorded before this returns, whatever stopped the batch. When nothing is left, the
        campaign may complete.
        """
        report = BatchReport()
        flights: deque[_Flight] = deque()
        pool = ThreadPoolExecutor(self.pipeline, "chunk") if self.pipeline > 1 else None
        stop: str | None = None
        try:
            while stop is None:
                stop = self._land_ready(flights, report)
                if stop is None:
                    stop = self._chunk(campaign_id, batch_no, flights, pool)
        except BaseException:
            self._land_all(flights, report, raise_first=False)
            raise
        else:
            landed = self._land_all(flights, report)
        finally:
            if pool is not None:
                pool.shutdown(wait=False)
        report.stopped = landed if stop == "done" and landed is not None else stop
        if report.stopped == "done" and complete_if_done(self.session, campaign_id, self.clock()):
            self.session.commit()
        return report

    def _land(self, flight: _Flight, report: BatchReport) -> str | None:
        """Record a chunk the provider answered (waiting for it); the pause it caused, if any."""
        outcome = record(
            self.session,
            flight.campaign_id,
            flight.ready,
            flight.results(),
            flight.skipped,
            self.clock(),
            self.pause_after_errors,
            self.backoff_base,
        )
        self.session.commit()
        report.sent += outcome.sent
        report.retried += outcome.retried
        report.failed += outcome.failed
        report.unknown += outcome.unknown
        report.skipped += len(flight.skipped)
        return outcome.paused

    def _land_ready(self, flights: deque[_Flight], report: BatchReport) -> str | None:
        """Record the chunks answered already, and wait for the oldest while the pipeline is full."""
        while flights:
            in_flight = sum(len(f.ready) for f in flights)
            full = len(flights) >= self.pipeline or in_flight + self.max_chunk > self.max_in_flight
            if not full and not flights[0].done():
                return None
            stop = self._land(flights.popleft(), report)
            if stop is not None:
                return stop
        return None

    def _land_all(
        self, flights: deque[_Flight], report: BatchReport, raise_first: bool = True
    ) -> str | None:
        """Record every chunk still in flight, oldest first, even after one fails to record
        (those rows keep their lease, for the reconciler); the first pause it caused.

        Raises:
            the first error, once all are recorded (unless ``raise_first`` is false).
        """
        stop: str | None = None
        error: Exception | None = None
        while flights:
            try:
                paused = self._land(flights.popleft(), report)
            except Exception as exc:  # the other chunks must still be recorded
                self.session.rollback()
                error = error or exc
                continue
            stop = stop or paused
        if error is not None and raise_first:
            raise error
        return stop

    def _stop_reason(self, campaign: Any, now: dt.datetime) -> str | None:
        if self.stopping():  # the rest of the batch stays pending, for the next worker
            return "shutdown"
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
        row = self.session.execute(_CAMPAIGN_ROW, {"campaign_id": campaign_id}).first()
        self.session.commit()  # no snapshot held while waiting for tokens
        return row

    def _take(self, buckets: Sequence[tuple[str, float]], tokens: float, burst: float) -> float:
        """Take ``tokens`` from every bucket; the longest wait (negative tokens give back).

        The buckets hold at most ``burst`` (one chunk): an idle sender starts with one chunk, and
        no 1-second window sends more than the rate plus that chunk."""
        return max(self.throttle.take(key, tokens, rate, burst) for key, rate in buckets)

    def _chunk(
        self,
        campaign_id: int,
        batch_no: int,
        flights: deque[_Flight],
        pool: ThreadPoolExecutor | None,
    ) -> str | None:
        """Claim, check and render the next chunk and hand it to the provider; or why to stop."""
        campaign = self._campaign(campaign_id)
        now = self.clock()
        stop = self._stop_reason(campaign, now)
        if stop is not None:
            return stop
        limit = float(self.sender_rate)
        rate = min(limit, float(campaign.rate_per_second or limit))
        sender = sender_for(campaign.senders, batch_no)
        provider = campaign.provider or self.provider_name or self.sender.name
        buckets = [(f"{provider}:{sender or 'default'}", limit), (f"campaign:{campaign_id}", rate)]
        per_message = max(1, campaign.segments_per_message or estimate_segments(campaign.body))
        size = max(1, min(self.max_chunk, int(rate * CHUNK_SECONDS / per_message)))
        reserved = size * per_message
        wait = self._take(buckets, reserved, reserved)
        if wait > 0:
            self.sleep(wait)
            now = self.clock()
            stop = self._stop_reason(self._campaign(campaign_id), now)
            if stop is not None:
                self._take(buckets, -reserved, reserved)
                return stop
        ids = claim(self.session, campaign_id, batch_no, size, now, sender, self.lease_seconds)
        if not ids:
            self._take(buckets, -reserved, reserved)
            return None if has_due(self.session, campaign_id, batch_no, now) else "done"
        ready, skipped = prepare(self.session, campaign.body, ids)
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
        self.session.commit()  # invariant 6 of this module: no transaction spans the call
        flight = _Flight(campaign_id, ready, skipped)
        if messages and pool is not None:
            flight.pending = pool.submit(self.sender.send_many, messages)
        elif messages:
            flight.answers = self.sender.send_many(messages)
        flights.append(flight)
        # Only now, with the chunk in ``flights`` (recorded whatever happens next): a throttle
        # that fails here (Redis away) must not strand claimed rows under their lease.
        used = sum(p.segments for p in ready)
        if used != reserved:  # the next chunk pays (or gains) the difference
            self._take(buckets, used - reserved, reserved)
        return None


@dataclass
class _Flight:
    """A chunk handed to the provider: what was sent and skipped, and its answers to come."""

    campaign_id: int
    ready: list[Prepared]
    skipped: dict[int, str]
    pending: Future[list[SendResult]] | None = None  # sending on the pipeline's thread
    answers: list[SendResult] = field(default_factory=list)  # answered already (or nothing sent)

    def done(self) -> bool:
        return self.pending is None or self.pending.done()

    def results(self) -> list[SendResult]:
        """The provider's answers, in the order of ``ready`` (waits for them)."""
        return self.answers if self.pending is None else self.pending.result()
