"""Tables of the tip line. A tip is stored (and routed) before any channel is answered."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    event,
    false,
)
from sqlalchemy.orm import Mapped, mapped_column

from campaigns.db import Base, utcnow
from campaigns.text import fold
from gateway.tips import count_triggers, routing_version, scope_index, search_index


def _fold_body(context: Any) -> str:
    """Column default of ``Tip.body_folded`` (works for ORM and Core inserts alike)."""
    return fold(context.get_current_parameters().get("body") or "")


class Tip(Base):
    """One report from a citizen, by any channel."""

    __tablename__ = "tips"
    __table_args__ = (
        UniqueConstraint("provider", "provider_message_id"),
        Index("ix_tips_queue_status", "queue", "status"),
        # Open tips are few among a year of closed ones: counts and badges start from status,
        # with the index of gateway.tips.scope_index (status, queue, priority, …, shared_with).
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    channel: Mapped[str] = mapped_column(String(16))  # sms, web, call, smpp, http_mo
    provider: Mapped[str | None] = mapped_column(String(20))
    provider_message_id: Mapped[str | None] = mapped_column(String(64))
    sender: Mapped[str | None] = mapped_column(String(20), index=True)  # E.164, or None
    # A number typed into the web form or the call log: given by the tipster, unverified. It is
    # never the sender: no thread, no campaign link, no do-not-contact carried over from it.
    given_phone: Mapped[str | None] = mapped_column(String(20))
    body: Mapped[str] = mapped_column(Text)
    # The body folded (lowercase, no diacritics) for the inbox search: SQLite has no unaccent.
    body_folded: Mapped[str] = mapped_column(Text, default=_fold_body)
    received_at: Mapped[dt.datetime] = mapped_column(default=utcnow, index=True)
    queue: Mapped[str] = mapped_column(String(64), default="police_province")
    priority: Mapped[str] = mapped_column(String(10), default="normal")
    status: Mapped[str] = mapped_column(String(16), default="new")
    author_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))  # call logged by staff
    # Routing: one primary queue, other queues that also see the tip, and the rules that decided.
    shared_with: Mapped[list[str]] = mapped_column(JSON, default=list)
    matched_rules: Mapped[list[dict[str, Any]]] = mapped_column(
        JSON, default=list
    )  # {id,name,version}
    rule_id: Mapped[int | None] = mapped_column(Integer)  # the rule that chose the queue
    rule_version: Mapped[int | None] = mapped_column(Integer)
    district_id: Mapped[int | None] = mapped_column(ForeignKey("areas.id"), index=True)
    campaign_id: Mapped[int | None] = mapped_column(
        ForeignKey("campaigns.id", ondelete="SET NULL"), index=True
    )  # the broadcast the sender received shortly before (tips.links)
    # Work on the tip (states in gateway.tips.states).
    resolution: Mapped[str | None] = mapped_column(String(24))
    assigned_to_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    merged_into_id: Mapped[int | None] = mapped_column(ForeignKey("tips.id"))
    acknowledged_at: Mapped[dt.datetime | None] = mapped_column()
    closed_at: Mapped[dt.datetime | None] = mapped_column()
    # Notifications run after commit; a NULL here means a worker has yet to notify (Redis may
    # have been down), so the periodic job finds it again.
    notified_at: Mapped[dt.datetime | None] = mapped_column(index=True)
    escalation_level: Mapped[int] = mapped_column(Integer, default=0)
    last_escalated_at: Mapped[dt.datetime | None] = mapped_column()
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    # A legal hold (a tip under investigation) keeps the tip whole past its retention period.
    legal_hold: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    legal_hold_reason: Mapped[str] = mapped_column(String(200), default="", server_default="")
    legal_hold_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    legal_hold_at: Mapped[dt.datetime | None] = mapped_column()
    # Set by retention (gateway.retention): body, numbers and notes are gone; counts remain.
    anonymised_at: Mapped[dt.datetime | None] = mapped_column()


class TipCount(Base):
    """How many tips have one (queue, shared_with, status, priority, merged or not): kept by the
    database's own triggers (:mod:`gateway.tips.count_triggers`), read by the dashboard's
    queue-by-state table and its open tips by priority instead of a count of the tips. ``shared_with`` is the tip's JSON text (``'[]'`` for NULL), so a
    user's scope applies to a counter row as to the tips it counts. A key may have several rows
    (see ``slot``): readers sum them."""

    __tablename__ = "tip_counts"

    queue: Mapped[str] = mapped_column(String(64), primary_key=True)
    shared_with: Mapped[str] = mapped_column(Text, primary_key=True, default="[]")
    status: Mapped[str] = mapped_column(String(16), primary_key=True)
    priority: Mapped[str] = mapped_column(String(10), primary_key=True)
    merged: Mapped[int] = mapped_column(Integer, primary_key=True, default=0)  # 1: merged_into_id
    # The database connection that added to it (PostgreSQL's backend pid; 0 on SQLite and for a
    # recount): connections never share a counter row, so they never wait for each other.
    slot: Mapped[int] = mapped_column(primary_key=True, default=0, server_default="0")
    n: Mapped[int] = mapped_column(BigInteger, default=0)


class TipDay(Base):
    """How many tips not merged into another were received on one local day (at
    ``count_triggers.DAY_OFFSET_MINUTES``, Vietnam's +07:00) with one (queue, shared_with,
    district, priority): kept by the database's own triggers, read by the dashboard's charts
    instead of every tip of the period. ``0`` stands for no district. Readers sum the slots."""

    __tablename__ = "tip_days"

    day: Mapped[str] = mapped_column(String(10), primary_key=True)  # YYYY-MM-DD, local
    queue: Mapped[str] = mapped_column(String(64), primary_key=True)
    shared_with: Mapped[str] = mapped_column(Text, primary_key=True, default="[]")
    district_id: Mapped[int] = mapped_column(Integer, primary_key=True, default=0)
    priority: Mapped[str] = mapped_column(String(10), primary_key=True)
    slot: Mapped[int] = mapped_column(primary_key=True, default=0, server_default="0")
    n: Mapped[int] = mapped_column(BigInteger, default=0)


# The search index, the scope index and the counters' triggers come with the tables wherever the
# schema is built from the models (tests, the benchmarks); the migrations install the same ones.
event.listen(Tip.__table__, "after_create", lambda _t, conn, **_kw: search_index.install(conn))
event.listen(Tip.__table__, "after_create", lambda _t, conn, **_kw: scope_index.install(conn))
event.listen(
    Tip.__table__, "after_create", lambda _t, conn, **_kw: scope_index.install_waiting(conn)
)
event.listen(Tip.__table__, "after_drop", lambda _t, conn, **_kw: search_index.uninstall(conn))
event.listen(Base.metadata, "after_create", lambda _t, conn, **_kw: count_triggers.install(conn))
event.listen(Base.metadata, "after_create", lambda _t, conn, **_kw: routing_version.install(conn))


class TipNote(Base):
    """An operator's internal note on a tip (never sent to the citizen)."""

    __tablename__ = "tip_notes"

    id: Mapped[int] = mapped_column(primary_key=True)
    tip_id: Mapped[int] = mapped_column(ForeignKey("tips.id", ondelete="CASCADE"), index=True)
    author_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class TipEvent(Base):
    """One line of a tip's timeline: created, routed, state change, assignment, hand-off …"""

    __tablename__ = "tip_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    tip_id: Mapped[int] = mapped_column(ForeignKey("tips.id", ondelete="CASCADE"), index=True)
    at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))  # None = the system
    # created, routed, status, assigned, handed_off, shared, note, reply, merged, escalated
    kind: Mapped[str] = mapped_column(String(20))
    from_status: Mapped[str | None] = mapped_column(String(16))
    to_status: Mapped[str | None] = mapped_column(String(16))
    to_queue: Mapped[str | None] = mapped_column(String(64))  # a hand-off: to which queue
    to_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))  # … or to whom
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # never a body or number


