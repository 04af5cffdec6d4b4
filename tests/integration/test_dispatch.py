"""The dispatch engine end to end on the real database and Redis, with a fake sender."""

from __future__ import annotations

import datetime as dt
import unicodedata
from collections import Counter
from types import SimpleNamespace
from typing import Any, cast
from zoneinfo import ZoneInfo

import pytest
from redis import Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from campaigns import dispatch, lifecycle, optouts, reconcile, reports
from campaigns import statuses as st
from campaigns.encoding import analyze
from campaigns.models import Area, Campaign, Contact, Delivery, OptOut
from campaigns.recording import MAX_ATTEMPTS
from campaigns.sending import Effect, OutboundMessage, Outcome, SendResult
from gateway import killswitch
from gateway.tips.models import SenderFlag
from tests.factories import mobile
from tests.integration.dispatch_support import (
    Clock,
    FakeSender,
    approved_campaign,
    bulk_contacts,
    dispatcher,
)

TZ = ZoneInfo("Asia/Ho_Chi_Minh")


def deliveries(session: Session, campaign_id: int) -> list[Delivery]:
    session.expire_all()
    return list(
        session.scalars(
            select(Delivery).where(Delivery.campaign_id == campaign_id).order_by(Delivery.id)
        )
    )


def status_of(session: Session, campaign_id: int) -> tuple[str, str | None]:
    session.expire_all()
    c = session.get(Campaign, campaign_id)
    assert c is not None
    return c.status, c.paused_reason


def test_launch_materialises_audience_with_skips_and_batches(session: Session) -> None:
    """One INSERT…SELECT: opted-out, do-not-contact and invalid numbers skipped with their
    reason, the rest batched in SQL."""
    bulk_contacts(session, 12)
    bulk_contacts(session, 1, start=12, invalid=True)
    session.add(OptOut(phone=mobile(0), channel="sms"))
    session.add(SenderFlag(phone=mobile(1), do_not_contact=True))
    session.commit()
    campaign = approved_campaign(session)
    assert dispatch.launch(session, campaign.id, batch_size=5) is True
    rows = deliveries(session, campaign.id)
    assert len(rows) == 13
    skipped = {r.phone: r.skip_reason for r in rows if r.status == st.SKIPPED}
    assert skipped == {
        mobile(0): st.SKIP_OPTED_OUT,
        mobile(1): st.SKIP_DO_NOT_CONTACT,
        mobile(12): st.SKIP_INVALID,
    }
    # Numbered in contact order over the whole audience: a batch holds at most 5 pending rows
    # (the first one fewer, where the two skipped contacts sit).
    batches = [r.batch_no for r in rows if r.status == st.PENDING]
    assert batches == [0] * 3 + [1] * 5 + [2] * 2
    assert {r.batch_no for r in rows if r.status == st.SKIPPED} == {-1}
    assert all(r.finished_at is not None for r in rows if r.status == st.SKIPPED)
    assert status_of(session, campaign.id) == (lifecycle.RUNNING, None)
    counts = reports.counts(session, campaign.id)
    assert counts["pending"] == 10 and counts["skipped"] == 3
    assert counts["skipped_opted_out"] == 1 and counts["skipped_do_not_contact"] == 1
    assert counts["skipped_invalid"] == 1
    assert reports.total(counts) == session.get(Campaign, campaign.id).audience_size == 13  # type: ignore[union-attr]


def _last_analyze(session: Session, table: str) -> Any:
    session.commit()
    session.execute(text("SELECT pg_stat_clear_snapshot()"))
    return session.scalar(
        text("SELECT last_analyze FROM pg_stat_user_tables WHERE relname = :t"), {"t": table}
    )


