"""Fixtures: real Redis and a real database (SQLite, or PostgreSQL with ``--db=postgresql``).

``app``, ``client``, ``session`` and ``rq_worker`` follow flaskr's and RQ's shapes. A guard refuses
any connection that would leave this machine.
"""

from __future__ import annotations

import ipaddress
import os
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import settings as hypothesis_settings
from redis import Redis
from sqlalchemy import Engine, event, text
from sqlalchemy.orm import Session

import gateway.models  # noqa: F401  (registers every table)
from campaigns.db import Base, make_engine, make_sessionmaker
from gateway import create_app
from gateway.settings import Settings
from gateway.tips import routing_version
from tests import servers

# --- no test may reach the internet ---------------------------------------------------------

_real_connect = socket.socket.connect
_real_connect_ex = socket.socket.connect_ex


def _local(address: Any) -> bool:
    if isinstance(address, (str, bytes)):  # a Unix socket path
        return True
    host = address[0]
    if host in ("localhost", "") or str(host).endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _guarded_connect(sock: socket.socket, address: Any) -> Any:
    if not _local(address):
        raise ConnectionRefusedError(f"tests may not connect to {address!r}: only loopback")
    return _real_connect(sock, address)


def _guarded_connect_ex(sock: socket.socket, address: Any) -> Any:
    if not _local(address):
        raise ConnectionRefusedError(f"tests may not connect to {address!r}: only loopback")
    return _real_connect_ex(sock, address)


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--db", default="sqlite", choices=("sqlite", "postgresql"), help="database to test on"
    )


def pytest_configure(config: pytest.Config) -> None:
    socket.socket.connect = _guarded_connect  # type: ignore[method-assign]
    socket.socket.connect_ex = _guarded_connect_ex  # type: ignore[method-assign]
    _require_audit_labels()


def _require_audit_labels() -> None:
    """Every audit event a test makes must have words for its action and object: the audit log
    shows them to people (a new action without a label fails the test that first records it)."""
    from gateway import audit, labels

    record = audit.record

    def labelled_record(action: str, *args: Any, **kwargs: Any) -> Any:
        assert action in labels.AUDIT_ACTION_LABELS, f"no label for audit action {action!r}"
        kind = kwargs.get("object_type") or (args[1] if len(args) > 1 else None)
        assert kind is None or kind in labels.AUDIT_OBJECT_LABELS, f"no label for {kind!r}"
        return record(action, *args, **kwargs)

    audit.record = labelled_record  # type: ignore[assignment]


# --- servers and connections ----------------------------------------------------------------


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    with servers.redis_server() as url:
        yield url


@pytest.fixture(scope="session")
def database_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    if request.config.getoption("--db") == "postgresql":
        with servers.postgres_server() as url:
            yield url
    else:
        yield f"sqlite:///{tmp_path_factory.mktemp('db') / 'loa.db'}"


@pytest.fixture(scope="session")
def engine(database_url: str) -> Iterator[Engine]:
    eng = make_engine(database_url)
    Base.metadata.create_all(eng)
    yield eng
    eng.dispose()


def _wipe(eng: Engine) -> None:
    tables = [t.name for t in reversed(Base.metadata.sorted_tables)]
    with eng.begin() as conn:
        if eng.dialect.name == "postgresql":
            conn.execute(text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))
        else:
            for name in tables:
                conn.execute(text(f"DELETE FROM {name}"))
            if conn.execute(
                text("SELECT name FROM sqlite_master WHERE name='sqlite_sequence'")
            ).first():
                conn.execute(text("DELETE FROM sqlite_sequence"))
        routing_version.seed(conn)  # as a migrated database has it


@pytest.fixture
def db_engine(engine: Engine) -> Iterator[Engine]:
    """The test database, emptied before each test."""
    _wipe(engine)
    yield engine


@pytest.fixture
def redis_conn(redis_url: str) -> Iterator[Redis]:
    """A client on the test Redis, flushed before and after each test."""
    r = Redis.from_url(redis_url)
    r.flushdb()
    yield r
    r.flushdb()
    r.close()


@pytest.fixture
def settings(database_url: str, redis_url: str, tmp_path: Path) -> Settings:
    return Settings(
        env="test",
        database_url=database_url,
        redis_url=redis_url,
        var_dir=tmp_path / "var",
        secret_key="test-secret-key-not-for-production",  # type: ignore[arg-type]
        public_base_url="http://loa.test",
        # The sender's limit: high, so that the campaigns' own rates (up to 10,000/s) pace tests.
        rate_per_second=10_000.0,
    )


