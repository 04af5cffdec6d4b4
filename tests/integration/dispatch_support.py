"""Helpers for the dispatch engine's tests: bulk contacts, an approved campaign, a fake sender
with programmable outcomes, and a frozen clock whose sleep moves time forward."""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable, Sequence
from typing import Any

from redis import Redis
from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from campaigns import lifecycle
from campaigns.dispatch import Dispatcher
from campaigns.models import Campaign, Contact, ContactList, ListMember
from campaigns.sending import OutboundMessage, Outcome, SendResult
from tests.factories import create_campaign, mobile
from workers.ratelimit import TokenBucket


def bulk_contacts(
    session: Session, n: int, list_name: str = "all", start: int = 0, **columns: Any
) -> ContactList:
    """Insert ``n`` contacts (``mobile(start)`` …) into a list with two executemany INSERTs."""
    lst = session.scalar(select(ContactList).where(ContactList.name == list_name))
    if lst is None:
        lst = ContactList(name=list_name)
        session.add(lst)
        session.flush()
    rows = [{"phone": mobile(start + i), "tags": "", "invalid": False, **columns} for i in range(n)]
    ids = session.scalars(
        insert(Contact).returning(Contact.id, sort_by_parameter_order=True), rows
    ).all()
    members = [{"list_id": lst.id, "contact_id": i} for i in ids]
    session.execute(insert(ListMember), members)
    session.commit()
    return lst


def approved_campaign(session: Session, list_name: str = "all", **kw: Any) -> Campaign:
    """An approved campaign to ``list_name``, always open and fast unless ``kw`` says otherwise."""
    kw.setdefault("audience", {"lists": [list_name]})
    kw.setdefault("window_start", "00:00")
    kw.setdefault("window_end", "24:00")
    kw.setdefault("rate_per_second", 10_000.0)
    kw.setdefault("segments_per_message", 1)
    kw.setdefault("body", "Phong chong mua ban nguoi: goi 111")
    campaign = create_campaign(**kw)
    campaign.status = lifecycle.APPROVED
    campaign.approval_hash = lifecycle.approval_hash(campaign)
    session.commit()
    return campaign


def accepted(message: OutboundMessage) -> SendResult:
    return SendResult(Outcome.ACCEPTED, provider_message_id=f"FK{message.delivery_id}")


class FakeSender:
    """A provider whose answer per message comes from ``outcome``; records every message."""

    name = "fake"

    def __init__(
        self,
        outcome: Callable[[OutboundMessage], SendResult] = accepted,
        before_answer: Callable[[Sequence[OutboundMessage]], None] | None = None,
    ) -> None:
        self.outcome = outcome
        self.before_answer = before_answer
        self.sent: list[OutboundMessage] = []
        self.statuses: dict[str, str] = {}
        self._lock = threading.Lock()

    def send(self, message: OutboundMessage) -> SendResult:
        return self.send_many([message])[0]

    def send_many(self, messages: Sequence[OutboundMessage]) -> list[SendResult]:
        with self._lock:
            self.sent.extend(messages)
        if self.before_answer is not None:
            self.before_answer(messages)
        return [self.outcome(m) for m in messages]

    def fetch_status(self, provider_message_id: str) -> str | None:
        return self.statuses.get(provider_message_id)

    def phones(self) -> list[str]:
        return [m.to for m in self.sent]


class Clock:
    """A frozen clock: ``clock()`` is the time; ``sleep`` and ``advance`` move it."""

    def __init__(self, now: dt.datetime) -> None:
        self.now = now
        self.slept = 0.0

    def __call__(self) -> dt.datetime:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept += seconds
        self.advance(seconds)

    def advance(self, seconds: float) -> None:
        self.now += dt.timedelta(seconds=seconds)


def dispatcher(
    session: Session, sender: Any, redis: Redis, clock: Clock | None = None, **kw: Any
) -> Dispatcher:
    """A dispatcher on the real token bucket, with a frozen clock when given; the sender's
    limit is high unless ``kw`` says otherwise, so the campaign's rate paces the tests."""
    kw.setdefault("sender_rate", 100_000.0)
    if clock is not None:
        kw.setdefault("clock", clock)
        kw.setdefault("sleep", clock.sleep)
    return Dispatcher(session=session, sender=sender, throttle=TokenBucket(redis), **kw)