def test_launch_analyses_only_the_tables_that_changed(session: Session) -> None:
    """PostgreSQL: a launch after an import ANALYZEs the contacts (stale statistics made the
    join crawl); a launch after no change analyses nothing."""
    if session.get_bind().dialect.name != "postgresql":
        pytest.skip("PostgreSQL's statistics; SQLite plans without them")
    session.execute(text("SELECT pg_stat_force_next_flush()"))
    bulk_contacts(session, 300)
    session.execute(text("SELECT pg_stat_force_next_flush()"))
    session.commit()
    before = _last_analyze(session, "contacts")
    assert dispatch.launch(session, approved_campaign(session).id)
    analysed = _last_analyze(session, "contacts")
    assert analysed is not None and analysed != before
    assert dispatch.launch(session, approved_campaign(session).id)
    assert _last_analyze(session, "contacts") == analysed


def test_a_launched_campaign_is_not_materialised_again(session: Session) -> None:
    """Launching twice (even after new contacts joined the list) adds no delivery."""
    bulk_contacts(session, 5)
    campaign = approved_campaign(session)
    assert dispatch.launch(session, campaign.id) is True
    bulk_contacts(session, 3, start=100)
    assert dispatch.launch(session, campaign.id) is False
    assert len(deliveries(session, campaign.id)) == 5


def test_launch_refuses_a_campaign_changed_after_approval(session: Session) -> None:
    """A void approval stops the launch: nothing is materialised."""
    bulk_contacts(session, 3)
    campaign = approved_campaign(session)
    campaign.body = "changed behind the approver's back"
    session.commit()
    with pytest.raises(lifecycle.IllegalTransition):
        dispatch.launch(session, campaign.id)
    assert deliveries(session, campaign.id) == []


def test_batch_sends_renders_and_completes(session: Session, redis_conn: Redis) -> None:
    """Every pending delivery is sent once, rendered per contact; the campaign completes."""
    area = Area(name="Kế Sách", kind="district")
    session.add(area)
    session.flush()
    bulk_contacts(session, 7, name="Lan", district_id=area.id)
    campaign = approved_campaign(session, body="Chào {name} ở {district}", senders=["A", "B"])
    dispatch.launch(session, campaign.id, batch_size=4)
    sender = FakeSender()
    engine = dispatcher(session, sender, redis_conn)
    first = engine.run_batch(campaign.id, 0)
    assert first.sent == 4 and first.stopped == "done"
    assert status_of(session, campaign.id)[0] == lifecycle.RUNNING
    engine.run_batch(campaign.id, 1)
    assert sorted(sender.phones()) == [mobile(i) for i in range(7)]
    assert {m.body for m in sender.sent} == {"Chào Lan ở Kế Sách"}
    assert [m.sender for m in sender.sent] == ["A"] * 4 + ["B"] * 3
    rows = deliveries(session, campaign.id)
    assert {r.status for r in rows} == {st.SENT}
    assert all(r.provider_message_id == f"FK{r.id}" and r.attempts == 1 for r in rows)
    status, _ = status_of(session, campaign.id)
    assert status == lifecycle.COMPLETED
    assert session.get(Campaign, campaign.id).completed_at is not None  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (unicodedata.normalize("NFD", "Gọi 111 khi thấy dấu hiệu mua bán người"), "Gọi 111 khi thấy dấu hiệu mua bán người"),
        ("Chào {name}, {{không}} phải biến", "Chào Lan, {không} phải biến"),
    ],
    ids=["no-variable", "variable-and-braces"],
)  # fmt: skip
def test_prepare_renders_each_claimed_row(session: Session, body: str, expected: str) -> None:
    """A text without variables is rendered once for the chunk (NFC, as the others); one with
    variables per contact; either way each row gets its text and its segment count."""
    bulk_contacts(session, 3, name="Lan")
    campaign = approved_campaign(session, body=body)
    dispatch.launch(session, campaign.id)
    ids = [r.id for r in deliveries(session, campaign.id)]
    ready, skipped = dispatch.prepare(session, body, ids)
    assert skipped == {}
    assert [(p.delivery_id, p.body) for p in ready] == [(i, expected) for i in ids]
    assert {p.segments for p in ready} == {analyze(expected).segments}


def _result(outcome: Outcome, code: str, effect: Effect = Effect.NONE) -> Any:
    return lambda m: SendResult(outcome, error_code=code, error_message="x", effect=effect)


