"""Recording a chunk's results against what receipts already wrote."""

from __future__ import annotations

import datetime as dt

from sqlalchemy.orm import Session

from campaigns import statuses as st
from campaigns.db import utcnow
from campaigns.models import Delivery
from campaigns.recording import Prepared, record
from campaigns.sending import Outcome, SendResult
from tests.factories import create_campaign, create_contact


def _delivery(session: Session, status: str, **kw: object) -> Delivery:
    campaign = create_campaign()
    contact = create_contact()
    d = Delivery(
        campaign_id=campaign.id, contact_id=contact.id, phone=contact.phone, status=status, **kw
    )
    session.add(d)
    session.commit()
    return d


def test_a_receipt_that_came_first_keeps_its_error(session: Session) -> None:
    """The provider's 'undelivered' receipt raced ahead of our own record of the send: the
    delivery stays failed and keeps the receipt's error code and message."""
    d = _delivery(session, st.FAILED, error_code="30005", error_message="Unknown destination")
    prepared = Prepared(d.id, d.phone, d.contact_id, "x", 1)
    accepted = SendResult(Outcome.ACCEPTED, provider_message_id="SM1")
    record(session, d.campaign_id, [prepared], [accepted], {}, utcnow(), pause_after=50)
    session.commit()
    session.refresh(d)
    assert (d.status, d.error_code, d.error_message) == (st.FAILED, "30005", "Unknown destination")
    assert d.provider_message_id == "SM1"


def test_a_send_in_flight_is_sent_and_clears_old_errors(session: Session) -> None:
    """The ordinary case: sending → sent, and an earlier attempt's error is cleared."""
    d = _delivery(session, st.SENDING, error_code="20429", error_message="Too many requests")
    prepared = Prepared(d.id, d.phone, d.contact_id, "x", 1)
    accepted = SendResult(Outcome.ACCEPTED, provider_message_id="SM2")
    record(session, d.campaign_id, [prepared], [accepted], {}, utcnow() + dt.timedelta(0), 50)
    session.commit()
    session.refresh(d)
    assert (d.status, d.error_code, d.error_message) == (st.SENT, None, None)
