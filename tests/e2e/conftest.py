"""Browser tests: the real app and worker in subprocesses, driven by Debian's Chromium.

Each test session (and each xdist worker) starts its own Loa: gunicorn on a free loopback port,
a fresh SQLite file migrated with ``loa db upgrade`` and seeded with ``loa demo``, and its own
database number on the session Redis (the other tests flush database 0 between tests). The RQ
worker (``loa worker``) starts only for the tests that need jobs to run.

Playwright drives the Chromium that Debian installs (``/usr/bin/chromium``, or ``LOA_CHROMIUM``);
Playwright's own browser downloads are never used. Each test gets fresh browser contexts, which
refuse any request that leaves the server and fail the test on an uncaught page error.
"""

from __future__ import annotations

import os
import re
import secrets
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, Playwright, sync_playwright
from redis import Redis

from tests import servers
from tests.e2e.support import APPROVER, BIN, EDITOR, Contexts, LoaServer, stop, tail

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
START_TIMEOUT = 30.0


def _server_env(redis_url: str, workdir: Path, port: int) -> dict[str, str]:
    # The developer's LOA_* settings (and any .env: the processes run in workdir) stay out.
    env = {k: v for k, v in os.environ.items() if not k.startswith("LOA_")}
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0")
    number = int(re.sub(r"\D", "", worker) or 0)
    parts = urllib.parse.urlsplit(redis_url)
    base_db = int(parts.path.strip("/") or 0)
    redis_db = (base_db + 1 + number) % 16  # never the database the other tests flush
    env.update(
        LOA_ENV="test",
        LOA_DATABASE_URL=f"sqlite:///{workdir / 'loa.db'}",
        LOA_REDIS_URL=urllib.parse.urlunsplit(parts._replace(path=f"/{redis_db}")),
        LOA_VAR_DIR=str(workdir / "var"),
        LOA_SECRET_KEY=secrets.token_hex(32),
        LOA_PUBLIC_BASE_URL=f"http://127.0.0.1:{port}",
        LOA_PROVIDER="simulator",
        LOA_DEFAULT_LOCALE="vi",
        PYTHONPATH=str(ROOT),
    )
    return env


def _wait_healthy(url: str, proc: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"gunicorn exited with {proc.returncode}:\n{tail(log)}")
        try:
            with urllib.request.urlopen(f"{url}/healthz", timeout=2) as resp:  # noqa: S310
                if resp.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.1)
    raise TimeoutError(f"{url}/healthz did not answer in {START_TIMEOUT}s:\n{tail(log)}")


@pytest.fixture(scope="session")
def loa_server(redis_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LoaServer]:
    """Loa under gunicorn on a free port, migrated and seeded with the demo data."""
    workdir = tmp_path_factory.mktemp("e2e")
    port = servers.free_port()
    env = _server_env(redis_url, workdir, port)
    server = LoaServer(url=f"http://127.0.0.1:{port}", env=env, workdir=workdir)
    with Redis.from_url(env["LOA_REDIS_URL"]) as r:  # ours alone; a shared server keeps old keys
        r.flushdb()
    server.loa("db", "upgrade")
    server.loa("demo")
    for line in (workdir / "var" / "demo-credentials.txt").read_text().splitlines():
        fields = line.split()
        if len(fields) >= 3 and "@" in fields[0]:
            server.passwords[fields[0]] = fields[1]
    log = workdir / "web.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [
                str(BIN / "gunicorn"),
                "--bind",
                f"127.0.0.1:{port}",
                "--workers",
                "1",
                "--threads",
                "4",
                "--graceful-timeout",
                "3",
                "--access-logfile",
                "-",
                "wsgi:app",
            ],
            env=env,
            cwd=workdir,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        server.prefetch_tokens(EDITOR, APPROVER)  # while gunicorn boots
        _wait_healthy(server.url, proc, log)
        yield server
    finally:
        stop(proc)


@pytest.fixture(autouse=True)
def _tip_form_limit_reset(request: pytest.FixtureRequest) -> None:
    """Each test starts with the public form's per-client counters at zero: every browser here
    is 127.0.0.1, and the form makes a sixth tip in ten minutes wait (gateway.public_form)."""
    if "loa_server" not in request.fixturenames:
        return
    server: LoaServer = request.getfixturevalue("loa_server")
    with Redis.from_url(server.env["LOA_REDIS_URL"]) as r:
        keys = list(r.scan_iter("loa:tipform:*"))
        if keys:
            r.delete(*keys)


@pytest.fixture(scope="session")
def loa_worker(loa_server: LoaServer) -> Iterator[None]:
    """One ``loa worker`` (every queue, with the scheduler) on the server's database and Redis."""
    log = loa_server.workdir / "worker.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [str(BIN / "loa"), "worker"],
            env=loa_server.env,
            cwd=loa_server.workdir,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        time.sleep(0.2)
        if proc.poll() is not None:
            raise RuntimeError(f"loa worker exited with {proc.returncode}:\n{tail(log)}")
        yield
    finally:
        stop(proc)


# --- the browser --------------------------------------------------------------------------


@pytest.fixture(scope="session")
def chromium_path() -> str:
    path = os.environ.get("LOA_CHROMIUM", "/usr/bin/chromium")
    if not (os.path.isfile(path) and os.access(path, os.X_OK)):
        pytest.fail(
            f"Chromium not found at {path}: the browser tests need Debian's chromium. "
            "`make test` installs it (scripts/ensure-services.sh --chromium, as root), "
            "or run `sudo apt-get install chromium`, or point LOA_CHROMIUM at a Chromium binary.",
            pytrace=False,
        )
    return path


@pytest.fixture(scope="session")
def playwright() -> Iterator[Playwright]:
    pw = sync_playwright().start()
    yield pw
    pw.stop()


@pytest.fixture(scope="session")
def browser(playwright: Playwright, chromium_path: str) -> Iterator[Browser]:
    """Headless Debian Chromium (never a downloaded one)."""
    b = playwright.chromium.launch(executable_path=chromium_path, headless=True, args=CHROMIUM_ARGS)
    yield b
    b.close()


@pytest.fixture
def contexts(browser: Browser, loa_server: LoaServer) -> Iterator[Contexts]:
    ctx = Contexts(browser, loa_server)
    yield ctx
    ctx.close()
    assert not ctx.outside, f"pages tried to reach outside the server: {ctx.outside}"
    assert not ctx.errors, f"uncaught errors in the pages: {ctx.errors}"


@pytest.fixture
def page(contexts: Contexts) -> Page:
    """A page in a fresh context (not logged in)."""
    return contexts.new_page()


@pytest.fixture
def login(loa_server: LoaServer) -> Callable[[Page, str], None]:
    """Log a page in as a demo user through the login form."""

    def do(page: Page, email: str) -> None:
        page.goto("/login")
        page.fill("input[name=email]", email)
        page.fill("input[name=password]", loa_server.passwords[email])
        page.click("main form button[type=submit]")
        page.wait_for_load_state()
        if page.url.endswith("/login/enrol"):  # a tip role's first login: scan the key
            key = page.locator(".totp-key").inner_text()
            loa_server.totp[email] = key.replace(" ", "")
            page.fill("input[name=code]", loa_server.code(email))
            page.click("main form button[type=submit]")
            page.click("main a.button")  # "I have kept the recovery codes"
        elif page.url.endswith("/login/code"):
            page.fill("input[name=code]", loa_server.code(email))
            page.click("main form button[type=submit]")
        page.wait_for_url(f"{loa_server.url}/")

    return do
