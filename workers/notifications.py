"""Jobs of the tip line: send a reply or alert, alert on an urgent tip, run the urgency clock.

Replies are claimed (``queued`` → ``sending``) with a conditional UPDATE before the provider is
called, so a job run twice sends once, and take their segments from the sender's token bucket
(``workers.ratelimit``) like broadcasts. Logs carry ids and masked numbers, never a text.
"""

from __future__ import annotations

import datetime as dt
import logging
import time

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from campaigns.db import utcnow
from campaigns.encoding import analyze
from campaigns.sending import OutboundMessage, Outcome
from gateway import jobs
from gateway.tips import replies, urgency
from gateway.tips.intake import interrupt_stuck_replies, pending_replies
from gateway.tips.models import Reply, Tip
from workers import runtime
from workers.ratelimit import TokenBucket

log = logging.getLogger("loa.worker")

MAX_ATTEMPTS = 5
STALE_REPLY = dt.timedelta(minutes=2)  # a reply still queued after this lost its job
# A reply still sending after this lost its worker mid-send (a provider call gives up long
# before): it becomes unknown.
STUCK_SENDING = dt.timedelta(minutes=10)


def _enqueue_replies(ids: list[int]) -> None:
    for rid in ids:  # the same job id as gateway.tips.replies uses, so a reply runs once
        jobs.SEND_REPLY.enqueue(runtime.redis(), rid, key=(rid,))


def claim_reply(s: Session, reply_id: int) -> bool:
    """Claim a queued reply (``queued → sending``) in one conditional UPDATE; commits."""
    claimed = s.execute(
        update(Reply)
        .where(Reply.id == reply_id, Reply.status == "queued")
        .values(status="sending", attempts=Reply.attempts + 1, claimed_at=utcnow())
    )
    s.commit()
    return bool(getattr(claimed, "rowcount", 0))


def take_tokens(provider: str, sender: str | None, body: str, wait: bool = True) -> float:
    """Take the text's segments from the sender's bucket (the one campaigns share): a reply or
    a test send counts against the sender's limit like a broadcast does. With ``wait`` the call
    sleeps until the tokens are there (a test send); without it the message goes now and the
    bucket's debt makes the next broadcast chunk wait instead (a reply: invariant 11, a
    broadcast never delays it). Returns the wait the tokens asked for."""
    segments = max(1, analyze(body).segments)
    key = f"{provider}:{sender or 'default'}"
    due = TokenBucket(runtime.redis()).take(key, segments, runtime.settings().rate_per_second)
    if wait and due > 0:
        time.sleep(due)
    return due


def send_reply(reply_id: int) -> str:
    """Send one ``Reply`` through the provider and record the outcome on the row."""
    with runtime.session() as s:
        if not claim_reply(s, reply_id):
            return "not-queued"
        reply = s.get(Reply, reply_id)
        assert reply is not None
        if reply.kind != replies.ALERT and replies.do_not_contact(s, reply.to_phone):
            reply.status = "suppressed"
            s.commit()
            return reply.status
        provider = runtime.reply_sender()
        sender = runtime.settings().reply_sender or None
        body, to = reply.body, reply.to_phone
        s.commit()  # no transaction spans the wait for tokens or the provider call
        take_tokens(provider.name, sender, body, wait=False)  # the broadcast pays the debt
        try:
            result = provider.send(OutboundMessage(to=to, body=body, sender=sender))
        except Exception as exc:  # the provider may or may not have it: never resend blindly
            log.warning("reply %s: provider raised %s", reply_id, type(exc).__name__)
            reply.status, reply.error_code = "unknown", "exception"
            s.commit()
            return reply.status
        reply.provider = result.provider or provider.name
        reply.provider_message_id = result.provider_message_id
        reply.error_code = result.error_code
        if result.outcome == Outcome.ACCEPTED:
            reply.status, reply.sent_at = "sent", utcnow()
        elif result.outcome == Outcome.RETRY and reply.attempts < MAX_ATTEMPTS:
            reply.status = "queued"
            s.commit()
            runtime.queue(jobs.SEND_REPLY.queue).enqueue_in(
                dt.timedelta(seconds=result.retry_after or 15 * reply.attempts),
                jobs.SEND_REPLY.func,
                reply_id,
            )
            return "retry"
        else:
            reply.status = "unknown" if result.outcome == Outcome.UNKNOWN else "failed"
        s.commit()
        log.info(
            "reply %s (%s) to %s: %s",
            reply_id, reply.kind, replies.masked(reply.to_phone), reply.status,
        )  # fmt: skip
        return reply.status


def notify_urgent(tip_id: int, now: dt.datetime | None = None) -> int:
    """Alert the on-duty staff of a new urgent tip (once); returns how many alerts."""
    with runtime.session() as s:
        ids = urgency.notify_new(s, tip_id, now or utcnow())
        s.commit()
    _enqueue_replies(ids)
    return len(ids)


def check_urgency(now: dt.datetime | None = None) -> dict[str, int]:
    """The periodic job: catch up on work Redis lost, and escalate overdue urgent tips."""
    now = now or utcnow()
    counts = {
        "notified": 0,
        "escalated": 0,
        "alerts": 0,
        "replies_requeued": 0,
        "replies_interrupted": 0,
    }
    with runtime.session() as s:
        counts["replies_interrupted"] = interrupt_stuck_replies(s, now - STUCK_SENDING)
        s.commit()
        missed = list(
            s.scalars(select(Tip.id).where(Tip.notified_at.is_(None)).order_by(Tip.id).limit(500))
        )
        stale = pending_replies(s, now - STALE_REPLY)
    _enqueue_replies(stale)
    counts["replies_requeued"] = len(stale)
    for tip_id in missed:
        counts["alerts"] += notify_urgent(tip_id, now)
        counts["notified"] += 1
    with runtime.session() as s:
        due = urgency.due_for_escalation(s, now)
    for tip_id in due:
        with runtime.session() as s:
            ids = urgency.escalate(s, tip_id, now)
            s.commit()
        _enqueue_replies(ids)
        counts["escalated"] += 1
        counts["alerts"] += len(ids)
    if any(counts.values()):
        log.info("urgency check: %s", counts)
    return counts
