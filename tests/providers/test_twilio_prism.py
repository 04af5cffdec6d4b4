"""Loa's Twilio requests, checked against Twilio's own OpenAPI spec by a Prism mock server.

The fake server in ``tests/fakes`` is ours and could drift from Twilio; Prism (``--errors``)
answers 422 to any request that does not conform to ``twilio_api_v2010.json``. The spec lives
beside the repository (``<repo>/../shared/twilio-oai/``) or where ``LOA_TWILIO_SPEC`` says.
Prism is installed by ``make test`` (``npm install --prefix tests/prism``); without it these
tests fail rather than skip, so the check can never silently disappear.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import signal
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr
from twilio.base.exceptions import TwilioException, TwilioRestException

from campaigns.sending import OutboundMessage, Outcome
from gateway.providers.twilio import TwilioProvider
from gateway.settings import Settings
from tests import servers

REPO = Path(__file__).resolve().parents[2]
PRISM = REPO / "tests" / "prism" / "node_modules" / ".bin" / "prism"
SPEC = REPO.parent / "shared" / "twilio-oai" / "twilio_api_v2010.json"
ACCOUNT = "AC" + "0" * 32
TO = "+84981234567"


# A copy travels with the repo (tests/prism/spec/SOURCE.md says where it comes from), so a clone
# without ../shared beside it still runs this suite.
VENDORED_SPEC = Path(__file__).resolve().parents[1] / "prism" / "spec" / "twilio_api_v2010.json"


def spec_path() -> Path:
    """LOA_TWILIO_SPEC, else the shared copy beside the repo, else the vendored copy."""
    if os.environ.get("LOA_TWILIO_SPEC"):
        return Path(os.environ["LOA_TWILIO_SPEC"])
    return SPEC if SPEC.exists() else VENDORED_SPEC


@pytest.fixture(scope="module")
def prism_url() -> Iterator[str]:
    """A Prism mock of Twilio's API on a free loopback port, validating every request."""
    if not PRISM.exists():
        pytest.fail(
            f"Prism is not installed ({PRISM} is missing): `make test` installs it, "
            "or run `npm install --prefix tests/prism`"
        )
    spec = spec_path()
    if not spec.exists():
        pytest.fail(f"Twilio's OpenAPI spec is missing at {spec}: set LOA_TWILIO_SPEC")
    port = servers.free_port()
    with tempfile.TemporaryFile() as log:
        proc = subprocess.Popen(
            [str(PRISM), "mock", "--errors", "-h", "127.0.0.1", "-p", str(port), str(spec)],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # so its whole process group can be stopped below
        )
        try:
            servers.wait_for_port(port, timeout=90, proc=proc)
            yield f"http://127.0.0.1:{port}"
        finally:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(10)


@pytest.fixture
def prism_settings(settings: Settings, prism_url: str) -> Settings:
    return settings.model_copy(
        update={
            "provider": "twilio",
            "twilio_account_sid": ACCOUNT,
            "twilio_auth_token": SecretStr("prism-token"),
            "twilio_from": "LOA-SOCTRANG",
            "twilio_api_base_url": prism_url,
        }
    )


@pytest.mark.parametrize(
    ("message", "update"),
    [
        (OutboundMessage(to=TO, body="Xin chào", delivery_id=42, validity_seconds=3600), {}),
        (OutboundMessage(to=TO, body="Xin chào", sender="CONGAN-ST"), {}),
        (
            OutboundMessage(to=TO, body="Xin chào", delivery_id=7, validity_seconds=99_999),
            {"twilio_from": "", "twilio_messaging_service_sid": "MG" + "a" * 32},
        ),
    ],
    ids=["from-callback-validity", "sender-override", "messaging-service"],
)
def test_loa_create_requests_conform(
    prism_settings: Settings, message: OutboundMessage, update: dict[str, str]
) -> None:
    """Every create request Loa makes is accepted by Twilio's spec (2xx, a Message SID)."""
    p = TwilioProvider(prism_settings.model_copy(update=update))
    try:
        result = p.send(message)
    finally:
        p.close()
    assert result.outcome is Outcome.ACCEPTED, result
    assert str(result.provider_message_id).startswith("SM")


def test_loa_fetch_request_conforms(prism_settings: Settings) -> None:
    """The reconciler's fetch is accepted too, and its answer maps to a Loa status."""
    p = TwilioProvider(prism_settings)
    try:
        assert p.fetch_status("SM" + "a" * 32) == "sent"  # the spec's example says "queued"
    finally:
        p.close()


def test_loa_list_requests_conform(prism_settings: Settings) -> None:
    """The reconciler's lists of messages to a number (``To``, ``DateSent>``, ``PageSize``)
    conform. Prism's own example page breaks the spec (its ``uri`` fields are relative, not
    the ``format: uri`` the spec declares), so Prism answers 500 with violations of the
    *response*; a request that broke the spec would be a 422, or a violation of the request."""
    p = TwilioProvider(prism_settings)
    answers: list[tuple[int, Any]] = []
    original = p._http.request

    def spy(*args: Any, **kwargs: Any) -> Any:
        response = original(*args, **kwargs)
        answers.append((response.status_code, json.loads(response.text or "null")))
        return response

    p._http.request = spy  # type: ignore[method-assign]
    claim = dt.datetime(2026, 7, 30, 3, tzinfo=dt.UTC)
    try:
        p.find_sent(TO, claim)  # stops at the first unreadable page ("cannot say")
        with contextlib.suppress(TwilioException):  # the second list find_sent makes
            p._messages.list(to=TO, date_sent_after=claim, page_size=50)
    finally:
        p.close()
    assert len(answers) == 2, "find_sent made no list request"
    for status, body in answers:
        assert status in (200, 500), body
        places = {v["location"][0] for v in (body or {}).get("validation", [])}
        assert places <= {"response"}, body


@pytest.mark.parametrize(
    "bad",
    [{"validity_period": "soon"}, {"to": None}],
    ids=["non-integer-validity", "no-recipient"],
)
def test_malformed_request_is_rejected(prism_settings: Settings, bad: dict[str, object]) -> None:
    """Prism refuses a request that breaks the spec, so the tests above can fail."""
    p = TwilioProvider(prism_settings)
    params = {**p.request_params(OutboundMessage(to=TO, body="x")), **bad}
    try:
        with pytest.raises(TwilioRestException) as err:
            p._messages.create(**params)
    finally:
        p.close()
    assert err.value.status == 422
