"""Helpers of the web benchmarks (inbound, callbacks, inbox, progress): a database filled at
province scale, gunicorn started as ``make run`` starts it, and a small HTTP load generator.

The load generator is asyncio over raw sockets, one connection per request as the proxy of
docs/operations.md reaches gunicorn (see :func:`form_request`): one process, so it measures Loa
and the bare baseline with the same client.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import os
import random
import resource
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from sqlalchemy import make_url  # noqa: E402

from campaigns.materialise import BATCH_SIZE  # noqa: E402
from tests.servers import free_port, redis_server, wait_for_port  # noqa: E402

BIN = Path(sys.executable).parent
TWILIO_SID = "AC" + "0" * 32
TWILIO_TOKEN = "bench-auth-token"
DISTRICTS = ("ke_sach", "long_phu", "cu_lao_dung", "tran_de", "my_xuyen", "thanh_tri", "nga_nam")
QUEUES = ("police_province", *(f"police_{d}" for d in DISTRICTS), "border_guard", "hotline_111")
BODIES = (
    "Có người lạ dụ dỗ trẻ em ở {d} đi làm việc nhẹ lương cao",
    "Tôi thấy một nhóm người đưa phụ nữ qua biên giới ở {d}",
    "Co nguoi rao ban lao dong sang Campuchia o {d}, xin cong an kiem tra",
    "Tàu cá ở cửa biển {d} chở người lạ mặt, nghi mua bán người",
    "Em gái tôi bị lừa đi xuất khẩu lao động, nhà ở {d}",
)
TIME_FORMAT = "%Y-%m-%d %H:%M:%S.%f"  # how SQLAlchemy's DateTime writes SQLite text


def percentile(values: Sequence[float], p: float) -> float:
    """The ``p``-th percentile (nearest rank) of ``values``; 0.0 when empty."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(1, min(len(ordered), round(p / 100 * len(ordered) + 0.5)))
    return ordered[rank - 1]


# Figures beside a row (latencies, sizes, counts) that the interface's fields leave out: kept
# here by row name for tests and people, and printed to stderr; results.json holds the rows only.
DETAILS: dict[str, dict[str, Any]] = {}


def row(
    name: str,
    value: float,
    unit: str,
    baseline: str,
    baseline_value: float,
    ratio: float,
    target: str,
    passed: bool,
    **details: Any,
) -> dict[str, Any]:
    """One result with exactly the interface's fields (``bench/run.py``); ``details`` go to
    :data:`DETAILS` and stderr."""
    if details:
        DETAILS[name] = details
        print(json.dumps({"details": name, **details}, ensure_ascii=False), file=sys.stderr)
    return {
        "name": name,
        "value": round(value, 3),
        "unit": unit,
        "baseline": baseline,
        "baseline_value": round(baseline_value, 3),
        "ratio": round(ratio, 3),
        "target": target,
        "pass": bool(passed),
    }


def children_peak_rss_mb() -> float:
    """The peak RSS of the largest child process that has ended, in MB."""
    return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024


# --- the database -------------------------------------------------------------------------


@dataclass
class Site:
    """A Loa installation for one benchmark: its environment and its database."""

    root: Path
    env: dict[str, str] = field(default_factory=dict)

    @property
    def url(self) -> str:
        """The SQLAlchemy URL of its database (SQLite, or the PostgreSQL it was given)."""
        return self.env["LOA_DATABASE_URL"]

    @property
    def db_path(self) -> Path:
        """Its SQLite file (the benchmarks that fill a database with ``sqlite3``)."""
        return self.root / "loa.db"

    def loa(self, *args: str) -> str:
        out = subprocess.run(
            [str(BIN / "loa"), *args], env=self.env, cwd=ROOT, check=True, capture_output=True
        )
        return out.stdout.decode()


