"""The aggregator provider end to end: campaigns through the worker against the fake aggregator,
receipts and MO through Loa's webhooks, forgeries refused, duplicates stored once."""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

import pytest
from pydantic import SecretStr
from redis import Redis
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from campaigns import lifecycle, reports, statuses
from campaigns.models import Campaign, Contact, Delivery
from gateway import queues
from gateway.settings import Settings
from gateway.tips.models import Reply, Tip
from tests.factories import mobile
from tests.fakes import aggregator_server as fa
from tests.fakes.aggregator_server import Behaviour, FakeAggregator
from tests.integration.dispatch_support import approved_campaign, bulk_contacts
from workers import dispatch as jobs

BASE = "https://loa.example.gov.vn"
CITIZEN = "+84912345678"


@pytest.fixture
def settings(settings: Settings, fake_aggregator: FakeAggregator) -> Settings:
    """The app on the http provider (fake profile), behind a public URL, small requests only."""
    return settings.model_copy(
        update={
            "provider": "http",
            "http_profile": str(fa.FAKE_PROFILE),
            "http_base_url": fake_aggregator.url,
            "http_api_key": fa.API_KEY,
            "http_secret_key": SecretStr(fa.SECRET_KEY),
            "http_sender": "LOA-SOCTRANG",
            "http_webhook_secret": SecretStr(fa.WEBHOOK_SECRET),
            "public_base_url": BASE,
            "max_request_bytes": 4096,
        }
    )


def _post(client: Any, request: dict[str, Any], **environ: str) -> Any:
    return client.open(
        request["path"],
        method=request["method"],
        data=request["data"],
        headers=request["headers"],
        environ_base={"REMOTE_ADDR": "127.0.0.1", **environ},
    )


def _deliveries(s: Session, campaign_id: int) -> list[Delivery]:
    s.expire_all()
    return list(
        s.scalars(select(Delivery).where(Delivery.campaign_id == campaign_id).order_by(Delivery.id))
    )


def _tips(s: Session) -> list[Tip]:
    s.expire_all()
    return list(s.scalars(select(Tip).order_by(Tip.id)))


# --- sending -----------------------------------------------------------------------------------


def test_campaign_through_the_worker_reaches_each_number_once(
    app: Any, session: Session, rq_worker: Any, fake_aggregator: FakeAggregator
) -> None:
    """Every number gets one request with the brandname, the text, its own request id and a
    receipt URL carrying its delivery id; the campaign counts them all sent."""
    bulk_contacts(session, 25)
    campaign = approved_campaign(session, body="Phong chong mua ban nguoi: goi 111")
    assert jobs.launch(campaign.id)["launched"] is True
    rq_worker.run()
    sends = fake_aggregator.sends()
    assert Counter(r.fields["to"] for r in sends) == {mobile(i): 1 for i in range(25)}
    by_number = {r.fields["to"]: r.fields for r in sends}
    for d in _deliveries(session, campaign.id):
        fields = by_number[d.phone]
        assert fields["from"] == "LOA-SOCTRANG"
        assert fields["text"] == "Phong chong mua ban nguoi: goi 111"
        assert fields["unicode"] == "0"
        assert fields["ref"] == f"loa-{d.id}"
        assert fields["notify"] == f"{BASE}/webhooks/http/status/{d.id}"
        assert d.status == statuses.SENT and d.provider_message_id in fake_aggregator.messages
    assert reports.counts(session, campaign.id)["sent"] == 25


def test_a_hang_is_resent_within_the_window_and_the_recipient_gets_one_message(
    app: Any, session: Session, rq_worker: Any, fake_aggregator: FakeAggregator
) -> None:
    """The fake takes one message and never answers; Loa resends the same request id, the
    fake says "duplicate", the delivery is sent, and that phone received one message."""
    bulk_contacts(session, 3)
    fake_aggregator.program(Behaviour.hanging(), to=mobile(1), times=1)
    from workers import runtime

    provider = runtime.provider()
    provider.timeouts = (1.0, 0.5)  # type: ignore[attr-defined]  # answer-less after 0.5 s
    campaign = approved_campaign(session)
    jobs.launch(campaign.id)
    rq_worker.run()
    tries = [r for r in fake_aggregator.sends() if r.fields["to"] == mobile(1)]
    assert len(tries) == 2 and tries[0].fields["ref"] == tries[1].fields["ref"]
    assert fake_aggregator.received_by(mobile(1)) == 1
    (d,) = [d for d in _deliveries(session, campaign.id) if d.phone == mobile(1)]
    assert d.status == statuses.SENT
    assert fake_aggregator.messages[str(d.provider_message_id)]["ref"] == f"loa-{d.id}"


