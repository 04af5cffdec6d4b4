"""The simulator end to end: outbox, receipts through the events queue, and the citizen phone."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from campaigns import statuses
from campaigns.models import Delivery
from campaigns.sending import OutboundMessage, Outcome
from gateway import create_app
from gateway.providers import get_provider
from gateway.providers.simulator import SimulatorMessage
from gateway.settings import Settings
from gateway.tips.models import Tip
from tests.factories import create_campaign, mobile


def _deliveries(session: Session, n: int) -> list[Delivery]:
    campaign = create_campaign()
    rows = [
        Delivery(campaign_id=campaign.id, phone=mobile(i), status=statuses.SENDING)
        for i in range(n)
    ]
    session.add_all(rows)
    session.commit()
    return rows


def _send_as_dispatch(session: Session, settings: Settings, rows: list[Delivery]) -> list[Any]:
    """What the dispatch engine does: send, then record ``sent`` with the provider's id."""
    provider = get_provider(settings, "simulator")
    results = provider.send_many(
        [OutboundMessage(to=d.phone, body="Tin thử", delivery_id=d.id) for d in rows]
    )
    for d, r in zip(rows, results, strict=True):
        if r.outcome is Outcome.ACCEPTED:
            d.status, d.provider_message_id = statuses.SENT, r.provider_message_id
        else:
            d.status, d.error_code = statuses.FAILED, r.error_code
    session.commit()
    return results


def test_receipts_arrive_through_the_events_queue(
    session: Session, settings: Settings, rq_worker: Any
) -> None:
    """Accepted messages land in the outbox; the worker applies their 'delivered' receipts."""
    rows = _deliveries(session, 5)
    _send_as_dispatch(session, settings, rows)
    outbox = session.scalars(select(SimulatorMessage).order_by(SimulatorMessage.id)).all()
    assert [(m.direction, m.phone, m.delivery_id) for m in outbox] == [
        ("out", d.phone, d.id) for d in rows
    ]
    assert rq_worker.run()
    session.expire_all()
    assert [d.status for d in rows] == [statuses.DELIVERED] * 5
    assert all(d.finished_at is not None for d in rows)


def test_duplicate_receipt_jobs_are_harmless(
    session: Session, settings: Settings, rq_worker: Any
) -> None:
    """Running a receipt twice (a retried job) leaves the delivery delivered, once."""
    from workers.statuses import process_receipt

    (d,) = _deliveries(session, 1)
    (result,) = _send_as_dispatch(session, settings, [d])
    rq_worker.run()
    params = {"MessageSid": result.provider_message_id, "MessageStatus": "delivered"}
    assert process_receipt("simulator", params, d.id) is False
    session.expire_all()
    assert d.status == statuses.DELIVERED


def test_unreadable_receipt_job_is_dropped(session: Session) -> None:
    """A receipt job with a bad status changes nothing and does not raise (no useless retries)."""
    from workers.statuses import process_receipt

    (d,) = _deliveries(session, 1)
    assert process_receipt("simulator", {"MessageSid": "x", "MessageStatus": "?"}, d.id) is False
    session.expire_all()
    assert d.status == statuses.SENDING


def test_failures_get_no_receipt(session: Session, settings: Settings, rq_worker: Any) -> None:
    """With failure rate 1 every send fails with SIM-30003 and no receipt is queued."""
    rows = _deliveries(session, 3)
    failing = settings.model_copy(update={"simulator_failure_rate": 1.0})
    results = _send_as_dispatch(session, failing, rows)
    assert {(r.outcome, r.error_code) for r in results} == {(Outcome.FAILED, "SIM-30003")}
    assert rq_worker.run() is False  # nothing to do
    session.expire_all()
    assert {d.status for d in rows} == {statuses.FAILED}


# --- the citizen phone page -----------------------------------------------------------------


def test_phone_page_needs_login(client: Any) -> None:
    """Anonymous visitors are sent to the login page."""
    resp = client.get("/simulator")
    assert resp.status_code == 302
    assert "/login" in resp.headers["Location"]


