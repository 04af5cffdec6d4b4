"""The delivery counters kept by the database's triggers always equal a fresh GROUP BY of the
deliveries, whatever changes them: materialise, claims, records, receipts, the reconciler,
cancel, retention, deletes, and random statements (issue 11)."""

from __future__ import annotations

import datetime as dt
import random
from pathlib import Path
from typing import Any

from alembic import command
from redis import Redis
from sqlalchemy import String, cast, delete, func, insert, literal, select, text, update
from sqlalchemy.orm import Session

from campaigns import dispatch, lifecycle, reconcile, reports
from campaigns import statuses as st
from campaigns.db import make_engine
from campaigns.models import Campaign, Contact, Delivery, DeliveryCount, OptOut
from campaigns.sending import OutboundMessage, Outcome, SendResult
from gateway import migrate
from tests.factories import mobile
from tests.integration.dispatch_support import (
    FakeSender,
    approved_campaign,
    bulk_contacts,
    dispatcher,
)
from tests.integration.test_migrations import empty_database

NOW = dt.datetime(2026, 7, 30, 3, tzinfo=dt.UTC)


def assert_exact(session: Session, campaign_id: int) -> None:
    """The counters of a campaign equal the GROUP BY, and counts() agrees with it."""
    session.flush()
    ledger = reports.ledger_counts(session, campaign_id)
    assert reports.counted(session, campaign_id) == ledger
    by_status: dict[str, int] = {}
    for (status, *_rest), (n, _segments) in ledger.items():
        by_status[status] = by_status.get(status, 0) + n
    counts = reports.counts(session, campaign_id)
    assert {s: counts[s] for s in st.ALL} == {s: by_status.get(s, 0) for s in st.ALL}


def outcome_by_id(message: OutboundMessage) -> SendResult:
    """Every outcome a provider can give, chosen by the delivery's id."""
    kind = message.delivery_id % 4
    if kind == 0:
        return SendResult(Outcome.ACCEPTED, provider_message_id=f"FK{message.delivery_id}")
    if kind == 1:
        return SendResult(Outcome.FAILED, error_code="21211", error_message="invalid")
    if kind == 2:
        return SendResult(Outcome.RETRY, error_code="20429", retry_after=3600)
    return SendResult(Outcome.UNKNOWN, error_code="timeout")


def test_counters_follow_a_campaign_through_every_path(session: Session, redis_conn: Redis) -> None:
    """Materialise with skipped rows, a dispatch of every outcome, receipts, the reconciler,
    cancel, retention's anonymising and deletes: the counters are exact after each."""
    bulk_contacts(session, 40)
    session.add(OptOut(phone=mobile(3), channel="sms"))
    session.execute(update(Contact).where(Contact.phone == mobile(5)).values(invalid=True))
    session.commit()
    campaign = approved_campaign(session)
    assert dispatch.launch(session, campaign.id, batch_size=20)
    assert_exact(session, campaign.id)
    counts = reports.counts(session, campaign.id)
    assert counts["skipped_opted_out"] == 1 and counts["skipped_invalid"] == 1

    dispatcher(session, FakeSender(outcome_by_id), redis_conn).run_batch(campaign.id, 0)
    session.commit()
    assert_exact(session, campaign.id)
    assert reports.by_error_code(session, campaign.id)["21211"] > 0

    sent = session.scalars(
        select(Delivery.id).where(Delivery.campaign_id == campaign.id, Delivery.status == st.SENT)
    ).all()
    assert len(sent) >= 2
    for i, delivery_id in enumerate(sent):
        status, code = (st.DELIVERED, None) if i % 2 else (st.UNDELIVERED, "30003")
        statuses_applied = st.apply_receipt(
            session,
            delivery_id=delivery_id,
            provider_message_id=None,
            status=status,
            error_code=code,
            at=NOW,
        )
        assert statuses_applied
        session.commit()
        assert_exact(session, campaign.id)

    claimed = dispatch.claim(session, campaign.id, 1, 5, NOW, lease_seconds=60)
    assert claimed
    assert_exact(session, campaign.id)
    settled = reconcile.resolve_expired_leases(
        session, lambda _p, _m: None, NOW + dt.timedelta(seconds=61), "sim"
    )
    session.commit()
    assert sum(settled.values()) == len(claimed)
    assert_exact(session, campaign.id)

    lifecycle.transition(session, campaign, lifecycle.CANCEL, None, reason="test", now=NOW)
    session.commit()
    assert_exact(session, campaign.id)
    assert reports.counts(session, campaign.id)[st.PENDING] == 0

    # Retention anonymises the number: no counted column moves.
    session.execute(
        update(Delivery)
        .where(Delivery.campaign_id == campaign.id)
        .values(phone=literal("anon-") + cast(Delivery.id, String))
    )
    session.commit()
    assert_exact(session, campaign.id)
    assert reports.total(reports.counts(session, campaign.id)) == 40

    session.execute(
        delete(Delivery).where(Delivery.campaign_id == campaign.id, Delivery.id % 3 == 0)
    )
    session.commit()
    assert_exact(session, campaign.id)

    session.delete(campaign)
    session.commit()
    assert session.scalar(select(func.count()).select_from(DeliveryCount)) == 0


