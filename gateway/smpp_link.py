"""``loa smpp``: one SMPP bind per process, kept alive, serving sends and receiving tips.

The process binds (transceiver, or a transmitter or a receiver when the SMSC wants two binds),
then runs one loop that owns the socket: it reads PDUs as they come, submits what workers
handed over on Redis (``gateway.providers.smpp``) while its window has room and its pace allows,
sends ``enquire_link`` when the bind is idle, and gives up on answers that never come. When the
link drops it logs why, settles what was in flight, and binds again after a backoff with jitter.

At most once (invariant 2): a message's parts go one after another; a part is submitted once
and never again unless the SMSC answered that it refused it (``ESME_RTHROTTLED``,
``ESME_RMSGQFUL`` and the other retryable statuses back off and try that part again). A
``submit_sm`` whose answer never came (the link dropped, or it timed out) makes the message
``unknown``. Every other command status maps through ``smpp_codec.COMMAND_STATUSES``.

Nothing here logs a number or a text: smpplib writes whole PDUs in hex at DEBUG, so its logger
is held at INFO.
"""

from __future__ import annotations

import itertools
import json
import logging
import random
import select
import signal
import struct
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, cast

from redis import Redis
from redis.exceptions import RedisError
from smpplib import consts, smpp
from smpplib import exceptions as smpp_errors
from smpplib.client import Client
from sqlalchemy.orm import Session, sessionmaker

from campaigns.db import make_engine, make_sessionmaker
from campaigns.sending import Outcome, SendResult
from gateway import logs, queues
from gateway.providers import WebhookError
from gateway.providers.smpp import SmppProvider, answer_of, out_key
from gateway.providers.smpp_codec import Part, command_status, submit_parts
from gateway.providers.smpp_models import SmppPart
from gateway.settings import Settings
from gateway.smpp_inbound import ShortMessage, apply_part_receipt, receive_message, sweep
from gateway.tips.line import TipLine

log = logging.getLogger("loa.smpp")
PDU_LOGGER = "loa.smpp.pdu"

BINDS = {"transceiver": "bind_transceiver", "transmitter": "bind_transmitter", "receiver": "bind_receiver"}  # fmt: skip
MAX_BACKOFF = 60.0  # seconds between two binds, at most
ENQUIRE_TIMEOUT = 10.0  # an enquire_link unanswered this long means the link is dead
PART_GRACE = 60.0  # seconds past its deadline that a half-sent message may still finish
SWEEP_EVERY = 30.0
THROTTLES = (consts.SMPP_ESME_RTHROTTLED, consts.SMPP_ESME_RMSGQFUL)
ESME_RX_T_APPN = 0x64  # "temporary application error": the SMSC delivers the PDU again


class BindRefused(Exception):
    """The SMSC answered the bind with an error status (wrong password, no such account …)."""


@dataclass
class Pending:
    """One message on its way: its parts go one after another."""

    request: dict[str, Any]
    parts: list[Part]
    index: int = 0  # the next part to submit
    message_ids: list[str] = field(default_factory=list)
    not_before: float = 0.0
    attempts: int = 0


class LinkClient(Client):  # type: ignore[misc]
    """smpplib's client, reading PDUs so that a malformed one is answered, not fatal."""

    def read_next(self) -> Any:
        """The next PDU, or None when it was malformed (then answered with ``generic_nack``).

        Raises:
            smpplib.exceptions.ConnectionError: when the connection is gone.
        """
        head = self._recv_exact(4)
        (length,) = struct.unpack(">L", head)
        if length < 16 or length > 65_536:  # the stream cannot be framed any more
            raise smpp_errors.ConnectionError(f"a PDU of length {length}")
        raw = head + self._recv_exact(length - 4)
        command_id, _status, sequence = struct.unpack(">LLL", raw[4:16])
        try:
            pdu = smpp.parse_pdu(raw, client=self, allow_unknown_opt_params=True)
        except smpp_errors.UnknownCommandError:
            log.warning("smpp: unknown command 0x%08X (seq %d) answered", command_id, sequence)
            self._nack(sequence, consts.SMPP_ESME_RINVCMDID)
            return None
        except Exception as exc:
            log.warning(
                "smpp: malformed PDU 0x%08X (seq %d, %s) answered",
                command_id, sequence, type(exc).__name__,
            )  # fmt: skip
            self._nack(sequence, consts.SMPP_ESME_RINVCMDLEN)
            return None
        if not pdu.is_error() and pdu.command in consts.STATE_SETTERS:
            self.state = consts.STATE_SETTERS[pdu.command]
        return pdu

    def _nack(self, sequence: int, status: int) -> None:
        nack = smpp.make_pdu("generic_nack", client=self, status=status)
        nack.sequence = sequence
        self.send_pdu(nack)

    def answer(self, command: str, sequence: int, status: int = consts.SMPP_ESME_ROK) -> None:
        """Send the response ``command`` to the request numbered ``sequence``."""
        resp = smpp.make_pdu(command, client=self, status=status)
        resp.sequence = sequence
        self.send_pdu(resp)