@pytest.mark.parametrize(
    ("result", "status", "check"),
    [
        (_result(Outcome.RETRY, "20429"), st.PENDING, "next_attempt"),
        (_result(Outcome.FAILED, "21211", Effect.INVALID_NUMBER), st.FAILED, "contact_invalid"),
        (_result(Outcome.FAILED, "21610", Effect.OPTED_OUT), st.FAILED, "opted_out"),
        (_result(Outcome.FAILED, "30007"), st.FAILED, "code"),
        (_result(Outcome.UNKNOWN, "NO-ANSWER"), st.SENDING, "leased"),
        (_result(Outcome.FAILED, "21608", Effect.HALT), st.FAILED, "halted"),
    ],
)
def test_provider_error_classes(
    session: Session, redis_conn: Redis, result: Any, status: str, check: str
) -> None:
    """Retry goes back to pending with backoff; failures record the code and apply effects;
    unknown stays leased for the reconciler; halt pauses the campaign."""
    bulk_contacts(session, 1)
    campaign = approved_campaign(session)
    dispatch.launch(session, campaign.id)
    clock = Clock(dt.datetime(2026, 7, 30, 3, tzinfo=dt.UTC))
    report = dispatcher(session, FakeSender(result), redis_conn, clock).run_batch(campaign.id, 0)
    (row,) = deliveries(session, campaign.id)
    assert row.status == status
    assert row.error_code is not None
    if check == "next_attempt":
        assert row.next_attempt_at is not None and row.next_attempt_at > clock.now
        assert row.lease_until is None and report.retried == 1
    elif check == "contact_invalid":
        assert session.get(Contact, row.contact_id).invalid is True  # type: ignore[union-attr]
    elif check == "opted_out":
        assert optouts.is_opted_out(session, row.phone)
        assert session.scalar(select(OptOut.channel)) == optouts.PROVIDER
    elif check == "leased":
        assert row.lease_until is not None and report.unknown == 1
    elif check == "halted":
        status_now, reason = status_of(session, campaign.id)
        assert status_now == lifecycle.PAUSED and reason is not None and "21608" in reason
    if check in ("next_attempt", "leased"):  # something is left to do
        assert status_of(session, campaign.id)[0] == lifecycle.RUNNING
    elif check != "halted":
        assert status_of(session, campaign.id)[0] == lifecycle.COMPLETED


def test_retries_end_in_failed_after_max_attempts(session: Session, redis_conn: Redis) -> None:
    """A delivery refused as retryable MAX_ATTEMPTS times is failed, never retried forever."""
    bulk_contacts(session, 1)
    campaign = approved_campaign(session)
    dispatch.launch(session, campaign.id)
    clock = Clock(dt.datetime(2026, 7, 30, 3, tzinfo=dt.UTC))
    sender = FakeSender(_result(Outcome.RETRY, "20429"))
    engine = dispatcher(session, sender, redis_conn, clock, pause_after_errors=1000)
    for _ in range(10):
        engine.run_batch(campaign.id, 0)
        clock.advance(3600)
    (row,) = deliveries(session, campaign.id)
    assert row.status == st.FAILED and row.attempts == 5 and len(sender.sent) == 5


def test_auto_pause_after_consecutive_errors(session: Session, redis_conn: Redis) -> None:
    """N consecutive provider errors pause the campaign and say why; sending stops."""
    bulk_contacts(session, 40)
    campaign = approved_campaign(session, rate_per_second=5.0)
    dispatch.launch(session, campaign.id)
    clock = Clock(dt.datetime(2026, 7, 30, 3, tzinfo=dt.UTC))
    sender = FakeSender(_result(Outcome.UNKNOWN, "20500"))
    report = dispatcher(session, sender, redis_conn, clock, pause_after_errors=10).run_batch(
        campaign.id, 0
    )
    status, reason = status_of(session, campaign.id)
    assert report.stopped == "provider_errors"
    assert status == lifecycle.PAUSED and reason is not None
    assert reason.startswith("provider_errors: 10") and "20500" in reason
    # Sending stops: beyond the tenth error only the chunks already in flight went out (left
    # leased for the reconciler, as an unknown outcome is), and nothing more was claimed.
    assert 10 <= len(sender.sent) < 10 + dispatch.PIPELINE
    statuses = [row.status for row in deliveries(session, campaign.id)]
    assert statuses.count(st.SENDING) == len(sender.sent)
    assert statuses.count(st.PENDING) == 40 - len(sender.sent)


