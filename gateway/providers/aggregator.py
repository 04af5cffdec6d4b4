"""Vietnamese SMS aggregators over HTTP (``LOA_PROVIDER=http``), driven by a profile.

One generic provider: the profile (``LOA_HTTP_PROFILE``, see :mod:`aggregator_profile`) says how
this aggregator's API is called and answers. Sending follows DESIGN.md invariant 2: a refused
connection, an HTTP 429 or an error the profile marks ``retry`` is RETRY; a timeout, an unreadable
answer or an unlisted error under a 5xx is UNKNOWN, because the aggregator may hold the message.

One exception, and only one: when the profile says the aggregator deduplicates on a request id
and the message has a delivery id, Loa sends ``loa-<delivery id>`` as that id, and an ambiguous
answer is resent, the very same request, within the aggregator's dedupe window (a short backoff,
a few attempts); the aggregator refuses a copy it already holds ("duplicate request id"), which
proves the first one was accepted. When still ambiguous, the answer stays UNKNOWN.

Logs carry the delivery id and the masked number only: never the text, the full number, the
keys, or a URL with its query (urllib3 logs those at DEBUG; :class:`_HideQueries` cuts them).
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import ipaddress
import json
import logging
import re
import threading
import time
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import urlencode, urlsplit
from xml.sax.saxutils import escape
from zoneinfo import ZoneInfo

import phonenumbers
import requests
from requests.adapters import HTTPAdapter

from campaigns.encoding import UCS2, analyze
from campaigns.phones import mask
from campaigns.sending import Effect, OutboundMessage, Outcome, SendResult
from gateway.providers import InboundMessage, Provider, StatusUpdate, WebhookError, register
from gateway.providers.aggregator_profile import Auth, Profile, Request, load_profile
from gateway.providers.twilio import _never_sent, _retry_after

log = logging.getLogger("loa.providers.http")

RECEIPT, INBOUND = "status", "inbound"
_TOKEN_PATH = re.compile(r"/status/(?P<delivery>\d+)/(?P<token>[0-9a-f]{32})$")


class _HideQueries(logging.Filter):
    """Cut query strings out of urllib3's request lines: a GET API carries keys and numbers."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(
                a.split("?", 1)[0] + "?…" if isinstance(a, str) and "?" in a else a
                for a in record.args
            )
        return True


def _hide_urllib3_queries() -> None:
    logger = logging.getLogger("urllib3.connectionpool")
    if not any(isinstance(f, _HideQueries) for f in logger.filters):
        logger.addFilter(_HideQueries())


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


def national(e164: str) -> str:
    """A Vietnamese number as written at home (0…); other numbers as digits with country code."""
    try:
        number = phonenumbers.parse(e164, None)
    except phonenumbers.NumberParseException:
        return e164.lstrip("+")
    if number.country_code == 84:
        return f"0{number.national_number}"
    return f"{number.country_code}{number.national_number}"


def _digest(algorithm: str, encoding: str, data: bytes, key: bytes | None = None) -> str:
    raw = (
        hmac.new(key, data, algorithm).digest()
        if key is not None
        else hashlib.new(algorithm, data).digest()
    )
    return base64.b64encode(raw).decode() if encoding == "base64" else raw.hex()


