"""The shipped eSMS profile: the request its documentation describes, its codes, its GET
callbacks with Loa's per-delivery token, its signed short-code MO, and its status query.

The fake aggregator runs the esms profile here; the expected requests and the MO signature are
written out from eSMS's documentation (see gateway/providers/profiles/esms.toml), not from Loa's
code, so a mistake in the profile or the provider shows."""

from __future__ import annotations

import base64
import hashlib
import logging
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlencode

import pytest
from pydantic import SecretStr
from sqlalchemy import select
from sqlalchemy.orm import Session

from campaigns import statuses
from campaigns.models import Delivery
from campaigns.sending import Effect, OutboundMessage, Outcome
from gateway.providers.aggregator import AggregatorProvider
from gateway.providers.aggregator_toml import load_profile, shipped
from gateway.settings import Settings
from gateway.tips.models import Tip
from tests.factories import create_campaign
from tests.fakes.aggregator_server import Behaviour, FakeAggregator

BASE = "https://loa.example.gov.vn"
TO = "+84981234567"
KEY, SECRET, PRIVATE_KEY = "ESMS-API-KEY", "ESMS-SECRET-KEY", "esms-private-key-17417a0d"
OFFICIAL = "Phòng, chống mua bán người: gọi 111"


@pytest.fixture(scope="module")
def _esms_server() -> Iterator[FakeAggregator]:
    with FakeAggregator(
        load_profile("esms"),
        api_key=KEY,
        secret_key=SECRET,
        webhook_secret=PRIVATE_KEY,
        auth_error="101",
    ) as fake:
        yield fake


@pytest.fixture
def esms(_esms_server: FakeAggregator) -> FakeAggregator:
    _esms_server.reset()
    return _esms_server


@pytest.fixture
def settings(settings: Settings, esms: FakeAggregator) -> Settings:
    return settings.model_copy(
        update={
            "provider": "http",
            "http_profile": "esms",
            "http_base_url": esms.url,
            "http_api_key": KEY,
            "http_secret_key": SecretStr(SECRET),
            "http_sender": "CONGAN-ST",
            "http_webhook_secret": SecretStr(PRIVATE_KEY),
            "public_base_url": BASE,
        }
    )


@pytest.fixture
def provider(settings: Settings) -> Iterator[AggregatorProvider]:
    p = AggregatorProvider(settings, read_timeout=2.0, connect_timeout=1.0, resend_backoff=0.05)
    yield p
    p.close()


def test_esms_is_shipped_and_packaged() -> None:
    """The profile is found by its name and declared as package data."""
    assert "esms" in shipped()
    from pathlib import Path

    pyproject = (Path(__file__).resolve().parents[2] / "pyproject.toml").read_text()
    assert '"providers/profiles/*.toml"' in pyproject


def test_the_documented_send_request(provider: AggregatorProvider, esms: FakeAggregator) -> None:
    """POST …/SendMultipleMessage_V4_post_json/ with exactly the documented JSON fields; Loa's
    delivery id as RequestId; a CallbackUrl carrying the delivery and its token."""
    result = provider.send(OutboundMessage(to=TO, body=OFFICIAL, delivery_id=42))
    assert result.outcome is Outcome.ACCEPTED and result.provider_message_id
    (req,) = esms.sends()
    assert (req.method, req.path) == (
        "POST",
        "/MainService.svc/json/SendMultipleMessage_V4_post_json/",
    )
    assert req.headers["Content-Type"] == "application/json"
    assert req.fields == {
        "ApiKey": KEY,
        "SecretKey": SECRET,
        "Brandname": "CONGAN-ST",
        "Content": OFFICIAL,
        "Phone": "0981234567",
        "IsUnicode": "1",
        "SmsType": "2",
        "RequestId": "loa-42",
        "CallbackUrl": f"{BASE}/webhooks/http/status/42/{provider.url_token(42)}",
    }


def test_a_reply_without_delivery_has_no_request_id_nor_callback(
    provider: AggregatorProvider, esms: FakeAggregator
) -> None:
    """A tip acknowledgement (no delivery) sends neither RequestId nor CallbackUrl; plain text
    goes as IsUnicode 0."""
    provider.send(OutboundMessage(to=TO, body="Da nhan tin bao. Goi 111 hoac 113."))
    (req,) = esms.sends()
    assert "RequestId" not in req.fields and "CallbackUrl" not in req.fields
    assert req.fields["IsUnicode"] == "0"