@pytest.fixture
def app(settings: Settings, db_engine: Engine, redis_conn: Redis) -> Iterator[Any]:
    """The app on the test database and Redis (CSRF off; tests/integration/test_csrf turns it on)."""
    from workers import runtime

    application = create_app(settings, TESTING=True, WTF_CSRF_ENABLED=False)
    runtime.configure(settings)
    with application.app_context():
        yield application
    runtime.reset()
    application.extensions["loa.engine"].dispose()


@pytest.fixture
def client(app: Any) -> Any:
    return app.test_client()


@pytest.fixture
def runner(app: Any) -> Any:
    return app.test_cli_runner()


@pytest.fixture
def session(app: Any) -> Session:
    """The app context's session (the same one views use within a request)."""
    from gateway import db

    return db.session()


@pytest.fixture
def statements(session: Session) -> Iterator[list[tuple[str, Any]]]:
    """Every SQL statement the session's engine runs meanwhile, with its parameters."""
    seen: list[tuple[str, Any]] = []
    eng = session.get_bind()
    assert isinstance(eng, Engine)

    def record(_conn: Any, _cursor: Any, sql: str, params: Any, *_a: Any) -> None:
        seen.append((sql, params))

    event.listen(eng, "before_cursor_execute", record)
    yield seen
    event.remove(eng, "before_cursor_execute", record)


@pytest.fixture
def new_session(db_engine: Engine) -> Iterator[Session]:
    """An independent session, as a worker process would have."""
    s = make_sessionmaker(db_engine)()
    yield s
    s.close()


class Auth:
    """Log a test client in as a user of a role (flaskr's ``auth`` fixture)."""

    def __init__(self, client: Any) -> None:
        self.client = client

    def login(self, role: str = "admin", scope: str | None = None, email: str | None = None) -> Any:
        from tests.factories import create_user, log_in

        user = create_user(role=role, scope=scope, email=email, password="pw-for-tests")
        resp = log_in(self.client, user, "pw-for-tests")
        assert resp.status_code == 302, resp.data
        return user

    def logout(self) -> Any:
        return self.client.post("/logout")


@pytest.fixture
def auth(client: Any) -> Auth:
    return Auth(client)


@pytest.fixture
def login_as(client: Any) -> Any:
    """Log the client in as a new user of ``role``/``scope`` through the session, skipping the
    password round trip (argon2 costs ~0.5 s by design); tests of the login form use ``auth``."""
    import itertools

    from gateway import db
    from gateway.models import User
    from tests.factories import sign_in

    seq = itertools.count(1)

    def login(role: str = "admin", scope: str | None = None, **kw: Any) -> User:
        n = next(seq)
        kw.setdefault("name", f"{role} {n}")
        user = User(email=f"{role}-{n}@fast.test", role=role, scope=scope, password_hash="-", **kw)
        s = db.session()
        s.add(user)
        s.commit()
        sign_in(client, user.id)
        return user

    return login


@pytest.fixture
def rq_worker(app: Any, redis_conn: Redis) -> Any:
    """Run every queued job in this process, ``replies`` first (``run()`` returns when empty)."""
    from rq import SimpleWorker

    from gateway import queues

    class Runner:
        def run(self) -> bool:
            worker = SimpleWorker(
                [queues.queue(q, redis_conn) for q in queues.ALL],
                connection=redis_conn,
                serializer=queues.SERIALIZER,
            )
            return bool(worker.work(burst=True, with_scheduler=False))

    return Runner()


# --- a local Twilio-compatible server (tests/fakes/twilio_server.py) ------------------------


@pytest.fixture(scope="session")
def _fake_twilio_server() -> Iterator[Any]:
    from tests.fakes.twilio_server import FakeTwilio

    with FakeTwilio() as fake:
        yield fake


@pytest.fixture
def fake_twilio(_fake_twilio_server: Any) -> Any:
    """The fake Twilio server, reset (no programmed behaviour, no recorded requests)."""
    _fake_twilio_server.reset()
    return _fake_twilio_server


def as_twilio(settings: Settings, fake_twilio: Any, **update: Any) -> Settings:
    """``settings`` with provider="twilio" pointed at ``fake_twilio``, and ``update`` on top."""
    from pydantic import SecretStr

    return settings.model_copy(
        update={
            "provider": "twilio",
            "twilio_account_sid": fake_twilio.account_sid,
            "twilio_auth_token": SecretStr(fake_twilio.auth_token),
            "twilio_from": "LOA-SOCTRANG",
            "twilio_api_base_url": fake_twilio.url,
            **update,
        }
    )


