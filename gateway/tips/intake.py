"""Every channel ends here: a tip is stored and routed in one transaction, then notified.

``store_tip`` is channel-agnostic (SMS webhooks, SMPP, HTTP-MO, the web form, logged calls).
``receive_inbound`` is what an SMS webhook calls: opt-out/opt-in keywords, the tip, the commit,
and the acknowledgement text for the webhook's answer (invariant 4: committed before the 2xx).
Logs carry tip ids and masked numbers only, never a body.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any, cast

from redis.exceptions import RedisError
from sqlalchemy import Table, insert, inspect, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, make_transient_to_detached

from campaigns.db import one_writer, utcnow
from campaigns.phones import normalize
from campaigns.text import nfc, strip_controls
from gateway import jobs
from gateway.providers import InboundMessage
from gateway.tips import keywords, links, replies, routing
from gateway.tips.line import TipLine
from gateway.tips.models import Reply, Tip, TipEvent
from gateway.tips.states import URGENT

log = logging.getLogger("loa.tips")

MAX_BODY = 5000  # characters; a concatenated SMS is at most ~1,600, the web form allows 2,000
CHANNELS = ("sms", "smpp", "http_mo", "web", "call")


def _existing(session: Session, provider: str, provider_message_id: str) -> Tip | None:
    return session.scalar(
        select(Tip).where(Tip.provider == provider, Tip.provider_message_id == provider_message_id)
    )


# One statement per dialect, built once: the unique constraint of (provider, provider message
# id) is the dedupe (without a key, NULLs never conflict). Core, not the ORM's bulk insert: on
# the busiest path its bookkeeping costs more than the INSERT.
_TIPS = cast(Table, Tip.__table__)
_INSERTS = {
    name: dml.insert(_TIPS)
    .on_conflict_do_nothing(index_elements=["provider", "provider_message_id"])
    .returning(*_TIPS.c)
    for name, dml in (("postgresql", postgresql), ("sqlite", sqlite))
}
_TIP_ATTRS = tuple(inspect(Tip).get_property_by_column(c).key for c in _TIPS.c)


_EVENTS = insert(cast(Table, TipEvent.__table__))


def _insert(session: Session, values: dict[str, Any]) -> Tip | None:
    """Insert a tip in one statement and return it, persistent in ``session``; None when a tip
    with the same ``(provider, provider_message_id)`` is stored already (or is being stored by a
    concurrent transaction that then commits): the unique constraint decides, no SELECT first."""
    stmt = _INSERTS[session.get_bind().dialect.name]
    row = session.connection().execute(stmt, values).first()
    if row is None:
        return None
    tip = Tip(**dict(zip(_TIP_ATTRS, row, strict=True)))
    make_transient_to_detached(tip)  # the row as stored: loaded, nothing left to flush
    session.add(tip)
    return tip


def store_tip(session: Session, line: TipLine, **fields: Any) -> tuple[Tip, bool]:
    """Store and route one tip (``fields`` as :func:`routed_tip` takes them); the caller commits
    (and then calls :func:`notify_after_commit`).

    Returns ``(tip, created)``; ``created`` is False when the message was stored before.
    """
    return insert_tip(session, routed_tip(session, line, **fields))


def routed_tip(
    session: Session,
    line: TipLine,
    *,
    channel: str,
    body: str,
    sender: str | None = None,
    given_phone: str | None = None,
    provider: str | None = None,
    provider_message_id: str | None = None,
    author: Any = None,
    received_at: dt.datetime | None = None,
) -> dict[str, Any]:
    """A new tip's row, routed, for :func:`insert_tip`. It only reads (the rules, the areas, the
    sender's last campaign), so a busy intake does it before taking SQLite's one writer
    (:func:`receive_inbound`).

    Args:
        line: the process's settings (``tip_link_days``) and Redis.
        channel: one of :data:`CHANNELS`.
        body: the text as received; stored NFC-normalised, cut to :data:`MAX_BODY`.
        sender: the number the message came from (SMS channels only), E.164 when known.
        given_phone: a number the tipster typed or said (web form, call log): unverified, so
            never treated as the sender (no thread, no campaign link, no do-not-contact).
        provider, provider_message_id: the dedupe key; the same pair stores one tip.
        author: the user (or user id) who logged a call.
        received_at: when the channel received it (default now, UTC).
    Raises:
        ValueError: for an unknown channel.
    """
    if channel not in CHANNELS:
        raise ValueError(f"unknown channel {channel!r}; choose one of {', '.join(CHANNELS)}")
    text = nfc(strip_controls(body or "")).strip()[:MAX_BODY]
    when = received_at or utcnow()
    if when.tzinfo is None:  # providers report UTC; a naive time must not lose the tip
        when = when.replace(tzinfo=dt.UTC)
    result = routing.router_for(session).route(text)
    return {
        "channel": channel,
        "provider": provider,
        "provider_message_id": provider_message_id,
        "sender": sender,
        "given_phone": given_phone,
        "body": text,
        "received_at": when,
        "author_id": getattr(author, "id", author),
        "queue": result.queue,
        "shared_with": result.shared_with,
        "priority": result.priority,
        "status": "new",
        "matched_rules": [r.as_dict() for r in result.matched],
        "rule_id": result.rule.id if result.rule else None,
        "rule_version": result.rule.version if result.rule else None,
        "district_id": result.district_id,
        "campaign_id": links.campaign_for(session, sender, when, line.link_days),
        # Only urgent tips have somebody to alert; the others are notified by being in the inbox.
        "notified_at": None if result.priority == URGENT else when,
    }


def insert_tip(session: Session, row: dict[str, Any]) -> tuple[Tip, bool]:
    """Store a tip of :func:`routed_tip` with its "created" event; the caller commits.

    Returns ``(tip, created)``: the tip stored before and False for the same provider message.
    """
    tip = _insert(session, row)
    if tip is None:  # the same provider message: stored before, or by a concurrent webhook
        provider, provider_message_id = row["provider"], row["provider_message_id"]
        assert provider and provider_message_id
        found = _existing(session, provider, provider_message_id)
        if found is None:
            raise RuntimeError("duplicate tip vanished")  # pragma: no cover
        return found, False
    event = {
        "tip_id": tip.id,
        "kind": "created",
        "actor_id": tip.author_id,
        "to_status": "new",
        "to_queue": tip.queue,
        "details": {"channel": tip.channel, "rules": tip.matched_rules, "priority": tip.priority},
    }
    session.connection().execute(_EVENTS, event)  # Core: no object for the flush to work out
    log.info(
        "tip %s stored: channel=%s queue=%s priority=%s sender=%s",
        tip.id, tip.channel, tip.queue, tip.priority, replies.masked(tip.sender),
    )  # fmt: skip
    return tip, True


def notify_after_commit(line: TipLine, tip: Tip, reply_ids: list[int] | None = None) -> bool:
    """Enqueue a committed tip's notification and replies; never raises on a Redis outage.

    Returns False when Redis did not take the work: ``notified_at`` stays NULL (or the reply
    stays ``queued``) and the periodic ``check_urgency`` job picks it up later.
    """
    ok = True
    if tip.priority == URGENT and tip.notified_at is None:
        try:
            # on the replies lane: never behind a broadcast or its receipts (invariant 11)
            jobs.NOTIFY_URGENT.enqueue(line.redis, tip.id, key=(tip.id,))
        except (RedisError, OSError) as exc:
            log.warning("tip %s: notification not enqueued (%s)", tip.id, type(exc).__name__)
            ok = False
    if reply_ids:
        ok = replies.enqueue_replies(line.redis, reply_ids) and ok
    return ok


def sender_of(raw: str | None) -> tuple[str | None, bool]:
    """The sender as stored (E.164 when it parses, else the raw text cut to 20) and whether a
    reply can reach it (a valid mobile number)."""
    if not raw:
        return None, False
    result = normalize(raw)
    if result.e164:
        return result.e164, result.valid
    return raw.strip()[:20] or None, False


def receive_inbound(
    session: Session, line: TipLine, inbound: InboundMessage, *, inline_reply: bool = True
) -> str | None:
    """Handle an SMS from a citizen: keyword or tip, committed before returning.

    Args:
        inbound: the provider's parsed message.
        inline_reply: True when the provider answers in the webhook response (TwiML, the
            simulator); False queues the text as an outbound SMS on the ``replies`` lane.
    Returns:
        the text to answer with (an acknowledgement or a keyword confirmation), or None when
        the sender is do-not-contact or cannot receive SMS. A duplicate webhook gets the same
        text and stores nothing new.
    """
    sender, reachable = sender_of(inbound.sender)
    kind = keywords.classify(inbound.body or "")
    if kind is not None and sender and reachable:
        return _keyword(session, line, sender, kind, inbound, inline_reply)
    # Read and route before taking the one writer: the process's other requests wait for it
    # only while this one writes, and SQLite holds its write lock for the inserts only.
    silent = not reachable or replies.do_not_contact(session, sender)
    row = routed_tip(
        session,
        line,
        channel=inbound.channel,
        body=inbound.body or "",
        sender=sender,
        provider=inbound.provider,
        provider_message_id=inbound.provider_message_id or None,
        received_at=inbound.received_at,
    )
    with one_writer(session):
        tip, created = insert_tip(session, row)
        text = None if silent else replies.ack_text(line.settings)
        reply_ids: list[int] = []
        if created and text and sender:
            if inline_reply:
                replies.record_inline_ack(session, to_phone=sender, body=text, tip_id=tip.id)
            else:
                reply = replies.queue_reply(
                    session, to_phone=sender, body=text, kind=replies.ACK, tip_id=tip.id
                )
                reply_ids = [reply.id] if reply else []
        session.commit()
    if created:
        notify_after_commit(line, tip, reply_ids)
    return text if inline_reply else None


def _keyword(
    session: Session,
    line: TipLine,
    sender: str,
    kind: str,
    inbound: InboundMessage,
    inline_reply: bool,
) -> str | None:
    from campaigns import optouts

    if kind == keywords.OPT_OUT:
        optouts.opt_out(session, sender, optouts.SMS, reason=keywords.keyword_form(inbound.body))
        text = replies.OPT_OUT_CONFIRM
    else:
        optouts.opt_in(session, sender)
        text = replies.OPT_IN_CONFIRM
    log.info("sms %s from %s", kind, replies.masked(sender))
    silent = replies.do_not_contact(session, sender)
    reply_ids: list[int] = []
    if not silent and not inline_reply:
        reply = replies.queue_reply(session, to_phone=sender, body=text, kind=replies.REPLY)
        reply_ids = [reply.id] if reply else []
    session.commit()
    replies.enqueue_replies(line.redis, reply_ids)
    if silent:
        return None
    return text if inline_reply else None


def interrupt_stuck_replies(session: Session, claimed_before: dt.datetime) -> int:
    """Replies left in ``sending`` by a worker that died mid-send become ``unknown``: the
    provider may have them, so they are never resent blindly (operators see them as such)."""
    result = session.execute(
        update(Reply)
        .where(Reply.status == "sending", Reply.claimed_at < claimed_before)
        .values(status="unknown", error_code="interrupted")
    )
    return int(getattr(result, "rowcount", 0) or 0)


def pending_replies(session: Session, older_than: dt.datetime) -> list[int]:
    """Ids of replies still ``queued`` since before ``older_than`` (Redis lost or was down)."""
    return list(
        session.scalars(
            select(Reply.id).where(Reply.status == "queued", Reply.created_at < older_than)
        )
    )
