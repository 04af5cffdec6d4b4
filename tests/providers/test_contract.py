"""The provider contract: one table-driven suite that every registered provider passes.

Outgoing cases: a message and the programmed behaviour of the far end (the fake Twilio server,
the fake aggregator built from tests/fakes/profiles/fake.toml, or the simulator's failure rate) -> the expected SendResult and the request the far end saw.
Status and inbound cases: webhook params -> StatusUpdate / InboundMessage, or WebhookError.
Plus the checks nobody should forget: bad signatures are rejected, secrets and full numbers stay
out of the logs, and no request leaves this machine.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any
from unittest.mock import ANY
from urllib.parse import parse_qsl, urlencode

import pytest
from pydantic import SecretStr
from redis import Redis
from sqlalchemy import Engine

from campaigns.sending import Effect, OutboundMessage, Outcome, SendResult
from gateway import providers
from gateway.providers import InboundMessage, Provider, StatusUpdate, WebhookError
from gateway.providers.aggregator import AggregatorProvider
from gateway.providers.simulator import SimulatorProvider, sign
from gateway.providers.smpp import SmppProvider
from gateway.providers.twilio import TwilioProvider
from gateway.settings import Settings
from tests.fakes import aggregator_server as fa
from tests.fakes.aggregator_server import FakeAggregator
from tests.fakes.twilio_server import Behaviour, FakeTwilio
from tests.servers import free_port

TO = "+84981234567"
URL = "http://loa.test/webhooks/x/status/42"


@dataclass
class Harness:
    """One provider under test, with its far end: programmable and observable."""

    name: str
    provider: Provider
    seen: Callable[[], list[dict[str, Any]]]  # the requests the far end received
    sign: Callable[[str, dict[str, str]], dict[str, str]]  # signed webhook headers
    secrets: list[str] = field(default_factory=list)


def _twilio(settings: Settings, fake: FakeTwilio, behaviour: Any) -> Harness:
    if behaviour == "refused":  # nothing listens there
        settings = settings.model_copy(
            update={"twilio_api_base_url": f"http://127.0.0.1:{free_port()}"}
        )
    elif behaviour is not None:
        fake.program(behaviour)
    from twilio.request_validator import RequestValidator

    token = settings.twilio_auth_token.get_secret_value()
    return Harness(
        "twilio",
        # A short read timeout only where the server is told to hang: elsewhere a loaded machine
        # answering 40 concurrent sends slowly must not turn them into unknown outcomes.
        TwilioProvider(settings, read_timeout=0.3 if getattr(behaviour, "hang", False) else 10.0),
        seen=lambda: [dict(r.form) for r in fake.created()],
        sign=lambda url, p: {
            "X-Twilio-Signature": RequestValidator(token).compute_signature(url, p)
        },
        secrets=[token],
    )


def _smpp(request: pytest.FixtureRequest, behaviour: Any) -> Harness:
    """The SMPP provider with its link bound to the SMSC (node-smpp), programmed as given."""
    from tests.fakes.smsc import eventually

    fake = request.getfixturevalue("fake_smsc")
    settings = request.getfixturevalue("smpp_settings").model_copy(
        update={"smpp_submit_timeout_seconds": 1.0}
    )
    if behaviour == "refused":  # no SMSC listens there: the link never binds
        settings = settings.model_copy(update={"smpp_port": free_port()})
    link = request.getfixturevalue("smpp_link")(**{
        k: getattr(settings, k) for k in ("smpp_port", "smpp_submit_timeout_seconds")
    })  # fmt: skip
    if behaviour != "refused":
        eventually(lambda: link.state == "bound")
        if behaviour:
            fake.program(**behaviour)
    redis = request.getfixturevalue("redis_conn")

    def seen() -> list[dict[str, Any]]:
        return [{"To": "+" + r["destination_addr"], "Body": r["text"]} for r in fake.submits()]

    return Harness(
        "smpp",
        SmppProvider(settings, redis=redis),
        seen=seen,
        sign=lambda url, p: {},  # no webhooks: receipts and messages arrive on the bind
        secrets=[settings.smpp_password.get_secret_value()],
    )


def _http(settings: Settings, fake: FakeAggregator, behaviour: Any) -> Harness:
    if behaviour == "refused":
        settings = settings.model_copy(update={"http_base_url": f"http://127.0.0.1:{free_port()}"})
    elif isinstance(behaviour, tuple):  # (behaviour, times)
        fake.program(behaviour[0], times=behaviour[1])
    elif behaviour is not None:
        fake.program(behaviour)
    secret = settings.http_webhook_secret.get_secret_value()

    def sign(url: str, params: dict[str, str]) -> dict[str, str]:
        payload = (url + urlencode(params)).encode()  # the fake profile signs URL and body
        digest = hmac.new(secret.encode(), payload, hashlib.sha256).hexdigest()
        return {"X-Fake-Signature": f"v1={digest}"}

    hangs = getattr(behaviour[0] if isinstance(behaviour, tuple) else behaviour, "hang", False)
    return Harness(
        "http",
        AggregatorProvider(
            settings,
            read_timeout=0.3 if hangs else 10.0,
            connect_timeout=1.0,  # loopback: a resend reaches the fake well inside its window
            resend_backoff=0.05,
        ),
        seen=lambda: [
            {"To": r.fields[fake.to_field], "Body": r.fields[fake.field("body")]}
            for r in fake.sends()
        ],
        sign=sign,
        secrets=[fa.API_KEY, fa.SECRET_KEY, secret],
    )


def _simulator(settings: Settings, failure_rate: Any) -> Harness:
    settings = settings.model_copy(update={"simulator_failure_rate": failure_rate or 0.0})
    provider = SimulatorProvider(settings)

    def seen() -> list[dict[str, Any]]:
        return [
            {"To": m.to, "Body": m.body, "delivery_id": m.delivery_id, "outcome": r.outcome}
            for m, r in provider.received
        ]

    return Harness(
        "simulator",
        provider,
        seen=seen,
        sign=lambda url, p: {"X-Loa-Signature": sign(settings.secret(), url, p)},
        secrets=[settings.secret()],
    )


@pytest.fixture
def harness(
    request: pytest.FixtureRequest, db_engine: Engine, redis_conn: Redis
) -> Callable[..., Harness]:
    """Build the named provider's harness with the far end programmed as given."""
    built: list[Harness] = []

    def make(name: str, behaviour: Any = None) -> Harness:
        if name == "smpp":
            h = _smpp(request, behaviour)
        elif name == "http":
            h = _http(
                request.getfixturevalue("http_settings"),
                request.getfixturevalue("fake_aggregator"),
                behaviour,
            )
        elif name == "twilio":
            h = _twilio(
                request.getfixturevalue("twilio_settings"),
                request.getfixturevalue("fake_twilio"),
                behaviour,
            )
        else:
            h = _simulator(request.getfixturevalue("settings"), behaviour)
        built.append(h)
        return h

    yield make  # type: ignore[misc]
    for h in built:
        h.provider.close()


