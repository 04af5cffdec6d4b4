"""Tip intake: committed before the answer, one tip per provider message, keywords, Redis down."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import delete, event, func, select
from sqlalchemy.orm import Session

from campaigns import statuses
from campaigns.areas import load_soc_trang_2024
from campaigns.db import utcnow
from campaigns.models import Area, Campaign, Delivery, OptOut
from gateway import create_app, db
from gateway.providers import InboundMessage
from gateway.settings import Settings
from gateway.tips import links, replies
from gateway.tips.intake import _insert, receive_inbound, store_tip
from gateway.tips.models import Reply, Tip, TipEvent
from gateway.tips.routing import DEFAULT_RULES, seed_default_rules
from tests.factories import create_campaign, create_contact

SENDER = "+84981230001"


def _inbound(body: str, mid: str = "SM1", sender: str = "0981230001") -> InboundMessage:
    return InboundMessage(provider="twilio", provider_message_id=mid, sender=sender, body=body)


@pytest.fixture
def rules(session: Session) -> None:
    load_soc_trang_2024(session)
    seed_default_rules(session)
    session.commit()


def _tips(s: Session) -> list[Tip]:
    s.expire_all()
    return list(s.scalars(select(Tip).order_by(Tip.id)))


def test_tip_is_committed_before_the_answer(
    app: Any, session: Session, new_session: Session, rules: None
) -> None:
    """When receive_inbound returns, another connection already sees the routed tip."""
    ack = receive_inbound(session, db.tipline(), _inbound("Có người dụ dỗ trẻ em ở Kế Sách"))
    assert ack == replies.DEFAULT_ACK
    tips = _tips(new_session)
    assert len(tips) == 1
    tip = tips[0]
    assert (tip.sender, tip.channel, tip.queue, tip.shared_with) == (
        SENDER, "sms", "hotline_111", ["police_ke_sach"],
    )  # fmt: skip
    assert tip.rule_version == 1 and tip.matched_rules[0]["name"] == "Trẻ em → 111"
    assert new_session.scalar(select(func.count()).select_from(TipEvent)) == 1


def test_ack_never_echoes_the_tip_and_gives_hotlines(app: Any, session: Session) -> None:
    """The acknowledgement is neutral: no word of the tip, and both 111 and 113."""
    body = "Nhà số 5 đường Lê Lợi giữ người"
    ack = receive_inbound(session, db.tipline(), _inbound(body))
    assert ack is not None and "111" in ack and "113" in ack
    assert "Lê Lợi" not in ack and body not in ack


def test_duplicate_webhook_stores_one_tip_and_same_ack(
    app: Any, session: Session, new_session: Session
) -> None:
    """The same provider message id twice: one tip, the same answer."""
    first = receive_inbound(session, db.tipline(), _inbound("tin báo", mid="SMdup"))
    second = receive_inbound(session, db.tipline(), _inbound("tin báo", mid="SMdup"))
    assert first == second == replies.DEFAULT_ACK
    assert len(_tips(new_session)) == 1
    assert new_session.scalar(select(func.count()).select_from(Reply)) == 1


def test_same_id_from_another_provider_is_another_tip(app: Any, session: Session) -> None:
    """Dedupe is per provider: two providers may use the same id."""
    receive_inbound(session, db.tipline(), _inbound("a", mid="X1"))
    other = InboundMessage(provider="simulator", provider_message_id="X1", sender=SENDER, body="b")
    receive_inbound(session, db.tipline(), other)
    assert len(_tips(session)) == 2


def test_concurrent_insert_returns_the_existing_tip(
    app: Any, session: Session, new_session: Session
) -> None:
    """A duplicate is caught by the unique constraint (no SELECT first), not raised."""
    _first, created = store_tip(
        new_session,
        db.tipline(),
        channel="sms",
        body="x",
        provider="twilio",
        provider_message_id="SMrace",
    )
    new_session.commit()
    assert created
    late = {"channel": "sms", "body": "x", "provider": "twilio", "provider_message_id": "SMrace"}
    assert _insert(session, late) is None
    session.commit()  # nothing was inserted; the session is still usable
    assert len(_tips(session)) == 1


def test_a_duplicate_in_flight_waits_and_stores_nothing(
    app: Any, session: Session, new_session: Session
) -> None:
    """The same message stored by another transaction not yet committed: the second insert
    waits for it, then stores nothing and returns the committed tip."""
    import threading

    key = {"channel": "sms", "body": "x", "provider": "twilio", "provider_message_id": "SMflight"}
    line = db.tipline()
    first, created = store_tip(new_session, line, **key)
    assert created  # not committed yet
    result: list[tuple[Tip, bool]] = []

    def second() -> None:
        result.append(store_tip(session, line, **key))

    thread = threading.Thread(target=second)
    thread.start()
    thread.join(0.5)
    assert thread.is_alive()  # held by the first transaction's row (or write lock)
    new_session.commit()
    thread.join(30)
    session.commit()
    ((tip, created_again),) = result
    assert (tip.id, created_again) == (first.id, False)
    assert len(_tips(session)) == 1


def test_webhooks_on_many_threads_each_store_their_tip(
    app: Any, db_engine: Any, new_session: Session
) -> None:
    """Threads of one process (gunicorn's) storing tips at once: every tip is stored and
    acknowledged, none waits out SQLite's busy timeout or fails on a lock."""
    import threading

    from campaigns.db import make_sessionmaker

    line = db.tipline()
    factory = make_sessionmaker(db_engine)
    acks: list[str | None] = []

    def webhook(n: int) -> None:
        with factory() as s:
            for k in range(5):
                acks.append(receive_inbound(s, line, _inbound("tin báo", mid=f"SMthread{n}-{k}")))

    threads = [threading.Thread(target=webhook, args=(n,)) for n in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert acks == [replies.DEFAULT_ACK] * 30
    assert len(_tips(new_session)) == 30


def test_a_writer_stuck_on_the_database_does_not_queue_the_others(
    app: Any, session: Session, db_engine: Any, new_session: Session, monkeypatch: Any
) -> None:
    """The process's SQLite writer lock only orders writers: held by a writer that waits out a
    locked database, the others stop queueing behind it and store their tips themselves (the
    fault suite's 503-after-the-busy-timeout depends on it)."""
    from campaigns import db as ledger

    if session.get_bind().dialect.name != "sqlite":
        pytest.skip("the writer lock is SQLite's")
    import threading

    from campaigns.db import make_sessionmaker

    monkeypatch.setattr(ledger, "WRITER_WAIT_SECONDS", 0.05)
    line, factory, acks = db.tipline(), make_sessionmaker(db_engine), []

    def webhook() -> None:
        with factory() as s:
            acks.append(receive_inbound(s, line, _inbound("tin báo", mid="SMstuck")))

    assert ledger._SQLITE_WRITER.acquire(timeout=5)  # a writer stuck elsewhere
    try:
        other = threading.Thread(target=webhook)
        other.start()
        other.join(20)
        assert not other.is_alive(), "the webhook queued behind the stuck writer"
    finally:
        ledger._SQLITE_WRITER.release()
    assert acks == [replies.DEFAULT_ACK]
    assert [t.provider_message_id for t in _tips(new_session)] == ["SMstuck"]


def test_a_tip_is_routed_before_its_writer_takes_the_lock(
    app: Any, session: Session, new_session: Session, rules: None, monkeypatch: Any
) -> None:
    """Routing and the reads before it (rules, areas, the sender's campaign) happen outside the
    process's SQLite writer lock: the other requests wait for it only while a tip is written
    (held 1.6 -> 0.9 ms a tip, bench figures in BENCHMARKS.md)."""
    from campaigns import db as ledger
    from gateway.tips import routing

    held_while_routing: list[bool] = []
    router_for = routing.router_for

    def watched(s: Session) -> routing.Router:
        held_while_routing.append(ledger._SQLITE_WRITER.locked())
        return router_for(s)

    monkeypatch.setattr(routing, "router_for", watched)
    ack = receive_inbound(session, db.tipline(), _inbound("Có người dụ dỗ trẻ em ở Kế Sách"))
    assert ack == replies.DEFAULT_ACK
    assert held_while_routing == [False]
    assert [t.queue for t in _tips(new_session)] == ["hotline_111"]


@pytest.fixture
def dead_redis_app(settings: Settings, db_engine: Any, redis_conn: Any) -> Iterator[Any]:
    """The app pointed at a Redis port where nothing listens."""
    application = create_app(
        settings.model_copy(update={"redis_url": "redis://127.0.0.1:1/0"}),
        TESTING=True,
        WTF_CSRF_ENABLED=False,
    )
    with application.app_context():
        yield application
    application.extensions["loa.engine"].dispose()


def test_redis_down_loses_no_tip(
    dead_redis_app: Any, new_session: Session, caplog: pytest.LogCaptureFixture
) -> None:
    """With Redis down an urgent tip is stored, acknowledged, and left for the periodic job."""
    s = db.session()
    load_soc_trang_2024(s)
    seed_default_rules(s)
    s.commit()
    body = "Cứu tôi, đang bị nhốt ở Vĩnh Châu"
    with caplog.at_level(logging.INFO):
        ack = receive_inbound(s, db.tipline(), _inbound(body, mid="SMdown"), inline_reply=False)
    assert ack is None  # queued as an outbound reply instead of inline
    tips = _tips(new_session)
    assert len(tips) == 1 and tips[0].priority == "urgent"
    assert tips[0].notified_at is None  # the periodic job will notify
    reply = new_session.scalar(select(Reply))
    assert reply is not None and reply.status == "queued" and reply.kind == "ack"
    assert body not in caplog.text and SENDER not in caplog.text
    assert "not enqueued" in caplog.text


def test_redis_down_then_periodic_job_catches_up(
    app: Any, session: Session, redis_conn: Any, rq_worker: Any
) -> None:
    """A tip whose notification never reached Redis is notified by check_urgency."""
    from workers import notifications

    load_soc_trang_2024(session)
    seed_default_rules(session)
    tip, _ = store_tip(session, db.tipline(), channel="sms", body="khẩn cấp", sender=SENDER)
    stale = replies.queue_reply(session, to_phone=SENDER, body="ack", kind="ack", tip_id=tip.id)
    assert stale is not None
    stale.created_at = utcnow() - dt.timedelta(minutes=10)
    session.commit()
    counts = notifications.check_urgency()
    assert counts["notified"] == 1 and counts["replies_requeued"] == 1
    rq_worker.run()
    session.expire_all()
    assert session.get(Tip, tip.id).notified_at is not None  # type: ignore[union-attr]
    assert session.get(Reply, stale.id).status == "sent"  # type: ignore[union-attr]


def test_a_reply_left_sending_by_a_dead_worker_becomes_unknown(
    app: Any, session: Session, redis_conn: Any, rq_worker: Any
) -> None:
    """A worker died between claiming a reply and recording the provider's answer: the
    periodic job marks it unknown after a while (never resent: the provider may have it)."""
    from workers import notifications

    stuck = replies.queue_reply(session, to_phone=SENDER, body="ack", kind="ack")
    fresh = replies.queue_reply(session, to_phone=SENDER, body="ack 2", kind="ack")
    assert stuck is not None and fresh is not None
    now = utcnow()
    stuck.status, stuck.claimed_at = "sending", now - dt.timedelta(minutes=11)
    fresh.status, fresh.claimed_at = "sending", now - dt.timedelta(minutes=1)
    session.commit()
    counts = notifications.check_urgency(now=now)
    assert counts["replies_interrupted"] == 1
    rq_worker.run()
    session.expire_all()
    assert (stuck.status, stuck.error_code) == ("unknown", "interrupted")
    assert fresh.status == "sending"  # its worker may still be waiting for the provider
    assert stuck.sent_at is None


def test_a_claimed_reply_records_when(app: Any, session: Session, rq_worker: Any) -> None:
    reply = replies.queue_reply(session, to_phone=SENDER, body="ack", kind="ack")
    assert reply is not None
    session.commit()
    from workers import notifications

    assert notifications.send_reply(reply.id) == "sent"
    session.expire_all()
    assert reply.claimed_at is not None


def test_do_not_contact_sender_gets_no_reply(app: Any, session: Session) -> None:
    """A sender marked do-not-contact: the tip is stored, nothing is answered or queued."""
    replies.mark_do_not_contact(session, SENDER, reason="an toàn")
    session.commit()
    assert receive_inbound(session, db.tipline(), _inbound("tin báo")) is None
    assert (
        receive_inbound(session, db.tipline(), _inbound("tin khác", mid="SM2"), inline_reply=False)
        is None
    )
    assert len(_tips(session)) == 2
    assert session.scalar(select(func.count()).select_from(Reply)) == 0


def test_unreachable_sender_gets_no_reply(app: Any, session: Session) -> None:
    """An alphanumeric or short-code sender is stored as given and never answered."""
    assert receive_inbound(session, db.tipline(), _inbound("tin báo", sender="VIETTEL")) is None
    assert _tips(session)[0].sender == "VIETTEL"


@pytest.mark.parametrize(
    ("body", "opted_out", "answer"),
    [
        ("STOP", True, replies.OPT_OUT_CONFIRM),
        ("Hủy", True, replies.OPT_OUT_CONFIRM),
        ("tu choi", True, replies.OPT_OUT_CONFIRM),
        ("Từ chối!", True, replies.OPT_OUT_CONFIRM),
    ],
)
def test_opt_out_keyword(
    app: Any, session: Session, body: str, opted_out: bool, answer: str
) -> None:
    """An opt-out keyword opts the number out, confirms in Vietnamese and stores no tip."""
    assert receive_inbound(session, db.tipline(), _inbound(body)) == answer
    assert session.scalar(select(OptOut.phone)) == SENDER
    assert _tips(session) == []


def test_opt_in_after_opt_out(app: Any, session: Session) -> None:
    """BẮT ĐẦU removes the opt-out and confirms."""
    receive_inbound(session, db.tipline(), _inbound("HUY", mid="a"))
    assert (
        receive_inbound(session, db.tipline(), _inbound("Bắt đầu", mid="b"))
        == replies.OPT_IN_CONFIRM
    )
    assert session.scalar(select(func.count()).select_from(OptOut)) == 0


def test_tip_containing_a_keyword_is_a_tip(app: Any, session: Session) -> None:
    """'họ không cho tôi dừng' is a tip, not an opt-out."""
    assert (
        receive_inbound(session, db.tipline(), _inbound("họ không cho tôi dừng lại"))
        == replies.DEFAULT_ACK
    )
    assert len(_tips(session)) == 1
    assert session.scalar(select(func.count()).select_from(OptOut)) == 0


def test_tip_links_to_recent_campaign(app: Any, session: Session) -> None:
    """A tip from a number that got a broadcast within tip_link_days records the campaign;
    the report counts by the district named in the tip, else the sender's contact district."""
    areas = load_soc_trang_2024(session)
    assert areas == 120  # the province, 11 districts and towns, 108 communes and wards
    seed_default_rules(session)
    recent, old = create_campaign(), create_campaign()
    now = utcnow()
    for campaign, days, phone in ((recent, 3, SENDER), (old, 30, "+84981230002")):
        session.add(
            Delivery(
                campaign_id=campaign.id, phone=phone, status=statuses.DELIVERED,
                sent_at=now - dt.timedelta(days=days),
            )
        )  # fmt: skip
    session.add(Delivery(campaign_id=old.id, phone=SENDER, status=statuses.FAILED, sent_at=now))
    my_tu = session.scalar(select(Area).where(Area.name == "Mỹ Tú"))
    create_contact(phone=SENDER, district_id=my_tu.id if my_tu else None)
    session.commit()
    receive_inbound(session, db.tipline(), _inbound("tin ở Kế Sách", mid="l1"))
    receive_inbound(session, db.tipline(), _inbound("tin khác", mid="l2"))
    receive_inbound(session, db.tipline(), _inbound("tin cũ", mid="l3", sender="+84981230002"))
    tips = _tips(session)
    assert [t.campaign_id for t in tips] == [recent.id, recent.id, None]
    assert links.campaign_tip_counts(session, recent.id) == {
        "total": 2, "by_district": {"Kế Sách": 1, "Mỹ Tú": 1},
    }  # fmt: skip


def test_store_tip_rejects_unknown_channel(app: Any, session: Session) -> None:
    """Channels are a closed list."""
    with pytest.raises(ValueError, match="unknown channel"):
        store_tip(session, db.tipline(), channel="fax", body="x")


def test_body_is_nfc_and_capped(app: Any, session: Session) -> None:
    """Bodies are stored NFC-normalised and cut to the maximum length."""
    tip, _ = store_tip(
        session, db.tipline(), channel="web", body="Tre\u0302\u0309 em " + "a" * 9000
    )
    assert tip.body.startswith("Trể em") and len(tip.body) == 5000


def test_edited_rule_is_a_new_version_recorded_on_tips(app: Any, session: Session) -> None:
    """Editing a rule adds version 2 and retires version 1; new tips record version 2."""
    from gateway.tips.models import RoutingRule
    from gateway.tips.routing import active_rules, edit_rule

    seed_default_rules(session)
    child = session.scalar(select(RoutingRule).where(RoutingRule.queue == "hotline_111"))
    assert child is not None
    edit_rule(session, child, phrases=[*child.phrases, "bé út"])
    session.commit()
    versions = session.execute(
        select(RoutingRule.version, RoutingRule.active).where(RoutingRule.name == child.name)
    ).all()
    assert sorted(versions) == [(1, False), (2, True)]
    assert len(active_rules(session)) == len(DEFAULT_RULES)
    tip, _ = store_tip(session, db.tipline(), channel="web", body="bé út nhà bên bị dụ đi")
    assert (tip.queue, tip.rule_version) == ("hotline_111", 2)


def test_outside_flask_the_tip_line_reads_its_settings(
    settings: Settings, db_engine: Any, redis_conn: Any
) -> None:
    """No app and no request (the SMPP link, a worker): the acknowledgement text and the link
    window come from the process's settings, never from defaults."""
    from flask import has_app_context

    from campaigns.db import make_sessionmaker
    from gateway.tips.line import TipLine

    assert not has_app_context()
    line = TipLine(
        settings.model_copy(update={"tip_ack_text": "Loa thử: đã nhận.", "tip_link_days": 2}),
        redis_conn,
    )
    with make_sessionmaker(db_engine)() as s:
        campaign = Campaign(name="c", body="x")
        s.add(campaign)
        s.flush()
        s.add(
            Delivery(
                campaign_id=campaign.id, phone=SENDER, status=statuses.DELIVERED,
                sent_at=utcnow() - dt.timedelta(days=3),
            )
        )  # fmt: skip
        s.commit()
        ack = receive_inbound(s, line, _inbound("tin báo", mid="noapp"))
        (tip,) = _tips(s)
    assert ack == "Loa thử: đã nhận."
    assert tip.campaign_id is None  # 3 days ago is outside this process's 2-day window


def test_reply_kind_and_state_show_as_labels(
    app: Any, client: Any, login_as: Any, session: Session
) -> None:
    """The tip page names a reply's kind and state in words, never by internal code."""
    from tests.factories import create_tip

    tip = create_tip("tin báo", channel="sms", sender=SENDER, queue="hotline_111")
    reply = replies.queue_reply(session, to_phone=SENDER, body="ack", kind="ack", tip_id=tip.id)
    assert reply is not None
    reply.status = "unknown"
    session.commit()
    login_as("admin")
    html = client.get(f"/inbox/{tip.id}").get_data(as_text=True)
    assert "Xác nhận tự động · Chưa rõ đã gửi hay chưa" in html
    assert "· ack ·" not in html and "· unknown" not in html


def test_rules_and_areas_changed_elsewhere_route_the_very_next_tip(
    app: Any, session: Session, new_session: Session
) -> None:
    """The compiled rules are kept per process, yet an edit made by another process (here
    another connection) routes the next tip: a new version, a row changed in place, an alias."""
    from gateway.tips import routing
    from gateway.tips.models import RoutingRule

    load_soc_trang_2024(session)
    seed_default_rules(session)
    session.commit()
    body = "có chuyện lạ ở xóm chài Hồ Sen"

    def tip_queue() -> tuple[str, int | None, int | None]:
        tip, _ = store_tip(session, db.tipline(), channel="web", body=body)
        session.commit()
        return tip.queue, tip.rule_version, tip.district_id

    assert tip_queue() == ("police_province", None, None)
    rows_read: list[str] = []
    engine = session.get_bind()
    watch = lambda *a, **_kw: rows_read.append(a[2])  # noqa: E731  (statement)
    event.listen(engine, "before_cursor_execute", watch)
    try:
        assert tip_queue() == ("police_province", None, None)
    finally:
        event.remove(engine, "before_cursor_execute", watch)
    assert any("routing_version" in sql for sql in rows_read)
    assert not [sql for sql in rows_read if "FROM routing_rules" in sql or "FROM areas" in sql]

    border = new_session.scalar(select(RoutingRule).where(RoutingRule.queue == "border_guard"))
    assert border is not None
    edited = routing.edit_rule(new_session, border, phrases=[*border.phrases, "xóm chài"])
    new_session.commit()
    assert tip_queue() == ("border_guard", 2, None)

    new_session.execute(  # changed in place, no new version: still seen at once
        RoutingRule.__table__.update()
        .where(RoutingRule.id == edited.id)
        .values(queue="hotline_111")
    )
    new_session.commit()
    assert tip_queue()[:2] == ("hotline_111", 2)

    area = new_session.scalar(select(Area).where(Area.name == "Kế Sách"))
    assert area is not None
    area.aliases = [*area.aliases, "Hồ Sen"]
    new_session.commit()
    queue, _version, district = tip_queue()
    assert (queue, district) == ("hotline_111", area.id)

    new_session.execute(delete(RoutingRule).where(RoutingRule.id == edited.id))
    new_session.commit()  # a row deleted: seen at once too; the alias leads to Kế Sách's police
    assert tip_queue()[0] == area.police_queue != "hotline_111"


def test_without_the_routing_token_every_tip_reads_the_rules(
    app: Any, session: Session, new_session: Session
) -> None:
    """A database whose ``routing_version`` row was deleted by hand still routes each tip by the
    rows it holds then; ``loa db upgrade`` is not needed for that."""
    from gateway.tips import routing
    from gateway.tips.models import RoutingRule, RoutingVersion

    seed_default_rules(session)
    session.execute(delete(RoutingVersion))
    session.commit()
    body = "có chuyện lạ ở xóm chài"
    assert routing.route_tip_text(session, body).queue == "police_province"
    rule = new_session.scalar(select(RoutingRule).where(RoutingRule.queue == "border_guard"))
    assert rule is not None
    routing.edit_rule(new_session, rule, phrases=[*rule.phrases, "xóm chài"])
    new_session.commit()
    assert routing.route_tip_text(session, body).queue == "border_guard"


def test_one_writer_takes_sqlites_write_lock_polling_up_to_the_busy_timeout(
    app: Any, session: Session, db_engine: Any, monkeypatch: Any
) -> None:
    """Inside ``one_writer`` the transaction holds SQLite's write lock already (taken by polling,
    not in SQLite's busy handler, whose sleeps grow to 100 ms); a lock held elsewhere past the
    busy timeout fails as SQLite's own wait would, and the connection keeps its busy timeout."""
    import sqlite3

    from sqlalchemy.exc import OperationalError

    from campaigns import db as ledger

    if session.get_bind().dialect.name != "sqlite":
        pytest.skip("the write lock is SQLite's")
    path = str(db_engine.url.database)

    def other_can_write() -> bool:
        con = sqlite3.connect(path, timeout=0, isolation_level=None)
        try:
            con.execute("BEGIN IMMEDIATE")
            con.execute("ROLLBACK")
            return True
        except sqlite3.OperationalError:
            return False
        finally:
            con.close()

    with ledger.one_writer(session):
        assert not other_can_write()
    session.rollback()
    assert other_can_write()

    monkeypatch.setattr(ledger, "BUSY_TIMEOUT_SECONDS", 0.2)
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        with pytest.raises(OperationalError, match="locked"), ledger.one_writer(session):
            pass
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    session.rollback()
    timeout = session.connection().exec_driver_sql("PRAGMA busy_timeout").scalar()
    assert timeout == 200