def test_refusals_slow_a_campaign_but_never_pause_it(session: Session, redis_conn: Redis) -> None:
    """Provable refusals (429, 20503) back off per recipient; however many in a row, the
    campaign keeps running and each recipient is tried again later."""
    bulk_contacts(session, 40)
    campaign = approved_campaign(session, rate_per_second=5.0)
    dispatch.launch(session, campaign.id)
    clock = Clock(dt.datetime(2026, 7, 30, 3, tzinfo=dt.UTC))
    sender = FakeSender(_result(Outcome.RETRY, "20429"))
    report = dispatcher(session, sender, redis_conn, clock, pause_after_errors=10).run_batch(
        campaign.id, 0
    )
    assert report.stopped != "provider_errors"
    assert status_of(session, campaign.id)[0] != lifecycle.PAUSED
    tries = Counter(m.to for m in sender.sent)
    assert len(tries) == 40 and max(tries.values()) <= MAX_ATTEMPTS


def test_a_success_ends_the_error_streak(session: Session, redis_conn: Redis) -> None:
    """Errors separated by acceptances never add up to a pause."""
    bulk_contacts(session, 30)
    campaign = approved_campaign(session, rate_per_second=3.0)
    dispatch.launch(session, campaign.id)
    calls = {"n": 0}

    def every_third_accepted(m: OutboundMessage) -> SendResult:
        calls["n"] += 1
        if calls["n"] % 3 == 0:
            return SendResult(Outcome.ACCEPTED, provider_message_id=f"FK{m.delivery_id}")
        return SendResult(Outcome.UNKNOWN, error_code="20500")

    clock = Clock(dt.datetime(2026, 7, 30, 3, tzinfo=dt.UTC))
    engine = dispatcher(
        session, FakeSender(every_third_accepted), redis_conn, clock, pause_after_errors=3
    )
    engine.run_batch(campaign.id, 0)
    assert status_of(session, campaign.id)[0] == lifecycle.RUNNING


def test_window_closing_mid_run_pauses_and_reopening_resumes(
    session: Session, redis_conn: Redis
) -> None:
    """Nothing is handed over at or after 22:00; the campaign pauses for the window and the
    reconciler resumes it at 07:00; validity never outlives the window."""
    bulk_contacts(session, 10)
    campaign = approved_campaign(
        session, window_start="07:00", window_end="22:00", rate_per_second=2.0
    )
    dispatch.launch(session, campaign.id)
    start = dt.datetime(2026, 7, 30, 21, 57, tzinfo=TZ).astimezone(dt.UTC)
    clock = Clock(start)
    close = dt.datetime(2026, 7, 30, 22, 0, tzinfo=TZ).astimezone(dt.UTC)
    stamped: list[tuple[dt.datetime, int | None]] = []

    def slow_send(messages: Any) -> None:
        for m in messages:
            stamped.append((clock.now, m.validity_seconds))
        clock.advance(50)

    sender = FakeSender(before_answer=slow_send)
    # One chunk at a time: each send moves the shared fake clock on by 50 s, so with chunks
    # pipelined the next chunk could take its validity before that move and be stamped after
    # it (this failed once on a loaded machine). The stamp is then the time the chunk's
    # validity was taken at.
    engine = dispatcher(session, sender, redis_conn, clock, pipeline=1)
    report = engine.run_batch(campaign.id, 0)
    assert report.stopped == "window"
    assert stamped and all(at < close for at, _ in stamped)
    assert all(v is not None and at + dt.timedelta(seconds=v) <= close for at, v in stamped)
    assert status_of(session, campaign.id) == (lifecycle.PAUSED, dispatch.PAUSED_WINDOW)
    sent_before = len(sender.sent)
    assert 0 < sent_before < 10

    night = dt.datetime(2026, 7, 31, 6, 59, tzinfo=TZ).astimezone(dt.UTC)
    assert reconcile.follow_windows(session, night) == {"paused": [], "resumed": []}
    morning = dt.datetime(2026, 7, 31, 7, 0, tzinfo=TZ).astimezone(dt.UTC)
    assert reconcile.follow_windows(session, morning)["resumed"] == [campaign.id]
    session.commit()
    clock.now = morning
    dispatcher(session, sender, redis_conn, clock).run_batch(campaign.id, 0)
    assert sorted(sender.phones()) == [mobile(i) for i in range(10)]
    assert status_of(session, campaign.id)[0] == lifecycle.COMPLETED