def test_refusals_follow_the_profile_table(
    app: Any, session: Session, rq_worker: Any, fake_aggregator: FakeAggregator
) -> None:
    """An invalid-number code fails that delivery and marks the contact; the others are sent."""
    bulk_contacts(session, 2)
    fake_aggregator.program(Behaviour.error("E-NUMBER"), to=mobile(0))
    campaign = approved_campaign(session)
    jobs.launch(campaign.id)
    rq_worker.run()
    d0, d1 = _deliveries(session, campaign.id)
    assert (d0.status, d0.error_code) == (statuses.FAILED, "E-NUMBER")
    assert session.scalar(select(Contact.invalid).where(Contact.phone == mobile(0))) is True
    assert d1.status == statuses.SENT


def test_bad_credentials_pause_the_campaign(
    app: Any, session: Session, rq_worker: Any, fake_aggregator: FakeAggregator
) -> None:
    """A halt code (the aggregator refuses the keys) pauses the campaign and says why."""
    bulk_contacts(session, 5)
    fake_aggregator.program(Behaviour.error("E-AUTH"))
    campaign = approved_campaign(session)
    jobs.launch(campaign.id)
    rq_worker.run()
    session.expire_all()
    got = session.get(Campaign, campaign.id)
    assert got is not None and got.status == lifecycle.PAUSED
    assert "E-AUTH" in (got.paused_reason or "")


# --- receipts -----------------------------------------------------------------------------------


def _sent_delivery(session: Session, rq_worker: Any) -> Delivery:
    bulk_contacts(session, 1)
    campaign = approved_campaign(session)
    jobs.launch(campaign.id)
    rq_worker.run()
    (d,) = _deliveries(session, campaign.id)
    assert d.status == statuses.SENT
    return d


def test_signed_receipts_move_the_delivery_forward_only(
    app: Any, client: Any, session: Session, rq_worker: Any, fake_aggregator: FakeAggregator
) -> None:
    """A signed 'delivered' receipt applies; a late 'sent' does not move it back."""
    d = _sent_delivery(session, rq_worker)
    pmid = str(d.provider_message_id)
    resp = _post(client, fake_aggregator.receipt(BASE, d.id, pmid, statuses.DELIVERED))
    assert resp.status_code == 204
    resp = _post(client, fake_aggregator.receipt(BASE, d.id, pmid, statuses.SENT))
    assert resp.status_code == 204
    (d,) = _deliveries(session, d.campaign_id)
    assert d.status == statuses.DELIVERED


FORGED_RECEIPTS = {
    "wrong-secret": lambda req: {**req, "headers": {**req["headers"], "X-Fake-Signature": "v1=00"}},
    "no-signature": lambda req: {
        **req,
        "headers": {"Content-Type": req["headers"]["Content-Type"]},
    },
    "tampered-body": lambda req: {**req, "data": req["data"].replace(b"delivered", b"failed")},
    "other-delivery": lambda req: {**req, "path": req["path"].replace("/status/", "/status/9")},
}


@pytest.mark.parametrize("forgery", FORGED_RECEIPTS)
def test_forged_receipts_change_nothing(
    forgery: str,
    app: Any,
    client: Any,
    session: Session,
    rq_worker: Any,
    fake_aggregator: FakeAggregator,
) -> None:
    """A receipt whose signature does not hold gets 403; the delivery stays as it was."""
    d = _sent_delivery(session, rq_worker)
    genuine = fake_aggregator.receipt(BASE, d.id, str(d.provider_message_id), statuses.DELIVERED)
    resp = _post(client, FORGED_RECEIPTS[forgery](genuine))
    assert resp.status_code == 403
    (d,) = _deliveries(session, d.campaign_id)
    assert d.status == statuses.SENT


def test_a_receipt_no_rule_reads_is_400(
    app: Any, client: Any, session: Session, rq_worker: Any, fake_aggregator: FakeAggregator
) -> None:
    """A genuine but unreadable receipt (a state the profile does not know) is 400, not 500."""
    d = _sent_delivery(session, rq_worker)
    params = {"state": "exploded", "msg_id": str(d.provider_message_id)}
    auth = fake_aggregator.profile.receipts.auth
    path = f"/webhooks/http/status/{d.id}"
    req = fake_aggregator._webhook(BASE, path, "POST", "form", auth, params)
    assert _post(client, req).status_code == 400
    (d,) = _deliveries(session, d.campaign_id)
    assert d.status == statuses.SENT


# --- MO: a citizen's SMS ----------------------------------------------------------------------


