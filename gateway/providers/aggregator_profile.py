"""Aggregator profiles: what one SMS aggregator's HTTP API looks like, read from a TOML file.

A profile says how to send (method, URL, form/JSON/query fields with placeholders), where the
answer carries success, the message id and the error code, what each error code means to Loa,
how delivery receipts and inbound SMS (MO) arrive and how they are authenticated, and whether the
aggregator deduplicates on a request id. ``gateway/providers/profiles/*.toml`` are the shipped
profiles (``esms``); the README explains how to write one.

This module says what a profile is; :mod:`gateway.providers.aggregator_toml` reads and validates
the files.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from campaigns import localtime, statuses
from campaigns.sending import Effect, Outcome

PROFILES_DIR = Path(__file__).resolve().parent / "profiles"

# What a send or status-query field may contain, between braces.
SEND_PLACEHOLDERS = frozenset(
    {
        "api_key",
        "secret_key",
        "sender",
        "to",  # E.164, +84…
        "to_digits",  # E.164 without the +, 84…
        "to_national",  # 0…
        "body",
        "is_unicode",  # 1 when the body needs UCS-2, else 0
        "request_id",  # loa-<delivery id>, empty without a delivery
        "callback_url",  # Loa's receipt URL for this delivery, empty without one
        "delivery_id",
    }
)
QUERY_PLACEHOLDERS = frozenset({"api_key", "secret_key", "message_id"})
METHODS = ("GET", "POST")
SEND_FORMATS = ("json", "form", "query")
WEBHOOK_FORMATS = ("form", "json")
AUTH_KINDS = ("hmac", "shared_secret", "digest", "url_token")
HASHES = ("md5", "sha1", "sha256", "sha512")
ENCODINGS = ("hex", "base64")
LOA_STATUSES = (statuses.SENT, statuses.DELIVERED, statuses.UNDELIVERED, statuses.FAILED)


class ProfileError(ValueError):
    """A profile that cannot be used; the message lists every problem, one per line."""


@dataclass(frozen=True)
class Request:
    """An HTTP request to the aggregator: ``fields`` are templates with placeholders."""

    method: str
    path: str
    format: str  # json (a JSON object body), form (urlencoded body), query (in the URL)
    fields: Mapping[str, str]
    headers: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Answer:
    """Where the aggregator's JSON answer to a send says what happened (dotted paths)."""

    success_field: str
    success_values: frozenset[str]
    message_id_field: str
    error_field: str


@dataclass(frozen=True)
class ErrorRule:
    outcome: Outcome
    effect: Effect = Effect.NONE
    retry_after: float | None = None


@dataclass(frozen=True)
class Dedupe:
    """Whether the aggregator refuses a second message with the same request id, and for how
    long it remembers one; ``duplicate_codes`` answer such a second message."""

    enabled: bool = False
    window_seconds: float = 0.0
    duplicate_codes: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Auth:
    """How a webhook proves it comes from the aggregator (the secret is LOA_HTTP_WEBHOOK_SECRET).

    hmac: ``header`` holds HMAC(secret, payload) where payload is the raw body, or the public URL
    followed by the raw body (``payload = "url_and_body"``). shared_secret: the ``header`` or the
    ``param`` equals the secret. digest: ``param`` holds hash(values of ``fields`` + secret).
    url_token: Loa puts a per-delivery token in the callback URL it gives (receipts only).
    """

    kind: str
    header: str = ""
    param: str = ""
    algorithm: str = "sha256"
    encoding: str = "hex"
    payload: str = "url_and_body"
    prefix: str = ""
    fields: tuple[str, ...] = ()


@dataclass(frozen=True)
class StatusRule:
    """A receipt whose fields each equal one of ``when``'s values, and none of ``unless``'s
    (a missing field reads as ""), has Loa status ``status``. The first matching rule wins."""

    when: Mapping[str, frozenset[str]]
    status: str
    unless: Mapping[str, frozenset[str]] = field(default_factory=dict)

    def matches(self, params: Mapping[str, str]) -> bool:
        return all(params.get(k, "") in v for k, v in self.when.items()) and not any(
            params.get(k, "") in v for k, v in self.unless.items()
        )


@dataclass(frozen=True)
class Receipts:
    method: str
    format: str
    auth: Auth
    rules: tuple[StatusRule, ...]
    message_id_field: str = ""
    request_id_field: str = ""
    error_field: str = ""


@dataclass(frozen=True)
class Inbound:
    method: str
    format: str
    auth: Auth
    message_id_field: str
    sender_field: str
    text_field: str
    to_field: str = ""
    time_field: str = ""
    time_format: str = ""
    time_zone: str = localtime.DEFAULT
    answer: str = ""  # the body that acknowledges an MO; placeholders {message_id} {sender}
    answer_content_type: str = "text/plain; charset=utf-8"


@dataclass(frozen=True)
class Profile:
    name: str
    base_url: str
    send: Request
    answer: Answer
    errors: Mapping[str, ErrorRule]
    dedupe: Dedupe
    receipts: Receipts
    inbound: Inbound
    status_query: Request | None = None
    request_id_prefix: str = "loa-"
    source: str = ""

    def field_for(self, placeholder: str) -> str | None:
        """The send field whose template is exactly ``{placeholder}`` (the fake reads it)."""
        token = "{" + placeholder + "}"
        return next((k for k, v in self.send.fields.items() if v == token), None)