def test_every_registered_provider_is_covered() -> None:
    """A new provider must join this suite before it ships."""
    assert providers.names() == sorted(PROVIDERS)


PROVIDERS = ("http", "simulator", "smpp", "twilio")
WEBHOOK_PROVIDERS = ("http", "simulator", "twilio")  # SMPP has no webhooks

# --- outgoing -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Send:
    id: str
    provider: str
    behaviour: Any  # a fake-server Behaviour, "refused", or the simulator's failure rate
    outcome: Outcome
    effect: Effect = Effect.NONE
    error_code: str | None = None
    retry_after: Any = None  # seconds; ANY where the provider adds jitter
    requests: int = 1  # how many times the far end saw the message (resends within dedupe)
    delivery_id: int | None = 42


H = fa.Behaviour
SENDS = [
    Send("accepted", "twilio", Behaviour(), Outcome.ACCEPTED),
    Send("invalid-21211", "twilio", Behaviour.error(21211), Outcome.FAILED, Effect.INVALID_NUMBER, "21211"),
    Send("landline-21614", "twilio", Behaviour.error(21614), Outcome.FAILED, Effect.INVALID_NUMBER, "21614"),
    Send("unknown-handset-30005", "twilio", Behaviour.error(30005), Outcome.FAILED, Effect.INVALID_NUMBER, "30005"),
    Send("landline-30006", "twilio", Behaviour.error(30006), Outcome.FAILED, Effect.INVALID_NUMBER, "30006"),
    Send("unsubscribed-21610", "twilio", Behaviour.error(21610), Outcome.FAILED, Effect.OPTED_OUT, "21610"),
    Send("region-21408", "twilio", Behaviour.error(21408), Outcome.FAILED, Effect.HALT, "21408"),
    Send("bad-from-21606", "twilio", Behaviour.error(21606), Outcome.FAILED, Effect.HALT, "21606"),
    Send("unverified-21608", "twilio", Behaviour.error(21608), Outcome.FAILED, Effect.HALT, "21608"),
    Send("auth-20003", "twilio", Behaviour.error(20003, status=401), Outcome.FAILED, Effect.HALT, "20003"),
    Send("queue-30002", "twilio", Behaviour.error(30002), Outcome.FAILED, Effect.HALT, "30002"),
    Send("unreachable-sender-21612", "twilio", Behaviour.error(21612), Outcome.FAILED, Effect.NONE, "21612"),
    Send("blocked-30004", "twilio", Behaviour.error(30004), Outcome.FAILED, Effect.NONE, "30004"),
    Send("filtered-30007", "twilio", Behaviour.error(30007), Outcome.FAILED, Effect.NONE, "30007"),
    Send("unknown-4xx", "twilio", Behaviour.error(21999), Outcome.FAILED, Effect.NONE, "21999"),
    Send("handset-30003", "twilio", Behaviour.error(30003), Outcome.RETRY, Effect.NONE, "30003", 600.0),
    Send("overflow-30001", "twilio", Behaviour.error(30001), Outcome.RETRY, Effect.SLOW_DOWN, "30001"),
    Send("throttled-429", "twilio", Behaviour.too_many(7), Outcome.RETRY, Effect.NONE, "20429", 7.0),
    Send("throttled-429-no-body", "twilio", Behaviour(status=429, body=""), Outcome.RETRY, Effect.NONE, "HTTP-429"),
    # Creating a Message has no idempotency key. Twilio's page for 20500 says a 500 on a POST
    # that sends an SMS may follow its creation, so a retry may send it twice: only 429/20429
    # and 503/20503 ("service temporarily unavailable, retry with back-off") prove nothing was
    # created. Any other 5xx is unknown, for the reconciler to ask Twilio about.
    Send("unavailable-20503", "twilio", Behaviour.unavailable(), Outcome.RETRY, Effect.NONE, "20503"),
    Send("5xx-with-body", "twilio", Behaviour.server_error(500), Outcome.UNKNOWN, Effect.NONE, "20500"),
    Send("5xx-after-creating", "twilio", Behaviour.created_then_error(500), Outcome.UNKNOWN, Effect.NONE, "20500"),
    Send("5xx-empty", "twilio", Behaviour.server_error(503, with_body=False), Outcome.UNKNOWN, Effect.NONE, "HTTP-503"),
    Send("gateway-timeout-504", "twilio", Behaviour.server_error(504, with_body=False), Outcome.UNKNOWN, Effect.NONE, "HTTP-504"),
    Send("timeout-after-send", "twilio", Behaviour.hanging(), Outcome.UNKNOWN, Effect.NONE, "NO-ANSWER"),
    Send("connection-refused", "twilio", "refused", Outcome.RETRY, Effect.NONE, "CONNECT"),
    Send("accepted", "smpp", {}, Outcome.ACCEPTED),
    Send("invalid-destination", "smpp", {"statuses": [0x0B]}, Outcome.FAILED, Effect.INVALID_NUMBER, "ESME_RINVDSTADR"),
    Send("bad-source", "smpp", {"statuses": [0x0A]}, Outcome.FAILED, Effect.HALT, "ESME_RINVSRCADR"),
    Send("unknown-status", "smpp", {"statuses": [0x99]}, Outcome.FAILED, Effect.NONE, "0x00000099"),
    Send("throttled", "smpp", {"statuses": [0x58]}, Outcome.RETRY, Effect.NONE, "ESME_RTHROTTLED", ANY),
    Send("queue-full", "smpp", {"statuses": [0x14]}, Outcome.RETRY, Effect.SLOW_DOWN, "ESME_RMSGQFUL", ANY),
    Send("no-answer", "smpp", {"hang": 1}, Outcome.UNKNOWN, Effect.NONE, "NO-RESP"),
    Send("not-bound", "smpp", "refused", Outcome.RETRY, Effect.NONE, "NOT-TAKEN"),
    Send("accepted", "http", H(), Outcome.ACCEPTED),
    Send("invalid-number", "http", H.error("E-NUMBER"), Outcome.FAILED, Effect.INVALID_NUMBER, "E-NUMBER"),
    Send("opted-out", "http", H.error("E-OPTOUT"), Outcome.FAILED, Effect.OPTED_OUT, "E-OPTOUT"),
    Send("bad-credentials", "http", H.error("E-AUTH"), Outcome.FAILED, Effect.HALT, "E-AUTH"),
    Send("bad-brandname", "http", H.error("E-BRAND"), Outcome.FAILED, Effect.HALT, "E-BRAND"),
    Send("no-balance", "http", H.error("E-BALANCE"), Outcome.FAILED, Effect.HALT, "E-BALANCE"),
    Send("blocked", "http", H.error("E-BLOCKED"), Outcome.FAILED, Effect.NONE, "E-BLOCKED"),
    Send("unlisted-code", "http", H.error("E-WHAT"), Outcome.FAILED, Effect.NONE, "E-WHAT"),
    Send("throttled-code", "http", H.error("E-THROTTLE"), Outcome.RETRY, Effect.SLOW_DOWN, "E-THROTTLE", 30.0),
    Send("not-created", "http", H.error("E-BUSY"), Outcome.RETRY, Effect.NONE, "E-BUSY"),
    Send("not-created-5xx", "http", H.error("E-BUSY", status=503), Outcome.RETRY, Effect.NONE, "E-BUSY"),
    Send("throttled-429", "http", H.too_many(7), Outcome.RETRY, Effect.NONE, "HTTP-429", 7.0),
    Send("unauthorized-401", "http", H(status=401, raw=""), Outcome.FAILED, Effect.HALT, "HTTP-401"),
    Send("bad-request-400", "http", H(status=400, raw="nope"), Outcome.FAILED, Effect.NONE, "HTTP-400"),
    # Ambiguous answers: resent with the same request id within the dedupe window, then unknown.
    Send("5xx-unlisted-code", "http", H.error("E-OOPS", status=500), Outcome.UNKNOWN, Effect.NONE, "E-OOPS", requests=3),
    Send("5xx-unreadable", "http", H.server_error(503), Outcome.UNKNOWN, Effect.NONE, "HTTP-503", requests=3),
    Send("2xx-unreadable", "http", H(raw="<html>"), Outcome.UNKNOWN, Effect.NONE, "HTTP-200", requests=3),
    Send("timeout-then-duplicate", "http", (H.hanging(), 1), Outcome.ACCEPTED, requests=2),
    # Without a delivery id there is no request id: an ambiguous answer is never resent.
    Send("5xx-unreadable-no-request-id", "http", H.server_error(503), Outcome.UNKNOWN, Effect.NONE, "HTTP-503", delivery_id=None),
    Send("timeout-no-request-id", "http", H.hanging(), Outcome.UNKNOWN, Effect.NONE, "NO-ANSWER", delivery_id=None),
    Send("connection-refused", "http", "refused", Outcome.RETRY, Effect.NONE, "CONNECT"),
    Send("accepted", "simulator", 0.0, Outcome.ACCEPTED),
    Send("failure", "simulator", 1.0, Outcome.FAILED, Effect.NONE, "SIM-30003"),
]  # fmt: skip


