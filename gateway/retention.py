"""Retention: personal content older than its period is anonymised, and the run is audited.

What goes and what stays (reports keep their counts):

- a **tip** closed more than ``LOA_RETENTION_TIPS_DAYS`` ago, unless on legal hold: its text, the
  sender's and the given number and its internal notes go; channel, queue, shares, area,
  priority, state, resolution, rules, timeline and times stay;
- a **reply or alert** sent (or settled) more than ``LOA_RETENTION_REPLIES_DAYS`` ago: its text
  and number go, its kind, status, provider and times stay; a reply of a tip still open or on
  legal hold is kept with the tip;
- a **delivery** of a campaign that ended more than ``LOA_RETENTION_DELIVERIES_DAYS`` ago: the
  number (``#<id>`` stands in, so one delivery per (campaign, recipient) still holds), the link
  to the contact, the provider's message id and error text go; status, error code, segments and
  times stay.

A period of 0 keeps that kind forever. Do-not-contact flags and opt-outs are never removed:
they protect people. Work is done in chunks, each its own transaction, so a large first run
never holds long locks; a run that stops half-way is finished by the next one.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

from sqlalchemy import ColumnElement, String, and_, cast, delete, func, literal, or_, select, update
from sqlalchemy.orm import Session

from campaigns import lifecycle
from campaigns.db import utcnow
from campaigns.models import Campaign, Delivery
from gateway import audit
from gateway.models import User
from gateway.tips import states
from gateway.tips.casework import CaseworkError, NotAllowed, may_work
from gateway.tips.models import Reply, Tip, TipEvent, TipNote

log = logging.getLogger("loa.retention")

CHUNK = 2000
# A delivery whose number retention removed reads ``#<id>`` (no phone number starts with #).
ANONYMOUS_PREFIX = "#"
SETTLED_REPLY = ("sent", "failed", "unknown", "suppressed")


class LegalHoldError(CaseworkError):
    """A legal hold without a reason, or with an overlong one."""


@dataclass(frozen=True)
class Periods:
    """Days to keep each kind; 0 keeps it forever."""

    tips_days: int
    replies_days: int
    deliveries_days: int

    @classmethod
    def from_settings(cls, settings: Any) -> Periods:
        return cls(
            settings.retention_tips_days,
            settings.retention_replies_days,
            settings.retention_deliveries_days,
        )


@dataclass
class Report:
    """What one run anonymised (or, dry, would have): counts only, never content."""

    tips: int = 0
    notes: int = 0
    replies: int = 0
    deliveries: int = 0
    held: int = 0  # tips past their period, kept by a legal hold
    dry_run: bool = False

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _cutoff(now: dt.datetime, days: int) -> dt.datetime | None:
    return now - dt.timedelta(days=days) if days else None


def _tips_due(cutoff: dt.datetime) -> ColumnElement[bool]:
    return and_(
        Tip.status == states.CLOSED,
        Tip.closed_at < cutoff,
        Tip.anonymised_at.is_(None),
    )


def _replies_due(cutoff: dt.datetime) -> ColumnElement[bool]:
    # A reply belongs to its case: kept while its tip is open or on legal hold.
    kept_tips = select(Tip.id).where(or_(Tip.legal_hold, Tip.status != states.CLOSED))
    return and_(
        Reply.status.in_(SETTLED_REPLY),
        func.coalesce(Reply.sent_at, Reply.created_at) < cutoff,
        Reply.anonymised_at.is_(None),
        or_(Reply.tip_id.is_(None), Reply.tip_id.not_in(kept_tips)),
    )


def _deliveries_due(cutoff: dt.datetime) -> ColumnElement[bool]:
    ended = select(Campaign.id).where(
        Campaign.status.in_(lifecycle.FINAL_STATES),
        func.coalesce(Campaign.completed_at, Campaign.updated_at) < cutoff,
    )
    return and_(Delivery.campaign_id.in_(ended), ~Delivery.phone.startswith(ANONYMOUS_PREFIX))


def _chunks(session: Session, column: Any, where: ColumnElement[bool]) -> Any:
    """Yield ids matching ``where`` a chunk at a time; each chunk is committed by the caller."""
    while ids := list(session.scalars(select(column).where(where).order_by(column).limit(CHUNK))):
        yield ids


def _count(session: Session, column: Any, where: ColumnElement[bool]) -> int:
    return int(session.scalar(select(func.count(column)).where(where)) or 0)


def _anonymise_tips(session: Session, ids: Sequence[int], now: dt.datetime) -> int:
    notes = session.execute(delete(TipNote).where(TipNote.tip_id.in_(ids))).rowcount  # type: ignore[attr-defined]
    session.execute(
        update(Tip)
        .where(Tip.id.in_(ids))
        .values(body="", body_folded="", sender=None, given_phone=None, anonymised_at=now)
        .execution_options(synchronize_session=False)
    )
    return int(notes or 0)


def run(
    session: Session, periods: Periods, now: dt.datetime | None = None, dry_run: bool = False
) -> Report:
    """Anonymise what is past its period, commit chunk by chunk, and audit the counts.

    Args:
        session: a session with nothing pending (each chunk is committed).
        periods: the days to keep each kind (``Periods.from_settings(settings)``).
        now: the current time (tests pass one).
        dry_run: count only; nothing changes and nothing is audited (nor is a run that
            found nothing to do: the hourly job would fill the audit log with zeros).

    Returns:
        The counts of this run.
    """
    now = now or utcnow()
    report = Report(dry_run=dry_run)
    if cutoff := _cutoff(now, periods.tips_days):
        due = _tips_due(cutoff)
        report.held = _count(session, Tip.id, and_(due, Tip.legal_hold))
        due = and_(due, ~Tip.legal_hold)
        if dry_run:
            report.tips = _count(session, Tip.id, due)
            report.notes = _count(
                session, TipNote.id, TipNote.tip_id.in_(select(Tip.id).where(due))
            )
        else:
            for ids in _chunks(session, Tip.id, due):
                report.notes += _anonymise_tips(session, ids, now)
                report.tips += len(ids)
                session.commit()
    if cutoff := _cutoff(now, periods.replies_days):
        due = _replies_due(cutoff)
        if dry_run:
            report.replies = _count(session, Reply.id, due)
        else:
            for ids in _chunks(session, Reply.id, due):
                session.execute(
                    update(Reply)
                    .where(Reply.id.in_(ids))
                    .values(body="", to_phone="", anonymised_at=now)
                    .execution_options(synchronize_session=False)
                )
                report.replies += len(ids)
                session.commit()
    if cutoff := _cutoff(now, periods.deliveries_days):
        due = _deliveries_due(cutoff)
        if dry_run:
            report.deliveries = _count(session, Delivery.id, due)
        else:
            for ids in _chunks(session, Delivery.id, due):
                session.execute(
                    update(Delivery)
                    .where(Delivery.id.in_(ids))
                    .values(
                        phone=literal(ANONYMOUS_PREFIX) + cast(Delivery.id, String),
                        contact_id=None,
                        provider_message_id=None,
                        error_message=None,
                    )
                    .execution_options(synchronize_session=False)
                )
                report.deliveries += len(ids)
                session.commit()
    if not dry_run and (report.tips or report.replies or report.deliveries):
        audit.record(
            "retention.run",
            object_type="retention",
            details={**report.as_dict(), **asdict(periods)},
            session=session,
        )
        session.commit()
        session.expire_all()  # the bulk UPDATEs bypassed the objects this session holds
    log.info(
        "retention%s: %d tips (%d notes), %d replies, %d deliveries anonymised; %d tips held",
        " (dry run)" if dry_run else "",
        report.tips,
        report.notes,
        report.replies,
        report.deliveries,
        report.held,
    )
    return report


def set_legal_hold(session: Session, tip: Tip, user: User, hold: bool, reason: str = "") -> None:
    """Put a tip under legal hold (retention keeps it whole) or release it; audited.

    Raises:
        NotAllowed: the user may not work on this tip.
        LegalHoldError: a hold without a reason (a case number, say), or one over 200 characters.
    """
    if not may_work(user, tip):
        raise NotAllowed(f"user {user.id} may not hold tip {tip.id}")
    reason = " ".join(reason.split())
    if hold and not reason:
        raise LegalHoldError("a legal hold needs a reason, e.g. the case number")
    if len(reason) > 200:
        raise LegalHoldError("the reason has at most 200 characters")
    if tip.legal_hold == hold:
        return
    tip.legal_hold = hold
    tip.legal_hold_reason = reason if hold else ""
    tip.legal_hold_by_id = user.id
    tip.legal_hold_at = utcnow()
    action = "tip.legal_hold" if hold else "tip.legal_hold_released"
    audit.record(action, actor=user, object_type="tip", object_id=tip.id, session=session)
    session.add(TipEvent(tip_id=tip.id, actor_id=user.id, kind=action.removeprefix("tip.")))
