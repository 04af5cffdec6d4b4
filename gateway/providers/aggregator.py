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

import ipaddress
import logging
import re
import threading
import time
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import phonenumbers
import requests
from requests.adapters import HTTPAdapter

from campaigns.encoding import UCS2, analyze
from campaigns.phones import mask
from campaigns.sending import Effect, OutboundMessage, Outcome, SendResult
from gateway.providers import Provider, register
from gateway.providers.aggregator_profile import Profile, Request
from gateway.providers.aggregator_toml import load_profile
from gateway.providers.aggregator_webhooks import (
    AggregatorWebhooks,
    flatten,
    json_object,
)
from gateway.providers.twilio import _never_sent, _retry_after

log = logging.getLogger("loa.providers.http")


class _HideQueries(logging.Filter):
    """Cut query strings out of urllib3's request lines: a GET API carries keys and numbers.

    The record may arrive already formatted (``gateway.logs`` masks numbers when records are
    made), so the filter works on the message, not on its arguments."""

    _QUERY = re.compile(r"\?[^\s\"]*")

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except (TypeError, ValueError):
            return True
        if "?" in message:
            record.msg, record.args = self._QUERY.sub("?…", message), None
        return True


def _hide_urllib3_queries() -> None:
    logger = logging.getLogger("urllib3.connectionpool")
    if not any(isinstance(f, _HideQueries) for f in logger.filters):
        logger.addFilter(_HideQueries())


def national(e164: str) -> str:
    """A Vietnamese number as written at home (0…); other numbers as digits with country code."""
    try:
        number = phonenumbers.parse(e164, None)
    except phonenumbers.NumberParseException:
        return e164.lstrip("+")
    if number.country_code == 84:
        return f"0{number.national_number}"
    return f"{number.country_code}{number.national_number}"


@register("http")
class AggregatorProvider(AggregatorWebhooks, Provider):
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
        answer = json_object(content)
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
        answer = json_object(resp.content) if resp.ok else None
        if answer is None:
            return None
        flat = flatten(answer)
        return next((r.status for r in self.profile.receipts.rules if r.matches(flat)), None)

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None
        self.session.close()


def _kind(exc: Exception) -> str:
    """The exception's class name only: its text may carry the URL with the keys."""
    return type(exc).__name__
