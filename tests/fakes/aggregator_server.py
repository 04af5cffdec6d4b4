"""A local fake SMS aggregator on 127.0.0.1, built from an aggregator profile (TOML).

It reads the same profile as Loa's provider, so it knows which fields a send carries and how to
answer; everything else (signing, deduplication, the answers) is written here independently of
``gateway/providers/aggregator.py``, so the two check each other. Programmable like
``tests/fakes/twilio_server.py``: an error code, a 429, a 5xx with an unreadable body, a hang
(the message is taken, the answer never comes), for every number or one, for a number of times.
It deduplicates on the request id within the profile's window, records every request, stores the
messages it took, and builds signed receipts and MO for Loa's webhooks.

    with FakeAggregator(load_profile("tests/fakes/profiles/fake.toml")) as fake:
        fake.program(Behaviour.error("E-NUMBER"), to="+84980000001")
        fake.program(Behaviour.hanging(), times=1)
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

from gateway.providers.aggregator_profile import Auth, Profile
from gateway.providers.aggregator_toml import load_profile

FAKE_PROFILE = Path(__file__).resolve().parent / "profiles" / "fake.toml"
API_KEY = "fake-aggregator-api-key-0123"
SECRET_KEY = "fake-aggregator-secret-key-4567"
WEBHOOK_SECRET = "fake-aggregator-webhook-secret-89ab"


@dataclass(frozen=True)
class Behaviour:
    """How the fake answers a send (see the constructors)."""

    code: str | None = None  # an error code in the profile's answer; None: accept
    status: int = 200
    raw: str | None = None  # an unreadable body instead of a JSON answer
    headers: tuple[tuple[str, str], ...] = ()
    hang: bool = False  # take the message, then never answer

    @staticmethod
    def error(code: str, status: int = 200) -> Behaviour:
        return Behaviour(code=code, status=status)

    @staticmethod
    def too_many(retry_after: int = 2) -> Behaviour:
        return Behaviour(status=429, raw="", headers=(("Retry-After", str(retry_after)),))

    @staticmethod
    def server_error(status: int = 503, raw: str = "<html>Bad Gateway</html>") -> Behaviour:
        return Behaviour(status=status, raw=raw)

    @staticmethod
    def hanging() -> Behaviour:
        return Behaviour(hang=True)


@dataclass(frozen=True)
class Recorded:
    method: str
    path: str
    fields: dict[str, str]
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class _Programmed:
    behaviour: Behaviour
    times: int | None  # None: for ever


class FakeAggregator:
    """The server; ``with FakeAggregator(profile) as fake`` or ``start()`` / ``stop()``."""

    def __init__(
        self,
        profile: Profile | None = None,
        api_key: str = API_KEY,
        secret_key: str = SECRET_KEY,
        webhook_secret: str = WEBHOOK_SECRET,
        auth_error: str = "E-AUTH",
    ) -> None:
        self.profile = profile or load_profile(str(FAKE_PROFILE))
        self.api_key, self.secret_key = api_key, secret_key
        self.webhook_secret = webhook_secret
        self.auth_error = auth_error
        self.requests: list[Recorded] = []
        self.messages: dict[str, dict[str, str]] = {}  # message id -> to, body, ref, sender
        self._refs: dict[str, tuple[str, float]] = {}  # request id -> (message id, when)
        self._programmed: dict[str | None, _Programmed] = {}
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # --- programming and observing ------------------------------------------------------

    def program(
        self, behaviour: Behaviour, to: str | None = None, times: int | None = None
    ) -> None:
        """Answer sends to ``to`` (every number when None) so, ``times`` times or for ever."""
        with self._lock:
            self._programmed[to] = _Programmed(behaviour, times)

    def reset(self) -> None:
        with self._lock:
            self._programmed.clear()
            self.requests.clear()
            self.messages.clear()
            self._refs.clear()

    def sends(self) -> list[Recorded]:
        """The send requests received, in order."""
        with self._lock:
            return [r for r in self.requests if r.path == self.profile.send.path]

    def field(self, placeholder: str) -> str:
        """The send field that carries ``{placeholder}`` in this profile."""
        name = self.profile.field_for(placeholder)
        assert name is not None, f"profile {self.profile.name} sends no {{{placeholder}}}"
        return name

    @property
    def to_field(self) -> str:
        """The send field that carries the recipient, in whichever form the profile writes it."""
        names = [self.profile.field_for(p) for p in ("to", "to_national", "to_digits")]
        found = next((n for n in names if n), None)
        assert found is not None, f"profile {self.profile.name} sends no recipient"
        return found

    def set_status(self, message_id: str, status: str) -> None:
        """The Loa status a status query reports for a message the fake took."""
        with self._lock:
            self.messages[message_id]["status"] = status

    def received_by(self, to: str) -> int:
        """How many messages the fake took for ``to`` (what the recipient's phone gets)."""
        with self._lock:
            return sum(1 for m in self.messages.values() if m["to"] == to)

    # --- life ----------------------------------------------------------------------------

    @property
    def url(self) -> str:
        assert self._server is not None, "start the server first"
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> FakeAggregator:
        handler = type("Handler", (_Handler,), {"fake": self})
        self._server = _Server(("127.0.0.1", 0), handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(5)

    def __enter__(self) -> FakeAggregator:
        return self.start()

    def __exit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    # --- answers -------------------------------------------------------------------------

    def _behaviour(self, to: str) -> Behaviour:
        with self._lock:
            for key in (to, None):
                programmed = self._programmed.get(key)
                if programmed is None:
                    continue
                if programmed.times is not None:
                    programmed.times -= 1
                    if programmed.times <= 0:
                        del self._programmed[key]
                return programmed.behaviour
            return Behaviour()

    def _authorized(self, fields: Mapping[str, str], headers: Mapping[str, str]) -> bool:
        spec = self.profile.send
        wanted = {"{api_key}": self.api_key, "{secret_key}": self.secret_key}
        lowered = {k.lower(): v for k, v in headers.items()}
        for name, template in spec.fields.items():
            if template in wanted and fields.get(name) != wanted[template]:
                return False
        for name, template in spec.headers.items():
            if template in wanted and lowered.get(name.lower()) != wanted[template]:
                return False
        return True

    def _answer(self, message_id: str | None, code: str | None) -> dict[str, Any]:
        spec = self.profile.answer
        body: dict[str, Any] = {}
        if code is None:
            _put(body, spec.success_field, sorted(spec.success_values)[0])
        else:
            if spec.success_field != spec.error_field:
                _put(body, spec.success_field, "error")
            _put(body, spec.error_field, code)
        if message_id:
            _put(body, spec.message_id_field, message_id)
        return body

    def _send(self, fields: dict[str, str], headers: dict[str, str]) -> tuple[int, Any, Any]:
        """(HTTP status, body, headers) for a send; status 0 means hang up without answering."""
        if not self._authorized(fields, headers):
            return 200, self._answer(None, self.auth_error), ()
        to = fields.get(self.to_field, "")
        behaviour = self._behaviour(to)
        if behaviour.code is not None:
            return behaviour.status, self._answer(None, behaviour.code), behaviour.headers
        if behaviour.raw is not None:
            return behaviour.status, behaviour.raw, behaviour.headers
        ref = fields.get(self.profile.field_for("request_id") or "", "")
        dedupe = self.profile.dedupe
        with self._lock:
            known = self._refs.get(ref) if ref and dedupe.enabled else None
            if known is not None and time.monotonic() - known[1] < dedupe.window_seconds:
                duplicate = sorted(dedupe.duplicate_codes)[0]
                return 200, self._answer(known[0], duplicate), ()
            message_id = "FA" + secrets.token_hex(12)
            self.messages[message_id] = {
                "to": to,
                "body": fields.get(self.profile.field_for("body") or "", ""),
                "ref": ref,
                "sender": fields.get(self.profile.field_for("sender") or "", ""),
            }
            if ref:
                self._refs[ref] = (message_id, time.monotonic())
        if behaviour.hang:
            self._stopping.wait(30)
            return 0, None, ()
        return 200, self._answer(message_id, None), behaviour.headers

    def _status(self, fields: dict[str, str]) -> tuple[int, Any, Any]:
        spec = self.profile.status_query
        assert spec is not None
        key = next(k for k, v in spec.fields.items() if v == "{message_id}")
        with self._lock:
            message = self.messages.get(fields.get(key, ""))
        if message is None:
            return 404, {"error": "not found"}, ()
        return 200, self.receipt_params(message.get("status", "delivered")), ()

    # --- webhooks to Loa -----------------------------------------------------------------

    def receipt_params(self, status: str, **fields: str) -> dict[str, str]:
        """Params that the profile's receipt rules read as Loa status ``status``."""
        rule = next(r for r in self.profile.receipts.rules if r.status == status)
        params = {k: sorted(v)[0] for k, v in rule.when.items()}
        for k, v in rule.unless.items():
            params[k] = next(x for x in ("1", "2", "x") if x not in v)
        return {**params, **fields}

    def receipt(
        self, public_base_url: str, delivery_id: int, message_id: str, status: str
    ) -> dict[str, Any]:
        """A signed receipt for Loa: keyword arguments for a Flask test client's ``open``."""
        spec = self.profile.receipts
        params = self.receipt_params(status)
        if spec.message_id_field:
            params[spec.message_id_field] = message_id
        if spec.request_id_field:
            params[spec.request_id_field] = f"{self.profile.request_id_prefix}{delivery_id}"
        path = f"/webhooks/http/status/{delivery_id}"
        if spec.auth.kind == "url_token":
            token = hmac.new(
                self.webhook_secret.encode(), f"status:{delivery_id}".encode(), hashlib.sha256
            ).hexdigest()[:32]
            path += f"/{token}"
        return self._webhook(public_base_url, path, spec.method, spec.format, spec.auth, params)

    def mo(
        self,
        public_base_url: str,
        sender: str,
        text: str,
        message_id: str | None = None,
        **extra: str,
    ) -> dict[str, Any]:
        """A signed MO (an SMS from ``sender``) for Loa's ``/webhooks/http/mo``."""
        spec = self.profile.inbound
        params = {
            spec.message_id_field: message_id or "MO" + secrets.token_hex(8),
            spec.sender_field: sender,
            spec.text_field: text,
            **extra,
        }
        if spec.to_field:
            params.setdefault(spec.to_field, "8079")
        return self._webhook(
            public_base_url, "/webhooks/http/mo", spec.method, spec.format, spec.auth, params
        )

    def _webhook(
        self, base: str, path: str, method: str, fmt: str, auth: Auth, params: dict[str, str]
    ) -> dict[str, Any]:
        secret = self.webhook_secret
        headers: dict[str, str] = {}
        if auth.kind == "digest":
            data = ("".join(params.get(f, "") for f in auth.fields) + secret).encode()
            params[auth.param] = _encode(hashlib.new(auth.algorithm, data).digest(), auth.encoding)
        elif auth.kind == "shared_secret":
            if auth.header:
                headers[auth.header] = secret
            else:
                params[auth.param] = secret
        query = urlencode(params) if method == "GET" else ""
        if method == "GET":
            body = b""
        elif fmt == "json":
            body = json.dumps(params).encode()
            headers["Content-Type"] = "application/json"
        else:
            body = urlencode(params).encode()
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        full = path + (f"?{query}" if query else "")
        if auth.kind == "hmac":
            payload = (base + full).encode() + body if auth.payload == "url_and_body" else body
            digest = hmac.new(secret.encode(), payload, auth.algorithm).digest()
            headers[auth.header] = auth.prefix + _encode(digest, auth.encoding)
        return {"path": full, "method": method, "data": body, "headers": headers}


def _encode(raw: bytes, encoding: str) -> str:
    return base64.b64encode(raw).decode() if encoding == "base64" else raw.hex()


def _put(body: dict[str, Any], path: str, value: Any) -> None:
    *parents, last = path.split(".")
    for part in parents:
        body = body.setdefault(part, {})
    body[last] = value


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 512


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    fake: FakeAggregator

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: tests read ``fake.requests``."""

    def _reply(self, status: int, body: Any, headers: Any = ()) -> None:
        if status == 0:  # hung: drop the connection without an answer
            self.close_connection = True
            return
        data = (body if isinstance(body, str) else json.dumps(body)).encode()
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            for name, value in headers:
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    def _fields(self) -> dict[str, str]:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        query = urlsplit(self.path).query
        fields = {k: v[-1] for k, v in parse_qs(query, keep_blank_values=True).items()}
        if raw and "json" in (self.headers.get("Content-Type") or ""):
            fields.update({k: str(v) for k, v in json.loads(raw).items()})
        elif raw:
            parsed = parse_qs(raw.decode(), keep_blank_values=True)
            fields.update({k: v[-1] for k, v in parsed.items()})
        return fields

    def _handle(self) -> None:
        path = urlsplit(self.path).path
        fields = self._fields()
        headers = dict(self.headers.items())
        with self.fake._lock:
            self.fake.requests.append(Recorded(self.command, path, fields, headers))
        query = self.fake.profile.status_query
        if path == self.fake.profile.send.path and self.command == self.fake.profile.send.method:
            self._reply(*self.fake._send(fields, headers))
        elif query is not None and path == query.path:
            self._reply(*self.fake._status(fields))
        else:
            self._reply(404, {"error": "no such endpoint"})

    do_GET = _handle
    do_POST = _handle
