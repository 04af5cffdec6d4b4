"""The ledger check itself: it holds on a sound ledger and names each kind of broken promise."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import update
from sqlalchemy.orm import Session

from campaigns import dispatch, reports
from campaigns import statuses as st
from campaigns.models import Delivery
from tests.factories import mobile
from tests.faults import ledger
from tests.faults.ledger import CampaignLedger
from tests.integration.dispatch_support import approved_campaign, bulk_contacts

BODY = "Phong chong mua ban nguoi: goi 111"


def _counts(**given: int) -> dict[str, int]:
    return {**dict.fromkeys(st.ALL, 0), **given}


def _sound() -> tuple[list[CampaignLedger], list[tuple[str, str]], list[str], dict[str, int]]:
    campaign = CampaignLedger(
        1, BODY, 3, _counts(sent=2, unknown=1), accepted_phones=[mobile(0), mobile(1)]
    )
    log = [(mobile(0), BODY), (mobile(1), BODY), (mobile(2), BODY)]
    return [campaign], log, ["SM1", "SM2"], {"SM1": 1, "SM2": 1}


def test_a_sound_ledger_holds() -> None:
    """Counts that sum, one message per recipient, each acknowledged tip stored once."""
    assert ledger.problems(*_sound()) == []


BROKEN = {
    "doubled-witness": (
        lambda c, log, acked, stored: (c, [*log, log[0]], acked, stored),
        "the witness saw 2 messages",
    ),
    "counts-short": (
        lambda c, log, acked, stored: (
            [CampaignLedger(1, BODY, 4, c[0].counts, c[0].accepted_phones)],
            log,
            acked,
            stored,
        ),
        "report counts sum to 3, audience is 4",
    ),
    "counters-drift": (
        lambda c, log, acked, stored: (
            [
                CampaignLedger(
                    1,
                    BODY,
                    3,
                    c[0].counts,
                    c[0].accepted_phones,
                    {("sent", "", ""): ((2, 2), None)},
                )
            ],
            log,
            acked,
            stored,
        ),
        "delivery counters differ from the deliveries",
    ),
    "accepted-unseen": (
        lambda c, log, acked, stored: (c, log[1:], acked, stored),
        "1 deliveries recorded as accepted were never seen",
    ),
    "tip-lost": (
        lambda c, log, acked, stored: (c, log, acked, {"SM1": 1}),
        "tip SM2 was acknowledged with a 2xx and is stored 0 times",
    ),
    "tip-doubled": (
        lambda c, log, acked, stored: (c, log, acked, {"SM1": 2, "SM2": 1}),
        "tip SM1 was acknowledged with a 2xx and is stored 2 times",
    ),
}


@pytest.mark.parametrize(("breaks", "says"), list(BROKEN.values()), ids=list(BROKEN))
def test_each_broken_promise_is_named(breaks: Any, says: str) -> None:
    """Each kind of damage yields exactly one problem line, which says what broke."""
    found = ledger.problems(*breaks(*_sound()))
    assert len(found) == 1 and says in found[0], found


def test_check_reads_sql_and_raises_with_the_seed(app: Any, session: Session) -> None:
    """On a real database: a launched campaign whose deliveries the witness never saw, and a
    tip acknowledged but never stored, fail the check; the message carries the seed."""
    bulk_contacts(session, 3)
    campaign = approved_campaign(session, body=BODY)
    dispatch.launch(session, campaign.id)
    session.commit()
    (sound,) = ledger.check(session, witness_log=[], acked_tips=[], seed=7)
    assert (sound.audience_size, reports.total(sound.counts)) == (3, 3)

    # Recorded as accepted, but the witness never saw them.
    session.execute(
        update(Delivery).where(Delivery.campaign_id == campaign.id).values(status=st.SENT)
    )
    session.commit()
    with pytest.raises(AssertionError, match=r"LOA_FAULT_SEED=7") as raised:
        ledger.check(session, witness_log=[], acked_tips=["SMx"], seed=7)
    assert "3 deliveries recorded as accepted" in str(raised.value)
    assert "tip SMx" in str(raised.value)
