"""A small Twilio-compatible HTTP server on 127.0.0.1 for tests and benchmarks.

It speaks the calls Loa makes (create a Message, fetch a Message, list Messages with the ``To``,
``From`` and ``DateSent`` filters and Twilio's paging), checks Basic auth, records every request,
and can be programmed per recipient number or globally to answer with a Twilio error, a 429 with
Retry-After, a 5xx before creating the message (20503, or any code) or after creating it (the
500 that makes a blind retry send twice), a latency, or a hang past the client's timeout ("the
request was sent, no answer came"; ``Behaviour.hanging(create=True)``: and Twilio created it).

    with FakeTwilio() as fake:
        fake.program(Behaviour.error(21211), to="+84980000001")
        ... point LOA_TWILIO_API_BASE_URL at fake.url ...
        assert fake.requests[0].form["To"] == "+84980000001"
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import re
import secrets
import threading
import time
from dataclasses import dataclass, field
from email.utils import format_datetime, parsedate_to_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any
from urllib.parse import parse_qs, urlencode

from campaigns.encoding import analyze

ACCOUNT_SID = "AC" + "0" * 30 + "fa4e"
AUTH_TOKEN = "fake-twilio-token-0123456789abcdef"

_CREATE = re.compile(r"^/2010-04-01/Accounts/(?P<account>AC\w+)/Messages\.json$")
_LIST = _CREATE
_FETCH = re.compile(r"^/2010-04-01/Accounts/(?P<account>AC\w+)/Messages/(?P<sid>\w+)\.json$")

ERROR_MESSAGES = {
    20003: "Authenticate",
    20429: "Too Many Requests",
    21211: "The 'To' number is not a valid phone number.",
    21408: "Permission to send an SMS has not been enabled for the region indicated by the 'To' number",
    21603: "A 'From' or 'MessagingServiceSid' parameter is required to send a message",
    21604: "A 'To' phone number is required.",
    21602: "Message body is required.",
    21606: "The 'From' phone number provided is not a valid message-capable phone number",
    21608: "The number is unverified. Trial accounts may only send messages to verified numbers",
    21610: "Attempt to send to unsubscribed recipient",
    21612: "The 'To' phone number is not currently reachable via SMS",
    21614: "'To' number is not a valid mobile number",
}


@dataclass(frozen=True)
class Behaviour:
    """How the server answers a create request (see the constructors below)."""

    status: int = 201
    body: dict[str, Any] | str | None = None  # None: a normal Message resource
    headers: tuple[tuple[str, str], ...] = ()
    delay: float = 0.0  # seconds to wait before answering
    hang: bool = False  # never answer (until the server stops): a read timeout for the client
    create: bool = False  # create the message first, then answer as above (an error, a hang)

    @staticmethod
    def error(code: int, status: int = 400, message: str | None = None) -> Behaviour:
        """A Twilio error body, e.g. ``{"code": 21211, "message": ..., "status": 400}``."""
        body = {
            "code": code,
            "message": message or ERROR_MESSAGES.get(code, f"Error {code}"),
            "more_info": f"https://www.twilio.com/docs/errors/{code}",
            "status": status,
        }
        return Behaviour(status=status, body=body)

    @staticmethod
    def too_many(retry_after: int = 2) -> Behaviour:
        """HTTP 429 with error 20429 and a Retry-After header."""
        b = Behaviour.error(20429, status=429)
        return Behaviour(status=429, body=b.body, headers=(("Retry-After", str(retry_after)),))

    @staticmethod
    def server_error(status: int = 500, with_body: bool = True) -> Behaviour:
        """A 5xx, with a Twilio error body or with an empty one."""
        if with_body:
            return Behaviour.error(20500, status=status, message="Internal Server Error")
        return Behaviour(status=status, body="")

    @staticmethod
    def unavailable() -> Behaviour:
        """HTTP 503 with error 20503 (Service Unavailable): nothing was created."""
        return Behaviour.error(20503, status=503, message="Service Unavailable")

    @staticmethod
    def created_then_error(status: int = 500) -> Behaviour:
        """Create the message, then answer a 5xx (error 20500): a blind retry sends it twice."""
        b = Behaviour.error(20500, status=status, message="Internal Server Error")
        return Behaviour(status=status, body=b.body, create=True)

    @staticmethod
    def slow(seconds: float, create: bool = True) -> Behaviour:
        """Accept the message after ``seconds`` (created at once when ``create``, as Twilio
        does while its answer is slow; past the client's timeout that is an unknown)."""
        return Behaviour(delay=seconds, create=create)

    @staticmethod
    def hanging(create: bool = False) -> Behaviour:
        """Read the request, then never answer (having created the message when ``create``)."""
        return Behaviour(hang=True, create=create)


@dataclass(frozen=True)
class Recorded:
    """One request the server received."""

    method: str
    path: str
    form: dict[str, str]
    authorized: bool
    headers: dict[str, str] = field(default_factory=dict)
    at: float = field(default_factory=time.monotonic)  # when it arrived


class FakeTwilio:
    """The server; start it with ``with FakeTwilio() as fake`` or ``start()`` / ``stop()``."""

    def __init__(
        self, account_sid: str = ACCOUNT_SID, auth_token: str = AUTH_TOKEN, latency: float = 0.0
    ) -> None:
        self.account_sid = account_sid
        self.auth_token = auth_token
        self.latency = latency  # applied to every request
        self.requests: list[Recorded] = []
        self.messages: dict[str, dict[str, Any]] = {}
        self._stored: list[dict[str, Any]] = []  # in creation order
        self._by_number: dict[str, Behaviour] = {}
        self._default = Behaviour()
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # --- programming ----------------------------------------------------------------------

    def program(self, behaviour: Behaviour, to: str | None = None) -> None:
        """Answer create requests for ``to`` (or every number when None) with ``behaviour``."""
        with self._lock:
            if to is None:
                self._default = behaviour
            else:
                self._by_number[to] = behaviour

    def reset(self) -> None:
        """Forget programmed behaviour, recorded requests and stored messages."""
        with self._lock:
            self._by_number.clear()
            self._default = Behaviour()
            self.requests.clear()
            self.messages.clear()
            self._stored.clear()
            self.latency = 0.0

    def set_status(self, sid: str, status: str, error_code: int | None = None) -> None:
        """Change a stored message's status (what a later fetch returns)."""
        with self._lock:
            self.messages[sid]["status"] = status
            self.messages[sid]["error_code"] = error_code
            if status in ("sent", "delivered", "undelivered", "failed", "read"):
                now = format_datetime(dt.datetime.now(dt.UTC), usegmt=True)
                self.messages[sid]["date_sent"] = self.messages[sid]["date_sent"] or now

    def created(self) -> list[Recorded]:
        """The create requests received, in order."""
        with self._lock:
            return [r for r in self.requests if r.method == "POST"]

    # --- life -----------------------------------------------------------------------------

    @property
    def url(self) -> str:
        assert self._server is not None, "start the server first"
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> FakeTwilio:
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

    def __enter__(self) -> FakeTwilio:
        return self.start()

    def __exit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    # --- answers --------------------------------------------------------------------------

    def _behaviour(self, to: str) -> Behaviour:
        with self._lock:
            return self._by_number.get(to, self._default)

    def _record(self, rec: Recorded) -> None:
        with self._lock:
            self.requests.append(rec)

    def _authorized(self, header: str | None, account: str) -> bool:
        if not header or not header.startswith("Basic ") or account != self.account_sid:
            return False
        try:
            user, _, password = base64.b64decode(header[6:]).decode().partition(":")
        except (ValueError, UnicodeDecodeError):
            return False
        return secrets.compare_digest(f"{user}:{password}", f"{self.account_sid}:{self.auth_token}")

    def _create(self, form: dict[str, str]) -> tuple[int, Any, tuple[tuple[str, str], ...]]:
        to = form.get("To", "")
        behaviour = self._behaviour(to)
        missing = _missing_field(form)
        created = self._message(form) if behaviour.create and missing is None else None
        if created is not None:
            self._store(created)
        if behaviour.hang:
            self._stopping.wait(60)
            return 0, None, ()
        if behaviour.delay:
            self._stopping.wait(behaviour.delay)
        if behaviour.status != 201 or behaviour.body is not None:
            return behaviour.status, behaviour.body, behaviour.headers
        if missing:
            return 400, Behaviour.error(missing).body, ()
        if created is not None:  # slow: created before the delay; answer with that message
            return 201, created, behaviour.headers
        message = self._message(form)
        self._store(message)
        return 201, message, behaviour.headers

    def _store(self, message: dict[str, Any]) -> None:
        with self._lock:
            self.messages[message["sid"]] = message
            self._stored.append(message)

    def sent_to(self, to: str) -> list[dict[str, Any]]:
        """The messages created for ``to`` (what the recipient's phone would show)."""
        with self._lock:
            return [m for m in self._stored if m["to"] == to]

    def sent_to_all(self) -> list[dict[str, Any]]:
        """Every message created, in order."""
        with self._lock:
            return list(self._stored)

    def list_messages(self, query: dict[str, str]) -> dict[str, Any]:
        """A page of the Messages list, filtered and paged as Twilio does: newest first;
        ``DateSent``/``DateSent>``/``DateSent<`` compare GMT dates (or date-times) with
        ``date_sent`` and skip messages not sent yet; ``PageSize`` (default 50) and ``Page``."""
        size = max(1, min(1000, int(query.get("PageSize") or 50)))
        page = max(0, int(query.get("Page") or 0))
        with self._lock:
            found = [dict(m) for m in reversed(self._stored) if _matches(m, query)]
        chunk = found[page * size : (page + 1) * size]
        base = f"/2010-04-01/Accounts/{self.account_sid}/Messages.json"
        kept = {k: v for k, v in query.items() if k not in ("Page", "PageSize", "PageToken")}

        def uri(p: int) -> str:
            return base + "?" + urlencode({**kept, "PageSize": size, "Page": p})

        more = (page + 1) * size < len(found)
        return {
            "messages": chunk,
            "end": page * size + max(0, len(chunk) - 1),
            "first_page_uri": uri(0),
            "next_page_uri": (uri(page + 1) + f"&PageToken=PA{page + 1}") if more else None,
            "page": page,
            "page_size": size,
            "previous_page_uri": uri(page - 1) if page > 0 else None,
            "start": page * size,
            "uri": uri(page),
        }

    def _message(self, form: dict[str, str]) -> dict[str, Any]:
        sid = "SM" + secrets.token_hex(16)
        now = format_datetime(dt.datetime.now(dt.UTC), usegmt=True)
        uri = f"/2010-04-01/Accounts/{self.account_sid}/Messages/{sid}.json"
        return {
            "account_sid": self.account_sid,
            "api_version": "2010-04-01",
            "body": form.get("Body", ""),
            "date_created": now,
            "date_sent": None,
            "date_updated": now,
            "direction": "outbound-api",
            "error_code": None,
            "error_message": None,
            "from": form.get("From"),
            "messaging_service_sid": form.get("MessagingServiceSid"),
            "num_media": "0",
            "num_segments": str(analyze(form.get("Body", "")).segments),
            "price": None,
            "price_unit": "USD",
            "sid": sid,
            "status": "accepted" if form.get("MessagingServiceSid") else "queued",
            "subresource_uris": {"media": uri.replace(".json", "/Media.json")},
            "to": form.get("To"),
            "uri": uri,
        }


def _when(value: str) -> dt.datetime:
    """A ``DateSent`` filter value: ``YYYY-MM-DD`` or an ISO date-time, in GMT."""
    if len(value) == 10:
        return dt.datetime.fromisoformat(value).replace(tzinfo=dt.UTC)
    return dt.datetime.fromisoformat(value.replace("Z", "+00:00"))


def _matches(message: dict[str, Any], query: dict[str, str]) -> bool:
    if "To" in query and message["to"] != query["To"]:
        return False
    if "From" in query and message["from"] != query["From"]:
        return False
    filters = [(k, query[k]) for k in ("DateSent", "DateSent>", "DateSent<") if k in query]
    if not filters:
        return True
    if not message["date_sent"]:
        return False  # Twilio: a queued message has no date_sent, so no DateSent filter finds it
    sent = parsedate_to_datetime(message["date_sent"])
    for key, value in filters:
        day = _when(value)
        exact = len(value) != 10
        if key == "DateSent" and sent.date() != day.date():
            return False
        if key == "DateSent>" and (sent < day if exact else sent.date() < day.date()):
            return False
        if key == "DateSent<" and (sent > day if exact else sent.date() > day.date()):
            return False
    return True


def _missing_field(form: dict[str, str]) -> int | None:
    if not form.get("To"):
        return 21604
    if not (form.get("From") or form.get("MessagingServiceSid")):
        return 21603
    if not form.get("Body"):
        return 21602
    return None


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 512  # read when listening: a burst of new connections must not be dropped


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as Twilio's API does
    disable_nagle_algorithm = True  # headers and body go out in two writes: no 40 ms stalls
    fake: FakeTwilio

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: tests read ``fake.requests`` instead."""

    def _answer(self, status: int, body: Any, headers: tuple[tuple[str, str], ...] = ()) -> None:
        raw = b"" if body in (None, "") else (body if isinstance(body, str) else json.dumps(body))
        data = raw.encode() if isinstance(raw, str) else raw
        try:
            self.send_response(status)
            if data:
                self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            for name, value in headers:
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            # The client gave up waiting (a "hanging" behaviour): nobody is left to answer.
            self.close_connection = True

    def _form(self) -> dict[str, str]:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length).decode() if length else ""
        return {k: v[-1] for k, v in parse_qs(raw, keep_blank_values=True).items()}

    def do_POST(self) -> None:
        form = self._form()
        if self.fake.latency:
            time.sleep(self.fake.latency)
        match = _CREATE.match(self.path)
        authorized = bool(match) and self.fake._authorized(
            self.headers.get("Authorization"), match["account"] if match else ""
        )
        self.fake._record(Recorded("POST", self.path, form, authorized, dict(self.headers.items())))
        if match is None:
            self._answer(404, Behaviour.error(20404, 404, "Not Found").body)
        elif not authorized:
            self._answer(401, Behaviour.error(20003, 401).body)
        else:
            status, body, headers = self.fake._create(form)
            if status == 0:  # hung: drop the connection without an answer
                self.close_connection = True
                return
            self._answer(status, body, headers)

    def do_GET(self) -> None:
        if self.fake.latency:
            time.sleep(self.fake.latency)
        path, _, raw_query = self.path.partition("?")
        query = {k: v[-1] for k, v in parse_qs(raw_query, keep_blank_values=True).items()}
        match = _FETCH.match(path) or _LIST.match(path)
        authorized = bool(match) and self.fake._authorized(
            self.headers.get("Authorization"), match["account"] if match else ""
        )
        self.fake._record(Recorded("GET", path, query, authorized, dict(self.headers.items())))
        if match is None:
            self._answer(404, Behaviour.error(20404, 404, "Not Found").body)
        elif not authorized:
            self._answer(401, Behaviour.error(20003, 401).body)
        elif "sid" not in match.groupdict():
            self._answer(200, self.fake.list_messages(query))
        else:
            with self.fake._lock:
                message = self.fake.messages.get(match["sid"])
            if message is None:
                self._answer(
                    404, Behaviour.error(20404, 404, "The requested resource was not found").body
                )
            else:
                self._answer(200, message)