STATUSES = [*st.ALL]
REASONS = [None, st.SKIP_OPTED_OUT, st.SKIP_INVALID, "cancelled"]
CODES = [None, "21211", "30003", "timeout"]
CARRIERS = [None, "Viettel", "Mobifone"]
DISTRICTS = [None, 1, 2]  # a plain id (no foreign key): any will do


def test_random_statements_keep_counters_exact(session: Session) -> None:
    """Random multi-row INSERTs, UPDATEs of each counted column (and of none) and DELETEs over
    two campaigns, checked after each statement against a fresh GROUP BY."""
    rng = random.Random(11)
    campaigns = [approved_campaign(session), approved_campaign(session)]
    serial = 0
    for _step in range(60):
        c = rng.choice(campaigns)
        action = rng.choice(["insert", "update", "update", "update", "delete", "noop"])
        if action == "insert":
            rows = []
            for _ in range(rng.randint(1, 15)):
                serial += 1
                rows.append(
                    {
                        "campaign_id": c.id,
                        "phone": mobile(serial),
                        "status": rng.choice(STATUSES),
                        "skip_reason": rng.choice(REASONS),
                        "error_code": rng.choice(CODES),
                        "segments": rng.randint(1, 4),
                        "carrier": rng.choice(CARRIERS),
                        "district_id": rng.choice(DISTRICTS),
                    }
                )
            session.execute(insert(Delivery), rows)
        elif action == "update":
            column = rng.choice(
                [
                    "status",
                    "skip_reason",
                    "error_code",
                    "segments",
                    "carrier",
                    "district_id",
                    "several",
                ]
            )
            values: dict[str, object] = {
                "status": {"status": rng.choice(STATUSES)},
                "skip_reason": {"skip_reason": rng.choice(REASONS)},
                "error_code": {"error_code": rng.choice(CODES)},
                "segments": {"segments": rng.randint(1, 4)},
                "carrier": {"carrier": rng.choice(CARRIERS)},
                "district_id": {"district_id": rng.choice(DISTRICTS)},
                "several": {"status": rng.choice(STATUSES), "error_code": rng.choice(CODES)},
            }[column]
            session.execute(
                update(Delivery)
                .where(Delivery.campaign_id == c.id, Delivery.id % rng.randint(1, 4) == 0)
                .values(**values)
            )
        elif action == "delete":
            session.execute(
                delete(Delivery).where(
                    Delivery.campaign_id == c.id, Delivery.id % 7 == rng.randint(0, 6)
                )
            )
        else:
            session.execute(update(Delivery).where(Delivery.campaign_id == c.id).values(attempts=1))
        if rng.random() < 0.5:
            session.commit()
        for each in campaigns:
            assert_exact(session, each.id)
    session.commit()


