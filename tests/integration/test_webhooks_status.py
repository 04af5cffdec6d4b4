"""Provider webhooks: signed receipts move deliveries forward only; forged ones change nothing."""

from __future__ import annotations

import itertools
from typing import Any

import pytest
from pydantic import SecretStr
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from twilio.request_validator import RequestValidator

from campaigns import statuses
from campaigns.models import Delivery
from gateway.providers.simulator import sign
from gateway.settings import Settings
from gateway.tips.models import Tip
from tests.factories import create_campaign

TOKEN = "twilio-token-for-webhook-tests"
BASE = "https://loa.example.gov.vn"


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """Twilio credentials and a public URL behind a proxy; small requests only."""
    return settings.model_copy(
        update={
            "twilio_account_sid": "AC" + "1" * 32,
            "twilio_auth_token": SecretStr(TOKEN),
            "public_base_url": BASE,
            "max_request_bytes": 2048,
        }
    )


def _delivery(session: Session, status: str = statuses.SENT, pmid: str | None = "SM1") -> Delivery:
    campaign = create_campaign()
    d = Delivery(
        campaign_id=campaign.id, phone="+84981234567", status=status, provider_message_id=pmid
    )
    session.add(d)
    session.commit()
    return d


def _status_of(session: Session, delivery_id: int) -> Delivery:
    session.expire_all()
    d = session.get(Delivery, delivery_id)
    assert d is not None
    return d


def _twilio_post(client: Any, path: str, params: dict[str, str], token: str = TOKEN) -> Any:
    sig = RequestValidator(token).compute_signature(BASE + path, params)
    return client.post(path, data=params, headers={"X-Twilio-Signature": sig})


def _receipt(status: str, sid: str = "SM1", **extra: str) -> dict[str, str]:
    return {"MessageSid": sid, "MessageStatus": status, "AccountSid": "AC" + "1" * 32, **extra}


def test_signed_receipt_moves_delivery(client: Any, session: Session) -> None:
    """A genuine 'delivered' callback marks the delivery delivered and finished; 204, empty."""
    d = _delivery(session)
    resp = _twilio_post(client, f"/webhooks/twilio/status/{d.id}", _receipt("delivered"))
    assert (resp.status_code, resp.data) == (204, b"")
    got = _status_of(session, d.id)
    assert got.status == statuses.DELIVERED
    assert got.finished_at is not None


FORGED = {
    "no-signature": lambda path, params: {},
    "wrong-token": lambda path, params: {
        "X-Twilio-Signature": RequestValidator("not-the-token").compute_signature(
            BASE + path, params
        )
    },
    "signed-for-another-delivery": lambda path, params: {
        "X-Twilio-Signature": RequestValidator(TOKEN).compute_signature(
            BASE + path.replace("/status/", "/status/9"), params
        )
    },
    "signed-for-the-internal-host": lambda path, params: {
        "X-Twilio-Signature": RequestValidator(TOKEN).compute_signature(
            "http://localhost" + path, params
        )
    },
    "signed-for-other-params": lambda path, params: {
        "X-Twilio-Signature": RequestValidator(TOKEN).compute_signature(
            BASE + path, {**params, "MessageStatus": "sent"}
        )
    },
}


@pytest.mark.parametrize("forgery", FORGED)
def test_forged_receipt_changes_nothing(client: Any, session: Session, forgery: str) -> None:
    """Any signature that is not Twilio's over this URL and body gets 403 and no change."""
    d = _delivery(session)
    path, params = f"/webhooks/twilio/status/{d.id}", _receipt("failed", ErrorCode="30007")
    resp = client.post(path, data=params, headers=FORGED[forgery](path, params))
    assert resp.status_code == 403
    got = _status_of(session, d.id)
    assert (got.status, got.error_code) == (statuses.SENT, None)


@pytest.mark.parametrize(
    ("sequence", "final", "error_code"),
    [
        (["sent", "delivered"], "delivered", None),
        (["delivered", "sent"], "delivered", None),
        (["delivered", "delivered"], "delivered", None),
        (["delivered", "queued", "sending"], "delivered", None),
        (["undelivered", "delivered"], "undelivered", "30003"),  # segment 1 failed, 2 delivered
        (["delivered", "undelivered", "delivered"], "undelivered", "30003"),
        (["failed", "undelivered"], "failed", "30003"),
    ],
)
def test_out_of_order_and_duplicate_receipts(
    client: Any, session: Session, sequence: list[str], final: str, error_code: str | None
) -> None:
    """Status only moves forward; a failed segment is never overwritten by a later success."""
    d = _delivery(session)
    for status in sequence:
        extra = {"ErrorCode": "30003"} if status in ("undelivered", "failed") else {}
        resp = _twilio_post(client, f"/webhooks/twilio/status/{d.id}", _receipt(status, **extra))
        assert resp.status_code == 204
    got = _status_of(session, d.id)
    assert (got.status, got.error_code) == (final, error_code)


def test_receipt_finds_delivery_whose_provider_id_was_never_stored(
    client: Any, session: Session
) -> None:
    """The callback URL carries Loa's id: a delivery left 'sending' without a SID is found."""
    d = _delivery(session, status=statuses.SENDING, pmid=None)
    resp = _twilio_post(client, f"/webhooks/twilio/status/{d.id}", _receipt("delivered", "SM77"))
    assert resp.status_code == 204
    got = _status_of(session, d.id)
    assert (got.status, got.provider_message_id) == (statuses.DELIVERED, "SM77")


