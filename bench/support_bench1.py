"""Shared pieces of bench1's benchmarks: results, percentiles, peak RSS, a fast Twilio stub.

The stub (``python bench/support_bench1.py stub PORT LATENCY``) is a raw asyncio HTTP/1.1
server answering every ``POST …/Messages.json`` with a fixed 201 Twilio message body (a fresh
``sid`` each), after ``LATENCY`` seconds; it keeps connections alive and counts requests per
second of arrival. ``GET /__stats`` returns ``{"count", "first", "last", "per_second"}`` and
``POST /__reset`` clears them. It runs in its own process, so it never shares a GIL with the
client it serves; its own capacity is measured in the same run (:func:`stub_capacity`).
"""

from __future__ import annotations

import asyncio
import json
import math
import multiprocessing
import os
import resource
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
FIELDS = ("name", "value", "unit", "baseline", "baseline_value", "ratio", "target", "pass")
# The dispatch rate (msg/s) the ``callbacks`` benchmark compares with; ``bench.run`` sets it
# from its own ``dispatch`` run.
DISPATCH_RATE = "LOA_BENCH_DISPATCH_RATE"


def _figure(x: float) -> float:
    """Four significant digits: enough for noisy timings, exact enough for their ratios."""
    return float(f"{x:.4g}")


def result(
    name: str,
    value: float,
    unit: str,
    baseline: str,
    baseline_value: float,
    ratio: float,
    target: str,
    passed: bool,
    peak_rss_mb: float | None = None,
) -> dict[str, Any]:
    """One row of ``bench/results.json`` (the interface every ``bench_<name>.run`` returns)."""
    row: dict[str, Any] = {
        "name": name,
        "value": _figure(value),
        "unit": unit,
        "baseline": baseline,
        "baseline_value": _figure(baseline_value),
        "ratio": _figure(ratio) if math.isfinite(ratio) else None,
        "target": target,
        "pass": bool(passed),
    }
    if peak_rss_mb is not None:
        row["peak_rss_mb"] = round(peak_rss_mb, 1)
    return row


def percentile(values: list[float], p: float) -> float:
    """The ``p``-th percentile (0–100) by linear interpolation; NaN for no values."""
    if not values:
        return math.nan
    ordered = sorted(values)
    k = (len(ordered) - 1) * p / 100
    lo, hi = math.floor(k), math.ceil(k)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


def _child(fn: Callable[..., Any], args: tuple[Any, ...], conn: Any) -> None:
    try:
        out = fn(*args)
        conn.send((out, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, None))
    except BaseException as exc:  # reported to the parent, which raises
        conn.send((None, 0.0, repr(exc)))
    finally:
        conn.close()


def in_child(fn: Callable[..., Any], *args: Any) -> tuple[Any, float]:
    """Run ``fn(*args)`` in a fresh (spawned) process; returns its result and peak RSS in MB."""
    ctx = multiprocessing.get_context("spawn")
    parent, child = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=_child, args=(fn, args, child))
    proc.start()
    child.close()
    out, rss, error = parent.recv()
    proc.join()
    if error is not None:
        raise RuntimeError(f"{getattr(fn, '__name__', fn)} failed in its process: {error}")
    return out, rss


def timed(fn: Callable[[], Any]) -> float:
    """Seconds that ``fn()`` took."""
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


# --- the fast Twilio-compatible stub -------------------------------------------------------


class _Stub:
    def __init__(self, latency: float) -> None:
        self.latency = latency
        self.reset()

    def reset(self) -> None:
        self.count = 0
        self.first = 0.0
        self.last = 0.0
        self.per_second: dict[int, int] = {}

    def stats(self) -> bytes:
        return json.dumps(
            {
                "count": self.count,
                "first": self.first,
                "last": self.last,
                "per_second": sorted(self.per_second.items()),
            }
        ).encode()

    def message(self) -> bytes:
        now = time.time()
        if not self.count:
            self.first = now
        self.last = now
        self.count += 1
        second = int(now)
        self.per_second[second] = self.per_second.get(second, 0) + 1
        sid = f"SM{self.count:032x}"
        return (
            b'{"sid": "' + sid.encode() + b'", "status": "queued", "num_segments": "1", '
            b'"account_sid": "AC00000000000000000000000000000000", "direction": "outbound-api", '
            b'"error_code": null, "error_message": null, "price": null}'
        )

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n"):
                    if line[:15].lower() == b"content-length:":
                        length = int(line[15:])
                if length:
                    await reader.readexactly(length)
                path = head.split(b" ", 2)[1]
                if path == b"/__stats":
                    status, body = b"200 OK", self.stats()
                elif path == b"/__reset":
                    self.reset()
                    status, body = b"200 OK", b"{}"
                else:
                    if self.latency:
                        await asyncio.sleep(self.latency)
                    status, body = b"201 CREATED", self.message()
                writer.write(
                    b"HTTP/1.1 "
                    + status
                    + b"\r\nContent-Type: application/json\r\nContent-Length: "
                    + str(len(body)).encode()
                    + b"\r\n\r\n"
                    + body
                )
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()