def test_recount_repairs_drifted_counters(session: Session) -> None:
    """A counter changed by hand is put right by reports.recount."""
    bulk_contacts(session, 10)
    campaign = approved_campaign(session)
    dispatch.launch(session, campaign.id)
    session.execute(update(DeliveryCount).values(n=DeliveryCount.n + 5))
    session.commit()
    assert reports.counted(session, campaign.id) != reports.ledger_counts(session, campaign.id)
    reports.recount(session, campaign.id)
    session.commit()
    assert_exact(session, campaign.id)
    assert reports.counts(session, campaign.id)[st.PENDING] == 10


def test_loa_db_recount_repairs_every_campaign(session: Session, runner: Any) -> None:
    """`loa db recount` rebuilds the counters from the deliveries."""
    bulk_contacts(session, 4)
    campaign = approved_campaign(session)
    dispatch.launch(session, campaign.id)
    session.execute(delete(DeliveryCount))
    session.commit()
    result = runner.invoke(args=["db", "recount"])
    assert result.exit_code == 0, result.output
    session.expire_all()
    assert_exact(session, campaign.id)
    assert reports.counts(session, campaign.id)[st.PENDING] == 4


def test_migration_backfills_existing_deliveries(database_url: str, tmp_path: Path) -> None:
    """Upgrading a database that already holds deliveries counts them; downgrading drops the
    counters and their triggers, and upgrading again counts again."""
    url = empty_database(database_url, tmp_path, "loa_counts")
    migrate.upgrade(url, "0014")
    eng = make_engine(url)
    try:
        with Session(eng) as s:
            campaign = Campaign(name="c", body="b", status=lifecycle.RUNNING, audience_size=3)
            s.add(campaign)
            s.flush()
            cid = campaign.id
            # Only the columns of 0014 (the model's snapshot columns come with 0016).
            rows = [
                ("pending", None, None),
                ("skipped", "opted_out", None),
                ("failed", None, "21211"),
            ]
            s.execute(
                insert(Delivery),
                [
                    {
                        "campaign_id": cid,
                        "phone": mobile(i),
                        "status": status,
                        "skip_reason": reason,
                        "error_code": code,
                        "segments": 2,
                    }
                    for i, (status, reason, code) in enumerate(rows)
                ],
            )
            s.commit()
        migrate.upgrade(url)
        with Session(eng) as s:
            assert reports.counted(s, cid) == {
                ("pending", "", "", "", 0): (1, 2),
                ("skipped", "opted_out", "", "", 0): (1, 2),
                ("failed", "", "21211", "", 0): (1, 2),
            }
            s.execute(update(Delivery).where(Delivery.status == "pending").values(status="sent"))
            s.commit()
            assert_exact(s, cid)
        command.downgrade(migrate.config(url), "0014")
        with eng.begin() as conn:
            conn.execute(text("UPDATE deliveries SET status = 'delivered' WHERE status = 'sent'"))
        migrate.upgrade(url)
        with Session(eng) as s:
            assert_exact(s, cid)
            assert reports.counts(s, cid)[st.DELIVERED] == 1
    finally:
        eng.dispose()


def test_two_connections_never_wait_for_each_others_counters(
    session: Session, new_session: Session
) -> None:
    """Two transactions moving deliveries of one campaign to the same statuses, in opposite
    orders, both open at once (as two workers recording chunks): neither waits for the other's
    counter rows (on PostgreSQL each connection adds to rows of its own), and once both commit
    the counters are exact."""
    bulk_contacts(session, 20)
    campaign = approved_campaign(session)
    assert dispatch.launch(session, campaign.id, batch_size=20)
    session.commit()
    ids = session.scalars(
        select(Delivery.id).where(
            Delivery.campaign_id == campaign.id, Delivery.status == st.PENDING
        )
    ).all()
    first, second = ids[:8], ids[8:16]
    postgresql = session.get_bind().dialect.name == "postgresql"

    def move(s: Session, rows: list[int], status: str, code: str | None) -> None:
        s.execute(
            update(Delivery)
            .where(Delivery.id.in_(rows))
            .values(status=status, error_code=code)
            .execution_options(synchronize_session=False)
        )

    if postgresql:  # a wait for the other's row lock fails at once instead of hanging
        session.execute(text("SET lock_timeout = '2s'"))
        new_session.execute(text("SET lock_timeout = '2s'"))
    move(session, first[:4], st.SENT, None)
    if postgresql:  # SQLite has one writer: the second transaction runs after the first
        move(new_session, second[:4], st.FAILED, "30003")
        move(new_session, second[4:], st.SENT, None)
        move(session, first[4:], st.FAILED, "30003")
        new_session.commit()
    else:
        move(session, first[4:], st.FAILED, "30003")
    session.commit()
    if not postgresql:
        move(new_session, second[:4], st.FAILED, "30003")
        move(new_session, second[4:], st.SENT, None)
        new_session.commit()
    assert_exact(session, campaign.id)
    counts = reports.counts(session, campaign.id)
    assert (counts[st.SENT], counts[st.FAILED]) == (8, 8)


