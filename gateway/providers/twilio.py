"""Twilio, through the official SDK, with a configurable API base URL.

The SDK builds ``https://api.twilio.com/2010-04-01/...`` URLs; :class:`_HttpClient` (an SDK
``HttpClient``) rewrites the scheme and host to ``settings.twilio_api_base_url``, so tests talk to
a local Twilio-compatible server through the very same SDK code. A single message
goes through the SDK's sync client on one ``requests`` session; a chunk of a campaign
(:meth:`TwilioProvider.send_many`) through the SDK's async client (``create_async``) on one
aiohttp connector as large as the send concurrency, run by an event loop on a thread of its own.
The async client costs about a fifth of the CPU per message of ``requests`` on threads, which
is what limits a worker's sending (BENCHMARKS.md, ``dispatch``). Both use separate connect and
read timeouts (a connect timeout proves the message was not sent; a read timeout does not) and
never log a request: the SDK's own logging would print recipients' numbers.

Twilio's answers map to Loa's four outcomes through :data:`ERRORS` (vietnam-sms.md), and its
message statuses to Loa's through :data:`STATUSES`.
"""

from __future__ import annotations

import asyncio
import base64
import contextvars
import datetime as dt
import functools
import logging
import threading
from collections.abc import Mapping, Sequence
from typing import Any, cast
from urllib.parse import quote_plus, urlencode

import aiohttp
import requests
from requests.adapters import HTTPAdapter
from twilio.base.exceptions import TwilioException
from twilio.http import AsyncHttpClient, HttpClient
from twilio.http.response import Response as TwilioResponse
from twilio.request_validator import RequestValidator
from twilio.rest import Client
from twilio.twiml.messaging_response import MessagingResponse
from urllib3.exceptions import ConnectTimeoutError, NameResolutionError, NewConnectionError

from campaigns import statuses
from campaigns.phones import mask
from campaigns.sending import Effect, OutboundMessage, Outcome, SendResult, Sighting
from gateway.providers import (
    InboundMessage,
    Provider,
    StatusUpdate,
    WebhookError,
    register,
    status_from_form,
)

log = logging.getLogger("loa.providers.twilio")

TWILIO_API = "https://api.twilio.com"
FORM = "application/x-www-form-urlencoded"  # the body of every POST Loa makes to Twilio
MIN_VALIDITY, MAX_VALIDITY = 1, 36_000  # seconds, Twilio's bounds for ValidityPeriod
SLOW_RETRY_SECONDS = 600.0  # 30003 handset unreachable: a limited, delayed retry
CLOCK_SKEW = dt.timedelta(seconds=60)  # Loa's and Twilio's clocks may disagree this much
FIND_PAGE = 50  # messages per page when looking for what was sent to a number

# Twilio message status -> Loa delivery status. Twilio's queued/accepted/scheduled/sending mean
# Twilio holds the message: for Loa it is ``sent`` (accepted by the provider).
STATUSES: dict[str, str] = {
    "accepted": statuses.SENT,
    "scheduled": statuses.SENT,
    "queued": statuses.SENT,
    "sending": statuses.SENT,
    "sent": statuses.SENT,
    "delivered": statuses.DELIVERED,
    "read": statuses.DELIVERED,
    "undelivered": statuses.UNDELIVERED,
    "failed": statuses.FAILED,
    "canceled": statuses.FAILED,
}

# Twilio error code -> what the dispatch engine does (vietnam-sms.md). Unlisted 4xx: FAILED.
ERRORS: dict[int, tuple[Outcome, Effect]] = {
    20429: (Outcome.RETRY, Effect.NONE),
    21211: (Outcome.FAILED, Effect.INVALID_NUMBER),
    21614: (Outcome.FAILED, Effect.INVALID_NUMBER),
    30005: (Outcome.FAILED, Effect.INVALID_NUMBER),
    30006: (Outcome.FAILED, Effect.INVALID_NUMBER),
    21610: (Outcome.FAILED, Effect.OPTED_OUT),
    21408: (Outcome.FAILED, Effect.HALT),
    21606: (Outcome.FAILED, Effect.HALT),
    21608: (Outcome.FAILED, Effect.HALT),
    20003: (Outcome.FAILED, Effect.HALT),
    30002: (Outcome.FAILED, Effect.HALT),
    21612: (Outcome.FAILED, Effect.NONE),
    30004: (Outcome.FAILED, Effect.NONE),
    30007: (Outcome.FAILED, Effect.NONE),
    30003: (Outcome.RETRY, Effect.NONE),
    30001: (Outcome.RETRY, Effect.SLOW_DOWN),
}


