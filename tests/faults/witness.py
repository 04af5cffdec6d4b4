"""A witness provider: a small Twilio-compatible server that records every message it accepts.

It answers ``create`` and ``fetch`` as Twilio does (enough for the twilio SDK) and keeps a
count per (To, Body), so a fault scenario can prove that no recipient was sent a message twice
whatever Loa's processes went through. It lives apart from ``tests/fakes/twilio_server.py`` on
purpose: the witness only watches, it is never programmed to misbehave.
"""

from __future__ import annotations

import base64
import json
import re
import secrets
import threading
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any
from urllib.parse import parse_qs

from tests.fakes.twilio_server import ACCOUNT_SID, AUTH_TOKEN

_CREATE = re.compile(r"^/2010-04-01/Accounts/(AC\w+)/Messages\.json$")
_FETCH = re.compile(r"^/2010-04-01/Accounts/(AC\w+)/Messages/(\w+)\.json$")


class Witness:
    """The server; ``with Witness() as w`` starts it, ``w.seen`` counts (To, Body) pairs."""

    account_sid = ACCOUNT_SID
    auth_token = AUTH_TOKEN

    def __init__(self) -> None:
        self.seen: Counter[tuple[str, str]] = Counter()
        self._sids: dict[str, str] = {}
        self._lock = threading.Lock()
        self._expected_auth = (
            "Basic " + base64.b64encode(f"{ACCOUNT_SID}:{AUTH_TOKEN}".encode()).decode()
        )
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        assert self._server is not None, "start the witness first"
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def accepted(self) -> int:
        """How many messages the witness accepted in all."""
        with self._lock:
            return sum(self.seen.values())

    def log(self) -> list[tuple[str, str]]:
        """Every accepted (To, Body), once per acceptance."""
        with self._lock:
            return list(self.seen.elements())

    def _accept(self, to: str, body: str) -> str:
        sid = "SM" + secrets.token_hex(16)
        with self._lock:
            self.seen[(to, body)] += 1
            self._sids[sid] = to
        return sid

    def _known(self, sid: str) -> bool:
        with self._lock:
            return sid in self._sids

    def start(self) -> Witness:
        handler = type("Handler", (_Handler,), {"witness": self})
        self._server = _Server(("127.0.0.1", 0), handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(5)

    def __enter__(self) -> Witness:
        return self.start()

    def __exit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 1024  # several workers open their pools at once

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Quiet: a killed sender resets its connections, which is the point of the suite."""


def _message(sid: str, to: str, body: str, status: str) -> dict[str, Any]:
    return {
        "sid": sid,
        "account_sid": ACCOUNT_SID,
        "to": to,
        "body": body,
        "status": status,
        "num_segments": "1",
        "direction": "outbound-api",
        "api_version": "2010-04-01",
        "uri": f"/2010-04-01/Accounts/{ACCOUNT_SID}/Messages/{sid}.json",
    }


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    witness: Witness

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the witness's counts are the record."""

    def _answer(self, status: int, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):  # the sender was killed mid-request
            self.close_connection = True

    def _authorized(self) -> bool:
        return secrets.compare_digest(
            self.headers.get("Authorization", ""), self.witness._expected_auth
        )

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length).decode() if length else ""
        form = {k: v[-1] for k, v in parse_qs(raw, keep_blank_values=True).items()}
        if not _CREATE.match(self.path):
            self._answer(404, {"code": 20404, "message": "Not Found", "status": 404})
        elif not self._authorized():
            self._answer(401, {"code": 20003, "message": "Authenticate", "status": 401})
        elif not (form.get("To") and form.get("Body")):
            self._answer(400, {"code": 21604, "message": "To and Body required", "status": 400})
        else:
            sid = self.witness._accept(form["To"], form["Body"])
            self._answer(201, _message(sid, form["To"], form["Body"], "queued"))

    def do_GET(self) -> None:
        match = _FETCH.match(self.path.split("?", 1)[0])
        if match is None or not self._authorized() or not self.witness._known(match[2]):
            self._answer(404, {"code": 20404, "message": "Not Found", "status": 404})
        else:
            self._answer(200, _message(match[2], "", "", "sent"))
