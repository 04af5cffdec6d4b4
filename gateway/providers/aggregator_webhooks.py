"""The webhook half of the aggregator provider: receipts and MO, read and authenticated as the
profile says (HMAC header, shared secret, a field digest, or Loa's per-delivery URL token),
behind an optional IP allowlist. Mixed into :class:`gateway.providers.aggregator.AggregatorProvider`.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import ipaddress
import json
import re
from collections.abc import Mapping
from typing import Any, ClassVar
from urllib.parse import urlencode, urlsplit
from xml.sax.saxutils import escape
from zoneinfo import ZoneInfo

from gateway.providers import InboundMessage, StatusUpdate, WebhookError
from gateway.providers.aggregator_profile import Auth, Profile

RECEIPT, INBOUND = "status", "inbound"
_TOKEN_PATH = re.compile(r"/status/(?P<delivery>\d+)/(?P<token>[0-9a-f]{32})$")


def flatten(value: Any, prefix: str = "") -> dict[str, str]:
    """A JSON value as dotted paths to strings (``{"data": {"id": 7}}`` -> ``{"data.id": "7"}``)."""
    if isinstance(value, Mapping):
        out: dict[str, str] = {}
        for k, v in value.items():
            out.update(flatten(v, f"{prefix}{k}."))
        return out
    if isinstance(value, list):
        out = {}
        for i, v in enumerate(value):
            out.update(flatten(v, f"{prefix}{i}."))
        return out
    key = prefix[:-1]
    if value is None:
        return {key: ""}
    if isinstance(value, bool):
        return {key: "true" if value else "false"}
    return {key: str(value)}


def _digest(algorithm: str, encoding: str, data: bytes, key: bytes | None = None) -> str:
    raw = (
        hmac.new(key, data, algorithm).digest()
        if key is not None
        else hashlib.new(algorithm, data).digest()
    )
    return base64.b64encode(raw).decode() if encoding == "base64" else raw.hex()


class AggregatorWebhooks:
    """Reads, authenticates and parses the aggregator's webhooks."""

    name: ClassVar[str]
    profile: Profile
    _webhook_secret: str
    _networks: list[ipaddress.IPv4Network | ipaddress.IPv6Network]

    def url_token(self, delivery_id: int) -> str:
        """The token that proves a receipt URL was made by Loa for this delivery."""
        data = f"status:{delivery_id}".encode()
        return hmac.new(self._webhook_secret.encode(), data, hashlib.sha256).hexdigest()[:32]

    def read_params(
        self, kind: str, query: Mapping[str, str], form: Mapping[str, str], body: bytes
    ) -> dict[str, str]:
        """A webhook's parameters: the query of a GET; the form or JSON body of a POST.

        Raises:
            WebhookError: for a JSON body that is not a JSON object.
        """
        spec = self.profile.receipts if kind == RECEIPT else self.profile.inbound
        if spec.method == "GET" and not body:
            return dict(query)
        if spec.format == "json":
            answer = json_object(body)
            if answer is None:
                raise WebhookError("the body is not a JSON object")
            return flatten(answer)
        return dict(form)

    def authenticate(
        self,
        kind: str,
        url: str,
        params: Mapping[str, str],
        headers: Mapping[str, str],
        body: bytes,
        remote_addr: str | None,
    ) -> bool:
        """Whether a receipt (``kind="status"``) or an MO (``"inbound"``) comes from the
        aggregator: from an allowed address (LOA_HTTP_ALLOWED_IPS, when set) and proven by the
        profile's authentication with LOA_HTTP_WEBHOOK_SECRET. Without a secret, nothing is."""
        if self._networks and not self._allowed(remote_addr):
            return False
        if not self._webhook_secret:
            return False
        spec = self.profile.receipts if kind == RECEIPT else self.profile.inbound
        return self._proven(spec.auth, url, params, headers, body)

    def _allowed(self, remote_addr: str | None) -> bool:
        try:
            address = ipaddress.ip_address(remote_addr or "")
        except ValueError:
            return False
        return any(address in n for n in self._networks)

    def _proven(
        self,
        auth: Auth,
        url: str,
        params: Mapping[str, str],
        headers: Mapping[str, str],
        body: bytes,
    ) -> bool:
        secret = self._webhook_secret
        if auth.kind == "url_token":
            found = _TOKEN_PATH.search(urlsplit(url).path)
            return found is not None and hmac.compare_digest(
                found["token"], self.url_token(int(found["delivery"]))
            )
        if auth.kind == "hmac":
            given = _header(headers, auth.header) or ""
            if auth.prefix and not given.startswith(auth.prefix):
                return False
            payload = (url.encode() + body) if auth.payload == "url_and_body" else body
            expected = _digest(auth.algorithm, auth.encoding, payload, key=secret.encode())
            return bool(given) and hmac.compare_digest(given[len(auth.prefix) :], expected)
        if auth.kind == "digest":
            data = "".join(params.get(f, "") for f in auth.fields) + secret
            expected = _digest(auth.algorithm, auth.encoding, data.encode())
            given = params.get(auth.param, "")
            return bool(given) and hmac.compare_digest(given.encode(), expected.encode())
        given = (_header(headers, auth.header) if auth.header else params.get(auth.param)) or ""
        return bool(given) and hmac.compare_digest(given.encode(), secret.encode())

    def validate_signature(
        self, url: str, params: Mapping[str, str], headers: Mapping[str, str]
    ) -> bool:
        """A receipt's authenticity when only its params are known (their form encoding stands
        for the raw body); the webhooks call :meth:`authenticate` with the real body."""
        body = urlencode(params).encode()
        return self.authenticate(RECEIPT, url, params, headers, body, remote_addr=None)

    def parse_status(self, params: Mapping[str, str], delivery_id: int | None) -> StatusUpdate:
        spec = self.profile.receipts
        rule = next((r for r in spec.rules if r.matches(params)), None)
        if rule is None:
            raise WebhookError("the receipt matches no status rule of the profile")
        if delivery_id is None and spec.request_id_field:
            rid = params.get(spec.request_id_field, "")
            prefix = self.profile.request_id_prefix
            if rid.startswith(prefix) and rid[len(prefix) :].isdigit():
                delivery_id = int(rid[len(prefix) :])
        message_id = params.get(spec.message_id_field, "")[:64] if spec.message_id_field else ""
        if not message_id and delivery_id is None:
            raise WebhookError("neither a message id nor a delivery id")
        error = params.get(spec.error_field, "") if spec.error_field else ""
        return StatusUpdate(
            status=rule.status,
            delivery_id=delivery_id,
            provider_message_id=message_id or None,
            error_code=error[:20] or None,
        )

    def parse_inbound(self, params: Mapping[str, str]) -> InboundMessage:
        spec = self.profile.inbound
        message_id = params.get(spec.message_id_field, "")
        sender = params.get(spec.sender_field, "")
        if not message_id or not sender or spec.text_field not in params:
            raise WebhookError(
                f"an inbound message needs {spec.message_id_field}, {spec.sender_field} "
                f"and {spec.text_field}"
            )
        return InboundMessage(
            provider=self.name,
            provider_message_id=message_id[:64],
            sender=sender[:32],
            body=params[spec.text_field],
            to=(params.get(spec.to_field) or None) if spec.to_field else None,
            received_at=self._received_at(params),
            channel="http_mo",
        )

    def _received_at(self, params: Mapping[str, str]) -> dt.datetime | None:
        """The aggregator's receive time in UTC; None when absent or unreadable (the tip keeps
        Loa's own time rather than being refused)."""
        spec = self.profile.inbound
        raw = params.get(spec.time_field, "") if spec.time_field else ""
        try:
            local = dt.datetime.strptime(raw, spec.time_format)
        except ValueError:
            return None
        if local.tzinfo is None:
            local = local.replace(tzinfo=ZoneInfo(spec.time_zone))
        return local.astimezone(dt.UTC)

    def inbound_answer(self, inbound: InboundMessage) -> tuple[str, str]:
        """The body and content type that acknowledge an MO to the aggregator."""
        spec = self.profile.inbound
        quote = escape if "xml" in spec.answer_content_type else str
        body = spec.answer.format_map(
            {"message_id": quote(inbound.provider_message_id), "sender": quote(inbound.sender)}
        )
        return body, spec.answer_content_type


def json_object(content: bytes) -> dict[str, Any] | None:
    try:
        value = json.loads(content) if content else None
    except (ValueError, UnicodeDecodeError):
        return None
    return value if isinstance(value, dict) else None


def _header(headers: Mapping[str, str], name: str) -> str | None:
    lowered = name.lower()
    return next((v for k, v in headers.items() if k.lower() == lowered), None)