# Which answers prove that Twilio created no message, so that sending again cannot double it.
# Creating a Message has no idempotency key, and Twilio's error page for 20500 says so plainly:
# a 500 on a POST that sends an SMS may come after the message was created, and retrying it
# may send the customer the text twice. So a 5xx is UNKNOWN (the reconciler asks Twilio, see
# ``find_sent``) unless its body carries a code documented as "not processed":
# - 20429 Too Many Requests (HTTP 429, with or without a body): the request was rejected by
#   the rate limiter before it was processed; Twilio says to retry after Retry-After;
# - 20503 Service Unavailable (HTTP 503): "the requested Twilio Service is temporarily
#   unavailable", to be retried with exponential back-off.
# An empty or unreadable 5xx (a proxy's 502/504, a gateway timeout) proves nothing: UNKNOWN.
# Refused connections are RETRY in ``send`` (the request never left this machine).
NOT_CREATED_5XX = frozenset({20503})


def classify(http_status: int, code: int | None, retry_after: float | None = None) -> SendResult:
    """Reduce a Twilio error answer to a :class:`SendResult` (the table :data:`ERRORS`).

    Args:
        http_status: the HTTP status of the answer.
        code: Twilio's error code from the body (None when there was no readable body).
        retry_after: the Retry-After header in seconds, if any.
    Returns:
        RETRY for 429/20429, 503/20503 and the transient codes; UNKNOWN for any other 5xx
        (the message may have been created); FAILED for other refusals.
    """
    error_code = str(code) if code and code != http_status else f"HTTP-{http_status}"
    if http_status >= 500:
        created = code not in NOT_CREATED_5XX
        outcome, effect = (Outcome.UNKNOWN if created else Outcome.RETRY), Effect.NONE
    elif code in ERRORS:
        outcome, effect = ERRORS[code]
    elif http_status == 429:
        outcome, effect = Outcome.RETRY, Effect.NONE
    else:
        outcome, effect = Outcome.FAILED, Effect.NONE
    if outcome is Outcome.RETRY and retry_after is None and code == 30003:
        retry_after = SLOW_RETRY_SECONDS
    if outcome is Outcome.UNKNOWN:
        retry_after = None
    return SendResult(outcome, error_code=error_code, effect=effect, retry_after=retry_after)


def _retry_after(headers: Mapping[str, str] | None) -> float | None:
    value = (headers or {}).get("Retry-After")
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:  # an HTTP date: rare; let the engine's backoff decide
        return None


def _never_sent(exc: requests.ConnectionError) -> bool:
    """Whether a connection error proves the request never reached Twilio."""
    if isinstance(exc, requests.ConnectTimeout):
        return True
    reason = getattr(exc.args[0], "reason", None) if exc.args else None
    return isinstance(reason, NewConnectionError | NameResolutionError | ConnectTimeoutError)


def _on_base(base_url: str, uri: str) -> str:
    """``uri`` with Twilio's scheme and host replaced by the configured base URL."""
    return base_url + uri[len(TWILIO_API) :] if uri.startswith(TWILIO_API) else uri


class _HttpClient(HttpClient):  # type: ignore[misc]
    """The SDK's HTTP client, pointed at a configurable base URL, with a large pool."""

    def __init__(self, base_url: str, pool_size: int, timeout: tuple[float, float]) -> None:
        super().__init__(log, is_async=False, timeout=None)
        self.base_url = base_url.rstrip("/")
        self.timeouts = timeout
        self.session = requests.Session()
        adapter = HTTPAdapter(pool_connections=4, pool_maxsize=pool_size, max_retries=0)
        self.session.mount("https://", adapter)
        self.session.mount("http://", adapter)
        self._local = threading.local()

    def request(
        self,
        method: str,
        uri: str,
        params: dict[str, object] | None = None,
        data: dict[str, object] | None = None,
        headers: dict[str, str] | None = None,
        auth: tuple[str, str] | None = None,
        timeout: float | None = None,
        allow_redirects: bool = False,
    ) -> TwilioResponse:
        uri = _on_base(self.base_url, uri)
        self._local.headers = None
        resp = self.session.request(
            method.upper(),
            uri,
            params=cast(Any, params),
            data=data,
            headers=headers,
            auth=auth,
            timeout=self.timeouts,
            allow_redirects=allow_redirects,
        )
        # The SDK's exceptions drop the headers; keep them for Retry-After (per thread).
        self._local.headers = resp.headers
        return TwilioResponse(int(resp.status_code), resp.text, resp.headers)

    def last_headers(self) -> Mapping[str, str] | None:
        headers: Mapping[str, str] | None = getattr(self._local, "headers", None)
        return headers