def _slots(session: Session, campaign_id: int) -> list[int]:
    return list(
        session.scalars(select(DeliveryCount.slot).where(DeliveryCount.campaign_id == campaign_id))
    )


def test_fold_leaves_one_row_per_key_and_skips_rows_in_use(
    session: Session, new_session: Session
) -> None:
    """PostgreSQL: the rows each connection added fold into slot 0, one row per key, and the
    counters stay exact. A row another open transaction holds is skipped, not waited for (a
    2 s lock timeout would fail the fold), and folds on the next pass. SQLite keeps one slot
    and folds nothing."""
    bulk_contacts(session, 20)
    campaign = approved_campaign(session)
    assert dispatch.launch(session, campaign.id, batch_size=20)
    session.commit()
    ids = session.scalars(select(Delivery.id).where(Delivery.campaign_id == campaign.id)).all()

    def move(s: Session, rows: Any, status: str) -> None:
        s.execute(update(Delivery).where(Delivery.id.in_(rows)).values(status=status))

    move(new_session, ids[:5], st.SENT)
    new_session.commit()  # new_session's own slot now holds rows
    move(session, ids[5:10], st.FAILED)
    session.commit()
    postgresql = session.get_bind().dialect.name == "postgresql"
    if not postgresql:
        assert reports.fold(session) == 0 and set(_slots(session, campaign.id)) == {0}
        assert_exact(session, campaign.id)
        return
    assert len(set(_slots(session, campaign.id))) >= 2
    move(new_session, ids[10:12], st.SENT)  # open: new_session holds its slot's rows
    session.execute(text("SET lock_timeout = '2s'"))
    assert reports.fold(session) > 0
    session.commit()
    new_session.commit()
    assert_exact(session, campaign.id)
    assert set(_slots(session, campaign.id)) > {0}  # the held rows were left for later
    assert reports.fold(session) > 0
    session.commit()
    assert set(_slots(session, campaign.id)) == {0}
    keys = session.execute(
        select(
            DeliveryCount.status,
            DeliveryCount.skip_reason,
            DeliveryCount.error_code,
            DeliveryCount.carrier,
            DeliveryCount.district_id,
        ).where(DeliveryCount.campaign_id == campaign.id)
    ).all()
    assert len(keys) == len(set(keys)) == len(reports.ledger_counts(session, campaign.id))
    assert_exact(session, campaign.id)


def test_each_reconciler_pass_folds_the_counters(
    app: Any, session: Session, redis_conn: Redis
) -> None:
    """The reconciler folds the counters on every pass (PostgreSQL; SQLite has nothing to
    fold)."""
    from workers import reconciler

    bulk_contacts(session, 12)
    campaign = approved_campaign(session)
    assert dispatch.launch(session, campaign.id, batch_size=12)
    session.commit()
    session.execute(
        update(Delivery).where(Delivery.campaign_id == campaign.id).values(status=st.SENT)
    )
    session.commit()
    out = reconciler.run()
    if session.get_bind().dialect.name == "postgresql":
        assert out["counters_folded"] > 0
    else:
        assert out["counters_folded"] == 0
    assert set(_slots(session, campaign.id)) == {0}
    assert_exact(session, campaign.id)