def serve_stub(port: int, latency: float) -> None:
    """Serve the stub on 127.0.0.1:``port`` until killed."""

    async def main() -> None:
        server = await asyncio.start_server(
            _Stub(latency).serve, "127.0.0.1", port, backlog=4096, limit=1 << 16
        )
        async with server:
            await server.serve_forever()

    asyncio.run(main())


@contextmanager
def stub_server(latency: float = 0.0) -> Iterator[str]:
    """A stub in its own process on a free loopback port; yields its base URL."""
    from tests.servers import free_port, wait_for_port

    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, str(Path(__file__)), "stub", str(port), str(latency)],
        stdout=subprocess.DEVNULL,
    )
    try:
        wait_for_port(port, proc=proc)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(10)


def stub_stats(base_url: str, reset: bool = False) -> dict[str, Any]:
    """The stub's counters (then cleared when ``reset``)."""
    path = "/__reset" if reset else "/__stats"
    # base_url is the loopback stub this module started (http only).
    with urllib.request.urlopen(base_url + path, data=b"" if reset else None) as answer:  # noqa: S310
        stats: dict[str, Any] = json.loads(answer.read())
    return stats


def span_rate(stats: dict[str, Any]) -> float:
    """Requests per second between the stub's first and last request."""
    span = stats["last"] - stats["first"]
    return stats["count"] / span if span > 0 else math.nan


def stub_capacity(base_url: str, seconds: float = 2.0, connections: int = 64) -> float:
    """Requests/s the stub answers to a raw asyncio client (no SDK): what it can serve."""
    host, port = base_url.rsplit(":", 1)[0].split("//")[1], int(base_url.rsplit(":", 1)[1])
    request = (
        b"POST /2010-04-01/Accounts/AC0/Messages.json HTTP/1.1\r\nHost: x\r\n"
        b"Content-Length: 9\r\n\r\nTo=%2B841"
    )
    done = 0

    async def one(conn: tuple[asyncio.StreamReader, asyncio.StreamWriter], deadline: float) -> None:
        nonlocal done
        reader, writer = conn
        while time.perf_counter() < deadline:
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            length = int(head.lower().split(b"content-length: ")[1].split(b"\r\n")[0])
            await reader.readexactly(length)
            done += 1
        writer.close()

    async def main() -> float:
        conns = [await asyncio.open_connection(host, port) for _ in range(connections)]
        start = time.perf_counter()  # connections are open: count requests only
        await asyncio.gather(*(one(c, start + seconds) for c in conns))
        return done / (time.perf_counter() - start)

    return asyncio.run(main())


# --- the printed table ---------------------------------------------------------------------


def _show(x: float) -> str:
    return f"{x:,.0f}" if abs(x) >= 100 else f"{x:.3g}"


def table(rows: list[dict[str, Any]]) -> str:
    """The results as a Markdown table (what ``make bench`` prints and BENCHMARKS.md keeps)."""
    lines = [
        "| name | value | baseline | baseline value | ratio | target | pass | peak RSS MB |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in rows:
        ratio = "—" if r["ratio"] is None else f"{r['ratio']:g}"
        rss = r.get("peak_rss_mb")
        lines.append(
            f"| {r['name']} | {_show(r['value'])} {r['unit']} | {r['baseline']} "
            f"| {_show(r['baseline_value'])} {r['unit']} | {ratio} | {r['target']} "
            f"| {'yes' if r['pass'] else 'NO'} | {'' if rss is None else f'{rss:,.0f}'} |"
        )
    return "\n".join(lines)


def machine() -> str:
    """CPU, cores, memory and load of this machine, one line."""
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
        mem_kb = int(Path("/proc/meminfo").read_text().split()[1])
    except OSError:
        mem_kb = 0
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    return f"{model}, {os.cpu_count()} cores, {mem_kb / 1024**2:.0f} GiB RAM, load {load}"


if __name__ == "__main__" and len(sys.argv) == 4 and sys.argv[1] == "stub":
    serve_stub(int(sys.argv[2]), float(sys.argv[3]))
