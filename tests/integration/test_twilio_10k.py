"""10,000 recipients through the real twilio SDK against the fake Twilio server, via RQ jobs."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest
from redis import Redis
from sqlalchemy.orm import Session

from campaigns import lifecycle, reports
from campaigns.models import Campaign
from tests.factories import OFFICIAL_TEXT, mobile
from tests.integration.dispatch_support import approved_campaign, bulk_contacts
from workers import dispatch as jobs
from workers import runtime


@pytest.mark.slow
def test_10k_campaign_reaches_each_number_exactly_once(
    app: Any,
    session: Session,
    redis_conn: Redis,
    rq_worker: Any,
    twilio_settings: Any,
    fake_twilio: Any,
) -> None:
    """Every number is created at Twilio once, with the brandname and the official text; the
    report sums to the audience (40,000 segments) and the campaign completes."""
    runtime.configure(twilio_settings)
    bulk_contacts(session, 10_000)
    campaign = approved_campaign(
        session,
        body=OFFICIAL_TEXT,
        segments_per_message=4,
        rate_per_second=10_000.0,
        window_start="00:00",
        window_end="24:00",
    )
    launched = jobs.launch(campaign.id)
    assert launched["launched"] is True and launched["audience_size"] == 10_000
    rq_worker.run()
    creates = [r for r in fake_twilio.requests if r.method == "POST"]
    per_number = Counter(r.form["To"] for r in creates)
    assert len(per_number) == 10_000 and set(per_number.values()) == {1}
    assert set(per_number) == {mobile(i) for i in range(10_000)}
    assert {r.form["From"] for r in creates} == {"LOA-SOCTRANG"}
    assert {r.form["Body"] for r in creates} == {OFFICIAL_TEXT}
    counts = reports.counts(session, campaign.id)
    assert reports.total(counts) == 10_000 and counts["sent"] == 10_000
    cost = reports.cost(session, campaign.id, price_per_segment=350.0)
    assert cost["segments"] == 40_000
    session.expire_all()
    assert session.get(Campaign, campaign.id).status == lifecycle.COMPLETED  # type: ignore[union-attr]
