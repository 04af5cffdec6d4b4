"""Failover: only what a provider definitely refused goes to the next provider."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from campaigns.sending import (
    Effect,
    FailoverSender,
    OutboundMessage,
    Outcome,
    SendResult,
    may_fail_over,
    provider_names,
)


class Scripted:
    """A sender that answers each number as told and remembers what it was asked."""

    def __init__(self, name: str, answers: dict[str, SendResult]) -> None:
        self.name = name
        self.answers = answers
        self.asked: list[str] = []

    def send(self, message: OutboundMessage) -> SendResult:
        return self.send_many([message])[0]

    def send_many(self, messages: Sequence[OutboundMessage]) -> list[SendResult]:
        self.asked += [m.to for m in messages]
        return [self.answers.get(m.to, SendResult(Outcome.ACCEPTED, f"{self.name}-{m.to}")) for m in messages]  # fmt: skip

    def fetch_status(self, provider_message_id: str) -> str | None:
        return None


REFUSED = SendResult(Outcome.RETRY, error_code="CONNECT")
HALTED = SendResult(Outcome.FAILED, error_code="104", effect=Effect.HALT)
UNKNOWN = SendResult(Outcome.UNKNOWN, error_code="NO-ANSWER")
INVALID = SendResult(Outcome.FAILED, error_code="21211", effect=Effect.INVALID_NUMBER)
OPTED = SendResult(Outcome.FAILED, error_code="21610", effect=Effect.OPTED_OUT)
ACCEPTED = SendResult(Outcome.ACCEPTED, "x")


@pytest.mark.parametrize(
    ("result", "expected"),
    [
        (REFUSED, True),
        (HALTED, True),
        (SendResult(Outcome.FAILED, error_code="30007"), True),
        (SendResult(Outcome.RETRY, effect=Effect.SLOW_DOWN), True),
        (UNKNOWN, False),
        (ACCEPTED, False),
        (INVALID, False),
        (OPTED, False),
    ],
    ids=["refused", "halt", "blocked", "throttled", "unknown", "accepted", "invalid", "opted-out"],
)
def test_may_fail_over(result: SendResult, expected: bool) -> None:
    """Never after an outcome that could mean it was sent, nor for the recipient's fault."""
    assert may_fail_over(result) is expected


def test_only_definite_refusals_go_to_the_next_provider() -> None:
    """A refused and a halted message move on; an unknown, an invalid number and an accepted
    one stay with the first provider's answer; the results keep the input order."""
    first = Scripted("http", {"a": REFUSED, "b": UNKNOWN, "c": INVALID, "d": HALTED})
    second = Scripted("smpp", {})
    results = FailoverSender([first, second]).send_many(
        [OutboundMessage(to=n, body="x") for n in "abcde"]
    )
    assert first.asked == list("abcde")
    assert second.asked == ["a", "d"]
    assert [(r.outcome, r.provider) for r in results] == [
        (Outcome.ACCEPTED, "smpp"),
        (Outcome.UNKNOWN, "http"),
        (Outcome.FAILED, "http"),
        (Outcome.ACCEPTED, "smpp"),
        (Outcome.ACCEPTED, "http"),
    ]
    assert results[0].provider_message_id == "smpp-a"


def test_a_refusal_everywhere_keeps_the_last_answer() -> None:
    """When every provider refuses, the last refusal is what the dispatch records."""
    first = Scripted("http", {"a": HALTED})
    last = Scripted("smpp", {"a": REFUSED})
    (result,) = FailoverSender([first, last]).send_many([OutboundMessage(to="a", body="x")])
    assert (result.outcome, result.error_code, result.provider) == (
        Outcome.RETRY,
        "CONNECT",
        "smpp",
    )


def test_provider_names() -> None:
    """A campaign's provider field is a comma list in failover order."""
    assert provider_names(" http, smpp ,") == ["http", "smpp"]
    assert provider_names("") == provider_names(None) == []
