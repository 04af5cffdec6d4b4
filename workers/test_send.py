"""A test send: a draft rendered and sent to a small seed list of officials, on the replies lane.

No delivery rows are created (a test is not part of the campaign's accounting); the outcome is
counted in the audit log. Opt-outs win here too.
"""

from __future__ import annotations

import logging

from sqlalchemy import select

from campaigns import optouts, rendering
from campaigns.models import Campaign, Contact, ListMember
from campaigns.sending import OutboundMessage, Outcome
from gateway import audit
from workers import runtime

log = logging.getLogger("loa.worker")
MAX_RECIPIENTS = 50


def send_test(campaign_id: int, list_id: int) -> dict[str, int]:
    """Send campaign ``campaign_id``'s text to the members of list ``list_id`` (at most 50).

    Returns:
        counts: ``sent`` (accepted by the provider), ``failed``, ``skipped`` (opted out).
    """
    with runtime.session() as s:
        campaign = s.get(Campaign, campaign_id)
        if campaign is None:
            return {"sent": 0, "failed": 0, "skipped": 0}
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
        sender = campaign.senders[0] if campaign.senders else None
        messages = [
            OutboundMessage(
                to=c.phone,
                body=rendering.render(campaign.body, rendering.contact_variables(c)),
                sender=sender,
            )
            for c in contacts
            if c.phone not in opted
        ]
        results = runtime.provider().send_many(messages) if messages else []
        sent = sum(1 for r in results if r.outcome == Outcome.ACCEPTED)
        counts = {"sent": sent, "failed": len(results) - sent, "skipped": len(opted)}
        audit.record(
            "campaign.test_sent",
            object_type="campaign",
            object_id=campaign_id,
            details={"list_id": list_id, **counts},
            session=s,
        )
        s.commit()
    log.info("test send of campaign %s: %s", campaign_id, counts)
    return counts