def test_running_campaign_outside_window_is_paused_by_reconciler(session: Session) -> None:
    """A running campaign with no job running still pauses when its window closes."""
    bulk_contacts(session, 1)
    campaign = approved_campaign(session, window_start="07:00", window_end="22:00")
    dispatch.launch(session, campaign.id)
    late = dt.datetime(2026, 7, 30, 23, 0, tzinfo=TZ).astimezone(dt.UTC)
    assert reconcile.follow_windows(session, late)["paused"] == [campaign.id]
    session.commit()
    assert status_of(session, campaign.id) == (lifecycle.PAUSED, dispatch.PAUSED_WINDOW)


def test_opt_out_mid_run_is_skipped_at_send_time(session: Session, redis_conn: Redis) -> None:
    """A number that opts out after launch is skipped (opted_out), never sent."""
    bulk_contacts(session, 6)
    campaign = approved_campaign(session)
    dispatch.launch(session, campaign.id)
    optouts.opt_out(session, mobile(2), optouts.SMS)
    session.commit()
    sender = FakeSender()
    dispatcher(session, sender, redis_conn).run_batch(campaign.id, 0)
    assert mobile(2) not in sender.phones() and len(sender.sent) == 5
    row = next(r for r in deliveries(session, campaign.id) if r.phone == mobile(2))
    assert (row.status, row.skip_reason) == (st.SKIPPED, st.SKIP_OPTED_OUT)
    assert reports.total(reports.counts(session, campaign.id)) == 6


def test_a_throttle_failure_after_the_claim_strands_no_row(
    session: Session, redis_conn: Redis
) -> None:
    """Redis goes away between the claim and the throttle's adjustment for a skipped row (the
    fresh-clone check once saw a chunk of 50 stay ``sending`` under its lease, 300 s): the batch
    fails, but every claimed row is recorded first, sent or skipped, none left in flight."""
    bulk_contacts(session, 6)
    campaign = approved_campaign(session)
    dispatch.launch(session, campaign.id)
    optouts.opt_out(session, mobile(2), optouts.SMS)  # skipped at send time: used != reserved
    session.commit()
    sender = FakeSender()
    engine = dispatcher(session, sender, redis_conn)
    real_take = engine.throttle.take

    def take(key: str, tokens: float, rate: float, burst: float) -> float:
        if tokens not in (burst, -burst):  # the adjustment after the claim
            raise RedisConnectionError("Redis went away")
        return float(real_take(key, tokens, rate, burst))

    engine.throttle = cast(Any, SimpleNamespace(take=take))
    with pytest.raises(RedisConnectionError):
        engine.run_batch(campaign.id, 0)
    rows = deliveries(session, campaign.id)
    assert [r.status for r in rows].count(st.SENDING) == 0
    assert sorted(r.status for r in rows) == sorted([st.SENT] * 5 + [st.SKIPPED])
    assert len(sender.sent) == 5