@pytest.mark.parametrize(
    ("code", "outcome", "effect"),
    [
        ("99", Outcome.FAILED, Effect.OPTED_OUT),
        ("101", Outcome.FAILED, Effect.HALT),
        ("103", Outcome.FAILED, Effect.HALT),
        ("104", Outcome.FAILED, Effect.HALT),
        ("108", Outcome.FAILED, Effect.INVALID_NUMBER),
        ("146", Outcome.FAILED, Effect.HALT),
        ("177", Outcome.FAILED, Effect.NONE),
        ("555", Outcome.FAILED, Effect.NONE),
    ],
)
def test_documented_codes(
    code: str, outcome: Outcome, effect: Effect, provider: AggregatorProvider, esms: FakeAggregator
) -> None:
    """CodeResult maps through the profile's table; an undocumented code fails with itself."""
    esms.program(Behaviour.error(code))
    result = provider.send(OutboundMessage(to=TO, body="a", delivery_id=7))
    assert (result.outcome, result.effect, result.error_code) == (outcome, effect, code)


def test_wrong_keys_are_101_and_halt(settings: Settings, esms: FakeAggregator) -> None:
    """The fake checks ApiKey/SecretKey like eSMS: wrong ones answer 101, which halts."""
    p = AggregatorProvider(settings.model_copy(update={"http_secret_key": SecretStr("nope")}))
    try:
        result = p.send(OutboundMessage(to=TO, body="a", delivery_id=7))
    finally:
        p.close()
    assert (result.outcome, result.effect, result.error_code) == (
        Outcome.FAILED,
        Effect.HALT,
        "101",
    )


def test_duplicate_request_id_124_after_a_timeout_means_sent_once(
    settings: Settings, esms: FakeAggregator
) -> None:
    """eSMS took the message but the answer was lost: the resend gets 124, Loa records sent."""
    esms.program(Behaviour.hanging(), times=1)
    p = AggregatorProvider(settings, read_timeout=0.3, connect_timeout=1.0, resend_backoff=0.05)
    try:
        result = p.send(OutboundMessage(to=TO, body="a", delivery_id=9))
    finally:
        p.close()
    assert result.outcome is Outcome.ACCEPTED
    assert [r.fields["RequestId"] for r in esms.sends()] == ["loa-9", "loa-9"]
    assert esms.received_by("0981234567") == 1


def test_status_query_get_send_status(
    provider: AggregatorProvider, esms: FakeAggregator, caplog: pytest.LogCaptureFixture
) -> None:
    """GetSendStatus?RefId=…&ApiKey=…&SecretKey=… is read through the receipt rules; the keys,
    sent in the query, never reach the logs (urllib3 logs request lines at DEBUG)."""
    caplog.set_level(logging.DEBUG)
    sms_id = provider.send(OutboundMessage(to=TO, body="a", delivery_id=5)).provider_message_id
    assert sms_id
    assert provider.fetch_status(sms_id) == statuses.DELIVERED
    esms.set_status(sms_id, statuses.UNDELIVERED)
    assert provider.fetch_status(sms_id) == statuses.UNDELIVERED
    assert provider.fetch_status("no-such-id") is None
    query = [r for r in esms.requests if r.path == "/MainService.svc/json/GetSendStatus"]
    assert query[0].method == "GET"
    assert query[0].fields == {"RefId": sms_id, "ApiKey": KEY, "SecretKey": SECRET}
    assert "GetSendStatus" in caplog.text
    for secret in (KEY, SECRET, TO, "0981234567"):
        assert secret not in caplog.text


# --- callbacks (HTTP GET, unsigned by eSMS: Loa's token in the URL) -------------------------


def _delivery(session: Session) -> Delivery:
    d = Delivery(
        campaign_id=create_campaign().id, phone=TO, status=statuses.SENT, provider_message_id="S1"
    )
    session.add(d)
    session.commit()
    return d


def _callback(sendstatus: str, success: str, failed: str, delivery_id: int) -> str:
    """The documented sample callback's query for one customer-care message."""
    return urlencode(
        {
            "SMSID": "S1",
            "SendFailed": failed,
            "SendStatus": sendstatus,
            "SendSuccess": success,
            "TotalPrice": "850.0000",
            "TotalReceiver": "1",
            "TotalSent": "1",
            "RequestId": f"loa-{delivery_id}",
            "TypeId": "2",
            "telcoid": "1",
            "phonenumber": "0981234567",
        }
    )


