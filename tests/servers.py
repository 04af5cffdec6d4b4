"""Real servers for the tests: Redis and PostgreSQL started on free loopback ports.

Each test session (and each xdist worker) starts its own, under a temporary folder, so a
developer's data is never touched. ``LOA_TEST_REDIS_URL`` / ``LOA_TEST_POSTGRES_URL`` point the
suite at servers started elsewhere instead.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for_port(
    port: int, timeout: float = 20.0, proc: subprocess.Popen[bytes] | None = None
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode} before listening on {port}")
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise TimeoutError(f"nothing listens on 127.0.0.1:{port} after {timeout}s")


def _binary(name: str) -> str:
    found = shutil.which(name) or next(
        iter(sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))), None
    )
    if not found:
        raise RuntimeError(
            f"{name} not found: install it (Debian: apt-get install redis-server postgresql), "
            "or run `make test`, which installs what it can"
        )
    return found


@contextmanager
def redis_server(password: str | None = None) -> Iterator[str]:
    """A throwaway Redis on a free port, requiring ``password`` if given; yields its URL."""
    if os.environ.get("LOA_TEST_REDIS_URL") and password is None:
        yield os.environ["LOA_TEST_REDIS_URL"]
        return
    port = free_port()
    tmp = tempfile.mkdtemp(prefix="loa-redis-")
    proc = subprocess.Popen(
        [
            _binary("redis-server"),
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            tmp,
            "--protected-mode",
            "yes",
            *(["--requirepass", password] if password else []),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for_port(port, proc=proc)
        yield (
            f"redis://:{password}@127.0.0.1:{port}/0" if password else f"redis://127.0.0.1:{port}/0"
        )
    finally:
        proc.terminate()
        proc.wait(10)
        shutil.rmtree(tmp, ignore_errors=True)


@contextmanager
def postgres_server() -> Iterator[str]:
    """A throwaway PostgreSQL cluster on a free port; yields an SQLAlchemy URL."""
    if os.environ.get("LOA_TEST_POSTGRES_URL"):
        yield os.environ["LOA_TEST_POSTGRES_URL"]
        return
    port = free_port()
    tmp = Path(tempfile.mkdtemp(prefix="loa-pg-"))
    data = tmp / "data"
    prefix: list[str] = []
    if os.geteuid() == 0:  # initdb refuses root: run the cluster as the postgres user
        user = pwd.getpwnam("postgres")
        os.chown(tmp, user.pw_uid, user.pw_gid)
        prefix = ["runuser", "-u", "postgres", "--"]
    subprocess.run(
        [
            *prefix,
            _binary("initdb"),
            "-D",
            str(data),
            "-U",
            "loa",
            "--auth=trust",
            "-E",
            "UTF8",
            "--locale=C.UTF-8",
            "--no-sync",
        ],
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    proc = subprocess.Popen(
        [
            *prefix,
            _binary("postgres"),
            "-D",
            str(data),
            "-p",
            str(port),
            "-k",
            str(tmp),
            "-c",
            "listen_addresses=127.0.0.1",
            "-c",
            "fsync=off",
            "-c",
            "synchronous_commit=off",
            "-c",
            "full_page_writes=off",
            "-c",
            "max_connections=200",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for_port(port, proc=proc)
        url = f"postgresql+psycopg://loa@127.0.0.1:{port}/postgres"
        for _ in range(100):  # the port opens a moment before the server accepts logins
            done = subprocess.run(
                [
                    *prefix,
                    "psql",
                    "-h",
                    "127.0.0.1",
                    "-p",
                    str(port),
                    "-U",
                    "loa",
                    "-d",
                    "postgres",
                    "-c",
                    "CREATE DATABASE loa_test",
                ],
                capture_output=True,
            )
            if done.returncode == 0:
                break
            time.sleep(0.1)
        yield url.replace("/postgres", "/loa_test")
    finally:
        proc.terminate()
        proc.wait(20)
        shutil.rmtree(tmp, ignore_errors=True)
