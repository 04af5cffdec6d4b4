"""The simulator: an offline provider that keeps every message in an outbox table.

It accepts sends (after ``settings.simulator_latency_ms``, failing a fraction
``settings.simulator_failure_rate`` of them with error ``SIM-30003``), writes each message to
``simulator_messages``, and produces delivery receipts through the same status path as a real
provider: for every accepted message it enqueues ``workers.statuses.process_receipt`` on the
``events`` queue, which parses the receipt with :meth:`SimulatorProvider.parse_status` and applies
it like a status webhook. The citizen phone page (``gateway.simulator_views``) reads the outbox
and sends a citizen's reply into the tip line.

Connections: the provider runs in web and worker processes alike, outside any Flask context, so
it opens its own database engine (``campaigns.db.make_engine``) and Redis client lazily, cached
per process and URL (and forgotten after a fork). Tests may pass a ``sessionmaker`` instead.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import logging
import os
import random
import time
import uuid
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from redis import Redis
from rq import Queue
from sqlalchemy import Index, Integer, String, Text, select
from sqlalchemy.orm import Mapped, Session, mapped_column, sessionmaker

from campaigns import statuses
from campaigns.db import Base, make_engine, make_sessionmaker, utcnow
from campaigns.phones import mask
from campaigns.sending import OutboundMessage, Outcome, SendResult
from gateway import queues
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
RECEIPT_JOB = "workers.statuses.process_receipt"
DEFAULT_SENDER = "LOA"
IN, OUT = "in", "out"

# Receipt status -> Loa status: the simulator speaks Loa's own vocabulary.
STATUSES: dict[str, str] = {
    s: s for s in (statuses.SENT, statuses.DELIVERED, statuses.UNDELIVERED, statuses.FAILED)
}

_sessionmakers: dict[str, sessionmaker[Session]] = {}
_redis_clients: dict[str, Redis] = {}


def _forget_connections() -> None:
    _sessionmakers.clear()
    _redis_clients.clear()


os.register_at_fork(after_in_child=_forget_connections)


class SimulatorMessage(Base):
    """One message in the simulator's outbox: to a citizen (``out``) or from one (``in``)."""

    __tablename__ = "simulator_messages"
    __table_args__ = (Index("ix_simulator_messages_phone_id", "phone", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    direction: Mapped[str] = mapped_column(String(3))  # in, out
    phone: Mapped[str] = mapped_column(String(32))  # the citizen's number
    sender: Mapped[str | None] = mapped_column(String(40))  # brandname (out) or None (in)
    body: Mapped[str] = mapped_column(Text)
    delivery_id: Mapped[int | None] = mapped_column(Integer, index=True)
    provider_message_id: Mapped[str] = mapped_column(String(64), unique=True)
    status: Mapped[str] = mapped_column(String(12))
    error_code: Mapped[str | None] = mapped_column(String(20))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


def new_message_id() -> str:
    """A fresh simulator message id (``SIM`` + 32 hex digits)."""
    return "SIM" + uuid.uuid4().hex


def sign(secret: str, url: str, params: Mapping[str, str]) -> str:
    """The ``X-Loa-Signature`` of a simulator webhook: HMAC-SHA256 over the URL and sorted params."""
    payload = url + "".join(f"{k}{params[k]}" for k in sorted(params))
    return hmac.new(secret.encode(), payload.encode(), hashlib.sha256).hexdigest()


@register("simulator")
class SimulatorProvider(Provider):
    """Sends into the outbox table; receipts arrive through the ``events`` queue."""

    name = "simulator"

    def __init__(
        self, settings: Any, *, session_factory: sessionmaker[Session] | None = None
    ) -> None:
        self.settings = settings
        self.latency = settings.simulator_latency_ms / 1000.0
        self.failure_rate = settings.simulator_failure_rate
        self._session_factory = session_factory
        self._random = random.Random()  # a simulation, not a secret

    # --- connections ----------------------------------------------------------------------

    def session(self) -> Session:
        """A new session on the database the simulator writes its outbox to."""
        if self._session_factory is None:
            url = self.settings.effective_database_url
            if url not in _sessionmakers:
                _sessionmakers[url] = make_sessionmaker(make_engine(url))
            self._session_factory = _sessionmakers[url]
        return self._session_factory()

    def _redis(self) -> Redis:
        url = self.settings.redis_url
        if url not in _redis_clients:
            _redis_clients[url] = queues.connect(url)
        return _redis_clients[url]

    # --- sending --------------------------------------------------------------------------

    def send(self, message: OutboundMessage) -> SendResult:
        return self.send_many([message])[0]

    def send_many(self, messages: Sequence[OutboundMessage]) -> list[SendResult]:
        """Accept (or fail) every message, write the outbox in one go, enqueue the receipts."""
        if not messages:
            return []
        if self.latency and len(messages) > 1:
            with ThreadPoolExecutor(min(32, len(messages))) as pool:
                results = list(pool.map(self._decide, messages))
        else:
            results = [self._decide(m) for m in messages]
        self._record(messages, results)
        self._enqueue_receipts(messages, results)
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

    def _record(self, messages: Sequence[OutboundMessage], results: list[SendResult]) -> None:
        rows = [
            SimulatorMessage(
                direction=OUT,
                phone=m.to[:32],
                sender=(m.sender or self.settings.twilio_from or DEFAULT_SENDER)[:40],
                body=m.body,
                delivery_id=m.delivery_id,
                provider_message_id=r.provider_message_id or new_message_id(),
                # The outbox holds the outcome the receipt will report (fetch_status reads it).
                status=statuses.DELIVERED if r.outcome is Outcome.ACCEPTED else statuses.FAILED,
                error_code=r.error_code,
            )
            for m, r in zip(messages, results, strict=True)
        ]
        with self.session() as s:
            s.add_all(rows)
            s.commit()

    def _enqueue_receipts(
        self, messages: Sequence[OutboundMessage], results: list[SendResult]
    ) -> None:
        jobs = [
            Queue.prepare_data(
                RECEIPT_JOB,
                args=(
                    self.name,
                    {"MessageSid": r.provider_message_id, "MessageStatus": statuses.DELIVERED},
                    m.delivery_id,
                ),
                job_id=f"receipt-{r.provider_message_id}",
            )
            for m, r in zip(messages, results, strict=True)
            if r.outcome is Outcome.ACCEPTED and m.delivery_id is not None
        ]
        if not jobs:
            return
        try:
            queues.queue(queues.EVENTS, self._redis()).enqueue_many(jobs)
        except Exception:  # Redis down: the outbox knows; the reconciler asks fetch_status
            log.warning("simulator could not enqueue %d receipts", len(jobs), exc_info=True)

    def fetch_status(self, provider_message_id: str) -> str | None:
        with self.session() as s:
            return s.scalar(
                select(SimulatorMessage.status).where(
                    SimulatorMessage.provider_message_id == provider_message_id
                )
            )

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