@contextlib.contextmanager
def site(root: Path, port: int, url: str | None = None) -> Iterator[Site]:
    """A migrated database (SQLite in ``root``, or the PostgreSQL at ``url``, emptied first), a
    Redis and the settings of a Twilio install on ``port``."""
    if url:
        _empty_postgresql(url)
    with redis_server() as redis_url:
        env = {
            **os.environ,
            "LOA_ENV": "development",
            "LOA_DATABASE_URL": url or f"sqlite:///{root / 'loa.db'}",
            "LOA_REDIS_URL": redis_url,
            "LOA_VAR_DIR": str(root / "var"),
            "LOA_SECRET_KEY": "bench-secret-key-not-for-production",
            "LOA_PUBLIC_BASE_URL": f"http://127.0.0.1:{port}",
            "LOA_PROVIDER": "twilio",
            "LOA_TWILIO_ACCOUNT_SID": TWILIO_SID,
            "LOA_TWILIO_AUTH_TOKEN": TWILIO_TOKEN,
            "LOA_TWILIO_FROM": "LOA",
            "LOA_TWILIO_API_BASE_URL": "http://127.0.0.1:9",
        }
        s = Site(root, env)
        s.loa("db", "upgrade")
        yield s


def postgresql_url() -> str | None:
    """``LOA_DATABASE_URL`` when it names a PostgreSQL (``bench.run --postgresql``), else None."""
    url = os.environ.get("LOA_DATABASE_URL", "")
    return url if url.startswith("postgres") else None


@contextlib.contextmanager
def driver_connection(url: str, autocommit: bool = False) -> Iterator[Any]:
    """The driver's own connection (``sqlite3`` or psycopg) to ``url``, opened as Loa's engine
    opens it (``campaigns.db.make_engine``); ``autocommit`` on PostgreSQL for statements that
    run outside a transaction."""
    from sqlalchemy import pool

    from campaigns.db import make_engine

    engine = make_engine(url, poolclass=pool.NullPool)
    raw = engine.raw_connection()
    try:
        con = raw.driver_connection
        if autocommit and engine.dialect.name == "postgresql":
            con.autocommit = True
        yield con
    finally:
        raw.close()
        engine.dispose()


def _empty_postgresql(url: str) -> None:
    """Drop everything in the database's public schema (its extensions too), for a fresh
    ``loa db upgrade``."""
    with driver_connection(url, autocommit=True) as con:
        con.execute("DROP SCHEMA public CASCADE")
        con.execute("CREATE SCHEMA public")


@contextlib.contextmanager
def environment(env: dict[str, str]) -> Iterator[None]:
    """``env`` as this process's environment while inside (a Loa app reads its settings there)."""
    saved = dict(os.environ)
    os.environ.update(env)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


def phone(n: int) -> str:
    """A distinct valid Vietnamese mobile number for ``n`` < 10,000,000."""
    return f"+849{n % 10}{n // 10:07d}"[:12]


def _fast(db_path: Path) -> sqlite3.Connection:
    """A connection for bulk loading: no fsync per commit, a large page cache."""
    con = sqlite3.connect(db_path)
    con.execute("PRAGMA synchronous=OFF")
    con.execute("PRAGMA cache_size=-400000")
    return con


def _when(base: dt.datetime, seconds: float) -> str:
    return (base + dt.timedelta(seconds=seconds)).strftime(TIME_FORMAT)


def _new_campaign(db_path: Path, recipients: int) -> int:
    import gateway.models  # noqa: F401  (registers every table)
    from campaigns.db import make_engine, make_sessionmaker, utcnow
    from campaigns.models import Campaign

    engine = make_engine(f"sqlite:///{db_path}")
    with make_sessionmaker(engine)() as s:
        campaign = Campaign(
            name="Bench",
            body="Toàn dân tích cực tham gia phòng, chống mua bán người",
            status="running",
            provider="twilio",
            encoding="UCS-2",
            segments_per_message=4,
            audience_size=recipients,
            launched_at=utcnow(),
        )
        s.add(campaign)
        s.commit()
        cid = campaign.id
    engine.dispose()
    return cid