@pytest.fixture
def twilio_settings(settings: Settings, fake_twilio: Any) -> Settings:
    """``settings`` with provider="twilio" pointed at ``fake_twilio``."""
    return as_twilio(settings, fake_twilio)


# --- an SMSC (tests/smsc/smsc.js, node-smpp) and Loa's SMPP link bound to it -----------------


@pytest.fixture(scope="session")
def _fake_smsc_server() -> Iterator[Any]:
    from tests.fakes.smsc import FakeSMSC

    fake = FakeSMSC()
    yield fake
    fake.stop()


@pytest.fixture
def fake_smsc(_fake_smsc_server: Any) -> Any:
    """The SMSC, reset: no connection, no programmed behaviour, nothing recorded."""
    _fake_smsc_server.reset()
    return _fake_smsc_server


@pytest.fixture
def smpp_settings(settings: Settings, fake_smsc: Any) -> Settings:
    """``settings`` with provider="smpp" pointed at ``fake_smsc``, with short timeouts."""
    from pydantic import SecretStr

    return settings.model_copy(
        update={
            "provider": "smpp",
            "smpp_host": fake_smsc.host,
            "smpp_port": fake_smsc.port,
            "smpp_system_id": fake_smsc.system_id,
            "smpp_password": SecretStr(fake_smsc.password),
            "smpp_source_addr": "8079",
            "smpp_submit_timeout_seconds": 3.0,
            "smpp_rate_per_second": 1000.0,
            "smpp_window": 10,
        }
    )


@pytest.fixture
def smpp_link(smpp_settings: Settings, db_engine: Engine, redis_conn: Redis) -> Iterator[Any]:
    """Start Loa's SMPP link (``loa smpp``'s loop) in a thread; ``start(**settings)`` runs it
    with changed settings. Stopped (unbound) at the end."""
    import threading

    from campaigns.db import make_sessionmaker
    from gateway.smpp_link import Link

    running: list[tuple[Any, threading.Event, threading.Thread]] = []

    def start(mode: str = "transceiver", **changes: Any) -> Any:
        link = Link(
            smpp_settings.model_copy(update=changes),
            mode,
            redis=redis_conn,
            session_factory=make_sessionmaker(db_engine),
        )
        stop = threading.Event()
        thread = threading.Thread(target=link.run, args=(stop,), daemon=True)
        thread.start()
        running.append((link, stop, thread))
        return link

    yield start
    for _link, stop, thread in running:
        stop.set()
        thread.join(10)


# --- a local SMS aggregator built from a profile (tests/fakes/aggregator_server.py) ----------


@pytest.fixture(scope="session")
def _fake_aggregator_server() -> Iterator[Any]:
    from tests.fakes.aggregator_server import FakeAggregator

    with FakeAggregator() as fake:
        yield fake


@pytest.fixture
def fake_aggregator(_fake_aggregator_server: Any) -> Any:
    """The fake aggregator (profile tests/fakes/profiles/fake.toml), reset."""
    _fake_aggregator_server.reset()
    return _fake_aggregator_server


@pytest.fixture
def http_settings(settings: Settings, fake_aggregator: Any) -> Settings:
    """``settings`` with provider="http" on the fake profile, pointed at ``fake_aggregator``."""
    from pydantic import SecretStr

    from tests.fakes import aggregator_server as fa

    return settings.model_copy(
        update={
            "provider": "http",
            "http_profile": str(fa.FAKE_PROFILE),
            "http_base_url": fake_aggregator.url,
            "http_api_key": fa.API_KEY,
            "http_secret_key": SecretStr(fa.SECRET_KEY),
            "http_sender": "LOA-SOCTRANG",
            "http_webhook_secret": SecretStr(fa.WEBHOOK_SECRET),
        }
    )


# Hypothesis: "dev" (default) explores with each test's own bounds; "ci" is derandomised, with no
# example database and no deadline, so a loaded CI machine neither flakes nor varies between
# runs. Choose with HYPOTHESIS_PROFILE=ci.
hypothesis_settings.register_profile("dev", deadline=None)
hypothesis_settings.register_profile(
    "ci", deadline=None, derandomize=True, database=None, print_blob=True
)
hypothesis_settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))
