"""The simulator: an offline provider that plays a carrier, for demos and tests.

It is an adapter like the others and keeps no table of its own. It accepts sends (after
``settings.simulator_latency_ms``, failing a fraction ``settings.simulator_failure_rate`` of them
with error ``SIM-30003``, like Twilio's "handset unreachable") and, like a real provider, calls
back with a delivery receipt: a signed POST (``X-Loa-Signature``) to Loa's own status webhook,
``{public_base_url}/webhooks/simulator/status/<delivery id>``, which applies it as it applies
every provider's receipt. A receipt that cannot be posted (the web app is down) is lost, as a
real provider's may be: the delivery stays ``sent``, and :meth:`SimulatorProvider.fetch_status`
answers the reconciler, since every message the simulated carrier accepts is delivered.

The receipts are posted before ``send_many`` returns, concurrently: a worker's job runs in a
forked work horse that ends with the job, so a receipt left to a background thread would die
with it. Loa records a receipt that arrives before the send's own ``sent`` (a fast provider).

What a simulated phone received is read from Loa's own records (deliveries and replies) by the
citizen phone page (``gateway.simulator_views``); what was handed to the simulated carrier in this
process is also kept, bounded, in :attr:`SimulatorProvider.received` (the far end's view, as a
fake server keeps the requests it saw).
"""

from __future__ import annotations

import collections
import hashlib
import hmac
import logging
import random
import re
import time
import uuid
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import requests

from campaigns import statuses
from campaigns.phones import mask
from campaigns.sending import OutboundMessage, Outcome, SendResult
from gateway.providers import (
    InboundMessage,
    Provider,
    StatusUpdate,
    WebhookError,
    register,
    status_from_form,
)

log = logging.getLogger("loa.providers.simulator")

SIGNATURE_HEADER = "X-Loa-Signature"
FAILURE_CODE = "SIM-30003"  # like Twilio's "handset unreachable"
RECEIPT_TIMEOUT = 10.0  # seconds for Loa's webhook to answer one receipt
RECEIPT_THREADS = 8
UNREACHABLE_PAUSE = 30.0  # seconds without posting once Loa's webhook cannot be reached
RECEIVED_KEPT = 10_000  # the far end's memory of the messages handed to it, newest last
_MESSAGE_ID = re.compile(r"SIM[0-9a-f]{32}")

# Receipt status -> Loa status: the simulator speaks Loa's own vocabulary.
STATUSES: dict[str, str] = {
    s: s for s in (statuses.SENT, statuses.DELIVERED, statuses.UNDELIVERED, statuses.FAILED)
}


def new_message_id() -> str:
    """A fresh simulator message id (``SIM`` + 32 hex digits)."""
    return "SIM" + uuid.uuid4().hex


def sign(secret: str, url: str, params: Mapping[str, str]) -> str:
    """The ``X-Loa-Signature`` of a simulator webhook: HMAC-SHA256 over the URL and sorted params."""
    payload = url + "".join(f"{k}{params[k]}" for k in sorted(params))
    return hmac.new(secret.encode(), payload.encode(), hashlib.sha256).hexdigest()


