"""Real Loa processes for the fault scenarios: a Redis that can be stopped and restarted empty,
`loa worker` processes that can be killed with their whole process group, gunicorn web
processes, and the supervisor's part (restart what died).

Everything listens on 127.0.0.1 and lives under the test's temporary folder.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from redis import Redis
from rq import Worker
from rq.intermediate_queue import IntermediateQueue
from rq.job import Job
from rq.registry import StartedJobRegistry

from gateway import queues
from tests import servers

BIN = Path(sys.executable).parent


def wait_for(condition: Callable[[], Any], timeout: float, what: str, every: float = 0.1) -> Any:
    """Poll ``condition`` until it is truthy; AssertionError naming ``what`` after ``timeout``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = condition()
        if got:
            return got
        time.sleep(every)
    raise AssertionError(f"{what}: not within {timeout:.0f} s")


class ControlledRedis:
    """A Redis on a fixed free port that a scenario may stop (SIGKILL) and start again empty."""

    def __init__(self) -> None:
        self.port = servers.free_port()
        self.dir = tempfile.mkdtemp(prefix="loa-fault-redis-")
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [
                servers._binary("redis-server"),
                *("--port", str(self.port), "--bind", "127.0.0.1", "--dir", self.dir),
                *("--save", "", "--appendonly", "no", "--maxclients", "2000"),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        servers.wait_for_port(self.port, proc=self.proc)

    def kill(self) -> None:
        """Stop it as a crash would: SIGKILL, nothing saved (it keeps no files anyway)."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)


def loa_env(settings: Any, **extra: str) -> dict[str, str]:
    """The environment of a Loa process configured as ``settings`` (database, Redis, Twilio)."""
    env = dict(os.environ)
    env.update(
        LOA_ENV="test",
        LOA_DATABASE_URL=settings.database_url,
        LOA_REDIS_URL=settings.redis_url,
        LOA_VAR_DIR=str(settings.var_dir),
        LOA_SECRET_KEY=settings.secret_key.get_secret_value(),
        LOA_PUBLIC_BASE_URL=settings.public_base_url,
        LOA_PROVIDER=settings.provider,
        LOA_TWILIO_ACCOUNT_SID=settings.twilio_account_sid,
        LOA_TWILIO_AUTH_TOKEN=settings.twilio_auth_token.get_secret_value(),
        LOA_TWILIO_FROM=settings.twilio_from,
        LOA_TWILIO_API_BASE_URL=settings.twilio_api_base_url,
        LOA_RATE_PER_SECOND=str(settings.rate_per_second),
        **extra,
    )
    return env


def descendants(pid: int) -> list[int]:
    """Every process below ``pid`` (from /proc): RQ's work horses run in their own session, so a
    process group alone does not hold them; a supervisor's control group does."""
    parents: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            ppid = int(stat.read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        parents.setdefault(ppid, []).append(int(stat.parent.name))
    out, todo = [], [pid]
    while todo:
        for child in parents.get(todo.pop(), []):
            out.append(child)
            todo.append(child)
    return out


def _kill_all(pids: list[int]) -> None:
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


class Proc:
    """One supervised process started in its own process group; ``kill9`` ends the group and
    every descendant at once, as systemd's ``KillMode=control-group`` does."""

    def __init__(self, name: str, argv: list[str], env: dict[str, str], log: Path) -> None:
        self.name, self.argv, self.env, self.log = name, argv, env, log
        self.proc: subprocess.Popen[bytes] | None = None
        self.starts = 0

    def start(self) -> Proc:
        self.starts += 1
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                self.argv, env=self.env, stdout=out, stderr=out, start_new_session=True
            )
        return self

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def kill9(self) -> list[int]:
        """SIGKILL the process group and every descendant; returns the pids killed."""
        assert self.proc is not None
        pids = [self.proc.pid, *descendants(self.proc.pid)]
        _kill_all(pids)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(10)
        return pids

    def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM (RQ: warm shutdown), then SIGKILL whatever is left."""
        if not self.alive():
            return
        assert self.proc is not None
        with_children = [self.proc.pid, *descendants(self.proc.pid)]
        self.proc.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(timeout)
        _kill_all(with_children)
        self.proc.wait(5)


class Stack:
    """The processes of one scenario; ``close()`` stops them all."""

    def __init__(self, settings: Any, tmp: Path) -> None:
        self.settings = settings
        self.tmp = tmp
        self.procs: list[Proc] = []
        self.web_urls: list[str] = []

    def worker(self, queues_: str = "bulk", **env: str) -> Proc:
        """A ``loa worker`` (with RQ's scheduler and Loa's periodic jobs) on ``queues_``."""
        n = len(self.procs)
        proc = Proc(
            f"worker-{n}",
            [str(BIN / "loa"), "worker", "--queues", queues_],
            loa_env(self.settings, **env),
            self.tmp / f"worker-{n}.log",
        )
        self.procs.append(proc.start())
        return proc

    def web(self, **env: str) -> str:
        """A gunicorn web process (as scripts/run.sh starts it); returns its base URL."""
        port = servers.free_port()
        n = len(self.procs)
        root = Path(__file__).resolve().parents[2]
        proc = Proc(
            f"web-{n}",
            [
                str(BIN / "gunicorn"),
                *("--bind", f"127.0.0.1:{port}", "--workers", "1", "--threads", "8"),
                *("--timeout", "120", "--no-control-socket", "--chdir", str(root), "wsgi:app"),
            ],
            loa_env(self.settings, **env),
            self.tmp / f"web-{n}.log",
        )
        self.procs.append(proc.start())
        servers.wait_for_port(port, timeout=60, proc=proc.proc)
        url = f"http://127.0.0.1:{port}"
        self.web_urls.append(url)
        return url

    def restart_dead(self) -> list[str]:
        """The supervisor's part: start again every process that exited."""
        restarted = []
        for proc in self.procs:
            if not proc.alive():
                proc.start()
                restarted.append(proc.name)
        return restarted

    def supervise_until(
        self,
        condition: Callable[[], Any],
        timeout: float,
        what: str,
        detail: Callable[[], str] | None = None,
    ) -> Any:
        """Restart what dies (as systemd would, every half second) until ``condition`` holds;
        a timeout's message holds ``detail()`` and every process's log tail."""

        def check() -> Any:
            self.restart_dead()
            return condition()

        try:
            return wait_for(check, timeout, what, every=0.5)
        except AssertionError as exc:
            more = detail() if detail is not None else ""
            raise AssertionError(f"{exc}\n{more}\n{self.logs()}") from None

    def close(self) -> None:
        for proc in self.procs:
            proc.stop()

    def logs(self) -> str:
        """The tail of every process's log (for a failing scenario's message)."""
        out = []
        for proc in self.procs:
            text = proc.log.read_text(errors="replace") if proc.log.exists() else ""
            out.append(f"--- {proc.name} ---\n" + "\n".join(text.splitlines()[-15:]))
        return "\n".join(out)


def bury(redis: Redis, pids: list[int]) -> list[str]:
    """Age the started jobs of killed workers as if their last heartbeat were two minutes old
    (``queues.ABANDONED_AFTER``), so that Loa may enqueue them again now rather than after the
    wait a live deployment would see. Jobs of live workers are left alone."""
    killed = set(pids)
    buried = []
    old = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=queues.ABANDONED_AFTER + 5)
    for worker in Worker.all(connection=redis):
        job_id = worker.get_current_job_id()
        if worker.pid not in killed or job_id is None:
            continue
        job = Job.fetch(job_id, connection=redis, serializer=queues.SERIALIZER)
        job.heartbeat(old, ttl=60)
        registry = StartedJobRegistry(job.origin, connection=redis)
        for member in redis.zrange(registry.key, 0, -1):
            if member.decode().split(":")[0] == job_id:
                redis.zadd(registry.key, {member: old.timestamp()})
        buried.append(job_id)
    # A job the dead worker had taken off its queue but not yet started (RQ's intermediate
    # list): seen there since before the kill, as a live deployment would see it later.
    for name in {
        q for w in Worker.all(connection=redis) if w.pid in killed for q in w.queue_names()
    }:
        held = IntermediateQueue(f"rq:queue:{name}", redis)
        for job_id in held.get_job_ids():
            redis.set(held.get_first_seen_key(job_id), old.timestamp(), ex=3600)
            buried.append(job_id)
    return buried