def _assert_row(result: SendResult, case: Send) -> None:
    """The result is the table's row: outcome, effect, error code, Retry-After, message id."""
    assert (result.outcome, result.effect, result.error_code) == (
        case.outcome,
        case.effect,
        case.error_code,
    )
    assert result.retry_after == case.retry_after
    assert (result.provider_message_id is not None) == (case.outcome is Outcome.ACCEPTED)


@pytest.mark.parametrize("case", SENDS, ids=lambda c: f"{c.provider}-{c.id}")
def test_send_outcome(case: Send, harness: Callable[..., Harness]) -> None:
    """The far end's answer maps to the outcome, effect and error code of the table."""
    h = harness(case.provider, case.behaviour)
    result = h.provider.send(OutboundMessage(to=TO, body="Xin chào", delivery_id=case.delivery_id))
    _assert_row(result, case)
    if case.behaviour != "refused":
        assert [(r["To"], r["Body"]) for r in h.seen()] == [(TO, "Xin chào")] * case.requests
    else:
        assert h.seen() == []


@pytest.mark.parametrize(
    "case", [c for c in SENDS if c.provider == "twilio"], ids=lambda c: f"{c.provider}-{c.id}"
)
def test_twilio_chunk_outcome(
    case: Send, twilio_settings: Settings, fake_twilio: FakeTwilio
) -> None:
    """A chunk goes through the SDK's async client: each message maps to the same outcome as
    :func:`test_send_outcome`'s, in order, and one message's answer (its Retry-After) never
    leaks into another's."""
    other = "+84981234999"  # accepted: the fake's default
    settings = twilio_settings
    if case.behaviour == "refused":  # nothing listens there
        settings = settings.model_copy(
            update={"twilio_api_base_url": f"http://127.0.0.1:{free_port()}"}
        )
    else:
        fake_twilio.program(case.behaviour, to=TO)
    provider = TwilioProvider(
        settings, read_timeout=0.3 if getattr(case.behaviour, "hang", False) else 10.0
    )
    chunk = [
        OutboundMessage(to=other, body="Chào", delivery_id=41),
        OutboundMessage(to=TO, body="Xin chào", delivery_id=case.delivery_id),
        OutboundMessage(to=other, body="Chào", delivery_id=43),
    ]
    try:
        first, result, last = provider.send_many(chunk)
    finally:
        provider.close()
    _assert_row(result, case)
    if case.behaviour == "refused":
        assert [first.outcome, last.outcome] == [Outcome.RETRY] * 2
        assert fake_twilio.created() == []
    else:
        for accepted in (first, last):
            assert (accepted.outcome, accepted.retry_after) == (Outcome.ACCEPTED, None)
        assert first.provider_message_id != last.provider_message_id
        assert sorted((r.form["To"], r.form["Body"]) for r in fake_twilio.created()) == sorted(
            [(other, "Chào")] * 2 + [(TO, "Xin chào")] * case.requests
        )


