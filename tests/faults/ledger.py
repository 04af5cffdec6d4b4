"""The ledger check that ends every fault scenario (issue 10).

Three promises, whatever happened to Loa's processes, Redis or database on the way:
1. for each campaign, the report's eight status counts sum to its audience (invariant 3), and
   the delivery counters they come from equal a fresh GROUP BY of the deliveries;
2. the witness provider saw each recipient at most once per message text (invariants 1, 2),
   and every delivery Loa recorded as accepted was really seen by it;
3. every tip whose webhook got a 2xx is stored exactly once (invariant 4).

:func:`problems` holds the rules on plain data so that a unit test can prove it fails;
:func:`check` reads them from SQL and raises with every broken promise at once.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from campaigns import reports
from campaigns import statuses as st
from campaigns.models import Campaign, Delivery
from gateway.tips.models import Tip

# Statuses that say the provider accepted the message: the witness must have seen each.
ACCEPTED = (st.SENT, st.DELIVERED, st.UNDELIVERED)


@dataclass
class CampaignLedger:
    """What SQL says about one campaign."""

    campaign_id: int
    body: str
    audience_size: int
    counts: dict[str, int]
    accepted_phones: list[str] = field(default_factory=list)
    # The counter rows that differ from a fresh GROUP BY (issue 11: the triggers keep them).
    counter_drift: dict[tuple[str, str, str], tuple[object, object]] = field(default_factory=dict)


def problems(
    campaigns: Iterable[CampaignLedger],
    witness_log: Iterable[tuple[str, str]],
    acked_tips: Iterable[str],
    stored_tips: Mapping[str, int],
) -> list[str]:
    """Every broken promise, as one line each (empty: the ledger holds).

    Args:
        campaigns: each campaign's audience, report counts and phones recorded as accepted.
        witness_log: every (To, Body) the witness provider accepted, once per acceptance.
        acked_tips: the provider message ids of the tips whose webhook answered 2xx.
        stored_tips: how many tips SQL holds per provider message id.
    """
    out: list[str] = []
    seen = Counter(witness_log)
    for to_body, n in sorted(seen.items()):
        if n > 1:
            out.append(f"the witness saw {n} messages to {to_body[0][:6]}… with one text")
    for c in campaigns:
        summed = reports.total(c.counts)
        if summed != c.audience_size:
            out.append(
                f"campaign {c.campaign_id}: report counts sum to {summed}, audience is "
                f"{c.audience_size} ({ {k: v for k, v in c.counts.items() if v} })"
            )
        if c.counter_drift:
            out.append(
                f"campaign {c.campaign_id}: delivery counters differ from the deliveries "
                f"(counter, GROUP BY): {c.counter_drift}"
            )
        unseen = [p for p in c.accepted_phones if (p, c.body) not in seen]
        if unseen:
            out.append(
                f"campaign {c.campaign_id}: {len(unseen)} deliveries recorded as accepted "
                "were never seen by the witness"
            )
    for pmid in sorted(set(acked_tips)):
        n = stored_tips.get(pmid, 0)
        if n != 1:
            out.append(f"tip {pmid} was acknowledged with a 2xx and is stored {n} times")
    return out


def read(session: Session) -> tuple[list[CampaignLedger], dict[str, int]]:
    """Every launched campaign's ledger and the stored tips per provider message id."""
    session.expire_all()
    campaigns = []
    for cid, body, size in session.execute(
        select(Campaign.id, Campaign.body, Campaign.audience_size)
        .where(Campaign.launched_at.is_not(None))
        .order_by(Campaign.id)
    ):
        phones = session.scalars(
            select(Delivery.phone).where(Delivery.campaign_id == cid, Delivery.status.in_(ACCEPTED))
        ).all()
        counted, ledger = reports.counted(session, cid), reports.ledger_counts(session, cid)
        drift = {
            k: (counted.get(k), ledger.get(k))
            for k in set(counted) | set(ledger)
            if counted.get(k) != ledger.get(k)
        }
        campaigns.append(
            CampaignLedger(cid, body, int(size), reports.counts(session, cid), list(phones), drift)
        )
    stored = {
        str(pmid): int(n)
        for pmid, n in session.execute(
            select(Tip.provider_message_id, func.count())
            .where(Tip.provider_message_id.is_not(None))
            .group_by(Tip.provider_message_id)
        )
    }
    return campaigns, stored


def check(
    session: Session,
    witness_log: Iterable[tuple[str, str]] = (),
    acked_tips: Iterable[str] = (),
    seed: int | None = None,
) -> list[CampaignLedger]:
    """Raise AssertionError listing every broken promise; returns the campaigns' ledgers."""
    campaigns, stored = read(session)
    found = problems(campaigns, witness_log, acked_tips, stored)
    if found:
        where = f" (LOA_FAULT_SEED={seed})" if seed is not None else ""
        raise AssertionError(f"the ledger does not hold{where}:\n" + "\n".join(found))
    return campaigns
