"""A Twilio answer that does not prove the message was not created is ``unknown``, never resent
blindly; the reconciler asks Twilio (the messages to that number since the claim) and settles
it ``sent`` or, when Twilio certainly created nothing, ``pending`` again (issue 10, item 1)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest
from redis import Redis
from sqlalchemy import select
from sqlalchemy.orm import Session

from campaigns import dispatch, reconcile
from campaigns import statuses as st
from campaigns.db import utcnow
from campaigns.models import Delivery
from campaigns.sending import OutboundMessage, Outcome, Sighting
from gateway.providers.twilio import TwilioProvider
from gateway.settings import Settings
from tests.conftest import as_twilio
from tests.factories import mobile
from tests.fakes.twilio_server import Behaviour
from tests.integration.dispatch_support import Clock, approved_campaign, bulk_contacts, dispatcher
from workers import reconciler

LEASE = 30


@pytest.fixture
def settings(settings: Settings, fake_twilio: Any) -> Settings:
    """Twilio (the fake server) as the provider, with a short lease."""
    return as_twilio(settings, fake_twilio, dispatch_lease_seconds=LEASE)


@pytest.fixture
def twilio(settings: Settings) -> Iterator[TwilioProvider]:
    """A Twilio provider that gives up reading an answer after one second."""
    p = TwilioProvider(settings, read_timeout=1.0)
    yield p
    p.close()


def _statuses(session: Session, campaign_id: int) -> dict[str, tuple[str, str | None]]:
    session.expire_all()
    rows = session.execute(
        select(Delivery.phone, Delivery.status, Delivery.provider_message_id).where(
            Delivery.campaign_id == campaign_id
        )
    )
    return {phone: (status, pmid) for phone, status, pmid in rows}


def _settle(session: Session, now: dt.datetime) -> dict[str, int]:
    """One pass of the reconciler's settling, wired as the worker wires it."""
    counts = reconcile.resolve_expired_leases(
        session, reconciler.lookup, now, "twilio", find=reconciler.find
    )
    session.commit()
    return counts


def _campaign(session: Session, n: int) -> int:
    bulk_contacts(session, n)
    campaign = approved_campaign(session)
    dispatch.launch(session, campaign.id)
    return campaign.id


def test_a_500_after_creating_is_never_resent(
    app: Any, session: Session, redis_conn: Redis, fake_twilio: Any, twilio: TwilioProvider
) -> None:
    """Twilio creates the message and answers 500: a later run of the batch (past any retry
    backoff) sends nothing more, and the reconciler finds the message and records it sent."""
    campaign_id = _campaign(session, 3)
    fake_twilio.program(Behaviour.created_then_error(500), to=mobile(0))
    clock = Clock(utcnow())
    engine = dispatcher(session, twilio, redis_conn, clock, lease_seconds=LEASE)
    assert engine.run_batch(campaign_id, 0).unknown == 1
    clock.advance(3600)  # every backoff is over
    engine.run_batch(campaign_id, 0)
    assert len(fake_twilio.sent_to(mobile(0))) == 1
    assert _settle(session, clock() + dt.timedelta(seconds=LEASE + 1)) == {st.SENT: 1}
    sid = fake_twilio.sent_to(mobile(0))[0]["sid"]
    assert _statuses(session, campaign_id)[mobile(0)] == (st.SENT, sid)


@pytest.mark.parametrize("sent_by_now", [False, True], ids=["still-queued", "sent"])
def test_a_timeout_after_creating_is_found(
    app: Any,
    session: Session,
    redis_conn: Redis,
    fake_twilio: Any,
    twilio: TwilioProvider,
    sent_by_now: bool,
) -> None:
    """No answer came, but Twilio created the message: found whether it is still queued (no
    ``date_sent``, which the ``DateSent>`` filter skips) or sent (found by that filter)."""
    campaign_id = _campaign(session, 1)
    fake_twilio.program(Behaviour.slow(3), to=mobile(0))
    engine = dispatcher(session, twilio, redis_conn, lease_seconds=LEASE)
    assert engine.run_batch(campaign_id, 0).unknown == 1
    (message,) = fake_twilio.sent_to(mobile(0))
    if sent_by_now:
        fake_twilio.set_status(message["sid"], "delivered")
    counts = _settle(session, utcnow() + dt.timedelta(seconds=LEASE + 1))
    expected = st.DELIVERED if sent_by_now else st.SENT
    assert counts == {expected: 1}
    assert _statuses(session, campaign_id)[mobile(0)] == (expected, message["sid"])


