"""The SMSC that the SMPP tests bind to: ``tests/smsc/smsc.js`` (node-smpp in server mode),
started on free loopback ports and driven through its JSON control port."""

from __future__ import annotations

import json
import shutil
import subprocess
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.servers import free_port, wait_for_port

SCRIPT = Path(__file__).resolve().parent.parent / "smsc" / "smsc.js"


class FakeSMSC:
    """A running SMSC: ``program`` it, ``send_mo`` as a citizen, read what it saw."""

    system_id = "loa"
    password = "secret"
    host = "127.0.0.1"

    def __init__(self) -> None:
        if not (SCRIPT.parent / "node_modules" / "smpp").is_dir():
            raise RuntimeError("tests/smsc/node_modules is missing: run `make smsc`")
        node = shutil.which("node")
        if node is None:
            raise RuntimeError("node not found: apt-get install nodejs npm")
        self.port, self.control = free_port(), free_port()
        self.proc = subprocess.Popen(
            [node, str(SCRIPT), "--port", str(self.port), "--control-port", str(self.control),
             "--system-id", self.system_id, "--password", self.password],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        wait_for_port(self.control, proc=self.proc)
        wait_for_port(self.port, proc=self.proc)

    def _call(self, path: str, body: dict[str, Any] | None = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(
            f"http://127.0.0.1:{self.control}{path}",
            data=data,
            method="GET" if body is None else "POST",
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(req, timeout=10) as resp:  # noqa: S310 (loopback)
            return json.loads(resp.read())

    def program(self, **orders: Any) -> None:
        """Set behaviours: refuse_binds, statuses=[…], hang=n, cut_after=k, delay_ms,
        receipts, receipt_delay_ms, receipt_stat={"84…": "UNDELIV"}, redeliver_after_ms."""
        self._call("/program", orders)

    def submits(self) -> list[dict[str, Any]]:
        """Every submit_sm received, decoded by node-smpp, with the status it was answered."""
        result: list[dict[str, Any]] = self._call("/submits")
        return result

    def accepted(self) -> list[dict[str, Any]]:
        """The submit_sm answered ESME_ROK."""
        return [s for s in self.submits() if s["status"] == 0]

    def binds(self) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = self._call("/binds")
        return result

    def mo(self) -> list[dict[str, Any]]:
        """Every deliver_sm sent to Loa (kind mo or receipt), with each attempt's answer."""
        result: list[dict[str, Any]] = self._call("/mo")
        return result

    def send_mo(self, sender: str, text: str = "", **options: Any) -> int:
        """Send a citizen's message (``parts``, ``udh16``, ``skip_parts``, ``data_coding``,
        ``raw_hex``); returns the number of parts."""
        parts: int = self._call("/mo/send", {"from": sender, "text": text, **options})["parts"]
        return parts

    def raw(self, hex_bytes: str) -> None:
        """Write raw bytes to the bound sessions (a malformed PDU)."""
        self._call("/raw", {"hex": hex_bytes})

    def cut(self) -> None:
        """Drop every connection now."""
        self._call("/cut", {})

    def reset(self) -> None:
        self._call("/reset", {})

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def eventually(check: Callable[[], Any], timeout: float = 10.0, every: float = 0.05) -> Any:
    """Poll ``check`` until it returns something truthy; fail with its last value after
    ``timeout`` seconds (a bound: these tests never wait forever)."""
    deadline = time.monotonic() + timeout
    value = check()
    while not value and time.monotonic() < deadline:
        time.sleep(every)
        value = check()
    assert value, f"not true after {timeout}s: {value!r}"
    return value
