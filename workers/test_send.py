"""A test send: a draft rendered and sent to a small seed list of officials, on the replies lane.

No delivery rows are created (a test is not part of the campaign's accounting); each message is
a ``Reply`` row of kind ``test``, claimed (``queued → sending``) before the provider is called,
so a job that runs again never sends a message twice. The messages take their segments from
the sender's token bucket like the campaign's, and go out only inside the campaign's sending
window unless an admin overrode it (audited by the web view). Opt-outs win here too. The
outcome is counted in the audit log.
"""

from __future__ import annotations

import logging

from sqlalchemy import select
from sqlalchemy.orm import Session

from campaigns import optouts, rendering
from campaigns.db import utcnow
from campaigns.models import Campaign, Contact, ListMember
from campaigns.sending import OutboundMessage, Outcome
from campaigns.windows import window_of
from gateway import audit
from gateway.tips.models import Reply
from workers import runtime
from workers.notifications import claim_reply, take_tokens

log = logging.getLogger("loa.worker")
MAX_RECIPIENTS = 50
TEST = "test"  # the Reply kind of a test send


def _queue(s: Session, campaign: Campaign, list_id: int) -> tuple[list[int], int]:
    """The test's messages as queued ``Reply`` rows (committed), and how many were opted out."""
    contacts = list(
        s.scalars(
            select(Contact)
            .join(ListMember, ListMember.contact_id == Contact.id)
            .where(ListMember.list_id == list_id, Contact.invalid.is_(False))
            .order_by(Contact.id)
            .limit(MAX_RECIPIENTS)
        )
    )
    opted = optouts.opted_out_among(s, [c.phone for c in contacts])
    rows = [
        Reply(
            to_phone=c.phone,
            body=rendering.render(campaign.body, rendering.contact_variables(c)),
            kind=TEST,
            status="queued",
        )
        for c in contacts
        if c.phone not in opted
    ]
    s.add_all(rows)
    s.commit()
    return [r.id for r in rows], len(opted)


def _send_one(s: Session, reply_id: int, provider_name: str, sender: str | None) -> str:
    """Claim, take tokens, send and record one test message; its final status."""
    if not claim_reply(s, reply_id):
        return "not-queued"
    reply = s.get(Reply, reply_id)
    assert reply is not None
    to, body = reply.to_phone, reply.body
    s.commit()  # no transaction spans the wait or the call
    take_tokens(provider_name, sender, body)
    provider = runtime.sender(provider_name)
    try:
        result = provider.send(OutboundMessage(to=to, body=body, sender=sender))
        outcome, code, pmid = result.outcome, result.error_code, result.provider_message_id
    except Exception as exc:  # the provider may or may not have it: never resend blindly
        outcome, code, pmid = Outcome.UNKNOWN, type(exc).__name__[:20], None
    reply = s.get(Reply, reply_id)
    assert reply is not None
    reply.provider, reply.provider_message_id, reply.error_code = provider.name, pmid, code
    if outcome == Outcome.ACCEPTED:
        reply.status, reply.sent_at = "sent", utcnow()
    else:  # a test is not retried by itself: the editor sends it again if need be
        reply.status = "unknown" if outcome == Outcome.UNKNOWN else "failed"
    s.commit()
    return reply.status


def send_test(campaign_id: int, list_id: int, override_window: bool = False) -> dict[str, int]:
    """Send campaign ``campaign_id``'s text to the members of list ``list_id`` (at most 50).

    Args:
        campaign_id: the campaign whose text is tested.
        list_id: the seed list.
        override_window: send even outside the campaign's window (an admin chose so; the web
            view audited it).
    Returns:
        counts: ``sent`` (accepted by the provider), ``failed`` (refused, or unknown),
        ``skipped`` (opted out), and ``window`` 1 when nothing was sent because the window
        is closed.
    """
    with runtime.session() as s:
        campaign = s.get(Campaign, campaign_id)
        if campaign is None:
            return {"sent": 0, "failed": 0, "skipped": 0}
        if not override_window and not window_of(campaign).is_open(utcnow()):
            counts = {"sent": 0, "failed": 0, "skipped": 0, "window": 1}
        else:
            provider_name = campaign.provider or runtime.settings().provider
            sender = campaign.senders[0] if campaign.senders else None
            ids, opted = _queue(s, campaign, list_id)
            outcomes = [_send_one(s, rid, provider_name, sender) for rid in ids]
            sent = outcomes.count("sent")
            counts = {"sent": sent, "failed": len(outcomes) - sent, "skipped": opted}
        audit.record(
            "campaign.test_sent",
            object_type="campaign",
            object_id=campaign_id,
            details={"list_id": list_id, "override_window": override_window, **counts},
            session=s,
        )
        s.commit()
    log.info("test send of campaign %s: %s", campaign_id, counts)
    return counts