@register("simulator")
class SimulatorProvider(Provider):
    """Accepts sends; posts each accepted message's receipt to Loa's status webhook."""

    name = "simulator"

    def __init__(self, settings: Any) -> None:
        self.settings = settings
        self.latency = settings.simulator_latency_ms / 1000.0
        self.failure_rate = settings.simulator_failure_rate
        self._random = random.Random()  # a simulation, not a secret
        self._http = requests.Session()
        self._unreachable_until = 0.0  # monotonic time until which receipts are not posted
        # (message, result) of what this process handed over: for tests and debugging only.
        self.received: collections.deque[tuple[OutboundMessage, SendResult]] = collections.deque(
            maxlen=RECEIVED_KEPT
        )

    # --- sending --------------------------------------------------------------------------

    def send(self, message: OutboundMessage) -> SendResult:
        return self.send_many([message])[0]

    def send_many(self, messages: Sequence[OutboundMessage]) -> list[SendResult]:
        """Accept (or fail) every message, then call back with the accepted ones' receipts."""
        if not messages:
            return []
        if self.latency and len(messages) > 1:
            with ThreadPoolExecutor(min(32, len(messages))) as pool:
                results = list(pool.map(self._decide, messages))
        else:
            results = [self._decide(m) for m in messages]
        accepted = [
            (m, r.provider_message_id)
            for m, r in zip(messages, results, strict=True)
            if r.outcome is Outcome.ACCEPTED and r.provider_message_id
        ]
        self.received.extend(zip(messages, results, strict=True))
        self._post_receipts(
            [(m, sid) for m, sid in accepted if m.delivery_id is not None or m.status_callback]
        )
        return results

    def _decide(self, message: OutboundMessage) -> SendResult:
        if self.latency:
            time.sleep(self.latency)
        if self.failure_rate and self._random.random() < self.failure_rate:
            log.info("simulator failed a message to %s (%s)", mask(message.to), FAILURE_CODE)
            return SendResult(
                Outcome.FAILED, error_code=FAILURE_CODE, error_message="simulated failure"
            )
        return SendResult(Outcome.ACCEPTED, provider_message_id=new_message_id())

    # --- receipts, as the carrier sends them ----------------------------------------------

    def callback_url(self, delivery_id: int) -> str:
        """Where the receipt of Loa's delivery ``delivery_id`` is posted."""
        return f"{self.settings.public_base_url}/webhooks/simulator/status/{delivery_id}"

    def receipt(
        self, message: OutboundMessage, provider_message_id: str
    ) -> tuple[str, dict[str, str]]:
        """The URL and form of the receipt for an accepted message (it is always delivered)."""
        url = message.status_callback or self.callback_url(int(message.delivery_id or 0))
        return url, {"MessageSid": provider_message_id, "MessageStatus": statuses.DELIVERED}

    def _post_receipts(self, accepted: list[tuple[OutboundMessage, str]]) -> None:
        if not accepted:
            return
        with ThreadPoolExecutor(min(RECEIPT_THREADS, len(accepted))) as pool:
            answers = list(pool.map(lambda a: self._post_receipt(*a), accepted))
        if not all(answers):
            log.warning(
                "simulator: %d of %d receipts were not taken by Loa's webhook",
                answers.count(False), len(answers),
            )  # fmt: skip

    def _post_receipt(self, message: OutboundMessage, provider_message_id: str) -> bool:
        # A carrier whose callback host does not resolve or answer stops calling it for a
        # while: a worker with no web beside it (a test, a misconfigured base URL) must not
        # spend a name lookup on every message. The reconciler settles those deliveries.
        if time.monotonic() < self._unreachable_until:
            return False
        url, form = self.receipt(message, provider_message_id)
        headers = {SIGNATURE_HEADER: sign(self.settings.secret(), url, form)}
        try:
            resp = self._http.post(url, data=form, headers=headers, timeout=RECEIPT_TIMEOUT)
        except requests.ConnectionError as exc:
            self._unreachable_until = time.monotonic() + UNREACHABLE_PAUSE
            log.warning("simulator: Loa's webhook is unreachable (%s)", type(exc).__name__)
            return False
        except requests.RequestException as exc:
            log.debug("simulator receipt not posted (%s)", type(exc).__name__)
            return False
        return resp.status_code < 300

    def fetch_status(self, provider_message_id: str) -> str | None:
        """What the reconciler learns: every message the simulated carrier accepted (an id of
        its form) is delivered; an id it never gave is unknown to it."""
        return statuses.DELIVERED if _MESSAGE_ID.fullmatch(provider_message_id) else None

    def close(self) -> None:
        self._http.close()

    # --- webhooks -------------------------------------------------------------------------

    def validate_signature(
        self, url: str, params: Mapping[str, str], headers: Mapping[str, str]
    ) -> bool:
        given = headers.get(SIGNATURE_HEADER) or headers.get(SIGNATURE_HEADER.lower()) or ""
        expected = sign(self.settings.secret(), url, params)
        return bool(given) and hmac.compare_digest(given, expected)

    def parse_status(self, params: Mapping[str, str], delivery_id: int | None) -> StatusUpdate:
        return status_from_form(params, delivery_id, STATUSES)

    def parse_inbound(self, params: Mapping[str, str]) -> InboundMessage:
        sid, sender = params.get("MessageSid"), params.get("From")
        if not sid or not sender or "Body" not in params:
            raise WebhookError("an inbound message needs MessageSid, From and Body")
        return InboundMessage(
            provider=self.name,
            provider_message_id=sid[:64],
            sender=sender[:32],
            body=params["Body"],
            to=params.get("To") or None,
        )

    def inbound_reply(self, text: str | None) -> tuple[str, str]:
        return (text or "", "text/plain; charset=utf-8")
