"""The simulator as a provider like the others: its receipts come back through Loa's status
webhook (over real HTTP, to the app served on a local port), its citizen phone reads Loa's own
records, and a citizen's SMS enters the tip line exactly as a Twilio inbound SMS does."""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from pydantic import SecretStr
from redis import Redis
from sqlalchemy import select
from sqlalchemy.orm import Session
from twilio.request_validator import RequestValidator
from werkzeug.serving import make_server

from campaigns import statuses
from campaigns.db import Base
from campaigns.models import Delivery, OptOut
from campaigns.sending import OutboundMessage, Outcome
from gateway import create_app
from gateway.providers.simulator import RECEIPT_THREADS, SimulatorProvider
from gateway.settings import Settings
from gateway.tips.models import Reply, Tip
from gateway.tips.replies import DEFAULT_ACK
from tests.integration.dispatch_support import approved_campaign, bulk_contacts
from tests.servers import free_port
from workers import dispatch as jobs
from workers import runtime

TWILIO_TOKEN = "twilio-token-for-simulator-tests"
BODY = "Thấy người bị nhốt ở bến cá"


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """Loa's public URL is the local port the app is served on (``live``); Twilio is set up
    so that its inbound webhook can be compared with the simulator's phone."""
    return settings.model_copy(
        update={
            "public_base_url": f"http://127.0.0.1:{free_port()}",
            "twilio_account_sid": "AC" + "1" * 32,
            "twilio_auth_token": SecretStr(TWILIO_TOKEN),
        }
    )


