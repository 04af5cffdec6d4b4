"""Recording a chunk's provider results in bulk, with their effects (invariant 2).

Each class of result is one UPDATE per chunk ``… WHERE id = :id AND status = 'sending'`` (an
executemany on SQLite, one statement over arrays on PostgreSQL), so a row that the reconciler or
a receipt moved meanwhile is not overwritten. What each outcome does:

- ACCEPTED: ``sent`` with the provider's id. A receipt may have arrived first (a fast provider):
  then only the id and ``sent_at`` are filled in and the later status is kept.
- RETRY (provably not accepted): ``pending`` again with an exponential backoff (or the provider's
  Retry-After; longer for SLOW_DOWN), until :data:`MAX_ATTEMPTS`, then ``failed``.
- FAILED: ``failed`` with the code; INVALID_NUMBER marks the contact invalid, OPTED_OUT adds the
  number to the suppression list (channel ``provider``), HALT pauses the campaign.
- UNKNOWN (may have been accepted): stays ``sending`` under its lease; the reconciler resolves it.

Provider errors (FAILED and UNKNOWN, except failures that only concern one recipient) extend the
campaign's ``error_streak``; an acceptance ends it. At ``pause_after`` consecutive errors the
campaign pauses with reason ``provider_errors: …``. A provable refusal (RETRY: 429, a 503 that
says nothing was created, a refused connection) is the provider asking us to wait: the backoff
already spaces those recipients out and MAX_ATTEMPTS bounds them, so it neither extends nor ends
the streak; a throttle or a short outage slows a campaign down instead of stopping it.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import (
    Connection,
    Integer,
    String,
    Table,
    Update,
    bindparam,
    case,
    column,
    func,
    or_,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session

from campaigns import lifecycle, optouts
from campaigns import statuses as st
from campaigns.db import UTCDateTime
from campaigns.models import Campaign, Contact, Delivery
from campaigns.sending import Effect, Outcome, SendResult

MAX_ATTEMPTS = 5
BACKOFF_BASE = 30.0  # seconds; doubled per attempt
BACKOFF_MAX = 30 * 60.0
SLOW_DOWN_SECONDS = 10 * 60.0
# Failures that say something about one recipient, not about the provider or the campaign.
_RECIPIENT_EFFECTS = frozenset({Effect.INVALID_NUMBER, Effect.OPTED_OUT})

D = cast(Table, Delivery.__table__)
_ATTEMPTS = select(Delivery.id, Delivery.attempts).where(
    Delivery.id.in_(bindparam("ids", expanding=True))
)
_STREAK = select(Campaign.error_streak).where(Campaign.id == bindparam("campaign_id"))


@dataclass(frozen=True, slots=True)
class Prepared:
    """A claimed delivery, rendered and ready to send."""

    delivery_id: int
    phone: str
    contact_id: int | None
    body: str
    segments: int


@dataclass
class Recorded:
    """Counts of a recorded chunk, and the pause reason when the chunk paused the campaign."""

    sent: int = 0
    retried: int = 0
    failed: int = 0
    unknown: int = 0
    paused: str | None = None


def backoff(attempts: int, result: SendResult, base: float = BACKOFF_BASE) -> float:
    """Seconds before the next attempt of a delivery tried ``attempts`` times."""
    seconds = min(BACKOFF_MAX, base * 2 ** max(0, attempts - 1))
    if result.effect == Effect.SLOW_DOWN:
        seconds = max(seconds, SLOW_DOWN_SECONDS)
    return float(max(seconds, result.retry_after or 0.0))


_IN_FLIGHT = (or_(D.c.status == st.SENDING, D.c.status == st.UNKNOWN), None)

# The per-row values of a chunk's UPDATEs, by name. ``at`` (the time of recording) is one value
# for the whole chunk.
_ROW_TYPES: dict[str, Any] = {
    "d_id": Integer(),
    "segs": Integer(),
    "pmid": String(),
    "code": String(),
    "msg": String(),
    "reason": String(),
    "next_at": UTCDateTime(),
}
Row = Mapping[str, Any]


def _sent(v: Row) -> Update:
    return (
        update(D)
        .where(D.c.id == v["d_id"])
        .values(
            status=case((_IN_FLIGHT[0], st.SENT), else_=D.c.status),
            provider_message_id=func.coalesce(D.c.provider_message_id, v["pmid"]),
            sent_at=bindparam("at"),
            segments=v["segs"],
            lease_until=None,
            # A receipt that came first (failed, undelivered) keeps its status and its reason.
            error_code=case(_IN_FLIGHT, else_=D.c.error_code),
            error_message=case(_IN_FLIGHT, else_=D.c.error_message),
            updated_at=bindparam("at"),
        )
    )


def _retry(v: Row) -> Update:
    return (
        update(D)
        .where(D.c.id == v["d_id"], D.c.status == st.SENDING)
        .values(
            status=st.PENDING,
            next_attempt_at=v["next_at"],
            segments=v["segs"],
            lease_until=None,
            error_code=v["code"],
            error_message=v["msg"],
            updated_at=bindparam("at"),
        )
    )


def _failed(v: Row) -> Update:
    return (
        update(D)
        .where(D.c.id == v["d_id"], D.c.status == st.SENDING)
        .values(
            status=st.FAILED,
            segments=v["segs"],
            lease_until=None,
            error_code=v["code"],
            error_message=v["msg"],
            finished_at=bindparam("at"),
            updated_at=bindparam("at"),
        )
    )


def _unknown(v: Row) -> Update:
    return (
        update(D)
        .where(D.c.id == v["d_id"], D.c.status == st.SENDING)
        .values(
            segments=v["segs"],
            error_code=v["code"],
            error_message=v["msg"],
            updated_at=bindparam("at"),
        )
    )


def _skipped(v: Row) -> Update:
    return (
        update(D)
        .where(D.c.id == v["d_id"], D.c.status == st.SENDING)
        .values(
            status=st.SKIPPED,
            skip_reason=v["reason"],
            lease_until=None,
            finished_at=bindparam("at"),
            updated_at=bindparam("at"),
        )
    )


@functools.cache
def _statement(build: Callable[[Row], Update], names: tuple[str, ...], arrays: bool) -> Update:
    """``build``'s UPDATE over the per-row values ``names``: bound parameters for an
    executemany, or (``arrays``) the columns of one ``unnest`` of a typed array per name, so the
    whole chunk is one statement on PostgreSQL."""
    if not arrays:
        return build({n: bindparam(n) for n in names})
    source = (
        func.unnest(*(bindparam(n, type_=ARRAY(_ROW_TYPES[n])) for n in names))
        .table_valued(*(column(n, _ROW_TYPES[n]) for n in names))
        .render_derived(name="v")
    )
    return build({n: source.c[n] for n in names})


def _update_rows(
    conn: Connection, build: Callable[[Row], Update], rows: Sequence[Row], at: dt.datetime
) -> None:
    """Run ``build``'s UPDATE for each of ``rows`` (dicts of the same per-row values).

    SQLite: one executemany. PostgreSQL: one statement over arrays, because psycopg runs an
    executemany as one statement per row, and the delivery counters' statement-level triggers
    would then run once per row instead of once per chunk."""
    if not rows:
        return
    names = tuple(rows[0])
    if conn.dialect.name == "postgresql":
        arrays = {n: [r[n] for r in rows] for n in names}
        conn.execute(_statement(build, names, True), {**arrays, "at": at})
    else:
        conn.execute(_statement(build, names, False), [{**r, "at": at} for r in rows])


def _params(p: Prepared, r: SendResult) -> dict[str, Any]:
    return {
        "d_id": p.delivery_id,
        "segs": p.segments,
        "code": (r.error_code or "")[:20] or None,
        "msg": (r.error_message or "")[:300] or None,
    }


def record(
    session: Session,
    campaign_id: int,
    sent: Sequence[Prepared],
    results: Sequence[SendResult],
    skipped: Mapping[int, str],
    now: dt.datetime,
    pause_after: int,
    backoff_base: float = BACKOFF_BASE,
) -> Recorded:
    """Record one chunk: skipped rows, then each result in input order; the caller commits.

    Args:
        session: the worker's session.
        campaign_id: the campaign of the chunk.
        sent: the deliveries handed to the provider, in order.
        results: the provider's results, in the same order.
        skipped: ``{delivery id: reason}`` of claimed rows not sent (opted out meanwhile…).
        now: the time of recording.
        pause_after: consecutive provider errors that pause the campaign.
        backoff_base: seconds before the first retry (doubled per attempt).
    Returns:
        the counts, and the pause reason when this chunk paused the campaign.
    """
    if len(sent) != len(results):
        raise ValueError("one result per message is required")
    conn = session.connection()
    _update_rows(conn, _skipped, [{"d_id": i, "reason": r} for i, r in skipped.items()], now)
    attempts: dict[int, int] = {}
    retried = [
        p.delivery_id for p, r in zip(sent, results, strict=True) if r.outcome == Outcome.RETRY
    ]
    if retried:  # their attempts decide between a backoff and giving up
        attempts = {d_id: n for d_id, n in session.execute(_ATTEMPTS, {"ids": retried})}
    rows: dict[str, list[dict[str, Any]]] = {"sent": [], "retry": [], "failed": [], "unknown": []}
    invalid: list[int] = []
    opted_out: list[tuple[str, str]] = []
    halt: SendResult | None = None
    out = Recorded()
    for p, r in zip(sent, results, strict=True):
        params = _params(p, r)
        if r.outcome == Outcome.ACCEPTED:
            rows["sent"].append({**params, "pmid": (r.provider_message_id or "")[:64] or None})
        elif r.outcome == Outcome.RETRY and attempts.get(p.delivery_id, 0) < MAX_ATTEMPTS:
            wait = backoff(attempts.get(p.delivery_id, 1), r, backoff_base)
            rows["retry"].append({**params, "next_at": now + dt.timedelta(seconds=wait)})
        elif r.outcome in (Outcome.RETRY, Outcome.FAILED):
            rows["failed"].append(params)
            if r.effect == Effect.INVALID_NUMBER and p.contact_id is not None:
                invalid.append(p.contact_id)
            elif r.effect == Effect.OPTED_OUT:
                opted_out.append((p.phone, r.error_code or ""))
            elif r.effect == Effect.HALT and halt is None:
                halt = r
        else:
            rows["unknown"].append(params)
    for key, build in (
        ("sent", _sent),
        ("retry", _retry),
        ("failed", _failed),
        ("unknown", _unknown),
    ):
        _update_rows(conn, build, rows[key], now)
    out.sent, out.retried = len(rows["sent"]), len(rows["retry"])
    out.failed, out.unknown = len(rows["failed"]), len(rows["unknown"])
    if invalid:
        session.execute(
            update(Contact)
            .where(Contact.id.in_(invalid))
            .values(invalid=True, updated_at=now)
            .execution_options(synchronize_session=False)
        )
    for phone, code in opted_out:
        optouts.opt_out(session, phone, optouts.PROVIDER, reason=f"provider {code}".strip())
    if halt is not None:
        reason = f"halt: {halt.error_code or ''} {halt.error_message or ''}".strip()
        if pause(session, campaign_id, reason, now):
            out.paused = "halt"
    streak = _update_streak(session, campaign_id, results)
    if out.paused is None and streak >= pause_after:
        last = next((r.error_code for r in reversed(results) if r.error_code), "") or ""
        reason = f"provider_errors: {streak} consecutive provider errors (last {last})".strip()
        if pause(session, campaign_id, reason, now):
            out.paused = "provider_errors"
    return out


def _is_error(r: SendResult) -> bool:
    return r.outcome in (Outcome.FAILED, Outcome.UNKNOWN) and r.effect not in _RECIPIENT_EFFECTS


def _update_streak(session: Session, campaign_id: int, results: Sequence[SendResult]) -> int:
    """Extend or restart the campaign's run of consecutive errors; returns its new length."""
    relevant = [r for r in results if r.outcome == Outcome.ACCEPTED or _is_error(r)]
    if not relevant:
        return int(session.scalar(_STREAK, {"campaign_id": campaign_id}) or 0)
    accepted = [i for i, r in enumerate(relevant) if r.outcome == Outcome.ACCEPTED]
    trailing = len(relevant) - 1 - accepted[-1] if accepted else len(relevant)
    value: Any = trailing if accepted else Campaign.error_streak + trailing
    session.execute(
        update(Campaign)
        .where(Campaign.id == campaign_id)
        .values(error_streak=value)
        .execution_options(synchronize_session=False)
    )
    if accepted:  # the run restarted within this chunk: its length is known
        return trailing
    return int(session.scalar(_STREAK, {"campaign_id": campaign_id}) or 0)


def pause(session: Session, campaign_id: int, reason: str, now: dt.datetime) -> bool:
    """Pause a running campaign with a reason (``window``, ``halt: …``, ``provider_errors: …``)."""
    sources = [s for (s, a) in lifecycle.TRANSITIONS if a == lifecycle.PAUSE]
    result = session.execute(
        update(Campaign)
        .where(Campaign.id == campaign_id, Campaign.status.in_(sources))
        .values(status=lifecycle.PAUSED, paused_reason=reason[:2000], updated_at=now)
        .execution_options(synchronize_session=False)
    )
    return bool(getattr(result, "rowcount", 0))