def test_rate_is_read_from_the_campaign_each_chunk(session: Session, redis_conn: Redis) -> None:
    """Changing the rate of a running campaign changes the pace of the next chunk."""
    bulk_contacts(session, 20)
    campaign = approved_campaign(session, rate_per_second=10.0)
    dispatch.launch(session, campaign.id)
    rates: list[float] = []

    class Spy:
        def __init__(self, inner: Any) -> None:
            self.inner = inner

        def take(self, key: str, tokens: float, rate: float, burst: float | None = None) -> float:
            if key.startswith("campaign:"):
                rates.append(rate)
            return float(self.inner.take(key, tokens, rate, burst))

    def slow_down(messages: Any) -> None:
        session2 = Session(bind=session.get_bind())
        session2.get(Campaign, campaign.id).rate_per_second = 2.0  # type: ignore[union-attr]
        session2.commit()
        session2.close()

    clock = Clock(dt.datetime(2026, 7, 30, 3, tzinfo=dt.UTC))
    engine = dispatcher(session, FakeSender(before_answer=slow_down), redis_conn, clock)
    engine.throttle = Spy(engine.throttle)
    engine.run_batch(campaign.id, 0)
    assert rates[0] == 10.0 and rates[-1] == 2.0
    assert clock.slept > 0


def test_kill_switch_stops_every_campaign(session: Session, redis_conn: Redis) -> None:
    """Engaging the switch pauses running campaigns with the reason; the flag alone also stops a
    worker mid-batch; releasing resumes nothing by itself."""
    bulk_contacts(session, 5)
    campaign = approved_campaign(session)
    dispatch.launch(session, campaign.id)
    switch = killswitch.engage(session, redis_conn, "Nội dung sai, dừng ngay")
    assert switch.reason == "Nội dung sai, dừng ngay"
    assert killswitch.reason_from_flag(redis_conn) == "Nội dung sai, dừng ngay"
    status, reason = status_of(session, campaign.id)
    assert status == lifecycle.PAUSED and reason == "kill_switch: Nội dung sai, dừng ngay"
    sender = FakeSender()
    assert (
        dispatcher(session, sender, redis_conn).run_batch(campaign.id, 0).stopped == "not_running"
    )
    assert sender.sent == []
    assert killswitch.release(session, redis_conn) is True
    assert killswitch.reason_from_flag(redis_conn) is None
    assert status_of(session, campaign.id)[0] == lifecycle.PAUSED


def test_kill_switch_flag_stops_a_running_batch(session: Session, redis_conn: Redis) -> None:
    """A worker that sees the flag before a chunk pauses the campaign and sends nothing more."""
    bulk_contacts(session, 5)
    campaign = approved_campaign(session)
    dispatch.launch(session, campaign.id)
    redis_conn.set(killswitch.FLAG, "drill")
    sender = FakeSender()
    engine = dispatcher(
        session, sender, redis_conn, killed=lambda: killswitch.reason_from_flag(redis_conn)
    )
    assert engine.run_batch(campaign.id, 0).stopped == "kill_switch"
    assert sender.sent == []
    assert status_of(session, campaign.id) == (lifecycle.PAUSED, "kill_switch: drill")


def test_a_stopping_worker_ends_its_batch_at_the_next_chunk(
    session: Session, redis_conn: Redis
) -> None:
    """A warm shutdown asked for mid-batch: what is in flight is recorded, the rest stays
    pending (none leased), the campaign keeps running, and the next worker sends the rest."""
    bulk_contacts(session, 30)
    campaign = approved_campaign(session, rate_per_second=40.0)  # chunks of 2 messages
    dispatch.launch(session, campaign.id)
    sender = FakeSender()
    clock = Clock(dt.datetime(2026, 7, 30, 3, tzinfo=dt.UTC))
    engine = dispatcher(session, sender, redis_conn, clock, stopping=lambda: len(sender.sent) >= 4)
    report = engine.run_batch(campaign.id, 0)
    assert report.stopped == "shutdown"
    assert 4 <= report.sent == len(sender.sent) < 30
    by_status = Counter(d.status for d in deliveries(session, campaign.id))
    assert by_status == {st.SENT: report.sent, st.PENDING: 30 - report.sent}
    assert status_of(session, campaign.id)[0] == lifecycle.RUNNING

    rest = dispatcher(session, sender, redis_conn, clock).run_batch(campaign.id, 0)
    assert rest.stopped == "done" and report.sent + rest.sent == 30
    assert len({m.to for m in sender.sent}) == len(sender.sent) == 30  # nobody twice
    assert status_of(session, campaign.id)[0] == lifecycle.COMPLETED