@pytest.fixture
def live(app: Any, settings: Settings) -> Iterator[str]:
    """The app served over HTTP at ``settings.public_base_url``: where receipts are posted."""
    port = int(settings.public_base_url.rsplit(":", 1)[1])
    server = make_server("127.0.0.1", port, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield settings.public_base_url
    server.shutdown()
    server.server_close()
    thread.join(5)


def _launch(session: Session, n: int, **kw: Any) -> int:
    """Launch a campaign to ``n`` numbers through the simulator; return its id."""
    bulk_contacts(session, n)
    campaign = approved_campaign(session, provider="simulator", **kw)
    assert jobs.launch(campaign.id)["launched"] is True
    return campaign.id


def _deliveries(session: Session, campaign_id: int) -> list[Delivery]:
    session.expire_all()
    return list(
        session.scalars(
            select(Delivery).where(Delivery.campaign_id == campaign_id).order_by(Delivery.id)
        )
    )


# --- sending and receipts -------------------------------------------------------------------


def test_receipts_come_back_through_the_status_webhook(
    session: Session, rq_worker: Any, live: str
) -> None:
    """A broadcast through the simulator ends delivered: each receipt is a signed POST to
    /webhooks/simulator/status/<id>, applied by the webhook before dispatch records the send
    (a fast provider), and the later 'sent' record keeps it delivered; nothing else is queued."""
    campaign_id = _launch(session, 5)
    assert rq_worker.run()
    rows = _deliveries(session, campaign_id)
    assert [d.status for d in rows] == [statuses.DELIVERED] * 5
    assert all(d.provider_message_id and d.provider_message_id.startswith("SIM") for d in rows)
    assert all(d.sent_at is not None and d.finished_at is not None for d in rows)
    assert rq_worker.run() is False  # the receipts left nothing queued behind them


def test_each_number_reaches_the_simulated_carrier_once(
    session: Session, rq_worker: Any, live: str
) -> None:
    """The far end's view: every recipient was handed over once, with Loa's delivery id."""
    campaign_id = _launch(session, 12)
    rq_worker.run()
    provider = runtime.provider("simulator")
    assert isinstance(provider, SimulatorProvider)
    handed = [(m.to, m.delivery_id) for m, r in provider.received if r.provider_message_id]
    assert sorted(handed) == sorted((d.phone, d.id) for d in _deliveries(session, campaign_id))


def test_a_lost_receipt_is_settled_by_asking_the_simulator(
    session: Session, settings: Settings, rq_worker: Any
) -> None:
    """With nobody listening at the public URL the receipts are lost (as a real provider's may
    be): deliveries stay sent, and fetch_status, which the reconciler asks, says delivered."""
    campaign_id = _launch(session, 3)
    assert rq_worker.run()
    rows = _deliveries(session, campaign_id)
    assert {d.status for d in rows} == {statuses.SENT}
    provider = SimulatorProvider(settings)
    assert {provider.fetch_status(str(d.provider_message_id)) for d in rows} == {"delivered"}
    assert provider.fetch_status("SM" + "0" * 32) is None  # not an id the simulator gave


def test_failures_get_no_receipt(session: Session, settings: Settings, live: str) -> None:
    """With failure rate 1 every send fails with SIM-30003 and no receipt is posted."""
    failing = SimulatorProvider(settings.model_copy(update={"simulator_failure_rate": 1.0}))
    d = Delivery(campaign_id=approved_campaign(session).id, phone="+84981234567")
    d.status = statuses.SENDING
    session.add(d)
    session.commit()
    (result,) = failing.send_many([OutboundMessage(to=d.phone, body="x", delivery_id=d.id)])
    assert (result.outcome, result.error_code) == (Outcome.FAILED, "SIM-30003")
    assert [r.outcome for _m, r in failing.received] == [Outcome.FAILED]
    session.expire_all()
    assert d.status == statuses.SENDING  # nothing came back to move it


# --- the citizen phone page -----------------------------------------------------------------


def test_phone_page_needs_login(client: Any) -> None:
    """Anonymous visitors are sent to the login page."""
    resp = client.get("/simulator")
    assert resp.status_code == 302
    assert "/login" in resp.headers["Location"]


def test_phone_page_shows_what_loa_sent_from_its_records(
    client: Any, auth: Any, session: Session, rq_worker: Any, live: str
) -> None:
    """A number's thread is its deliveries (rendered for the contact) and replies (staff
    alerts too), newest first; other numbers' messages are not in it; the picker masks numbers."""
    auth.login("admin")
    first = _launch(session, 2, body="Tin thứ nhất")
    rq_worker.run()
    second = approved_campaign(session, provider="simulator", body="Tin thứ hai cho {phone_masked}")
    jobs.launch(second.id)
    rq_worker.run()
    mine, other = _deliveries(session, first)
    session.add(Reply(to_phone=other.phone, body="Tin cho người khác", kind="reply", status="sent"))
    session.add(Reply(to_phone=mine.phone, body="Báo động: tin khẩn", kind="alert", status="sent"))
    session.commit()
    page = client.get("/simulator").get_data(as_text=True)
    assert mine.phone not in page and other.phone not in page  # the picker shows masked numbers
    text = client.get("/simulator", query_string={"m": f"d{mine.id}"}).get_data(as_text=True)
    assert text.index("Tin thứ hai cho +84 98x xxx 000") < text.index("Tin thứ nhất")
    assert "Tin cho người khác" not in text
    assert text.index("Báo động: tin khẩn") < text.index("Tin thứ hai")  # an alert, newest
    assert "Đã giao" in text  # the delivery's status, labelled


def test_citizen_reply_becomes_a_tip_and_shows_the_ack(
    client: Any, auth: Any, session: Session
) -> None:
    """Sending as a citizen stores a tip through the tip line and shows the acknowledgement,
    which is Loa's own reply record."""
    auth.login("admin")
    resp = client.post("/simulator/send", data={"phone": "0912 345 678", "body": BODY})
    assert resp.status_code == 302
    (tip,) = session.scalars(select(Tip)).all()
    assert (tip.sender, tip.provider, tip.channel, tip.body) == (
        "+84912345678",
        "simulator",
        "sms",
        BODY,
    )
    (ack,) = session.scalars(select(Reply)).all()
    assert (ack.tip_id, ack.to_phone, ack.kind, ack.body) == (
        tip.id,
        tip.sender,
        "ack",
        DEFAULT_ACK,
    )
    page = client.get(resp.headers["Location"]).get_data(as_text=True)
    assert page.index(DEFAULT_ACK) < page.index(BODY)  # newest first: the answer on top
    assert "+84912345678" not in page  # the thread is opened by record, the number masked


def test_an_opt_out_keyword_is_confirmed_on_the_phone(
    client: Any, auth: Any, session: Session
) -> None:
    """HUY from the phone opts the number out, stores no tip, and shows Loa's confirmation."""
    auth.login("admin")
    resp = client.post("/simulator/send", data={"phone": "0912345678", "body": "HUY"})
    assert resp.status_code == 200
    assert session.scalars(select(Tip)).all() == []
    assert session.scalars(select(OptOut.phone)).all() == ["+84912345678"]
    assert "BAT DAU" in resp.get_data(as_text=True)  # the confirmation says how to opt back in


def _rows(session: Session) -> dict[str, list[dict[str, Any]]]:
    # The counters are sums over every tip, not rows a tip adds (test_tip_counts checks them).
    skip = {"audit_events", "users", "user_sessions", "alembic_version", "tip_counts", "tip_days"}
    out: dict[str, list[dict[str, Any]]] = {}
    for table in Base.metadata.sorted_tables:
        if table.name not in skip:
            out[table.name] = [dict(r._mapping) for r in session.execute(select(table))]
    return out


def _new_rows(
    before: dict[str, list[dict[str, Any]]], after: dict[str, list[dict[str, Any]]], **names: str
) -> dict[str, list[str]]:
    """The rows added since ``before``, with ids, times and the given values replaced by names."""
    seen = {t: {repr(r) for r in rows} for t, rows in before.items()}
    swap = {v: f"<{k}>" for k, v in names.items()}

    def norm(row: dict[str, Any]) -> str:
        return repr(
            {
                k: "<time>"
                if isinstance(v, dt.datetime)
                else swap.get(v, v)
                if isinstance(v, str)
                else v
                for k, v in sorted(row.items())
                if (k != "id" and not k.endswith("_id")) or k == "provider_message_id"
            }
        )

    return {
        t: sorted(norm(r) for r in rows if repr(r) not in seen[t])
        for t, rows in after.items()
        if any(repr(r) not in seen[t] for r in rows)
    }


def test_a_simulated_tip_makes_the_records_a_twilio_tip_makes(
    client: Any, auth: Any, session: Session, settings: Settings
) -> None:
    """The same SMS by Twilio's webhook and by the citizen phone adds the same rows (tip,
    routing events, inline acknowledgement), differing only in provider, message id and
    number; the phone also audits the admin who played the citizen."""
    from gateway.models import AuditEvent

    auth.login("admin")
    twilio_from, sim_from = "+84912345678", "+84912345679"
    start = _rows(session)
    params = {
        "MessageSid": "SM" + "a" * 32,
        "From": twilio_from,
        "To": "+15005550006",
        "Body": BODY,
    }
    path = "/webhooks/twilio/sms"
    signature = RequestValidator(TWILIO_TOKEN).compute_signature(
        settings.public_base_url + path, params
    )
    assert (
        client.post(path, data=params, headers={"X-Twilio-Signature": signature}).status_code == 200
    )
    session.expire_all()
    after_twilio = _rows(session)
    assert client.post("/simulator/send", data={"phone": sim_from, "body": BODY}).status_code == 302
    session.expire_all()
    after_sim = _rows(session)

    by_twilio = _new_rows(
        start, after_twilio, sender=twilio_from, provider="twilio", sid=params["MessageSid"]
    )
    sim_tip = session.scalars(select(Tip).where(Tip.sender == sim_from)).one()
    by_sim = _new_rows(
        after_twilio, after_sim, sender=sim_from, provider="simulator",
        sid=str(sim_tip.provider_message_id),
    )  # fmt: skip
    assert set(by_twilio) >= {"tips", "tip_events", "replies"}
    assert by_sim == by_twilio
    actions = session.scalars(select(AuditEvent.action).order_by(AuditEvent.id)).all()
    assert "simulator.sms" in actions


@pytest.mark.parametrize(
    "form",
    [{"phone": "", "body": "x"}, {"phone": "0912345678", "body": "  "}, {"phone": "0912345678", "body": "x" * 1601}, {"m": "dx", "body": "x"}],
    ids=["no-number", "empty", "too-long", "bad-key"],
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
    for query in ({}, {"m": str(tip.id)}, {"m": f"t{tip.id}"}, {"phone": "+84912345678"}):
        assert client.get("/simulator", query_string=query).status_code == 403
    resp = client.post("/simulator/send", data={"phone": "0912345678", "body": "HUY"})
    assert resp.status_code == 403
    assert len(session.scalars(select(Tip)).all()) == 1
    assert session.scalars(select(OptOut)).all() == []


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


def test_redis_is_not_the_simulators_business(
    redis_conn: Redis, settings: Settings, live: str
) -> None:
    """Sending through the simulator queues nothing in Redis: its receipts are HTTP callbacks."""
    SimulatorProvider(settings).send_many(
        [OutboundMessage(to="+84981234567", body="x", delivery_id=999_999)]
    )
    assert redis_conn.keys("rq:queue:*") == []


def test_an_unreachable_webhook_is_not_called_for_every_message(
    settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Once Loa's webhook cannot be reached, the simulated carrier stops calling it for a while:
    a batch costs one failed connection, not one per message (the reconciler settles them)."""
    tried: list[str] = []
    provider = SimulatorProvider(
        settings.model_copy(update={"public_base_url": "http://127.0.0.1:9"})
    )

    def refuse(url: str, **_kw: Any) -> Any:
        tried.append(url)
        raise requests.ConnectionError("refused")

    monkeypatch.setattr(provider._http, "post", refuse)
    messages = [
        OutboundMessage(to=f"+8491234{i:04d}", body="x", delivery_id=i + 1) for i in range(40)
    ]
    results = provider.send_many(messages)
    assert all(r.outcome == Outcome.ACCEPTED for r in results)
    assert 1 <= len(tried) <= RECEIPT_THREADS  # only the posts already under way
