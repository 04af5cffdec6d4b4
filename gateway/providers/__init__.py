"""Provider adapters behind one small interface, and the registry that picks one by name.

Each provider is one module (``simulator``, ``twilio``, ``smpp``, ``aggregator``) that calls
:func:`register`. Every provider passes the shared contract suite in ``tests/providers``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

from sqlalchemy.orm import Session

from campaigns.sending import OutboundMessage, SendResult, Sighting
from campaigns.statuses import apply_receipt


@dataclass(frozen=True, slots=True)
class StatusUpdate:
    """A delivery receipt, in Loa's terms (``sent``, ``delivered``, ``undelivered``, ``failed``)."""

    status: str
    delivery_id: int | None = None
    provider_message_id: str | None = None
    error_code: str | None = None
    segment: int | None = None  # for per-segment receipts (SMPP); None = whole message

    def apply(self, session: Session) -> bool:
        """Apply this receipt (:func:`campaigns.statuses.apply_receipt`); the caller commits."""
        return apply_receipt(
            session,
            delivery_id=self.delivery_id,
            provider_message_id=self.provider_message_id,
            status=self.status,
            error_code=self.error_code,
            segment=self.segment,
        )


@dataclass(frozen=True, slots=True)
class InboundMessage:
    """An SMS from a citizen, as received by a provider."""

    provider: str
    provider_message_id: str
    sender: str  # as the provider gave it; normalised by the tip line
    body: str
    to: str | None = None
    received_at: dt.datetime | None = None
    extra: Mapping[str, str] = field(default_factory=dict)
    channel: str = "sms"  # the tip's channel: sms (Twilio, simulator), smpp, http_mo


class WebhookError(Exception):
    """A webhook payload that cannot be read (answered with 400)."""


def status_from_form(
    params: Mapping[str, str],
    delivery_id: int | None,
    statuses: Mapping[str, str],
    legacy_names: bool = False,
) -> StatusUpdate:
    """A receipt in Twilio's form fields (``MessageSid``, ``MessageStatus``, ``ErrorCode``),
    mapped to Loa's statuses by ``statuses``; ``legacy_names`` also reads ``SmsSid``/``SmsStatus``.

    Raises:
        WebhookError: for an unknown status, or neither a message id nor a delivery id.
    """
    raw = params.get("MessageStatus") or (params.get("SmsStatus") if legacy_names else None)
    status = (raw or "").strip().lower()
    if status not in statuses:
        raise WebhookError(f"unknown or missing MessageStatus {status[:20]!r}")
    sid = params.get("MessageSid") or (params.get("SmsSid") if legacy_names else None) or None
    if sid is None and delivery_id is None:
        raise WebhookError("neither MessageSid nor a delivery id")
    return StatusUpdate(
        status=statuses[status],
        delivery_id=delivery_id,
        provider_message_id=sid,
        error_code=params.get("ErrorCode") or None,
    )


class Provider:
    """The interface every provider implements (sending plus webhook handling)."""

    name: ClassVar[str] = ""

    def send(self, message: OutboundMessage) -> SendResult:
        raise NotImplementedError

    def send_many(self, messages: Sequence[OutboundMessage]) -> list[SendResult]:
        return [self.send(m) for m in messages]

    def fetch_status(self, provider_message_id: str) -> str | None:
        return None

    def find_sent(self, to: str, since: dt.datetime) -> Sighting | None:
        """None: this provider cannot be asked what it sent (``Sender.find_sent``)."""
        return None

    def validate_signature(
        self, url: str, params: Mapping[str, str], headers: Mapping[str, str]
    ) -> bool:
        """Whether a webhook request really comes from this provider."""
        raise NotImplementedError

    def parse_status(self, params: Mapping[str, str], delivery_id: int | None) -> StatusUpdate:
        raise NotImplementedError

    def parse_inbound(self, params: Mapping[str, str]) -> InboundMessage:
        raise NotImplementedError

    def inbound_reply(self, text: str | None) -> tuple[str, str]:
        """The HTTP body and content type that answers an inbound webhook (e.g. TwiML)."""
        return ("", "text/plain")

    def close(self) -> None:
        """Release connections."""


_REGISTRY: dict[str, Callable[[Any], Provider]] = {}


def register(name: str) -> Callable[[Callable[[Any], Provider]], Callable[[Any], Provider]]:
    """Register a provider factory (called with the settings) under ``name``."""

    def deco(factory: Callable[[Any], Provider]) -> Callable[[Any], Provider]:
        _REGISTRY[name] = factory
        return factory

    return deco


def get_provider(settings: Any, name: str | None = None) -> Provider:
    """Build the provider ``name`` (default: ``settings.provider``)."""
    _load_builtin()
    key = name or settings.provider
    try:
        return _REGISTRY[key](settings)
    except KeyError:
        raise LookupError(
            f"unknown provider {key!r}; known: {', '.join(sorted(_REGISTRY))}"
        ) from None


def names() -> list[str]:
    """The registered provider names."""
    _load_builtin()
    return sorted(_REGISTRY)


def _load_builtin() -> None:
    import importlib

    for mod in ("simulator", "twilio", "smpp", "aggregator"):
        try:
            importlib.import_module(f"gateway.providers.{mod}")
        except ModuleNotFoundError as exc:  # a provider module not written yet
            if exc.name != f"gateway.providers.{mod}":
                raise