class Reply(Base):
    """An outbound SMS of the ``replies`` lane: an ack or reply to a tipster, or a staff alert."""

    __tablename__ = "replies"

    id: Mapped[int] = mapped_column(primary_key=True)
    tip_id: Mapped[int | None] = mapped_column(
        ForeignKey("tips.id", ondelete="SET NULL"), index=True
    )
    to_phone: Mapped[str] = mapped_column(String(20))  # E.164
    body: Mapped[str] = mapped_column(Text)
    kind: Mapped[str] = mapped_column(String(8))  # ack, reply, alert
    # queued, sending, sent, failed, unknown, suppressed (do-not-contact or opted out)
    status: Mapped[str] = mapped_column(String(12), default="queued", index=True)
    author_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    provider: Mapped[str | None] = mapped_column(String(20))
    provider_message_id: Mapped[str | None] = mapped_column(String(64), index=True)
    error_code: Mapped[str | None] = mapped_column(String(20))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    claimed_at: Mapped[dt.datetime | None] = mapped_column()  # the last move to ``sending``
    sent_at: Mapped[dt.datetime | None] = mapped_column()
    anonymised_at: Mapped[dt.datetime | None] = mapped_column()  # retention emptied it


class SenderFlag(Base):
    """What operators decided about a sender: do-not-contact means no reply and no broadcast."""

    __tablename__ = "sender_flags"

    id: Mapped[int] = mapped_column(primary_key=True)
    phone: Mapped[str] = mapped_column(String(20), unique=True)  # E.164
    do_not_contact: Mapped[bool] = mapped_column(Boolean, default=True)
    reason: Mapped[str] = mapped_column(String(200), default="")
    by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class TipRead(Base):
    """A user has opened a tip (the inbox shows the others as unread)."""

    __tablename__ = "tip_reads"

    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    tip_id: Mapped[int] = mapped_column(
        ForeignKey("tips.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    read_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class RoutingRule(Base):
    """One version of a routing rule. Rules are data; editing one adds a version (tips.routing).

    ``kind``: ``keyword`` (phrases → queue and/or priority), ``district`` (the area names and
    aliases from the database → the area's police queue) or ``urgency`` (phrases → priority).
    Only one version per ``name`` is active; tips keep the id and version that matched them.
    """

    __tablename__ = "routing_rules"
    __table_args__ = (UniqueConstraint("name", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    version: Mapped[int] = mapped_column(Integer, default=1)
    kind: Mapped[str] = mapped_column(String(10))  # keyword, district, urgency
    phrases: Mapped[list[str]] = mapped_column(JSON, default=list)
    # Phrases whose words do not count for this rule ("biển số" is no sea).
    exclusions: Mapped[list[str]] = mapped_column(JSON, default=list)
    queue: Mapped[str | None] = mapped_column(String(64))
    priority: Mapped[str | None] = mapped_column(String(10))  # urgent, normal; None = unchanged
    share: Mapped[bool] = mapped_column(Boolean, default=False)  # only share, never the primary
    rank: Mapped[int] = mapped_column(Integer, default=100)  # lower wins the primary queue
    active: Mapped[bool] = mapped_column(Boolean, default=True, index=True)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class RoutingVersion(Base):
    """One row whose token the database changes with every change to ``routing_rules`` or
    ``areas`` (:mod:`gateway.tips.routing_version`): a process reuses the router it compiled
    while the token stays the same."""

    __tablename__ = "routing_version"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    token: Mapped[int] = mapped_column(BigInteger)


class Roster(Base):
    """Who is on duty for a queue, and when (urgent alerts go to them)."""

    __tablename__ = "rosters"
    __table_args__ = (Index("ix_rosters_queue_time", "queue", "starts_at", "ends_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    queue: Mapped[str] = mapped_column(String(64))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    starts_at: Mapped[dt.datetime] = mapped_column()
    ends_at: Mapped[dt.datetime] = mapped_column()
