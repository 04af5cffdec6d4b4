"""SMPP 3.4: the provider a worker calls, handing messages to the bind that ``loa smpp`` holds.

An SMSC allows few binds per account, and a bind is a long-lived TCP session, while RQ runs
each job in a fresh process. So the worker does not bind: it pushes each message as a request
onto a Redis list that the link process (``gateway.smpp_link``) pops while its window has room,
and waits for the answers on a list of its own. At most once holds across that hand-over:

- the link answers only after the SMSC answered ``submit_sm`` (or the link knows it sent
  nothing: a request past its deadline, or a bind that dropped before the first part left);
- a request the link never took is taken back with ``LREM``: if it is still on the list, it was
  provably not sent (RETRY); if the link took it and said nothing in time, it is UNKNOWN and
  is never resent blindly (invariant 2).

Receipts and inbound messages arrive on the bind too; the link parses them with
:meth:`SmppProvider.parse_status` and :meth:`SmppProvider.parse_inbound`. There are no
webhooks, so :meth:`validate_signature` accepts nothing.
"""

from __future__ import annotations

import contextlib
import json
import logging
import time
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from redis import Redis
from redis.exceptions import RedisError

from campaigns.phones import mask
from campaigns.sending import Effect, OutboundMessage, Outcome, SendResult
from gateway import queues
from gateway.providers import InboundMessage, Provider, StatusUpdate, WebhookError, register
from gateway.providers.smpp_codec import parse_receipt

log = logging.getLogger("loa.providers.smpp")

GRACE_SECONDS = 5.0  # the link answers a request taken just before its deadline within this
_redis_clients: dict[str, Redis] = {}


def out_key(settings: Any) -> str:
    """The Redis list of requests that the bind of ``settings.smpp_system_id`` serves."""
    return f"loa:smpp:{settings.smpp_system_id or 'default'}:out"


def result_of(answer: Mapping[str, Any]) -> SendResult:
    """A link's JSON answer as a :class:`SendResult`."""
    return SendResult(
        Outcome(answer["outcome"]),
        provider_message_id=answer.get("message_id"),
        error_code=answer.get("error_code"),
        error_message=answer.get("error_message"),
        effect=Effect(answer.get("effect") or Effect.NONE),
        retry_after=answer.get("retry_after"),
    )


def answer_of(request_id: str, result: SendResult) -> str:
    """The JSON answer the link pushes for ``request_id``."""
    return json.dumps(
        {
            "id": request_id,
            "outcome": result.outcome.value,
            "message_id": result.provider_message_id,
            "error_code": result.error_code,
            "error_message": result.error_message,
            "effect": result.effect.value,
            "retry_after": result.retry_after,
        }
    )


