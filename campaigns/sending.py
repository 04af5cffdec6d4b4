"""The sending interface the domain needs, implemented by the providers in ``gateway.providers``.

A provider's answer is reduced to one of four outcomes, because only those four decide what the
dispatch engine may do next (DESIGN.md invariant 2).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
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


class Sender(Protocol):
    """Sends messages. ``send_many`` may send concurrently; results keep the input order."""

    name: str

    def send(self, message: OutboundMessage) -> SendResult: ...

    def send_many(self, messages: Sequence[OutboundMessage]) -> list[SendResult]: ...

    def fetch_status(self, provider_message_id: str) -> str | None:
        """The provider's current status of a message (for the reconciler), or None."""
        ...
