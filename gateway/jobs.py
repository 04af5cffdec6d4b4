"""Every kind of job Loa enqueues, in one place: the function a worker runs, its lane, and how
its deterministic id is spelled.

Functions are named by dotted path, so the web never imports job code (an import-linter
contract); a test imports each one to prove the path is right. A deterministic id makes
enqueueing idempotent (:func:`gateway.queues.enqueue` skips an id that is queued or running),
so a job that may be asked for twice (a double click, a webhook retried, the reconciler) runs
once. Periodic housekeeping is data in ``workers.runtime.PERIODIC``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from redis import Redis

from gateway import queues


@dataclass(frozen=True, slots=True)
class Kind:
    """One kind of job."""

    func: str  # dotted path of the function a worker runs
    queue: str  # its lane (gateway.queues)
    id_format: str | None  # ``str.format`` pattern of its id over the key parts; None: random
    timeout: int | None = None  # seconds a run may take (None: RQ's default, 180)

    def job_id(self, *key: object) -> str | None:
        """The job's id for ``key`` (letters, digits and ``-``), or None for a random one."""
        return None if self.id_format is None else self.id_format.format(*key)

    def enqueue(
        self, connection: Redis, *args: Any, key: tuple[object, ...] = (), **kwargs: Any
    ) -> str:
        """Enqueue the job with ``args`` unless one with the same id is alive; its id."""
        if self.timeout is not None:
            kwargs.setdefault("job_timeout", self.timeout)
        return queues.enqueue(
            self.queue, self.func, *args, connection=connection, job_id=self.job_id(*key), **kwargs
        )


LAUNCH = Kind("workers.dispatch.launch", queues.BULK, "launch-{}")  # campaign id
SEND_BATCH = Kind("workers.dispatch.send_batch", queues.BULK, "send-{}-{}")  # campaign, batch
# campaign, list: a second click while one runs is the same job
TEST_SEND = Kind("workers.test_send.send_test", queues.REPLIES, "test-send-{}-{}")
SEND_REPLY = Kind("workers.notifications.send_reply", queues.REPLIES, "reply-{}")  # reply id
NOTIFY_URGENT = Kind("workers.notifications.notify_urgent", queues.REPLIES, "notify-tip-{}")
PROCESS_RECEIPT = Kind("workers.statuses.process_receipt", queues.EVENTS, "receipt-{}")
# import record id; long work (1.2 million rows take minutes), on the lane where tips never wait
IMPORT_CONTACTS = Kind("workers.imports.run_import", queues.BULK, "import-{}", timeout=3600)

KINDS = (LAUNCH, SEND_BATCH, TEST_SEND, SEND_REPLY, NOTIFY_URGENT, PROCESS_RECEIPT, IMPORT_CONTACTS)