# The headers of the answer to this task's last request (each message is its own task).
_ASYNC_HEADERS: contextvars.ContextVar[Mapping[str, str] | None] = contextvars.ContextVar(
    "twilio_async_headers", default=None
)


class _AsyncHttpClient(AsyncHttpClient):  # type: ignore[misc]
    """The SDK's async HTTP client on one aiohttp connector of ``pool_size`` connections, pointed
    at a configurable base URL. Used on its provider's event loop only."""

    def __init__(self, base_url: str, pool_size: int, timeout: tuple[float, float]) -> None:
        super().__init__(log, is_async=True, timeout=None)
        self.base_url = base_url.rstrip("/")
        self.pool_size = pool_size
        self.timeouts = aiohttp.ClientTimeout(
            total=None, sock_connect=timeout[0], sock_read=timeout[1]
        )
        self.session: aiohttp.ClientSession | None = None

    async def request(
        self,
        method: str,
        uri: str,
        params: dict[str, object] | None = None,
        data: dict[str, object] | None = None,
        headers: dict[str, str] | None = None,
        auth: tuple[str, str] | None = None,
        timeout: float | None = None,
        allow_redirects: bool = False,
    ) -> TwilioResponse:
        uri = _on_base(self.base_url, uri)
        if self.session is None:  # made on the loop that uses it
            connector = aiohttp.TCPConnector(limit=self.pool_size)
            self.session = aiohttp.ClientSession(connector=connector, timeout=self.timeouts)
        _ASYNC_HEADERS.set(None)
        headers = dict(headers or {})
        if auth:
            headers["Authorization"] = _basic(*auth)
        body: Any = data
        if data is not None and headers.setdefault("Content-Type", FORM) == FORM:
            body = _form(data)  # what the SDK sets for a POST; aiohttp's own encoding is slower
        async with self.session.request(
            method.upper(),
            uri,
            params=cast(Any, params),
            data=body,
            headers=headers,
            allow_redirects=allow_redirects,
        ) as resp:
            text = await resp.text()
            _ASYNC_HEADERS.set(resp.headers)  # for Retry-After: the SDK's exceptions drop them
            return TwilioResponse(int(resp.status), text, resp.headers)

    async def close(self) -> None:
        if self.session is not None:
            await self.session.close()
            self.session = None


