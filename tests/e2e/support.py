"""What the browser tests share: the running server, browser contexts, the campaign API."""

from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyotp
from playwright.sync_api import Browser, BrowserContext, Page, Route

BIN = Path(sys.executable).parent  # the venv running pytest holds gunicorn and loa
EDITOR = "editor@loa.local"
APPROVER = "approver@loa.local"


def unique_tag() -> str:
    """Six random digits that make a test's tip or text its own.

    Digits only: the routing rules read every word of a tip, and SMS shorthand cuts digits from
    letters, so a hex tag such as ``be192f`` holds the word "be" (bé, a small child) and sent one
    tip in a hundred to hotline 111, out of the provincial police's sight.
    """
    return f"{secrets.randbelow(10**6):06d}"


def stop(proc: subprocess.Popen[bytes], timeout: float = 15.0) -> None:
    """Stop a process started in its own session (TERM, then KILL to its whole group)."""
    if proc.poll() is not None:
        return
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)  # the leader and what it forked (RQ's horses)
        proc.wait(timeout)


def tail(path: Path, lines: int = 40) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


@dataclass
class LoaServer:
    """A running Loa: its URL, its environment (for ``loa`` commands) and the demo log-ins."""

    url: str
    env: dict[str, str]
    workdir: Path
    passwords: dict[str, str] = field(default_factory=dict)
    totp: dict[str, str] = field(default_factory=dict)  # email → secret, once enrolled
    _steps: dict[str, int] = field(default_factory=dict)  # email → last time step used

    def code(self, email: str) -> str:
        """A TOTP code for ``email`` not used before: now's, or the next step's (the server
        accepts one step of drift), else wait for a fresh step."""
        totp = pyotp.TOTP(self.totp[email])
        while True:
            now = int(time.time() // 30)
            step = next((s for s in (now, now + 1) if s > self._steps.get(email, 0)), None)
            if step is not None:
                self._steps[email] = step
                return totp.at(step * 30)
            time.sleep(1)

    _tokens: dict[str, str] = field(default_factory=dict)

    def loa(self, *args: str) -> str:
        """Run a ``loa`` command against this server's database; returns its output."""
        done = subprocess.run(
            [str(BIN / "loa"), *args],
            env=self.env,
            cwd=self.workdir,
            capture_output=True,
            text=True,
            timeout=60,
        )
        if done.returncode != 0:
            raise RuntimeError(f"loa {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")
        return done.stdout

    def token(self, email: str) -> str:
        """An API bearer token of a demo user (``loa tokens create``), made once."""
        if email not in self._tokens:
            self._tokens[email] = self.loa("tokens", "create", email).strip().splitlines()[-1]
        return self._tokens[email]

    def prefetch_tokens(self, *emails: str) -> None:
        """Create the tokens of several users at once (each ``loa`` start costs a second)."""
        procs = {
            email: subprocess.Popen(
                [str(BIN / "loa"), "tokens", "create", email],
                env=self.env,
                cwd=self.workdir,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for email in emails
            if email not in self._tokens
        }
        for email, proc in procs.items():
            out, err = proc.communicate(timeout=60)
            if proc.returncode != 0:
                raise RuntimeError(f"loa tokens create {email} failed:\n{out}\n{err}")
            self._tokens[email] = out.strip().splitlines()[-1]

    def api(self, method: str, path: str, email: str, body: Any = None) -> tuple[int, Any]:
        """Call ``/api/v1`` as a demo user; returns (status, decoded JSON)."""
        request = urllib.request.Request(  # noqa: S310 (http://127.0.0.1 only)
            f"{self.url}/api/v1{path}",
            method=method,
            data=None if body is None else json.dumps(body).encode(),
            headers={
                "Authorization": f"Bearer {self.token(email)}",
                "Content-Type": "application/json",
                "Accept": "application/json",
            },
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as resp:  # noqa: S310
                return resp.status, json.loads(resp.read() or b"null")
        except urllib.error.HTTPError as exc:
            with exc:
                return exc.code, json.loads(exc.read() or b"null")

    def call(self, method: str, path: str, email: str, body: Any = None) -> Any:
        """``api`` that expects success (2xx); returns the JSON."""
        status, data = self.api(method, path, email, body)
        assert 200 <= status < 300, f"{method} {path} as {email}: {status} {data}"
        return data


class Contexts:
    """Fresh browser contexts for one test, each a separate person with its own cookies.

    Requests that leave the server are refused and recorded, and so are uncaught page errors
    and Content-Security-Policy violations: the ``contexts`` fixture fails the test on any.
    """

    def __init__(self, browser: Browser, server: LoaServer) -> None:
        self.browser = browser
        self.server = server
        self.opened: list[BrowserContext] = []
        self.outside: list[str] = []
        self.errors: list[str] = []

    def new_page(self, **options: Any) -> Page:
        """A page in a new context; ``options`` go to ``Browser.new_context``."""
        context = self.browser.new_context(base_url=self.server.url, locale="vi-VN", **options)
        self.opened.append(context)
        context.set_default_timeout(15_000)
        context.route(lambda url: not url.startswith(self.server.url + "/"), self._refuse)
        page = context.new_page()
        page.on("pageerror", lambda exc: self.errors.append(f"{page.url}: {exc}"))
        # The CSP allows no inline script or style: a page that needs one is an error too.
        page.on(
            "console",
            lambda msg: (
                self.errors.append(f"{page.url}: {msg.text}")
                if "Content Security Policy" in msg.text
                else None
            ),
        )
        return page

    def _refuse(self, route: Route) -> None:
        self.outside.append(route.request.url)
        route.abort()

    def close(self) -> None:
        for context in self.opened:
            context.close()


# --- campaigns through the API ------------------------------------------------------------


def approved_campaign(server: LoaServer, name: str, body: str, **audience: list[str]) -> int:
    """A campaign created by the editor and approved by the approver, open all day, fast."""
    campaign = server.call(
        "POST",
        "/campaigns",
        EDITOR,
        {
            "name": name,
            "body": body,
            **audience,
            "window": {"start": "00:00", "end": "24:00"},
            "rate_per_second": 1000,
        },
    )
    server.call("POST", f"/campaigns/{campaign['id']}/submit", EDITOR)
    server.call("POST", f"/campaigns/{campaign['id']}/approve", APPROVER)
    return int(campaign["id"])


def launch(server: LoaServer, campaign_id: int) -> None:
    data = server.call("POST", f"/campaigns/{campaign_id}/launch", EDITOR)
    assert data.get("enqueued") is True, data


def wait_completed(server: LoaServer, campaign_id: int, timeout: float = 30.0) -> dict[str, Any]:
    """Poll the API until the campaign is completed; returns it."""
    deadline = time.monotonic() + timeout
    while True:
        data: dict[str, Any] = server.call("GET", f"/campaigns/{campaign_id}", EDITOR)
        if data["status"] == "completed":
            return data
        assert time.monotonic() < deadline, f"campaign {campaign_id} not completed: {data}"
        time.sleep(0.2)
