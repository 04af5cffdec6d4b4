"""Aggregator profiles: the shipped ones load; a broken one lists every problem at once."""

from __future__ import annotations

from typing import Any

import pytest

from campaigns.sending import Effect, Outcome
from gateway.providers.aggregator_profile import ProfileError, StatusRule
from gateway.providers.aggregator_toml import load_profile, parse_profile, shipped
from gateway.providers.aggregator_webhooks import flatten
from tests.fakes.aggregator_server import FAKE_PROFILE


@pytest.mark.parametrize("name", [*shipped(), str(FAKE_PROFILE)])
def test_every_shipped_profile_and_the_fake_one_load(name: str) -> None:
    """Each profile in gateway/providers/profiles/ (and the test one) is valid."""
    profile = load_profile(name)
    assert profile.send.fields and profile.receipts.rules
    assert profile.inbound.auth.kind in ("hmac", "shared_secret", "digest")


def test_esms_reads_as_documented() -> None:
    """The eSMS profile's key facts, as its documentation states them."""
    p = load_profile("esms")
    assert (p.send.method, p.send.format) == ("POST", "json")
    assert p.answer.success_values == {"100"} and p.answer.message_id_field == "SMSID"
    assert p.errors["101"] == p.errors["103"] and p.errors["101"].effect is Effect.HALT
    assert p.errors["108"].effect is Effect.INVALID_NUMBER
    assert all(rule.outcome is Outcome.FAILED for rule in p.errors.values())
    assert p.dedupe.enabled and p.dedupe.duplicate_codes == {"124"}
    assert (p.receipts.method, p.receipts.auth.kind) == ("GET", "url_token")
    assert (p.inbound.method, p.inbound.auth.kind, p.inbound.auth.algorithm) == (
        "GET",
        "digest",
        "md5",
    )


def _broken() -> dict[str, Any]:
    return {
        "name": "broken",
        "base_url": "ftp://nope",
        "send": {"path": "s", "method": "PUT", "fields": {"to": "{phone}", "text": "{body"}},
        "answer": {"success_field": "ok", "message_id_field": "id", "error_field": "code"},
        "dedupe": {"enabled": True, "window_seconds": 0},
        "errors": {"X1": {"outcome": "accepted"}, "X2": {"outcome": "failed", "effect": "boom"}},
        "status": {
            "message_id_field": "id",
            "auth": {"kind": "hmac"},
            "rules": [{"when": {"s": "1"}, "status": "read"}],
        },
        "inbound": {
            "message_id_field": "id",
            "sender_field": "from",
            "text_field": "text",
            "time_field": "ts",
            "time_zone": "Mars/Olympus",
            "auth": {"kind": "url_token"},
            "answer": "{oops}",
        },
    }


def test_every_problem_is_listed_at_once() -> None:
    """One ProfileError names each mistake with its key."""
    with pytest.raises(ProfileError) as err:
        parse_profile(_broken())
    text = str(err.value)
    for expected in (
        "base_url: must start with http",
        "send.fields.to: unknown placeholder(s) phone",
        "send.fields.text: has an unbalanced brace",
        "send.path: must start with /",
        "send.method: must be one of GET, POST",
        "answer.success_values: is required",
        "dedupe.window_seconds: must be > 0",
        "dedupe.enabled: needs a send field carrying {request_id}",
        "errors.X1.outcome",
        "errors.X2.effect",
        "status.auth.header: is required for kind = hmac",
        "status.rules[0].status",
        "inbound.auth.kind: url_token is for receipts only",
        "inbound.time_zone",
        "inbound.time_format: is required",
        "inbound.answer",
    ):
        assert expected in text, expected


def test_a_missing_profile_names_the_shipped_ones() -> None:
    with pytest.raises(ProfileError, match="shipped: esms"):
        load_profile("vietguys-not-shipped")


@pytest.mark.parametrize(
    ("params", "matches"),
    [
        ({"SendStatus": "5", "SendSuccess": "1"}, True),
        ({"SendStatus": "5", "SendSuccess": "0"}, False),
        ({"SendStatus": "5"}, False),  # a missing field reads as ""
        ({"SendStatus": "4", "SendSuccess": "1"}, False),
    ],
)
def test_rules_when_and_unless(params: dict[str, str], matches: bool) -> None:
    rule = StatusRule(
        when={"SendStatus": frozenset({"5"})},
        status="delivered",
        unless={"SendSuccess": frozenset({"0", ""})},
    )
    assert rule.matches(params) is matches


def test_flatten_json_answers() -> None:
    """Nested answers are read by dotted paths; numbers, booleans and nulls become strings."""
    assert flatten({"a": {"b": 7, "c": [True, None]}, "d": "x"}) == {
        "a.b": "7",
        "a.c.0": "true",
        "a.c.1": "",
        "d": "x",
    }