def test_kill_switch_sync_follows_sql(session: Session, redis_conn: Redis) -> None:
    """The SQL record rebuilds a lost flag and clears a stale one."""
    killswitch.engage(session, redis_conn, "drill")
    redis_conn.flushdb()
    assert killswitch.sync(redis_conn, session) == "drill"
    assert killswitch.reason_from_flag(redis_conn) == "drill"
    from campaigns import killswitch as record

    record.release(session)
    session.commit()
    assert killswitch.sync(redis_conn, session) is None
    assert killswitch.reason_from_flag(redis_conn) is None


def test_reports_breakdowns_and_cost(session: Session, redis_conn: Redis) -> None:
    """Counts sum to the audience; breakdowns by carrier, district and code; cost by segment."""
    area = Area(name="Trần Đề", kind="district")
    session.add(area)
    session.flush()
    bulk_contacts(session, 4, carrier="Viettel", district_id=area.id)
    campaign = approved_campaign(session)
    dispatch.launch(session, campaign.id)

    def one_fails(m: OutboundMessage) -> SendResult:
        if m.to == mobile(3):
            return SendResult(Outcome.FAILED, error_code="30007")
        return SendResult(Outcome.ACCEPTED, provider_message_id=f"FK{m.delivery_id}")

    dispatcher(session, FakeSender(one_fails), redis_conn).run_batch(campaign.id, 0)
    st.apply_receipt(session, delivery_id=None, provider_message_id="FK1", status=st.DELIVERED)
    session.commit()
    summary = reports.summary(session, campaign.id, price_per_segment=350.0)
    counts = summary["counts"]
    assert (counts["sent"], counts["delivered"], counts["failed"]) == (2, 1, 1)
    assert reports.total(counts) == summary["audience_size"] == 4
    assert summary["by_carrier"] == {"Viettel": {"sent": 2, "delivered": 1, "failed": 1}}
    assert summary["by_district"] == {"Trần Đề": {"sent": 2, "delivered": 1, "failed": 1}}
    assert summary["by_error_code"] == {"30007": 1}
    assert summary["cost"]["segments"] == 3 and summary["cost"]["vnd"] == 1050.0


def test_receipts_out_of_order_never_move_backwards(session: Session, redis_conn: Redis) -> None:
    """A receipt that beats the send's own record keeps its status; late 'sent' cannot undo
    'delivered'; a failed segment fails the message."""
    bulk_contacts(session, 2)
    campaign = approved_campaign(session)
    dispatch.launch(session, campaign.id)

    def receipt_first(messages: Any) -> None:
        other = Session(bind=session.get_bind())
        st.apply_receipt(
            other,
            delivery_id=messages[0].delivery_id,
            provider_message_id=None,
            status=st.DELIVERED,
        )
        other.commit()
        other.close()

    dispatcher(session, FakeSender(before_answer=receipt_first), redis_conn).run_batch(
        campaign.id, 0
    )
    first, second = deliveries(session, campaign.id)
    assert first.status == st.DELIVERED and first.provider_message_id == f"FK{first.id}"
    assert second.status == st.SENT
    st.apply_receipt(session, delivery_id=first.id, provider_message_id=None, status=st.SENT)
    st.apply_receipt(session, delivery_id=second.id, provider_message_id=None, status=st.FAILED)
    st.apply_receipt(session, delivery_id=second.id, provider_message_id=None, status=st.DELIVERED)
    session.commit()
    first, second = deliveries(session, campaign.id)
    assert (first.status, second.status) == (st.DELIVERED, st.FAILED)