def test_phone_page_shows_the_numbers_thread(
    client: Any, auth: Any, session: Session, settings: Settings
) -> None:
    """The thread of a number shows what Loa sent it, newest first; the picker masks numbers."""
    auth.login("admin")
    rows = _deliveries(session, 2)
    get_provider(settings, "simulator").send_many(
        [
            OutboundMessage(to=rows[0].phone, body="Tin thứ nhất"),
            OutboundMessage(to=rows[0].phone, body="Tin thứ hai"),
            OutboundMessage(to=rows[1].phone, body="Tin cho người khác"),
        ]
    )
    page = client.get("/simulator").get_data(as_text=True)
    assert rows[0].phone not in page  # the picker shows masked numbers only
    thread = client.get("/simulator", query_string={"phone": rows[0].phone})
    text = thread.get_data(as_text=True)
    assert thread.status_code == 200
    assert text.index("Tin thứ hai") < text.index("Tin thứ nhất")
    assert "Tin cho người khác" not in text


def test_citizen_reply_becomes_a_tip_and_shows_the_ack(
    client: Any, auth: Any, session: Session
) -> None:
    """Sending as a citizen stores a tip through the tip line and shows the acknowledgement."""
    auth.login("admin")
    resp = client.post(
        "/simulator/send", data={"phone": "0912 345 678", "body": "Thấy người bị nhốt ở bến cá"}
    )
    assert resp.status_code == 302
    (tip,) = session.scalars(select(Tip)).all()
    assert (tip.sender, tip.provider, tip.body) == (
        "+84912345678",
        "simulator",
        "Thấy người bị nhốt ở bến cá",
    )
    thread = session.scalars(
        select(SimulatorMessage).where(SimulatorMessage.phone == "+84912345678")
    ).all()
    assert [m.direction for m in thread] == ["in", "out"]
    page = client.get(resp.headers["Location"]).get_data(as_text=True)
    assert thread[1].body in page  # the acknowledgement, in the thread
    assert "+84912345678" not in page  # the thread is opened by message id, the number masked


@pytest.mark.parametrize(
    "form",
    [{"phone": "", "body": "x"}, {"phone": "0912345678", "body": "  "}, {"phone": "0912345678", "body": "x" * 1601}],
    ids=["no-number", "empty", "too-long"],
)  # fmt: skip
def test_bad_citizen_reply_is_400(
    client: Any, auth: Any, session: Session, form: dict[str, str]
) -> None:
    """An empty number or message, or an overlong one, is a clear 400 that stores nothing."""
    auth.login("admin")
    assert client.post("/simulator/send", data=form).status_code == 400
    assert session.scalars(select(Tip)).all() == []


@pytest.mark.parametrize(
    ("env", "provider", "registered"),
    [("production", "twilio", False), ("production", "simulator", False), ("development", "twilio", True)],
)  # fmt: skip
def test_phone_page_exists_only_off_production(
    settings: Settings, env: str, provider: str, registered: bool
) -> None:
    """A production deployment has no citizen phone, whatever its provider."""
    cfg = settings.model_copy(update={"env": env, "provider": provider})
    app = create_app(cfg, TESTING=True)
    assert ("simulator.phone" in app.view_functions) is registered


@pytest.mark.parametrize("role", ["editor", "approver", "police", "border_guard", "hotline_111"])
def test_only_admins_use_the_citizen_phone(
    client: Any, auth: Any, session: Session, role: str
) -> None:
    """The phone shows tips of every queue and sends as any number: 403 for other roles,
    and nothing is stored or opted in or out."""
    from tests.factories import create_tip

    tip = create_tip("tin của 111", channel="sms", sender="+84912345678", queue="hotline_111")
    auth.login(role, scope="police_province" if role == "police" else None)
    for query in ({}, {"m": str(tip.id)}, {"phone": "+84912345678"}):
        assert client.get("/simulator", query_string=query).status_code == 403
    resp = client.post("/simulator/send", data={"phone": "0912345678", "body": "HUY"})
    assert resp.status_code == 403
    assert len(session.scalars(select(Tip)).all()) == 1


def test_opening_a_number_on_the_phone_is_audited(client: Any, auth: Any, session: Session) -> None:
    """The phone shows what a number sent (tips too): each opening is in the audit log, with
    the number masked there."""
    from gateway.models import AuditEvent

    admin = auth.login("admin")
    assert client.get("/simulator", query_string={"phone": "0912345678"}).status_code == 200
    event = session.scalar(
        select(AuditEvent).where(
            AuditEvent.action == "simulator.view", AuditEvent.actor_id == admin.id
        )
    )
    assert event is not None
    assert "0912345678" not in str(event.details) and "+84912345678" not in str(event.details)