@pytest.mark.parametrize(
    ("message", "settings_update", "expected"),
    [
        (
            OutboundMessage(to=TO, body="a", delivery_id=42, validity_seconds=3600),
            {},
            {
                "To": TO,
                "Body": "a",
                "From": "LOA-SOCTRANG",
                "StatusCallback": "http://loa.test/webhooks/twilio/status/42",
                "ValidityPeriod": "3600",
            },
        ),
        (OutboundMessage(to=TO, body="a", sender="CONGAN"), {}, {"To": TO, "Body": "a", "From": "CONGAN"}),
        (
            OutboundMessage(to=TO, body="a", validity_seconds=0),
            {"twilio_from": "", "twilio_messaging_service_sid": "MG" + "1" * 32},
            {"To": TO, "Body": "a", "MessagingServiceSid": "MG" + "1" * 32, "ValidityPeriod": "1"},
        ),
        (
            OutboundMessage(to=TO, body="a", validity_seconds=86_400, status_callback="http://x.test/cb"),
            {},
            {"To": TO, "Body": "a", "From": "LOA-SOCTRANG", "StatusCallback": "http://x.test/cb", "ValidityPeriod": "36000"},
        ),
        (
            OutboundMessage(to=TO, body="Gọi 111 & 113: a+b=c, 100% ẩn danh?"),
            {},
            {"To": TO, "Body": "Gọi 111 & 113: a+b=c, 100% ẩn danh?", "From": "LOA-SOCTRANG"},
        ),
    ],
    ids=["callback-and-validity", "sender-override", "messaging-service-min-validity", "max-validity", "reserved-characters"],
)  # fmt: skip
@pytest.mark.parametrize("chunked", [False, True], ids=["one", "chunk"])
def test_twilio_request_shape(
    message: OutboundMessage,
    settings_update: dict[str, Any],
    expected: dict[str, str],
    chunked: bool,
    twilio_settings: Settings,
    fake_twilio: FakeTwilio,
) -> None:
    """Twilio receives exactly the fields Loa means (sender, callback with delivery id,
    validity, the text as written) as a form, one message alone (the sync client) or in a
    chunk (the async client, whose form Loa encodes itself)."""
    p = TwilioProvider(twilio_settings.model_copy(update=settings_update))
    try:
        results = p.send_many([message, message]) if chunked else [p.send(message)]
    finally:
        p.close()
    assert [r.outcome for r in results] == [Outcome.ACCEPTED] * len(results)
    requests = fake_twilio.created()
    assert [r.form for r in requests] == [expected] * len(results)
    for req in requests:
        assert req.authorized
        content_type = {k.lower(): v for k, v in req.headers.items()}["content-type"]
        assert content_type.split(";")[0] == "application/x-www-form-urlencoded"