@pytest.mark.parametrize(
    ("sendstatus", "success", "failed", "expected"),
    [
        ("5", "1", "0", statuses.DELIVERED),
        ("5", "0", "2", statuses.UNDELIVERED),
        ("5", "1", "1", statuses.UNDELIVERED),  # a failed part fails the message
        ("7", "0", "0", statuses.SENT),
        ("4", "0", "0", statuses.FAILED),
    ],
)
def test_callback_with_the_token(
    sendstatus: str,
    success: str,
    failed: str,
    expected: str,
    app: Any,
    client: Any,
    session: Session,
    provider: AggregatorProvider,
) -> None:
    """eSMS's GET to the CallbackUrl Loa gave applies the documented SendStatus."""
    d = _delivery(session)
    url = provider.callback_url(d.id)[len(BASE) :]
    resp = client.get(f"{url}?{_callback(sendstatus, success, failed, d.id)}")
    assert resp.status_code == 204
    session.expire_all()
    assert session.get(Delivery, d.id).status == expected  # type: ignore[union-attr]


@pytest.mark.parametrize(
    "path", ["/webhooks/http/status/{id}", "/webhooks/http/status/{id}/" + "0" * 32]
)
def test_callback_without_the_right_token_changes_nothing(
    path: str, app: Any, client: Any, session: Session, provider: AggregatorProvider
) -> None:
    """Without Loa's token for this delivery (none, or another's), a callback is 403."""
    d = _delivery(session)
    resp = client.get(path.format(id=d.id) + "?" + _callback("5", "1", "0", d.id))
    assert resp.status_code == 403
    other = provider.callback_url(d.id + 1)[len(BASE) :].replace(f"/{d.id + 1}/", f"/{d.id}/")
    assert client.get(f"{other}?{_callback('5', '1', '0', d.id)}").status_code == 403
    session.expire_all()
    assert session.get(Delivery, d.id).status == statuses.SENT  # type: ignore[union-attr]


# --- MO from the short code (HTTP GET, signed with MD5 over four fields and the key) ----------


def _mo_query(sign_with: str = PRIVATE_KEY, **changes: str) -> str:
    params = {
        "sender": "84912345678",
        "content": "Tôi thấy người bị ép làm việc trên tàu cá",
        "serviceNumber": "8079",
        "keyword": "TOI",
        "cpid": "CP42",
        "smsid": "MO-ESMS-1",
        "receiverTime": "20250730081500",
    }
    signed = params["cpid"] + params["smsid"] + params["content"] + params["receiverTime"]
    digest = hashlib.md5((signed + sign_with).encode()).digest()  # noqa: S324  (eSMS documents MD5)
    params["sign"] = base64.b64encode(digest).decode()
    params.update(changes)
    return urlencode(params)


def test_a_signed_mo_becomes_one_tip(app: Any, client: Any, session: Session) -> None:
    """The documented GET push stores one tip (twice pushed), received at the VN time given,
    and answers the ClientResponse with the message id."""
    for _ in range(2):
        resp = client.get(f"/webhooks/http/mo?{_mo_query()}")
        assert resp.status_code == 200
        assert resp.content_type.startswith("application/xml")
        assert b"<Smsid>MO-ESMS-1</Smsid>" in resp.data
    (tip,) = session.scalars(select(Tip)).all()
    assert (tip.provider, tip.provider_message_id, tip.sender) == (
        "http",
        "MO-ESMS-1",
        "+84912345678",
    )
    assert tip.body == "Tôi thấy người bị ép làm việc trên tàu cá"
    assert tip.received_at.replace(tzinfo=None).isoformat() == "2025-07-30T01:15:00"


@pytest.mark.parametrize(
    "query",
    [
        _mo_query(sign_with="not-the-key"),
        _mo_query(content="Tin giả"),  # signed content changed
        _mo_query(sign=""),
    ],
    ids=["wrong-key", "tampered", "no-sign"],
)
def test_a_forged_mo_stores_nothing(query: str, app: Any, client: Any, session: Session) -> None:
    assert client.get(f"/webhooks/http/mo?{query}").status_code == 403
    assert session.scalars(select(Tip)).all() == []