@register("smpp")
class SmppProvider(Provider):
    """Sends through ``loa smpp``'s bind; see the module docstring for the hand-over."""

    name = "smpp"

    def __init__(self, settings: Any, *, redis: Redis | None = None) -> None:
        self.settings = settings
        self.timeout = float(settings.smpp_submit_timeout_seconds)
        self._redis_conn = redis

    def _redis(self) -> Redis:
        if self._redis_conn is None:
            url = self.settings.redis_url
            if url not in _redis_clients:
                _redis_clients[url] = queues.connect(url)
            self._redis_conn = _redis_clients[url]
        return self._redis_conn

    def send(self, message: OutboundMessage) -> SendResult:
        return self.send_many([message])[0]

    def send_many(self, messages: Sequence[OutboundMessage]) -> list[SendResult]:
        """Hand ``messages`` to the link and wait for its answers (input order kept)."""
        if not messages:
            return []
        batch = uuid.uuid4().hex
        reply = f"loa:smpp:res:{batch}"
        deadline = time.time() + self.timeout
        requests = [
            json.dumps(
                {
                    "id": f"{batch}-{i}",
                    "reply": reply,
                    "to": m.to,
                    "body": m.body,
                    "sender": m.sender,
                    "delivery_id": m.delivery_id,
                    "validity": m.validity_seconds,
                    "deadline": deadline,
                },
                ensure_ascii=False,
            )
            for i, m in enumerate(messages)
        ]
        r = self._redis()
        log.debug("smpp: handing %d messages to the bind", len(requests))
        try:
            r.rpush(out_key(self.settings), *requests)
        except (RedisError, OSError) as exc:
            log.warning("smpp: %d messages not handed over (%s)", len(requests), type(exc).__name__)
            return [SendResult(Outcome.RETRY, error_code="REDIS") for _ in messages]
        grace = min(GRACE_SECONDS, self.timeout)
        answers = self._collect(r, reply, len(requests), deadline + grace)
        results = []
        for i, (message, request) in enumerate(zip(messages, requests, strict=True)):
            answer = answers.get(f"{batch}-{i}")
            if answer is None:
                answer = self._take_back(r, request, reply, answers, f"{batch}-{i}")
            results.append(result_of(answer) if isinstance(answer, dict) else answer)
            if results[-1].outcome is not Outcome.ACCEPTED:
                log.info(
                    "smpp: message to %s %s (%s)",
                    mask(message.to), results[-1].outcome.value, results[-1].error_code,
                )  # fmt: skip
        with contextlib.suppress(RedisError, OSError):  # else it expires by itself
            r.delete(reply)
        return results

    def _collect(self, r: Redis, reply: str, count: int, until: float) -> dict[str, Any]:
        answers: dict[str, Any] = {}
        while len(answers) < count:
            left = until - time.time()
            if left <= 0:
                break
            try:
                got = r.blpop([reply], timeout=max(0.1, min(1.0, left)))
            except (RedisError, OSError) as exc:
                log.warning("smpp: lost Redis while waiting (%s)", type(exc).__name__)
                break
            if got is not None:
                answer = json.loads(got[1])
                answers[answer["id"]] = answer
        return answers

    def _take_back(
        self, r: Redis, request: str, reply: str, answers: dict[str, Any], request_id: str
    ) -> SendResult | dict[str, Any]:
        """The outcome of a request that got no answer in time: RETRY if the link never took
        it (it is still on the list, and LREM removes it atomically), else UNKNOWN."""
        try:
            if r.lrem(out_key(self.settings), 1, request):
                return SendResult(
                    Outcome.RETRY, error_code="NOT-TAKEN", error_message="the SMPP link is down"
                )
            for raw in r.lrange(reply, 0, -1):  # an answer may have arrived just now
                answer = json.loads(raw)
                answers[answer["id"]] = answer
        except (RedisError, OSError):
            pass
        if request_id in answers:
            found: dict[str, Any] = answers[request_id]
            return found
        return SendResult(
            Outcome.UNKNOWN, error_code="NO-ANSWER", error_message="the bind did not answer"
        )

    # --- what arrives on the bind -------------------------------------------------------------

    def validate_signature(
        self, url: str, params: Mapping[str, str], headers: Mapping[str, str]
    ) -> bool:
        """SMPP has no webhooks: receipts and messages arrive on the authenticated bind."""
        return False

    def parse_status(self, params: Mapping[str, str], delivery_id: int | None) -> StatusUpdate:
        """A receipt's fields (``text``, ``receipted_message_id``, ``message_state``).

        Raises:
            WebhookError: when the fields are not a delivery receipt.
        """
        state = params.get("message_state")
        receipt = parse_receipt(
            params.get("text", ""),
            receipted_message_id=params.get("receipted_message_id") or None,
            message_state=int(state) if state not in (None, "") else None,
        )
        if receipt is None or not receipt.message_id:
            raise WebhookError("not a delivery receipt")
        failed = receipt.status in ("undelivered", "failed")
        return StatusUpdate(
            status=receipt.status,
            delivery_id=delivery_id,
            provider_message_id=receipt.message_id,
            error_code=(receipt.err or receipt.stat) if failed else None,
        )

    def parse_inbound(self, params: Mapping[str, str]) -> InboundMessage:
        """A reassembled message's fields (``id``, ``from``, ``to``, ``text``).

        Raises:
            WebhookError: when the sender or the id is missing.
        """
        mid, sender = params.get("id"), params.get("from")
        if not mid or not sender or "text" not in params:
            raise WebhookError("an inbound message needs id, from and text")
        return InboundMessage(
            provider=self.name,
            provider_message_id=mid[:64],
            sender=sender[:32],
            body=params["text"],
            to=params.get("to") or None,
            channel="smpp",
        )
