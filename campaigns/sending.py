"""The sending interface the domain needs, implemented by the providers in ``gateway.providers``.

A provider's answer is reduced to one of four outcomes, because only those four decide what the
dispatch engine may do next (DESIGN.md invariant 2).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Protocol


class Outcome(StrEnum):
    ACCEPTED = "accepted"  # the provider took the message: record ``sent``
    RETRY = "retry"  # provably not accepted (429, 5xx before acceptance, refused): try later
    FAILED = "failed"  # permanently refused (invalid number, unsubscribed, blocked …)
    UNKNOWN = "unknown"  # the request may have been accepted (timeout after sending): never resend


class Effect(StrEnum):
    """What a permanent failure says about the recipient or the campaign."""

    NONE = "none"
    INVALID_NUMBER = "invalid_number"  # mark the contact invalid
    OPTED_OUT = "opted_out"  # add to the suppression list
    HALT = "halt"  # account or sender misconfigured: pause the campaign, alert
    SLOW_DOWN = "slow_down"  # provider queue overflow: back off harder


@dataclass(frozen=True, slots=True)
class OutboundMessage:
    """One SMS to hand to a provider."""

    to: str  # E.164
    body: str
    sender: str | None = None  # brandname or number; None = the provider's default
    delivery_id: int | None = None  # Loa's delivery, carried in the status-callback URL
    status_callback: str | None = None
    validity_seconds: int | None = None  # drop if not delivered within this (window end)


@dataclass(frozen=True, slots=True)
class SendResult:
    """What became of one :class:`OutboundMessage`."""

    outcome: Outcome
    provider_message_id: str | None = None
    error_code: str | None = None
    error_message: str | None = None
    effect: Effect = Effect.NONE
    retry_after: float | None = None  # seconds, when the provider said
    provider: str | None = None  # who answered, when several were tried (FailoverSender)


@dataclass(frozen=True, slots=True)
class Sighting:
    """What a provider holds for one number since a time (:meth:`Sender.find_sent`)."""

    provider_message_id: str | None  # the message found; None: it certainly created none
    status: str | None = None  # that message's status in Loa's terms


class Sender(Protocol):
    """Sends messages. ``send_many`` may send concurrently; results keep the input order."""

    name: str

    def send(self, message: OutboundMessage) -> SendResult: ...

    def send_many(self, messages: Sequence[OutboundMessage]) -> list[SendResult]: ...

    def fetch_status(self, provider_message_id: str) -> str | None:
        """The provider's current status of a message (for the reconciler), or None."""
        ...

    def find_sent(self, to: str, since: dt.datetime) -> Sighting | None:
        """Ask the provider whether it created a message to ``to`` since ``since`` (a claim).

        A capability: a provider that cannot be asked (SMPP, most aggregators, the simulator)
        returns None, and the reconciler leaves the delivery ``unknown`` (never resends it).

        Returns:
            a :class:`Sighting` with the message's id when one was created, one with no id when
            the provider certainly created none, or None when it cannot say.
        """
        ...


# A failure that says nothing about the recipient: another provider may still deliver.
_NOT_THE_RECIPIENT = frozenset({Effect.NONE, Effect.HALT, Effect.SLOW_DOWN})


def may_fail_over(result: SendResult) -> bool:
    """Whether the provider definitely did not take the message, for a reason another provider
    may not share (a refusal, a refused connection, a throttle): never after an outcome that
    could mean it was sent (accepted, unknown), nor for a bad or unsubscribed number."""
    if result.outcome is Outcome.RETRY:
        return True
    return result.outcome is Outcome.FAILED and result.effect in _NOT_THE_RECIPIENT


def provider_names(value: str | None) -> list[str]:
    """The providers a campaign names, in order of preference (``"http,smpp"``)."""
    return [n.strip() for n in (value or "").split(",") if n.strip()]


class FailoverSender:
    """Sends through the first of several senders; what one definitely refused goes to the next.

    The result kept for a message is the last sender's that tried it, so a refusal by every
    sender is reported as the last one saw it (and retried or failed accordingly).
    """

    def __init__(self, senders: Sequence[Sender]) -> None:
        if not senders:
            raise ValueError("FailoverSender needs at least one sender")
        self.senders = list(senders)
        self.name = self.senders[0].name

    def send(self, message: OutboundMessage) -> SendResult:
        return self.send_many([message])[0]

    def send_many(self, messages: Sequence[OutboundMessage]) -> list[SendResult]:
        results: list[SendResult | None] = [None] * len(messages)
        todo = list(range(len(messages)))
        for i, sender in enumerate(self.senders):
            answers = sender.send_many([messages[k] for k in todo])
            last = i == len(self.senders) - 1
            again = []
            for k, answer in zip(todo, answers, strict=True):
                results[k] = replace(answer, provider=sender.name)
                if not last and may_fail_over(answer):
                    again.append(k)
            todo = again
            if not todo:
                break
        return [r for r in results if r is not None]

    def fetch_status(self, provider_message_id: str) -> str | None:
        return self.senders[0].fetch_status(provider_message_id)

    def find_sent(self, to: str, since: dt.datetime) -> Sighting | None:
        """Found by any sender: found; certainly absent only when every sender says so."""
        answers = [sender.find_sent(to, since) for sender in self.senders]
        found = next((a for a in answers if a is not None and a.provider_message_id), None)
        if found is not None:
            return found
        return Sighting(None) if all(a is not None for a in answers) else None