def test_receipt_for_unknown_delivery_is_accepted_and_ignored(
    client: Any, session: Session
) -> None:
    """A receipt for a delivery that does not exist is answered 2xx (no retries) and stores nothing."""
    d = _delivery(session)
    resp = _twilio_post(client, f"/webhooks/twilio/status/{d.id + 1000}", _receipt("failed"))
    assert resp.status_code == 204
    assert _status_of(session, d.id).status == statuses.SENT


@pytest.mark.parametrize(
    "params",
    [{"MessageSid": "SM1"}, {"MessageSid": "SM1", "MessageStatus": "blew-up"}],
    ids=["no-status", "unknown-status"],
)
def test_malformed_receipt_is_400(client: Any, session: Session, params: dict[str, str]) -> None:
    """A signed but unreadable receipt is a clear 400 and changes nothing."""
    d = _delivery(session)
    resp = _twilio_post(client, f"/webhooks/twilio/status/{d.id}", params)
    assert resp.status_code == 400
    assert _status_of(session, d.id).status == statuses.SENT


def test_oversize_receipt_is_413(client: Any, session: Session) -> None:
    """A body over MAX_CONTENT_LENGTH is refused with 413."""
    d = _delivery(session)
    resp = _twilio_post(
        client, f"/webhooks/twilio/status/{d.id}", _receipt("failed", Padding="x" * 5000)
    )
    assert resp.status_code == 413
    assert _status_of(session, d.id).status == statuses.SENT


def test_simulator_receipt_is_signed_too(client: Any, session: Session, settings: Settings) -> None:
    """The simulator's webhook accepts only its own HMAC signature."""
    d = _delivery(session, pmid="SIM1")
    path, params = f"/webhooks/simulator/status/{d.id}", _receipt("delivered", "SIM1")
    assert client.post(path, data=params, headers={"X-Loa-Signature": "0" * 64}).status_code == 403
    assert _status_of(session, d.id).status == statuses.SENT
    good = {"X-Loa-Signature": sign(settings.secret(), BASE + path, params)}
    assert client.post(path, data=params, headers=good).status_code == 204
    assert _status_of(session, d.id).status == statuses.DELIVERED


# --- apply_receipt: every pair of (current, incoming) statuses ------------------------------


@pytest.mark.parametrize(
    ("current", "incoming"), list(itertools.product(statuses.ALL, statuses.ALL))
)
def test_apply_receipt_moves_only_forward(session: Session, current: str, incoming: str) -> None:
    """A receipt changes a delivery exactly when the new status outranks the current one."""
    d = _delivery(session, status=current)
    changed = statuses.apply_receipt(
        session, delivery_id=None, provider_message_id="SM1", status=incoming
    )
    session.commit()
    forward = statuses.RANK[incoming] > statuses.RANK[current]
    assert changed is forward
    assert _status_of(session, d.id).status == (incoming if forward else current)


def test_apply_receipt_refuses_unknown_status(session: Session) -> None:
    """A status outside Loa's vocabulary is a programming error, not a silent no-op."""
    with pytest.raises(ValueError, match="unknown delivery status"):
        statuses.apply_receipt(session, delivery_id=1, provider_message_id=None, status="read")


# --- inbound SMS (tips) ---------------------------------------------------------------------

SMS = {
    "MessageSid": "SM" + "a" * 32,
    "AccountSid": "AC" + "1" * 32,
    "From": "+84912345678",
    "To": "+15005550006",
    "Body": "Có người lạ dụ dỗ trẻ em đi làm ở nước ngoài",
    "NumSegments": "1",
}


def _tips(session: Session) -> list[Tip]:
    session.expire_all()
    return list(session.scalars(select(Tip)))


def test_inbound_sms_becomes_a_tip_and_is_acknowledged(client: Any, session: Session) -> None:
    """A genuine inbound SMS is stored as a tip before the TwiML acknowledgement is returned."""
    resp = _twilio_post(client, "/webhooks/twilio/sms", SMS)
    assert resp.status_code == 200
    assert resp.content_type.startswith("application/xml")
    assert resp.data.count(b"<Message>") == 1
    assert SMS["Body"].encode() not in resp.data  # the acknowledgement never echoes the tip
    (tip,) = _tips(session)
    assert (tip.body, tip.sender, tip.provider) == (SMS["Body"], "+84912345678", "twilio")


def test_duplicate_inbound_stores_one_tip(client: Any, session: Session) -> None:
    """Twilio retrying the same message (same SID) stores one tip."""
    for _ in range(3):
        assert _twilio_post(client, "/webhooks/twilio/sms", SMS).status_code == 200
    assert len(_tips(session)) == 1


@pytest.mark.parametrize(
    ("params", "headers", "status"),
    [
        (SMS, {}, 403),
        (SMS, {"X-Twilio-Signature": "bm90IGEgc2lnbmF0dXJl"}, 403),
        ({k: v for k, v in SMS.items() if k != "From"}, None, 400),
        ({**SMS, "Body": "x" * 4000}, None, 413),
    ],
    ids=["unsigned", "forged", "no-sender", "oversize"],
)
def test_bad_inbound_stores_nothing(
    client: Any, session: Session, params: dict[str, str], headers: Any, status: int
) -> None:
    """Forged, malformed and oversize inbound requests get a clear 4xx and store no tip."""
    if headers is None:
        resp = _twilio_post(client, "/webhooks/twilio/sms", params)
    else:
        resp = client.post("/webhooks/twilio/sms", data=params, headers=headers)
    assert resp.status_code == status
    assert session.scalar(select(func.count()).select_from(Tip)) == 0
