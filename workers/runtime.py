"""What a job needs from its process: settings, a database session, Redis and the provider.

Created lazily once per process and reset after a fork, since RQ forks a work horse per job and
a connection must never be shared across processes.
"""

from __future__ import annotations

import contextlib
import importlib
import logging
import os
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, cast

from redis import Redis
from rq import Queue, Worker
from rq.executions import Execution
from rq.job import Job
from rq.worker import WorkerStatus
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from campaigns.db import make_engine, make_sessionmaker
from campaigns.sending import FailoverSender, Sender, provider_names
from gateway import jobs, logs, queues
from gateway.providers import Provider, get_provider, names
from gateway.settings import Settings, load_settings
from gateway.tips.line import TipLine

log = logging.getLogger("loa.worker")
_state: dict[str, Any] = {}
_stopping = threading.Event()  # this process's worker was asked for a warm shutdown


def stopping() -> bool:
    """Whether this process's worker was asked to stop (SIGTERM or SIGINT: a warm shutdown).

    A batch ends at its next chunk instead of sending the rest first: at a sender's default
    10 segments/s a 4-segment text goes out at 2.5 a second, so finishing a batch of hundreds
    would outlast any stop timeout (``TimeoutStopSec``), and a killed worker leaves its messages
    in flight ``unknown``.
    """
    return _stopping.is_set()


def configure(settings: Settings) -> None:
    """Use ``settings`` in this process (tests and ``loa worker`` call it)."""
    reset()
    _stopping.clear()
    _state["settings"] = settings


def reset(after_fork: bool = False) -> None:
    """Close (or, in a forked child, just forget) this process's connections."""
    engine = _state.pop("engine", None)
    if engine is not None:
        # A forked child must not close the parent's sockets, only drop its pool.
        engine.dispose(close=not after_fork)
    for key in [k for k in _state if k.startswith("provider:")]:
        provider = _state.pop(key)
        if not after_fork:
            with contextlib.suppress(Exception):
                provider.close()
    for key in ("sessionmaker", "redis"):
        _state.pop(key, None)


os.register_at_fork(after_in_child=lambda: reset(after_fork=True))


def settings() -> Settings:
    if "settings" not in _state:
        _state["settings"] = load_settings()
    s: Settings = _state["settings"]
    return s


def engine() -> Engine:
    if "engine" not in _state:
        _state["engine"] = make_engine(settings().effective_database_url)
        _state["sessionmaker"] = make_sessionmaker(_state["engine"])
    e: Engine = _state["engine"]
    return e


@contextlib.contextmanager
def session() -> Iterator[Session]:
    """A session for one unit of work; rolled back if the block raises."""
    engine()
    s: Session = _state["sessionmaker"]()
    try:
        yield s
    except BaseException:
        s.rollback()
        raise
    finally:
        s.close()


def redis() -> Redis:
    if "redis" not in _state:
        _state["redis"] = queues.connect(settings().redis_url)
    r: Redis = _state["redis"]
    return r


def tipline() -> TipLine:
    """The tip line's view of this process: its settings and Redis."""
    return TipLine(settings=settings(), redis=redis())


def provider(name: str | None = None) -> Provider:
    """The process's provider (one instance keeps its HTTP connections alive)."""
    key = f"provider:{name or settings().provider}"
    if key not in _state:
        _state[key] = get_provider(settings(), name)
    p: Provider = _state[key]
    return p


def sender(names: str | None = None) -> Sender:
    """What sends for a campaign naming ``names`` (``"http,smpp"``: the aggregator, failing over
    to SMPP; empty: ``LOA_PROVIDER``)."""
    chosen = provider_names(names) or [settings().provider]
    if len(chosen) == 1:
        return cast(Sender, provider(chosen[0]))  # Provider.name is a ClassVar; Sender reads it
    return FailoverSender([cast(Sender, provider(n)) for n in chosen])


def reply_sender() -> Sender:
    """What sends replies to tipsters and alerts to staff (``LOA_REPLY_PROVIDERS``)."""
    return sender(settings().reply_providers)


def queue(name: str) -> Queue:
    return queues.queue(name, redis())


@dataclass(frozen=True)
class Periodic:
    """A job that runs every ``every`` seconds on ``queue``, once per slot."""

    name: str
    func: str
    every: int
    queue: str = queues.EVENTS


# Periodic jobs are data; each module adds its own entry here.
PERIODIC: list[Periodic] = [
    # The urgency clock is on the replies lane: it must not wait behind a campaign's receipts.
    Periodic("check_urgency", "workers.notifications.check_urgency", 30, queues.REPLIES),
    Periodic("run_due", "workers.schedule.run_due", 30),
    Periodic("reconcile", "workers.reconciler.run", 30),
    # Hourly: a day's worth is small, and a run stopped half-way is finished within the hour.
    Periodic("retention", "workers.schedule.run_retention", 3600),
]