@register("twilio")
class TwilioProvider(Provider):
    """Sends through Twilio's Messages API; verifies Twilio's webhook signatures."""

    name = "twilio"

    def __init__(
        self,
        settings: Any,
        *,
        concurrency: int | None = None,
        connect_timeout: float = 5.0,
        read_timeout: float | None = None,
    ) -> None:
        self.settings = settings
        if read_timeout is None:
            read_timeout = float(getattr(settings, "twilio_read_timeout_seconds", 20.0))
        if concurrency is None:
            concurrency = int(getattr(settings, "twilio_concurrency", 32))
        self.concurrency = concurrency
        self._token = settings.twilio_auth_token.get_secret_value()
        self._http = _HttpClient(
            settings.twilio_api_base_url, concurrency, (connect_timeout, read_timeout)
        )
        self._client = Client(settings.twilio_account_sid, self._token, http_client=self._http)
        # Built once here: the SDK creates these lazily, which is not thread-safe.
        self._messages = self._client.api.v2010.accounts(settings.twilio_account_sid).messages
        self._validator = RequestValidator(self._token)
        self._async_http = _AsyncHttpClient(
            settings.twilio_api_base_url, concurrency, (connect_timeout, read_timeout)
        )
        async_client = Client(
            settings.twilio_account_sid, self._token, http_client=self._async_http
        )
        self._async_messages = async_client.api.v2010.accounts(settings.twilio_account_sid).messages
        self._loop: asyncio.AbstractEventLoop | None = None
        self._loop_thread: threading.Thread | None = None
        self._loop_lock = threading.Lock()

    # --- sending --------------------------------------------------------------------------

    def request_params(self, message: OutboundMessage) -> dict[str, Any]:
        """The SDK arguments for ``message`` (sender, status callback, validity period)."""
        params: dict[str, Any] = {"to": message.to, "body": message.body}
        sender = message.sender or self.settings.twilio_from
        if sender:
            params["from_"] = sender
        if self.settings.twilio_messaging_service_sid:
            params["messaging_service_sid"] = self.settings.twilio_messaging_service_sid
        callback = message.status_callback
        if callback is None and message.delivery_id is not None:
            callback = (
                f"{self.settings.public_base_url}/webhooks/twilio/status/{message.delivery_id}"
            )
        if callback:
            params["status_callback"] = callback
        if message.validity_seconds is not None:
            params["validity_period"] = min(
                MAX_VALIDITY, max(MIN_VALIDITY, int(message.validity_seconds))
            )
        return params

    def send(self, message: OutboundMessage) -> SendResult:
        try:
            created = self._messages.create(**self.request_params(message))
        except TwilioException as exc:
            return self._refused(message, exc, self._http.last_headers())
        except requests.ConnectionError as exc:
            if _never_sent(exc):
                return SendResult(Outcome.RETRY, error_code="CONNECT", error_message=_kind(exc))
            return _no_answer(exc)
        except (requests.RequestException, ValueError) as exc:
            # Sent, but no readable answer (read timeout, garbled body): it may have been accepted.
            return _no_answer(exc)
        return SendResult(Outcome.ACCEPTED, provider_message_id=created.sid)

    def send_many(self, messages: Sequence[OutboundMessage]) -> list[SendResult]:
        """Send concurrently over kept-alive connections; results keep the input order."""
        if len(messages) <= 1:
            return [self.send(m) for m in messages]
        return asyncio.run_coroutine_threadsafe(self._send_all(messages), self._events()).result()

    async def _send_all(self, messages: Sequence[OutboundMessage]) -> list[SendResult]:
        return list(await asyncio.gather(*(self._send_async(m) for m in messages)))

    async def _send_async(self, message: OutboundMessage) -> SendResult:
        """What :meth:`send` does, through the SDK's async client (the same outcomes)."""
        try:
            created = await self._async_messages.create_async(**self.request_params(message))
        except TwilioException as exc:
            return self._refused(message, exc, _ASYNC_HEADERS.get())
        except (aiohttp.ClientConnectorError, aiohttp.ConnectionTimeoutError) as exc:
            # No connection was made: the request never left this machine.
            return SendResult(Outcome.RETRY, error_code="CONNECT", error_message=_kind(exc))
        except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
            return _no_answer(exc)
        return SendResult(Outcome.ACCEPTED, provider_message_id=created.sid)

    def _refused(
        self, message: OutboundMessage, exc: TwilioException, headers: Mapping[str, str] | None
    ) -> SendResult:
        status = int(getattr(exc, "status", 0) or 0)
        code = getattr(exc, "code", None)
        result = classify(status, int(code) if code else None, _retry_after(headers))
        log.info("twilio refused a message to %s: %s", mask(message.to), result.error_code)
        return result

    def _events(self) -> asyncio.AbstractEventLoop:
        """The event loop that sends chunks, on a thread of its own (started on first use)."""
        with self._loop_lock:
            if self._loop is None:
                self._loop = asyncio.new_event_loop()
                self._loop_thread = threading.Thread(
                    target=self._loop.run_forever, name="twilio-async", daemon=True
                )
                self._loop_thread.start()
            return self._loop

    def fetch_status(self, provider_message_id: str) -> str | None:
        """Loa's status for a message, asked of Twilio; None when Twilio cannot say."""
        try:
            fetched = self._messages(provider_message_id).fetch()
        except (TwilioException, requests.RequestException, ValueError):
            return None
        return STATUSES.get(str(fetched.status))

    def find_sent(self, to: str, since: dt.datetime) -> Sighting | None:
        """Whether Twilio created a message to ``to`` since ``since`` (the claim).

        Twilio's ``DateSent>`` filter is a GMT date and skips messages still queued (their
        ``date_sent`` is empty until Twilio hands them to the carrier), so two lists are read:
        the messages to ``to`` sent since the claim's day, and the most recent page of messages
        to ``to`` whatever their date. A message created since the claim (less
        :data:`CLOCK_SKEW` for clocks that differ) is the one the claim sent: the recipient
        got nothing else from this account meanwhile, since a delivery is claimed once.
        """
        start = since - CLOCK_SKEW
        day = dt.datetime.combine(start.date(), dt.time(), tzinfo=dt.UTC)
        try:
            recent = self._messages.list(to=to, page_size=FIND_PAGE, limit=FIND_PAGE)
            sent = self._messages.list(to=to, date_sent_after=day, page_size=FIND_PAGE)
        except (TwilioException, requests.RequestException, ValueError):
            return None
        for message in [*recent, *sent]:
            created = message.date_created
            if created is not None and created.astimezone(dt.UTC) >= start:
                return Sighting(str(message.sid), STATUSES.get(str(message.status)))
        return Sighting(None)

    def close(self) -> None:
        with self._loop_lock:
            loop, thread, self._loop, self._loop_thread = self._loop, self._loop_thread, None, None
        if loop is not None and thread is not None:
            asyncio.run_coroutine_threadsafe(self._async_http.close(), loop).result(timeout=10)
            loop.call_soon_threadsafe(loop.stop)
            thread.join(timeout=10)
            loop.close()
        self._http.session.close()

    # --- webhooks -------------------------------------------------------------------------

    def validate_signature(
        self, url: str, params: Mapping[str, str], headers: Mapping[str, str]
    ) -> bool:
        signature = _header(headers, "X-Twilio-Signature")
        if not signature or not self._token:
            return False
        return bool(self._validator.validate(url, params, signature))

    def parse_status(self, params: Mapping[str, str], delivery_id: int | None) -> StatusUpdate:
        return status_from_form(params, delivery_id, STATUSES, legacy_names=True)

    def parse_inbound(self, params: Mapping[str, str]) -> InboundMessage:
        sid = params.get("MessageSid") or params.get("SmsSid")
        sender = params.get("From")
        if not sid or not sender or "Body" not in params:
            raise WebhookError("an inbound message needs MessageSid, From and Body")
        extra = {
            k: params[k]
            for k in ("NumSegments", "NumMedia", "FromCountry", "ToCountry", "AccountSid")
            if k in params
        }
        return InboundMessage(
            provider=self.name,
            provider_message_id=sid[:64],
            sender=sender[:32],
            body=params["Body"],
            to=params.get("To") or None,
            extra=extra,
        )

    def inbound_reply(self, text: str | None) -> tuple[str, str]:
        """TwiML: one ``<Message>`` with ``text``, or an empty ``<Response/>``."""
        response = MessagingResponse()
        if text:
            response.message(text)
        return str(response), "application/xml"


