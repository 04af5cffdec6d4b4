"""Provider choice and failover through the real worker jobs and real providers."""

from __future__ import annotations

from typing import Any

from redis import Redis
from sqlalchemy import select
from sqlalchemy.orm import Session

from campaigns import reports
from campaigns.models import Delivery
from gateway.providers.twilio import TwilioProvider
from tests.factories import mobile
from tests.integration.dispatch_support import approved_campaign, bulk_contacts
from tests.servers import free_port
from workers import dispatch as jobs
from workers import runtime


def test_a_refused_provider_fails_over_to_the_next(
    app: Any, session: Session, redis_conn: Redis, rq_worker: Any, twilio_settings: Any
) -> None:
    """Twilio refuses the connection (nothing listens): every message goes out once through the
    simulator, the campaign's second provider; nothing is lost or sent twice."""
    runtime.configure(
        twilio_settings.model_copy(
            update={"twilio_api_base_url": f"http://127.0.0.1:{free_port()}"}
        )
    )
    bulk_contacts(session, 30)
    campaign = approved_campaign(session, provider="twilio,simulator")
    assert jobs.launch(campaign.id)["launched"] is True
    rq_worker.run()
    outbox = [m.to for m, _result in runtime.provider("simulator").received]
    assert sorted(outbox) == sorted(mobile(i) for i in range(30))
    counts = reports.counts(session, campaign.id)
    assert counts["sent"] + counts["delivered"] == 30 and reports.total(counts) == 30


def test_an_unknown_outcome_never_fails_over(
    app: Any,
    session: Session,
    redis_conn: Redis,
    rq_worker: Any,
    twilio_settings: Any,
    fake_twilio: Any,
) -> None:
    """A Twilio timeout after sending may mean it was sent: the simulator never gets it."""
    from tests.fakes.twilio_server import Behaviour

    runtime.configure(twilio_settings)
    fake_twilio.program(Behaviour.hanging())
    bulk_contacts(session, 3)
    campaign = approved_campaign(session, provider="twilio,simulator")
    # A short read timeout, so the hanging server makes the outcome unknown quickly.
    runtime._state["provider:twilio"] = TwilioProvider(twilio_settings, read_timeout=0.3)
    jobs.launch(campaign.id)
    rq_worker.run()
    assert list(runtime.provider("simulator").received) == []
    rows = session.scalars(select(Delivery).where(Delivery.campaign_id == campaign.id)).all()
    assert {d.error_code for d in rows} == {"NO-ANSWER"}