def schedule_periodic(now: float | None = None) -> list[str]:
    """Enqueue every periodic job whose slot has begun; a slot runs once across all workers."""
    now = time.time() if now is None else now
    started = []
    for p in PERIODIC:
        slot = int(now // p.every)
        # SET NX makes the slot's job unique even when many workers tick at the same moment.
        if redis().set(f"loa:periodic:{p.name}:{slot}", "1", nx=True, ex=p.every * 2):
            queue(p.queue).enqueue(
                p.func, job_id=f"periodic-{p.name}-{slot}", job_timeout=max(60, p.every * 5)
            )
            started.append(p.name)
    return started


def _tick_forever(stop: threading.Event, interval: float = 5.0) -> None:
    while not stop.wait(interval):
        try:
            schedule_periodic()
        except Exception:
            log.warning("periodic scheduling failed; retrying", exc_info=True)


class LoaWorker(Worker):
    """RQ's worker, whose jobs log with their job id (``LOA_LOG_FORMAT=json``: ``job_id``), and
    which runs a campaign's batches itself instead of forking a work horse for each.

    A batch job in a fresh work horse rebuilt the database engine, the provider, its TLS
    context, event loop and connection pool, for a batch of a few hundred messages: in
    process, one worker sent twice as fast (BENCHMARKS.md, ``dispatch``). The batch keeps its
    guarantees: its rows are claimed and recorded in SQL, so a worker killed mid-batch leaves
    leased rows for the reconciler, and a thread beats the job's heartbeat as RQ's monitor of a
    work horse does, so a dead worker's batch is taken up again after about
    :data:`queues.ABANDONED_AFTER` seconds. Asked to stop, it ends the batch at its next chunk.
    Other jobs (a launch, a contact import: large, rare) still run in a forked work horse, whose
    memory goes back to the system when it ends.
    """

    def request_stop(self, signum: int, frame: Any) -> None:
        """A warm shutdown: the batch in hand stops at its next chunk (:func:`stopping`)."""
        _stopping.set()
        super().request_stop(signum, frame)  # type: ignore[no-untyped-call]

    def perform_job(self, job: Job, queue: Queue, execution: Execution) -> bool:
        with logs.job_context(job.id):
            return super().perform_job(job, queue, execution)

    def execute_job(self, job: Job, queue: Queue) -> None:
        if job.func_name not in IN_PROCESS:
            super().execute_job(job, queue)
            return
        execution = self.prepare_execution(job)
        done = threading.Event()
        beat = threading.Thread(
            target=self._beat, args=(job, execution, done), name="heartbeat", daemon=True
        )
        beat.start()
        try:
            self.perform_job(job, queue, execution)
        finally:
            done.set()
            beat.join()
        self.set_state(WorkerStatus.IDLE)

    def _beat(self, job: Job, execution: Execution, done: threading.Event) -> None:
        """The worker's, the execution's and the job's heartbeats while a job runs in process."""
        while not done.wait(self.job_monitoring_interval):
            try:
                self.maintain_heartbeats(job, execution)
            except Exception:  # Redis away: RQ's own loop retries; so does this one
                log.warning("heartbeat of job %s failed; retrying", job.id, exc_info=True)


# The jobs a worker runs in its own process (see LoaWorker).
IN_PROCESS = frozenset({jobs.SEND_BATCH.func})


def preload() -> list[str]:
    """Import every job's module and the providers once, in the worker before it forks.

    RQ forks a work horse for each job, and a horse imports what its job needs afresh: about
    0.15 s for a batch (the dispatch engine, the Twilio SDK) on a 2-core machine, a fifth of
    the time a 250-message batch took at 0 ms. Imports only: connections and thread pools are
    made where they are used (a horse, or this process for the batches it runs itself) and
    never used across a fork (:func:`reset` drops them in a child).
    """
    modules = {kind.func.rsplit(".", 1)[0] for kind in jobs.KINDS}
    modules |= {p.func.rsplit(".", 1)[0] for p in PERIODIC}
    for name in sorted(modules):
        importlib.import_module(name)
    names()  # the built-in providers' modules
    return sorted(modules)


def run_worker(cfg: Settings, queue_names: list[str], burst: bool = False) -> None:
    """Serve ``queue_names`` in order (``replies`` first) with RQ's scheduler."""
    configure(cfg)
    preload()
    # Before RQ sets up its own: RQ then adds no handler of its own and its records reach ours.
    logs.configure(cfg)
    unknown = [q for q in queue_names if q not in queues.ALL]
    if unknown:
        raise SystemExit(f"unknown queue(s): {', '.join(unknown)}; known: {', '.join(queues.ALL)}")
    worker = LoaWorker(
        [queue(q) for q in queue_names], connection=redis(), serializer=queues.SERIALIZER
    )
    stop = threading.Event()
    if not burst:
        schedule_periodic()
        threading.Thread(target=_tick_forever, args=(stop,), daemon=True).start()
    try:
        worker.work(with_scheduler=True, burst=burst, logging_level="INFO")
    finally:
        stop.set()