def fill_campaign(db_path: Path, recipients: int, status: str = "sent") -> int:
    """A launched campaign with ``recipients`` deliveries (mostly ``status``); returns its id."""
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    cid = _new_campaign(db_path, recipients)
    con = _fast(db_path)
    with con:
        times = [_when(now, -k) for k in range(0, 86_400, 7)]
        statuses = [status] * 6 + ["pending", "delivered", "failed", "skipped"]
        rows = (
            (
                cid,
                phone(i),
                st := statuses[i % len(statuses)],
                "opted_out" if st == "skipped" else None,
                i // BATCH_SIZE,
                4,
                times[i % len(times)] if st in ("sent", "delivered", "failed") else None,
                f"SM{cid:08d}{i:024d}" if st in ("sent", "delivered", "failed") else None,
            )
            for i in range(recipients)
        )
        con.executemany(
            "INSERT INTO deliveries (campaign_id, phone, status, skip_reason, batch_no, segments,"
            " attempts, sent_at, provider_message_id) VALUES (?, ?, ?, ?, ?, ?, 1, ?, ?)",
            rows,
        )
    con.close()
    return cid


TIP_COLUMNS = (
    "channel, provider, provider_message_id, sender, body, body_folded, received_at, queue,"
    " priority, status, shared_with, matched_rules, updated_at, escalation_level, notified_at"
)


def fill_tips(url: str, count: int, seed: int = 11) -> None:
    """``count`` tips over the last year, spread over the queues, a third shared, in the database
    at ``url`` (SQLite by ``executemany``, PostgreSQL by ``COPY``, then ``VACUUM ANALYZE``)."""
    from campaigns.text import fold

    rnd = random.Random(seed)
    folded: dict[str, str] = {}
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    year = 365 * 86_400

    def tips() -> Iterator[tuple[Any, ...]]:
        for i in range(count):
            district = rnd.choice(DISTRICTS)
            body = rnd.choice(BODIES).format(d=district.replace("_", " ").title())
            queue = rnd.choice(QUEUES)
            shared = [q for q in QUEUES if q != queue and rnd.random() < 0.05]
            age = year * (1 - i / max(count, 1))
            when = _when(now, -age)
            yield (
                "sms",
                "twilio",
                f"SMbench{i:026d}",
                phone(5_000_000 + i),
                body,
                folded.get(body) or folded.setdefault(body, fold(body)),
                when,
                queue,
                "urgent" if rnd.random() < 0.1 else "normal",
                "closed" if age > 30 * 86_400 else rnd.choice(("new", "acknowledged")),
                json.dumps(shared),
                "[]",
                when,
                0,
                when,
            )

    if url.startswith("postgres"):
        with driver_connection(url) as pg:
            with pg.cursor().copy(f"COPY tips ({TIP_COLUMNS}) FROM STDIN") as copy:
                for tip in tips():
                    copy.write_row(tip)
            pg.commit()
            # As autovacuum leaves a table some time after a bulk load: statistics, and the
            # visibility map that index-only scans need.
            pg.autocommit = True
            pg.execute("VACUUM ANALYZE tips")
        return
    con = _fast(Path(str(make_url(url).database)))
    with con:
        insert = f"INSERT INTO tips ({TIP_COLUMNS}) VALUES ({', '.join('?' * 15)})"  # noqa: S608
        con.executemany(insert, tips())
    con.close()


# --- gunicorn as `make run` starts it --------------------------------------------------------

GUNICORN_FLAGS = (
    "--workers",
    "2",
    "--threads",
    "1",
    "--timeout",
    "600",
    "--access-logformat",
    '%(h)s %(t)s "%(m)s %(U)s" %(s)s %(b)s %(M)sms',
)