def test_a_signed_mo_becomes_one_tip_and_an_ack_on_the_replies_lane(
    app: Any,
    client: Any,
    session: Session,
    redis_conn: Redis,
    rq_worker: Any,
    fake_aggregator: FakeAggregator,
) -> None:
    """Posted twice, one tip; the acknowledgement is queued on 'replies' and then sent through
    the aggregator to the citizen."""
    mo = fake_aggregator.mo(
        BASE, CITIZEN, "Có người lạ dụ dỗ trẻ em", message_id="MO-1", ts="2025-07-30T08:15:00+0700"
    )
    first = _post(client, mo)
    assert first.status_code == 200
    assert json.loads(first.data) == {"ok": True, "id": "MO-1"}
    assert _post(client, mo).status_code == 200
    (tip,) = _tips(session)
    assert (tip.provider, tip.provider_message_id, tip.sender, tip.channel) == (
        "http",
        "MO-1",
        CITIZEN,
        "http_mo",
    )
    assert tip.body == "Có người lạ dụ dỗ trẻ em"
    assert tip.received_at.replace(tzinfo=None).isoformat() == "2025-07-30T01:15:00"
    (reply,) = session.scalars(select(Reply)).all()
    assert (reply.kind, reply.to_phone, reply.status) == ("ack", CITIZEN, "queued")
    assert [j.func_name for j in queues.queue("replies", redis_conn).get_jobs()] == [
        "workers.notifications.send_reply"
    ]
    rq_worker.run()
    acks = [r for r in fake_aggregator.sends() if r.fields["to"] == CITIZEN]
    assert len(acks) == 1 and "Có người" not in acks[0].fields["text"]  # neutral, no echo
    session.expire_all()
    assert session.get(Reply, reply.id).status == "sent"  # type: ignore[union-attr]


FORGED_MO = {
    "wrong-secret": lambda req: {**req, "headers": {**req["headers"], "X-Fake-Signature": "v1=ab"}},
    "no-signature": lambda req: {**req, "headers": {"Content-Type": "application/json"}},
    "tampered-text": lambda req: {**req, "data": req["data"].replace(b"111", b"112")},
}


@pytest.mark.parametrize("forgery", FORGED_MO)
def test_a_forged_mo_is_403_and_stores_nothing(
    forgery: str, app: Any, client: Any, session: Session, fake_aggregator: FakeAggregator
) -> None:
    """No tip, no reply, no opt-out from a request the aggregator did not sign."""
    genuine = fake_aggregator.mo(BASE, CITIZEN, "goi 111 giup toi")
    assert _post(client, FORGED_MO[forgery](genuine)).status_code == 403
    assert _tips(session) == []
    assert session.scalar(select(func.count()).select_from(Reply)) == 0


def test_malformed_and_oversized_mo(
    app: Any, client: Any, session: Session, fake_aggregator: FakeAggregator
) -> None:
    """A signed MO missing its sender, or whose body is no JSON object, is 400; too big, 413."""
    spec = fake_aggregator.profile.inbound
    no_sender = fake_aggregator._webhook(
        BASE, "/webhooks/http/mo", "POST", "json", spec.auth, {"id": "MO-2", "text": "a"}
    )
    assert _post(client, no_sender).status_code == 400
    not_object = fake_aggregator.mo(BASE, CITIZEN, "a")
    not_object["data"] = b"[1, 2]"
    not_object["headers"]["X-Fake-Signature"] = _resign(not_object["data"])
    assert _post(client, not_object).status_code == 400
    huge = fake_aggregator.mo(BASE, CITIZEN, "x" * 5000)
    assert _post(client, huge).status_code == 413
    assert _tips(session) == []


def _resign(body: bytes) -> str:
    import hashlib
    import hmac

    return "v1=" + hmac.new(fa.WEBHOOK_SECRET.encode(), body, hashlib.sha256).hexdigest()


@pytest.mark.parametrize(
    ("allowed", "remote", "expected"),
    [
        ("10.0.0.0/8", "127.0.0.1", 403),
        ("10.0.0.0/8, 192.0.2.7", "192.0.2.7", 200),
        ("10.0.0.0/8", "10.20.30.40", 200),
        ("", "203.0.113.9", 200),
    ],
    ids=["outside", "listed-address", "inside-cidr", "no-allowlist"],
)
def test_ip_allowlist(
    allowed: str,
    remote: str,
    expected: int,
    settings: Settings,
    session: Session,
    fake_aggregator: FakeAggregator,
) -> None:
    """With LOA_HTTP_ALLOWED_IPS set, a genuine MO from another address is refused."""
    from gateway import create_app

    application = create_app(
        settings.model_copy(update={"http_allowed_ips": allowed}),
        TESTING=True,
        WTF_CSRF_ENABLED=False,
    )
    try:
        client = application.test_client()
        mo = fake_aggregator.mo(BASE, CITIZEN, "tin bao", message_id="MO-IP")
        assert _post(client, mo, REMOTE_ADDR=remote).status_code == expected
        assert len(_tips(session)) == (1 if expected == 200 else 0)
    finally:
        application.extensions["loa.engine"].dispose()


def test_no_profile_configured_is_404(client: Any, app: Any) -> None:
    """Without LOA_HTTP_PROFILE the aggregator webhooks do not exist (never a 500)."""
    app.config["LOA_SETTINGS"] = app.config["LOA_SETTINGS"].model_copy(update={"http_profile": ""})
    app.extensions.pop("loa.webhook_providers", None)
    assert client.post("/webhooks/http/mo", data={"a": "b"}).status_code == 404