def _text(value: Any) -> str:
    if isinstance(value, bytes):
        return value.decode("latin-1").rstrip("\x00")
    return "" if value is None else str(value)


def relative_validity(seconds: int) -> str:
    """An SMPP relative validity period (``YYMMDDhhmmss000R``) of ``seconds`` (at most 99 days)."""
    seconds = max(60, min(int(seconds), 99 * 86_400))
    days, rest = divmod(seconds, 86_400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    return f"0000{days:02d}{hours:02d}{minutes:02d}{secs:02d}000R"


def source_ton_npi(settings: Settings, sender: str) -> tuple[int, int]:
    """The sender's TON and NPI: the settings', else 5/0 for a brandname and 0/1 for digits."""
    alpha = not sender.lstrip("+").isdigit()
    ton = settings.smpp_source_ton if settings.smpp_source_ton is not None else (5 if alpha else 0)
    npi = settings.smpp_source_npi if settings.smpp_source_npi is not None else (0 if alpha else 1)
    return ton, npi


class Link:
    """One bind and the loop that serves it (see the module docstring)."""

    def __init__(
        self,
        settings: Settings,
        mode: str,
        *,
        redis: Redis,
        session_factory: sessionmaker[Session],
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if mode not in BINDS:
            raise ValueError(f"unknown bind mode {mode!r}; choose one of {', '.join(BINDS)}")
        self.settings = settings
        self.mode = mode
        self.transmit = mode in ("transceiver", "transmitter")
        self.receive = mode in ("transceiver", "receiver")
        self.redis = redis
        self.sessions = session_factory
        self.clock = clock
        self.provider = SmppProvider(settings, redis=redis)
        logging.getLogger(PDU_LOGGER).setLevel(logging.INFO)  # PDUs in hex carry numbers, texts
        self.line = TipLine(settings, redis)
        self.state = "stopped"
        self.sweep_every = SWEEP_EVERY
        self._random = random.Random()  # jitter, not a secret
        self._refs = itertools.count(self._random.randrange(256))
        self._reset()

    def _reset(self) -> None:
        self.outstanding: dict[int, tuple[Pending, float]] = {}
        self.ready: deque[Pending] = deque()
        self.delayed: list[Pending] = []
        self.paused_until = 0.0
        self.tokens = 1.0
        self.refilled = self.clock()
        self.next_poll = 0.0
        self._rows: list[SmppPart] = []
        self._answers: list[tuple[str, str]] = []

    def _set_state(self, state: str, detail: str = "") -> None:
        if state != self.state:
            log.info("smpp %s bind: %s → %s%s", self.mode, self.state, state, f" ({detail})" if detail else "")  # fmt: skip
            self.state = state

    # --- the bind's life ------------------------------------------------------------------

    def run(self, stop: threading.Event) -> None:
        """Bind, serve, and bind again after a failure, until ``stop`` is set."""
        delay = 1.0
        while not stop.is_set():
            client: LinkClient | None = None
            try:
                self._set_state(
                    "connecting", f"{self.settings.smpp_host}:{self.settings.smpp_port}"
                )
                client = self._bind()
                self._set_state("bound")
                delay = 1.0
                self._serve(client, stop)
            except BindRefused as exc:
                self._set_state("refused", str(exc))
            except (smpp_errors.ConnectionError, smpp_errors.PDUError, OSError) as exc:
                self._set_state("disconnected", str(exc) or type(exc).__name__)
            finally:
                self._settle_in_flight()
                if client is not None:
                    self._close(client, unbind=stop.is_set())
            if stop.is_set():
                break
            wait = min(MAX_BACKOFF, delay) * (0.5 + self._random.random())
            self._set_state("waiting", f"binding again in {wait:.1f} s")
            stop.wait(wait)
            delay = min(MAX_BACKOFF, delay * 2)
        self._set_state("stopped")

    def _bind(self) -> LinkClient:
        client = LinkClient(
            self.settings.smpp_host,
            self.settings.smpp_port,
            timeout=10,
            logger_name=PDU_LOGGER,
            allow_unknown_opt_params=True,
        )
        try:
            client.connect()
            resp = client._bind(
                BINDS[self.mode],
                system_id=self.settings.smpp_system_id,
                password=self.settings.smpp_password.get_secret_value(),
                system_type=self.settings.smpp_system_type or None,
            )
        except smpp_errors.PDUError as exc:
            self._close(client, unbind=False)
            status = exc.args[1] if len(exc.args) > 1 else 0
            raise BindRefused(f"status 0x{status:08X}") from None
        except BaseException:
            self._close(client, unbind=False)
            raise
        if resp.is_error():  # pragma: no cover (smpplib raises first)
            self._close(client, unbind=False)
            raise BindRefused(f"status 0x{resp.status:08X}")
        return client

    def _close(self, client: LinkClient, unbind: bool) -> None:
        try:
            if unbind and client.state in consts.COMMAND_STATES["unbind"]:
                client.send_pdu(smpp.make_pdu("unbind", client=client))
        except Exception:
            log.info("smpp: unbind not sent (the link is gone)")
        client.state = consts.SMPP_CLIENT_STATE_OPEN  # closing: no unbind_resp awaited
        client.disconnect()

    def _serve(self, client: LinkClient, stop: threading.Event) -> None:
        sock = client._socket
        last_io = self.clock()
        enquired_at: float | None = None
        next_sweep = self.clock()
        interval = float(self.settings.smpp_enquire_link_seconds)
        while not stop.is_set():
            busy = bool(self.ready or self.delayed or self.outstanding) or self.transmit
            readable, _, _ = select.select([sock], [], [], 0.01 if busy else 0.2)
            if readable:
                pdu = client.read_next()
                last_io = self.clock()
                if pdu is not None and self._on_pdu(client, pdu) == "enquire_link_resp":
                    enquired_at = None
            now = self.clock()
            if self.transmit:
                self._fill(client, now)
            self._expire(now)
            self._flush()
            if enquired_at is None and now - last_io >= interval:
                client.send_pdu(smpp.make_pdu("enquire_link", client=client))
                enquired_at = last_io = now
            elif enquired_at is not None and now - enquired_at > ENQUIRE_TIMEOUT:
                raise smpp_errors.ConnectionError("no answer to enquire_link")
            if self.receive and now >= next_sweep:
                next_sweep = now + self.sweep_every
                self._sweep()

    # --- what the SMSC sends --------------------------------------------------------------

    def _on_pdu(self, client: LinkClient, pdu: Any) -> str:
        command = str(pdu.command)
        if command in ("submit_sm_resp", "generic_nack") and pdu.sequence in self.outstanding:
            pending, _sent = self.outstanding.pop(pdu.sequence)
            self._answered(pending, int(pdu.status), _text(getattr(pdu, "message_id", None)))
        elif command == "deliver_sm":
            client.answer("deliver_sm_resp", pdu.sequence, self._on_deliver(pdu))
        elif command == "enquire_link":
            client.answer("enquire_link_resp", pdu.sequence)
        elif command == "unbind":
            client.answer("unbind_resp", pdu.sequence)
            raise smpp_errors.ConnectionError("the SMSC unbound")
        elif command not in ("enquire_link_resp", "submit_sm_resp", "generic_nack"):
            log.info("smpp: %s ignored", command)
        else:
            log.info("smpp: a late %s (seq %d) ignored", command, pdu.sequence)
        return command

    def _on_deliver(self, pdu: Any) -> int:
        """Handle a ``deliver_sm`` and give the status to answer it with (after the commit)."""
        esm = int(pdu.esm_class or 0)
        try:
            with self.sessions() as s:
                if esm & 0x3C:  # a delivery receipt or an acknowledgement
                    self._receipt(s, pdu)
                else:
                    sar = None
                    if getattr(pdu, "sar_msg_ref_num", None) is not None:
                        sar = (pdu.sar_msg_ref_num, pdu.sar_total_segments, pdu.sar_segment_seqnum)
                    payload = pdu.short_message or getattr(pdu, "message_payload", None) or b""
                    message = ShortMessage(
                        source=_text(pdu.source_addr),
                        source_ton=int(pdu.source_addr_ton or 0),
                        destination=_text(pdu.destination_addr),
                        esm_class=esm,
                        data_coding=int(pdu.data_coding or 0),
                        short_message=bytes(payload),
                        sar=sar,
                    )
                    receive_message(s, self.line, self.provider, message)
        except Exception as exc:  # not stored: the SMSC must deliver it again
            log.warning("smpp: deliver_sm not stored (%s); asking for redelivery", type(exc).__name__)  # fmt: skip
            return ESME_RX_T_APPN
        return int(consts.SMPP_ESME_ROK)

    def _receipt(self, s: Session, pdu: Any) -> None:
        state = getattr(pdu, "message_state", None)
        params = {
            "text": _text(pdu.short_message or getattr(pdu, "message_payload", None)),
            "receipted_message_id": _text(getattr(pdu, "receipted_message_id", None)),
            "message_state": "" if state is None else str(state),
        }
        try:
            update = self.provider.parse_status(params, None)
        except WebhookError:
            log.info("smpp: an unreadable receipt acknowledged and dropped")
            return
        apply_part_receipt(s, update)
        s.commit()

    def _sweep(self) -> None:
        try:
            with self.sessions() as s:
                stored = sweep(s, self.line, self.provider)
            if stored:
                log.info("smpp: %d incomplete long messages stored as they are", stored)
        except Exception as exc:
            log.warning("smpp: sweeping incomplete messages failed (%s)", type(exc).__name__)

    # --- sending --------------------------------------------------------------------------

    def _fill(self, client: LinkClient, now: float) -> None:
        if now < self.paused_until:
            return
        rate = float(self.settings.smpp_rate_per_second)
        self.tokens = min(max(1.0, rate), self.tokens + (now - self.refilled) * rate)
        self.refilled = now
        while len(self.outstanding) < self.settings.smpp_window and self.tokens >= 1.0:
            pending = self._next_ready(now)
            if pending is None:
                if now < self.next_poll:
                    return
                pending = self._take(now)
                if pending is None:
                    return
            self._submit(client, pending, now)
            self.tokens -= 1.0

    def _next_ready(self, now: float) -> Pending | None:
        if self.ready:
            return self.ready.popleft()
        for i, pending in enumerate(self.delayed):
            if pending.not_before <= now:
                return self.delayed.pop(i)
        return None

    def _take(self, now: float) -> Pending | None:
        """Pop the next request the workers handed over (None when there is none)."""
        while True:
            try:
                raw = self.redis.lpop(out_key(self.settings))
            except (RedisError, OSError) as exc:
                log.warning("smpp: Redis unavailable (%s)", type(exc).__name__)
                raw = None
            if raw is None:
                self.next_poll = now + 0.05
                return None
            request = json.loads(cast(bytes, raw))
            if time.time() > float(request["deadline"]):
                self._answer(request, SendResult(Outcome.RETRY, error_code="EXPIRED"))
                continue
            parts = submit_parts(
                request["body"],
                next(self._refs) % 256,
                long_messages=self.settings.smpp_long_messages,
            )
            return Pending(request, parts)

    def _submit(self, client: LinkClient, pending: Pending, now: float) -> None:
        request, part = pending.request, pending.parts[pending.index]
        sender = request.get("sender") or self.settings.smpp_source_addr
        ton, npi = source_ton_npi(self.settings, sender)
        fields: dict[str, Any] = {
            "service_type": None,
            "source_addr_ton": ton,
            "source_addr_npi": npi,
            "source_addr": sender,
            "dest_addr_ton": self.settings.smpp_dest_ton,
            "dest_addr_npi": self.settings.smpp_dest_npi,
            "destination_addr": str(request["to"]).lstrip("+"),
            "esm_class": part.esm_class,
            "data_coding": part.data_coding,
            "registered_delivery": 1,
            "short_message": part.short_message or None,
        }
        if part.message_payload is not None:
            fields["message_payload"] = part.message_payload
        if request.get("validity"):
            fields["validity_period"] = relative_validity(int(request["validity"]))
        pdu = smpp.make_pdu("submit_sm", client=client, **fields)
        # In flight before the first byte leaves: if sending fails half-way, it is unknown.
        self.outstanding[pdu.sequence] = (pending, now)
        client.send_pdu(pdu)

    def _answered(self, pending: Pending, status: int, message_id: str) -> None:
        verdict = command_status(status)
        now = self.clock()
        if verdict.outcome is Outcome.ACCEPTED:
            pending.message_ids.append(message_id)
            pending.index += 1
            request = pending.request
            if request.get("delivery_id") is not None:
                self._rows.append(
                    SmppPart(
                        message_id=message_id[:65],
                        delivery_id=request["delivery_id"],
                        first_message_id=pending.message_ids[0][:65],
                        seq=pending.index,
                        total=len(pending.parts),
                    )
                )
            if pending.index < len(pending.parts):
                self.ready.appendleft(pending)
            else:
                first = pending.message_ids[0]
                self._answer(request, SendResult(Outcome.ACCEPTED, provider_message_id=first))
            return
        if verdict.outcome is Outcome.RETRY:
            pending.attempts += 1
            backoff = min(30.0, 2.0**pending.attempts) * (0.5 + self._random.random())
            if status in THROTTLES:
                self.paused_until = max(self.paused_until, now + backoff)
            # Nothing of it left yet: hand it back rather than hold it past its deadline.
            late = time.time() + backoff > float(pending.request["deadline"])
            if pending.index == 0 and late:
                self._answer(pending.request, SendResult(Outcome.RETRY, error_code=verdict.name, effect=verdict.effect, retry_after=round(backoff, 1)))  # fmt: skip
            elif (
                pending.index > 0 and time.time() > float(pending.request["deadline"]) + PART_GRACE
            ):
                self._answer(pending.request, SendResult(Outcome.FAILED, error_code=f"PARTIAL-{verdict.name}"[:20]))  # fmt: skip
            else:
                pending.not_before = now + backoff
                self.delayed.append(pending)
            return
        if pending.index == 0:
            result = SendResult(Outcome.FAILED, error_code=verdict.name[:20], effect=verdict.effect)
        else:  # the first parts reached the handset: never resent, reported as failed
            result = SendResult(Outcome.FAILED, error_code=f"PARTIAL-{verdict.name}"[:20])
        self._answer(pending.request, result)

    def _expire(self, now: float) -> None:
        limit = float(self.settings.smpp_submit_timeout_seconds)
        for sequence, (pending, sent) in list(self.outstanding.items()):
            if now - sent > limit:
                del self.outstanding[sequence]
                self._answer(pending.request, SendResult(Outcome.UNKNOWN, error_code="NO-RESP"))

    def _settle_in_flight(self) -> None:
        """The link is gone: what was sent without an answer is unknown; what never left is
        handed back for a retry; a message cut between its parts failed."""
        for pending, _sent in self.outstanding.values():
            self._answer(pending.request, SendResult(Outcome.UNKNOWN, error_code="LINK-CUT"))
        for pending in [*self.ready, *self.delayed]:
            if pending.index == 0:
                self._answer(pending.request, SendResult(Outcome.RETRY, error_code="LINK-DOWN"))
            else:
                self._answer(pending.request, SendResult(Outcome.FAILED, error_code="PARTIAL-LINK"))
        self._flush()
        self._reset()

    def _answer(self, request: dict[str, Any], result: SendResult) -> None:
        self._answers.append((str(request["reply"]), answer_of(str(request["id"]), result)))

    def _flush(self) -> None:
        """Commit the parts' rows, then tell the workers (a receipt must find its part)."""
        if self._rows:
            rows, self._rows = self._rows, []
            try:
                with self.sessions() as s:
                    s.add_all(rows)
                    s.commit()
            except Exception as exc:
                log.warning("smpp: %d parts not recorded (%s)", len(rows), type(exc).__name__)
        if self._answers:
            answers, self._answers = self._answers, []
            try:
                pipe = self.redis.pipeline()
                for key, answer in answers:
                    pipe.rpush(key, answer)
                    pipe.expire(key, 600)
                pipe.execute()
            except (RedisError, OSError) as exc:
                log.warning("smpp: %d answers lost with Redis (%s)", len(answers), type(exc).__name__)  # fmt: skip


def serve(settings: Settings, mode: str | None = None) -> None:
    """Run one bind until SIGTERM or SIGINT (``loa smpp``)."""
    logs.configure(settings)
    mode = mode or ("transceiver" if settings.smpp_bind_mode == "transceiver" else "")
    if not mode:
        raise SystemExit(
            "LOA_SMPP_BIND_MODE=transmitter_receiver: run two processes, "
            "`loa smpp --mode transmitter` and `loa smpp --mode receiver`"
        )
    missing = [n for n in ("smpp_host", "smpp_system_id") if not getattr(settings, n)]
    if missing:
        raise SystemExit("loa smpp needs " + ", ".join(f"LOA_{n.upper()}" for n in missing))
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    link = Link(
        settings,
        mode,
        redis=queues.connect(settings.redis_url),
        session_factory=make_sessionmaker(make_engine(settings.effective_database_url)),
    )
    link.run(stop)