@contextlib.contextmanager
def gunicorn(app: str, env: dict[str, str], port: int, log: Path) -> Iterator[str]:
    """``app`` under gunicorn with the flags of scripts/run.sh; yields its base URL."""
    with log.open("ab") as out:
        proc = subprocess.Popen(
            [
                str(BIN / "gunicorn"),
                "--bind",
                f"127.0.0.1:{port}",
                *GUNICORN_FLAGS,
                "--access-logfile",
                str(log.with_suffix(".access.log")),
                "--error-logfile",
                "-",
                app,
            ],
            env=env,
            cwd=ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_for_port(port, proc=proc, timeout=60)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(timeout=30)


# --- the load generator -----------------------------------------------------------------------


@dataclass
class Load:
    """What a load run saw: each answer's status and latency (s), and the run's length (s)."""

    statuses: list[int]
    latencies: list[float]
    seconds: float

    @property
    def rate(self) -> float:
        return len(self.statuses) / self.seconds if self.seconds else 0.0

    def ms(self, p: float) -> float:
        return percentile(self.latencies, p) * 1000


def form_request(path: str, form: dict[str, str], headers: dict[str, str]) -> bytes:
    """A raw HTTP/1.1 POST of a urlencoded form, on a connection of its own (``Connection:
    close``), as nginx reaches gunicorn without upstream keep-alive (docs/operations.md).

    With keep-alive, gunicorn's gthread worker that wakes first accepts every connection of a
    burst: in four runs of six on 2 cores, all 16 of the load's connections went to one of the
    two processes, and the bare endpoint read 1,700 req/s instead of 5,300 (6 December 2026).
    Loa's figure flipped the same way, so each ratio was a coin flip of two coin flips.
    """
    from urllib.parse import urlencode

    body = urlencode(form).encode()
    head = [
        f"POST {path} HTTP/1.1",
        "Host: 127.0.0.1",
        "Content-Type: application/x-www-form-urlencoded",
        f"Content-Length: {len(body)}",
        "Connection: close",
        *(f"{k}: {v}" for k, v in headers.items()),
    ]
    return ("\r\n".join(head) + "\r\n\r\n").encode() + body


async def _exchange(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, raw: bytes
) -> tuple[int, bool]:
    writer.write(raw)
    await writer.drain()
    status_line = await reader.readline()
    if not status_line:
        raise ConnectionError("closed")
    length, keep = 0, True
    while (line := await reader.readline()) not in (b"\r\n", b""):
        name, _, value = line.decode("latin-1").partition(":")
        if name.lower() == "content-length":
            length = int(value)
        elif name.lower() == "connection" and value.strip().lower() == "close":
            keep = False
    if length:
        await reader.readexactly(length)
    return int(status_line.split()[1]), keep


async def _run(port: int, requests: Sequence[bytes], concurrency: int, rate: float | None) -> Load:
    queue = iter(range(len(requests)))
    statuses: list[int] = []
    latencies: list[float] = []
    start = time.perf_counter()

    async def worker() -> None:
        conn: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None
        for i in queue:
            if rate:  # open loop: request i is due at start + i / rate
                delay = start + i / rate - time.perf_counter()
                if delay > 0:
                    await asyncio.sleep(delay)
            due = start + i / rate if rate else time.perf_counter()
            for _attempt in range(3):
                try:
                    if conn is None:
                        conn = await asyncio.open_connection("127.0.0.1", port)
                    code, keep = await _exchange(*conn, requests[i])
                    break
                except (ConnectionError, asyncio.IncompleteReadError):
                    if conn is not None:
                        conn[1].close()
                    conn = None
            else:
                code, keep = 599, False
            latencies.append(time.perf_counter() - max(due, start))
            statuses.append(code)
            if not keep and conn is not None:
                conn[1].close()
                conn = None
        if conn is not None:
            conn[1].close()

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return Load(statuses, latencies, time.perf_counter() - start)


def load(
    port: int, requests: Sequence[bytes], concurrency: int = 16, rate: float | None = None
) -> Load:
    """Send ``requests`` with ``concurrency`` keep-alive connections, closed loop (as fast as
    answers come) or open loop at ``rate`` requests/s (latency counted from when each was due)."""
    return asyncio.run(_run(port, requests, concurrency, rate))


def twilio_signature(url: str, form: dict[str, str]) -> str:
    """The X-Twilio-Signature Twilio would send for ``form`` posted to ``url``."""
    from twilio.request_validator import RequestValidator

    return str(RequestValidator(TWILIO_TOKEN).compute_signature(url, form))


def free() -> int:
    """A free TCP port on 127.0.0.1."""
    return free_port()


# --- timing pages in process ------------------------------------------------------------------


def timed(get: Callable[[], Any], repeat: int) -> list[float]:
    """Seconds of each of ``repeat`` calls of ``get`` (after one warm-up); each must answer 200."""
    get()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        resp = get()
        times.append(time.perf_counter() - start)
        if resp.status_code != 200:
            raise RuntimeError(f"HTTP {resp.status_code}")
    return times


BARE_ROUTE = "bare Flask route: indexed SELECT … LIMIT 50"


def page_row(
    name: str,
    get: Callable[[], Any],
    bare: Any,
    repeat: int,
    target: str,
    limit_ms: float,
    max_ratio: float | None = None,
    **details: Any,
) -> dict[str, Any]:
    """The result row of one page: the p95 of ``repeat`` calls of ``get`` against the p95 of the
    bare route (``bare``, a :func:`bare_select_client`) timed just before it; it passes under
    ``limit_ms`` (and ``max_ratio`` times the bare route, when given)."""
    base = percentile(timed(lambda: bare.get("/"), repeat), 95) * 1000
    p95 = percentile(timed(get, repeat), 95) * 1000
    ratio = p95 / base if base else 0.0
    passed = p95 <= limit_ms and (max_ratio is None or ratio <= max_ratio)
    return row(name, p95, "ms p95", BARE_ROUTE, base, ratio, target, passed, **details)


@contextlib.contextmanager
def bare_select_client(url: str, sql: str) -> Iterator[Any]:
    """A test client of a bare Flask app whose one route runs ``sql`` on the database at
    ``url`` (SQLite or PostgreSQL) and answers its rows; its connection closes on exit."""
    from flask import Flask, jsonify

    bare = Flask("bare")
    with driver_connection(url, autocommit=True) as con:

        @bare.get("/")
        def page() -> Any:
            return jsonify([list(r) for r in con.execute(sql).fetchall()])

        yield bare.test_client()


def signed_in(app: Any, role: str, scope: str | None = None) -> Any:
    """A test client of ``app`` with the session of a new user of ``role`` and ``scope`` (the
    server-side session row is written directly: argon2 and TOTP are not what is measured)."""
    import hashlib

    from gateway import db
    from gateway.auth import create_user
    from gateway.models import UserSession

    user, _ = create_user(f"{role}-{scope}@bench.test", role, password=None, scope=scope)
    token = f"bench-session-{user.id}"
    s = db.session()
    s.add(UserSession(id=hashlib.sha256(token.encode()).hexdigest(), user_id=user.id))
    s.commit()
    client = app.test_client()
    with client.session_transaction() as sess:
        sess["_user_id"] = str(user.id)
        sess["_fresh"] = True
        sess["sid"] = token
    return client


# --- Loa and the bare webhook app side by side ------------------------------------------------


@dataclass
class Pair:
    """Loa and the bare baseline, each under gunicorn as ``make run`` starts it."""

    loa_port: int
    bare_port: int

    def signed(self, path: str, form: dict[str, str]) -> bytes:
        """A request to Loa, signed as Twilio signs it for Loa's public URL."""
        url = f"http://127.0.0.1:{self.loa_port}{path}"
        return form_request(path, form, {"X-Twilio-Signature": twilio_signature(url, form)})


@contextlib.contextmanager
def loa_and_bare(site_: Site) -> Iterator[Pair]:
    """Loa (``wsgi:app``) and ``bench.bare_webhook:app``, each on its own free port."""
    loa_port = int(site_.env["LOA_PUBLIC_BASE_URL"].rsplit(":", 1)[1])
    bare_port = free_port()
    log = site_.root / "gunicorn.log"
    with (
        gunicorn("wsgi:app", site_.env, loa_port, log),
        gunicorn("bench.bare_webhook:app", site_.env, bare_port, log),
    ):
        yield Pair(loa_port, bare_port)