@register("http")
class AggregatorProvider(Provider):
    """Sends through an aggregator's HTTP API; checks its receipts and MO as its profile says."""

    name = "http"

    def __init__(
        self,
        settings: Any,
        *,
        profile: Profile | None = None,
        concurrency: int = 32,
        connect_timeout: float = 5.0,
        read_timeout: float = 20.0,
        resend_backoff: float = 0.5,
        max_attempts: int = 3,
    ) -> None:
        self.settings = settings
        self.profile = profile or load_profile(settings.http_profile)
        self.base_url = (settings.http_base_url or self.profile.base_url).rstrip("/")
        self.concurrency = concurrency
        self.timeouts = (connect_timeout, read_timeout)
        self.resend_backoff = resend_backoff
        self.max_attempts = max_attempts
        self._api_key = settings.http_api_key
        self._secret_key = settings.http_secret_key.get_secret_value()
        self._webhook_secret = settings.http_webhook_secret.get_secret_value()
        self._networks = [
            ipaddress.ip_network(c.strip(), strict=False)
            for c in settings.http_allowed_ips.split(",")
            if c.strip()
        ]
        self.session = requests.Session()
        adapter = HTTPAdapter(pool_connections=4, pool_maxsize=concurrency, max_retries=0)
        self.session.mount("https://", adapter)
        self.session.mount("http://", adapter)
        self._pool: ThreadPoolExecutor | None = None
        self._pool_lock = threading.Lock()
        _hide_urllib3_queries()

    # --- sending --------------------------------------------------------------------------

    def request_id(self, delivery_id: int | None) -> str:
        return f"{self.profile.request_id_prefix}{delivery_id}" if delivery_id is not None else ""

    def callback_url(self, delivery_id: int | None) -> str:
        """Loa's receipt URL for a delivery (with its token when the profile uses url_token)."""
        if delivery_id is None:
            return ""
        url = f"{self.settings.public_base_url}/webhooks/http/status/{delivery_id}"
        if self.profile.receipts.auth.kind == "url_token":
            url += f"/{self.url_token(delivery_id)}"
        return url

    def url_token(self, delivery_id: int) -> str:
        """The token that proves a receipt URL was made by Loa for this delivery."""
        data = f"status:{delivery_id}".encode()
        return hmac.new(self._webhook_secret.encode(), data, hashlib.sha256).hexdigest()[:32]

    def values(self, message: OutboundMessage) -> dict[str, str]:
        """The placeholders of a send request for ``message``."""
        return {
            "api_key": self._api_key,
            "secret_key": self._secret_key,
            "sender": message.sender or self.settings.http_sender,
            "to": message.to,
            "to_digits": message.to.lstrip("+"),
            "to_national": national(message.to),
            "body": message.body,
            "is_unicode": "1" if analyze(message.body).encoding == UCS2 else "0",
            "request_id": self.request_id(message.delivery_id),
            "callback_url": message.status_callback or self.callback_url(message.delivery_id),
            "delivery_id": "" if message.delivery_id is None else str(message.delivery_id),
        }

    def _call(self, spec: Request, values: Mapping[str, str]) -> requests.Response:
        fields = {k: v.format_map(values) for k, v in spec.fields.items()}
        fields = {k: v for k, v in fields.items() if v != ""}  # optional fields left empty
        kwargs: dict[str, Any] = {"params": fields} if spec.format == "query" else {}
        if spec.format == "json":
            kwargs["json"] = fields
        elif spec.format == "form":
            kwargs["data"] = fields
        return self.session.request(
            spec.method,
            self.base_url + spec.path,
            headers={k: v.format_map(values) for k, v in spec.headers.items()} or None,
            timeout=self.timeouts,
            allow_redirects=False,
            **kwargs,
        )

    def send(self, message: OutboundMessage) -> SendResult:
        values = self.values(message)
        dedupe = self.profile.dedupe
        may_resend = dedupe.enabled and message.delivery_id is not None
        deadline = time.monotonic() + dedupe.window_seconds
        backoff = self.resend_backoff
        attempt = 1
        while True:
            result = self._attempt(values)
            if (
                result.outcome is not Outcome.UNKNOWN
                or not may_resend
                or attempt >= self.max_attempts
                or time.monotonic() + backoff + self.timeouts[0] >= deadline
            ):
                break
            log.info(
                "http: no clear answer for delivery %s (%s); resending with the same request id",
                message.delivery_id, result.error_code,
            )  # fmt: skip
            time.sleep(backoff)
            backoff *= 2
            attempt += 1
        if result.outcome is not Outcome.ACCEPTED:
            log.info(
                "http: %s to %s (delivery %s): %s after %d attempt(s)",
                result.outcome.value, mask(message.to), message.delivery_id,
                result.error_code, attempt,
            )  # fmt: skip
        return result

    def _attempt(self, values: Mapping[str, str]) -> SendResult:
        try:
            resp = self._call(self.profile.send, values)
        except requests.ConnectionError as exc:
            if _never_sent(exc):
                return SendResult(Outcome.RETRY, error_code="CONNECT", error_message=_kind(exc))
            return SendResult(Outcome.UNKNOWN, error_code="NO-ANSWER", error_message=_kind(exc))
        except requests.RequestException as exc:  # a read timeout: it may have been accepted
            return SendResult(Outcome.UNKNOWN, error_code="NO-ANSWER", error_message=_kind(exc))
        return self.classify(resp.status_code, resp.headers, resp.content)

    def classify(self, status: int, headers: Mapping[str, str], content: bytes) -> SendResult:
        """Reduce the aggregator's answer to a :class:`SendResult` (the profile's tables)."""
        retry_after = _retry_after(headers)
        answer = _json_object(content)
        if answer is None:
            if status == 429:
                return SendResult(Outcome.RETRY, error_code="HTTP-429", retry_after=retry_after)
            if 400 <= status < 500:
                effect = Effect.HALT if status in (401, 403, 404) else Effect.NONE
                return SendResult(Outcome.FAILED, error_code=f"HTTP-{status}", effect=effect)
            # 2xx or 5xx without a readable answer: the aggregator may hold the message.
            return SendResult(Outcome.UNKNOWN, error_code=f"HTTP-{status}")
        spec = self.profile.answer
        flat = flatten(answer)
        message_id = flat.get(spec.message_id_field) or None
        code = flat.get(spec.error_field, "")
        if flat.get(spec.success_field) in spec.success_values and 200 <= status < 300:
            return SendResult(Outcome.ACCEPTED, provider_message_id=message_id)
        if self.profile.dedupe.enabled and code in self.profile.dedupe.duplicate_codes:
            # Only a message already accepted under this request id (this delivery's) is refused
            # as a duplicate: it was sent once, and will not be sent twice.
            return SendResult(Outcome.ACCEPTED, provider_message_id=message_id)
        rule = self.profile.errors.get(code)
        if rule is not None:
            return SendResult(
                rule.outcome,
                error_code=code[:20],
                effect=rule.effect,
                retry_after=retry_after if retry_after is not None else rule.retry_after,
            )
        if status == 429:
            return SendResult(
                Outcome.RETRY, error_code=code[:20] or "HTTP-429", retry_after=retry_after
            )
        if status >= 500 or (200 <= status < 300 and not code):
            return SendResult(Outcome.UNKNOWN, error_code=code[:20] or f"HTTP-{status}")
        return SendResult(Outcome.FAILED, error_code=code[:20] or f"HTTP-{status}")

    def send_many(self, messages: Sequence[OutboundMessage]) -> list[SendResult]:
        """Send concurrently over kept-alive connections; results keep the input order."""
        if len(messages) <= 1:
            return [self.send(m) for m in messages]
        return list(self._executor().map(self.send, messages))

    def _executor(self) -> ThreadPoolExecutor:
        with self._pool_lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(self.concurrency, thread_name_prefix="http-sms")
            return self._pool

    def fetch_status(self, provider_message_id: str) -> str | None:
        """Loa's status for a message, asked of the aggregator; None when it cannot say."""
        spec = self.profile.status_query
        if spec is None:
            return None
        values = {
            "api_key": self._api_key,
            "secret_key": self._secret_key,
            "message_id": provider_message_id,
        }
        try:
            resp = self._call(spec, values)
        except requests.RequestException:
            return None
        answer = _json_object(resp.content) if resp.ok else None
        if answer is None:
            return None
        flat = flatten(answer)
        return next((r.status for r in self.profile.receipts.rules if r.matches(flat)), None)

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None
        self.session.close()

    # --- webhooks -------------------------------------------------------------------------

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
            answer = _json_object(body)
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


def _json_object(content: bytes) -> dict[str, Any] | None:
    try:
        value = json.loads(content) if content else None
    except (ValueError, UnicodeDecodeError):
        return None
    return value if isinstance(value, dict) else None


def _header(headers: Mapping[str, str], name: str) -> str | None:
    lowered = name.lower()
    return next((v for k, v in headers.items() if k.lower() == lowered), None)


def _kind(exc: Exception) -> str:
    """The exception's class name only: its text may carry the URL with the keys."""
    return type(exc).__name__