def test_simulator_posts_a_signed_receipt_to_the_status_webhook(
    settings: Settings, redis_conn: Redis
) -> None:
    """Like a real provider, the simulator calls back: a POST to Loa's status webhook for the
    delivery, signed so that the webhook accepts it; it queues no job of its own."""
    seen: list[tuple[str, dict[str, str], dict[str, str]]] = []

    class Receiver(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            form = self.rfile.read(int(self.headers["Content-Length"])).decode()
            seen.append((self.path, dict(parse_qsl(form)), dict(self.headers.items())))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Receiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{server.server_port}"
    p = SimulatorProvider(settings.model_copy(update={"public_base_url": base}))
    try:
        result = p.send(OutboundMessage(to=TO, body="a", delivery_id=42))
        assert (
            p.send(OutboundMessage(to=TO, body="no delivery, no receipt")).outcome
            is Outcome.ACCEPTED
        )
    finally:
        p.close()
        server.shutdown()
        server.server_close()
        thread.join(5)
    ((path, form, headers),) = seen
    assert path == "/webhooks/simulator/status/42"
    assert form == {"MessageSid": result.provider_message_id, "MessageStatus": "delivered"}
    assert p.validate_signature(base + path, form, headers)
    assert p.parse_status(form, 42) == StatusUpdate("delivered", 42, result.provider_message_id)
    assert p.fetch_status(str(result.provider_message_id)) == "delivered"
    assert redis_conn.keys("rq:*") == []


@pytest.mark.parametrize("name", PROVIDERS)
def test_send_many_keeps_order(name: str, harness: Callable[..., Harness]) -> None:
    """send_many answers one result per message, in the input order."""
    h = harness(name, {"twilio": Behaviour(), "smpp": {}, "http": H()}.get(name, 0.0))
    numbers = [f"+8498{i:07d}" for i in range(40)]
    results = h.provider.send_many([OutboundMessage(to=n, body="a") for n in numbers])
    assert all(r.outcome is Outcome.ACCEPTED for r in results)
    assert len({r.provider_message_id for r in results}) == 40
    assert sorted(r["To"] for r in h.seen()) == numbers


# --- status callbacks -----------------------------------------------------------------------

STATUSES = [
    ("twilio", {"MessageSid": "SM1", "MessageStatus": "delivered"}, StatusUpdate("delivered", 42, "SM1")),
    ("twilio", {"MessageSid": "SM1", "MessageStatus": "queued"}, StatusUpdate("sent", 42, "SM1")),
    ("twilio", {"MessageSid": "SM1", "MessageStatus": "accepted"}, StatusUpdate("sent", 42, "SM1")),
    ("twilio", {"MessageSid": "SM1", "MessageStatus": "sending"}, StatusUpdate("sent", 42, "SM1")),
    ("twilio", {"MessageSid": "SM1", "MessageStatus": "sent"}, StatusUpdate("sent", 42, "SM1")),
    ("twilio", {"MessageSid": "SM1", "MessageStatus": "read"}, StatusUpdate("delivered", 42, "SM1")),
    ("twilio", {"MessageSid": "SM1", "MessageStatus": "undelivered", "ErrorCode": "30003"}, StatusUpdate("undelivered", 42, "SM1", "30003")),
    ("twilio", {"MessageSid": "SM1", "MessageStatus": "failed", "ErrorCode": "30007"}, StatusUpdate("failed", 42, "SM1", "30007")),
    ("twilio", {"SmsSid": "SM1", "SmsStatus": "delivered"}, StatusUpdate("delivered", 42, "SM1")),
    ("twilio", {"MessageSid": "SM1"}, WebhookError),
    ("twilio", {"MessageSid": "SM1", "MessageStatus": "exploded"}, WebhookError),
    ("simulator", {"MessageSid": "SIM1", "MessageStatus": "delivered"}, StatusUpdate("delivered", 42, "SIM1")),
    ("simulator", {"MessageSid": "SIM1", "MessageStatus": "undelivered", "ErrorCode": "SIM-30003"}, StatusUpdate("undelivered", 42, "SIM1", "SIM-30003")),
    ("simulator", {"MessageSid": "SIM1"}, WebhookError),
    ("simulator", {"MessageSid": "SIM1", "MessageStatus": "queued"}, WebhookError),
    ("smpp", {"text": "id:M1 sub:001 dlvrd:001 submit date:2607300800 done date:2607300801 stat:DELIVRD err:000 text:"}, StatusUpdate("delivered", 42, "M1")),
    ("smpp", {"text": "id:M1 sub:001 dlvrd:000 submit date:2607300800 done date:2607300801 stat:UNDELIV err:001 text:"}, StatusUpdate("undelivered", 42, "M1", "001")),
    ("smpp", {"text": "id:M1 stat:REJECTD err:069"}, StatusUpdate("failed", 42, "M1", "069")),
    ("smpp", {"text": "id:M1 stat:ACCEPTD err:000"}, StatusUpdate("sent", 42, "M1")),
    ("smpp", {"receipted_message_id": "M2", "message_state": "2"}, StatusUpdate("delivered", 42, "M2")),
    ("smpp", {"text": "Cứu với"}, WebhookError),
    ("smpp", {"text": "id:M1 stat:EXPLODED"}, WebhookError),
    ("http", {"msg_id": "FA1", "state": "delivered"}, StatusUpdate("delivered", 42, "FA1")),
    ("http", {"msg_id": "FA1", "state": "queued"}, StatusUpdate("sent", 42, "FA1")),
    ("http", {"msg_id": "FA1", "state": "sent"}, StatusUpdate("sent", 42, "FA1")),
    ("http", {"msg_id": "FA1", "state": "undelivered", "err": "absent"}, StatusUpdate("undelivered", 42, "FA1", "absent")),
    ("http", {"msg_id": "FA1", "state": "rejected", "err": "E-BLOCKED"}, StatusUpdate("failed", 42, "FA1", "E-BLOCKED")),
    ("http", {"msg_id": "FA1", "state": "failed"}, StatusUpdate("failed", 42, "FA1")),
    ("http", {"msg_id": "FA1"}, WebhookError),
    ("http", {"msg_id": "FA1", "state": "exploded"}, WebhookError),
]  # fmt: skip


@pytest.mark.parametrize(("name", "params", "expected"), STATUSES)
def test_parse_status(
    name: str, params: dict[str, str], expected: Any, harness: Callable[..., Harness]
) -> None:
    """Status callback params map to Loa's statuses through the provider's one table."""
    p = harness(name).provider
    if expected is WebhookError:
        with pytest.raises(WebhookError):
            p.parse_status(params, 42)
    else:
        assert p.parse_status(params, 42) == expected


@pytest.mark.parametrize("name", PROVIDERS)
def test_status_without_any_id_is_refused(name: str, harness: Callable[..., Harness]) -> None:
    """A receipt that names neither a delivery nor a provider message cannot be applied."""
    status_only = {"http": {"state": "delivered"}}.get(name, {"MessageStatus": "delivered"})
    with pytest.raises(WebhookError):
        harness(name).provider.parse_status(status_only, None)


# --- inbound --------------------------------------------------------------------------------

FULL = {"MessageSid": "SM9", "From": "+84912345678", "To": "+15005550006", "Body": "Cứu với"}
# Each provider's names for FULL's fields (the aggregator's come from the fake profile).
VOCABULARY = {
    "http": {"MessageSid": "id", "From": "from", "To": "to", "Body": "text"},
    "smpp": {"MessageSid": "id", "From": "from", "To": "to", "Body": "text"},
}


def full(name: str, **changes: str | None) -> dict[str, str]:
    """FULL in provider ``name``'s field names; a change to None drops the field."""
    params = {k: v for k, v in {**FULL, **changes}.items() if v is not None}
    names = VOCABULARY.get(name, {})
    return {names.get(k, k): v for k, v in params.items()}


INBOUND = [
    (name, params, expected)
    for name in PROVIDERS
    for params, expected in [
        (full(name), InboundMessage(name, "SM9", "+84912345678", "Cứu với", to="+15005550006")),
        (full(name, Body=""), InboundMessage(name, "SM9", "+84912345678", "", to="+15005550006")),
        (full(name, From=None), WebhookError),
        (full(name, MessageSid=None), WebhookError),
        (full(name, Body=None), WebhookError),
    ]
]


@pytest.mark.parametrize(("name", "params", "expected"), INBOUND)
def test_parse_inbound(
    name: str, params: dict[str, str], expected: Any, harness: Callable[..., Harness]
) -> None:
    """Inbound params become an InboundMessage, or a WebhookError (answered 400)."""
    p = harness(name).provider
    if expected is WebhookError:
        with pytest.raises(WebhookError):
            p.parse_inbound(params)
    else:
        got = p.parse_inbound(params)
        assert (got.provider, got.provider_message_id, got.sender, got.body, got.to) == (
            expected.provider,
            expected.provider_message_id,
            expected.sender,
            expected.body,
            expected.to,
        )


# --- checks nobody should forget ------------------------------------------------------------

FORGERIES = {
    "genuine": lambda url, params, headers: (url, params, headers),
    "tampered-param": lambda url, params, headers: (url, {**params, "MessageStatus": "failed"}, headers),
    "other-url": lambda url, params, headers: (url.replace("/42", "/43"), params, headers),
    "no-signature": lambda url, params, headers: (url, params, {}),
    "garbage-signature": lambda url, params, headers: (url, params, {k: "AAAA" for k in headers}),
}  # fmt: skip


@pytest.mark.parametrize("forgery", FORGERIES)
@pytest.mark.parametrize("name", WEBHOOK_PROVIDERS)
def test_signature(name: str, forgery: str, harness: Callable[..., Harness]) -> None:
    """Only the provider's own signature over this URL and these params is accepted."""
    h = harness(name)
    params = {"MessageSid": "SM1", "MessageStatus": "delivered"}
    url, params2, headers = FORGERIES[forgery](URL, params, h.sign(URL, params))
    assert h.provider.validate_signature(url, params2, headers) is (forgery == "genuine")


@pytest.mark.parametrize("case", SENDS, ids=lambda c: f"{c.provider}-{c.id}")
def test_logs_hold_no_secret_and_no_full_number(
    case: Send, harness: Callable[..., Harness], caplog: pytest.LogCaptureFixture
) -> None:
    """Whatever happens, the logs (at DEBUG, libraries included) show neither token nor number."""
    caplog.set_level(logging.DEBUG)
    h = harness(case.provider, case.behaviour)
    h.provider.send(OutboundMessage(to=TO, body="Bí mật", delivery_id=case.delivery_id))
    h.provider.parse_inbound(full(case.provider))
    assert caplog.records, "the case should log something (at least the HTTP client)"
    for secret in [*h.secrets, TO, FULL["From"], "Bí mật", "Cứu với"]:
        assert secret not in caplog.text


def test_smpp_accepts_no_webhook(harness: Callable[..., Harness]) -> None:
    """Receipts and tips arrive on the authenticated bind: no request can pass for them."""
    p = harness("smpp", {}).provider
    params = {"MessageSid": "SM1", "MessageStatus": "delivered"}
    assert p.validate_signature(URL, params, {"X-Twilio-Signature": "x"}) is False


def test_smpp_inbound_is_on_the_smpp_channel(harness: Callable[..., Harness]) -> None:
    """A message read off the bind is a tip of the smpp channel."""
    assert harness("smpp", {}).provider.parse_inbound(full("smpp")).channel == "smpp"


def test_no_request_leaves_this_machine_http(http_settings: Settings) -> None:
    """The aggregator provider pointed at a public address is refused too: RETRY, no send."""
    p = AggregatorProvider(
        http_settings.model_copy(update={"http_base_url": "http://93.184.216.34"})
    )
    try:
        result = p.send(OutboundMessage(to=TO, body="a", delivery_id=42))
    finally:
        p.close()
    assert (result.outcome, result.error_code) == (Outcome.RETRY, "CONNECT")


def test_no_request_leaves_this_machine(twilio_settings: Settings) -> None:
    """A provider pointed at a public address is refused by the network guard: RETRY, no send."""
    p = TwilioProvider(
        twilio_settings.model_copy(
            update={
                "twilio_api_base_url": "http://93.184.216.34",
                "twilio_auth_token": SecretStr("t"),
            }
        )
    )
    try:
        result = p.send(OutboundMessage(to=TO, body="a"))
    finally:
        p.close()
    assert (result.outcome, result.error_code) == (Outcome.RETRY, "CONNECT")


def test_twilio_concurrency_is_a_setting(
    twilio_settings: Settings, fake_twilio: FakeTwilio
) -> None:
    """``LOA_TWILIO_CONCURRENCY`` sizes both connection pools (the sync client's and the async
    client's), and the messages of a larger chunk still all go out, in order."""
    p = TwilioProvider(twilio_settings.model_copy(update={"twilio_concurrency": 3}))
    try:
        assert p.concurrency == 3
        assert p._http.session.get_adapter("http://x.test")._pool_maxsize == 3
        messages = [OutboundMessage(to=TO, body=f"m{i}") for i in range(7)]
        results = p.send_many(messages)
        connector = p._async_http.session.connector
        assert (connector.limit, connector.limit_per_host) == (3, 0)
    finally:
        p.close()
    assert [r.outcome for r in results] == [Outcome.ACCEPTED] * 7
    assert sorted(req.form["Body"] for req in fake_twilio.created()) == [f"m{i}" for i in range(7)]
    default = TwilioProvider(twilio_settings)
    assert default.concurrency == 32
    default.close()