def _header(headers: Mapping[str, str], name: str) -> str | None:
    value = headers.get(name)
    if value is None:
        lowered = name.lower()
        value = next((v for k, v in headers.items() if k.lower() == lowered), None)
    return value


# A chunk's messages share their text: each distinct value is percent-encoded once.
_quote = functools.lru_cache(maxsize=256)(quote_plus)


def _form(data: Mapping[str, object]) -> bytes:
    """``data`` as the form body aiohttp would build for a dict (lists repeat their key), at
    a fraction of its cost: aiohttp's ``FormData`` was a sixth of a worker's CPU per message."""
    return urlencode(list(data.items()), doseq=True, quote_via=_quote).encode("ascii")


@functools.lru_cache(maxsize=8)
def _basic(user: str, password: str) -> str:
    """HTTP Basic credentials (aiohttp's ``BasicAuth`` is deprecated)."""
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode("ascii")


def _no_answer(exc: Exception) -> SendResult:
    """Sent, but no readable answer (a read timeout, a dropped connection, a garbled body): the
    message may have been created, so the reconciler asks Twilio."""
    return SendResult(Outcome.UNKNOWN, error_code="NO-ANSWER", error_message=_kind(exc))


def _kind(exc: Exception) -> str:
    """The exception's class name only: its text may carry the URL or the recipient."""
    return type(exc).__name__