def test_a_timeout_before_creating_is_sent_again_once(
    app: Any, session: Session, redis_conn: Redis, fake_twilio: Any, twilio: TwilioProvider
) -> None:
    """No answer and nothing created: the reconciler returns the delivery to ``pending`` and
    the next run sends it, once."""
    campaign_id = _campaign(session, 2)
    fake_twilio.program(Behaviour.hanging(), to=mobile(0))
    clock = Clock(utcnow())
    engine = dispatcher(session, twilio, redis_conn, clock, lease_seconds=LEASE)
    assert engine.run_batch(campaign_id, 0).unknown == 1
    assert fake_twilio.sent_to(mobile(0)) == []
    clock.advance(LEASE + 1)
    assert _settle(session, clock()) == {st.PENDING: 1}
    fake_twilio.program(Behaviour(), to=mobile(0))
    assert engine.run_batch(campaign_id, 0).sent == 1
    assert len(fake_twilio.sent_to(mobile(0))) == 1
    assert _statuses(session, campaign_id)[mobile(0)][0] == st.SENT


def test_a_503_unavailable_is_retried_and_a_bare_503_is_not(
    app: Any, session: Session, redis_conn: Redis, fake_twilio: Any, twilio: TwilioProvider
) -> None:
    """20503 proves nothing was created (pending, with backoff); a 503 without Twilio's body
    (a proxy's) proves nothing (left to the reconciler)."""
    campaign_id = _campaign(session, 2)
    fake_twilio.program(Behaviour.unavailable(), to=mobile(0))
    fake_twilio.program(Behaviour.server_error(503, with_body=False), to=mobile(1))
    report = dispatcher(session, twilio, redis_conn, lease_seconds=LEASE).run_batch(campaign_id, 0)
    assert (report.retried, report.unknown) == (1, 1)
    assert [s for s, _ in sorted(_statuses(session, campaign_id).values())] == [
        st.PENDING,
        st.SENDING,
    ]


def test_providers_that_cannot_be_asked_leave_unknown(
    app: Any, session: Session, redis_conn: Redis
) -> None:
    """The simulator cannot say what it sent to a number: the delivery becomes ``unknown``."""
    from workers import runtime

    assert runtime.sender("simulator").find_sent(mobile(0), utcnow()) is None
    campaign_id = _campaign(session, 1)
    ids = dispatch.claim(session, campaign_id, 0, 10, utcnow(), lease_seconds=1)
    assert ids
    session.execute(
        Delivery.__table__.update().values(provider_message_id=None).where(Delivery.id == ids[0])
    )
    session.commit()
    counts = reconcile.resolve_expired_leases(
        session,
        lambda *_: None,
        utcnow() + dt.timedelta(seconds=5),
        "simulator",
        find=reconciler.find,
    )
    session.commit()
    assert counts == {st.UNKNOWN: 1}


def test_the_fake_lists_messages_as_twilio_pages_them(
    fake_twilio: Any, twilio: TwilioProvider
) -> None:
    """The SDK follows the fake's ``next_page_uri``: five messages in pages of two."""
    for i in range(5):
        assert twilio.send(OutboundMessage(to=mobile(0), body=f"m{i}")).outcome is Outcome.ACCEPTED
    twilio.send(OutboundMessage(to=mobile(1), body="other"))
    listed = twilio._messages.list(to=mobile(0), page_size=2)
    assert [m.body for m in listed] == ["m4", "m3", "m2", "m1", "m0"]
    pages = [r for r in fake_twilio.requests if r.method == "GET"]
    assert [r.form.get("Page", "0") for r in pages] == ["0", "1", "2"]
    assert twilio.find_sent(mobile(2), utcnow()) == Sighting(None)
