"""Retention: tips, replies and deliveries past their period lose their content and numbers but
keep their counts; a legal hold keeps a tip whole; every run is audited with counts only."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from campaigns import lifecycle, statuses
from campaigns.db import utcnow
from campaigns.models import Delivery
from gateway import retention
from gateway.models import AuditEvent
from gateway.tips.models import Reply, Tip, TipEvent, TipNote
from tests.factories import create_campaign, create_contact, create_tip

NOW = dt.datetime(2031, 7, 30, 3, 0, tzinfo=dt.UTC)
LONG_AGO = NOW - dt.timedelta(days=2000)
LAST_MONTH = NOW - dt.timedelta(days=30)
PERIODS = retention.Periods(tips_days=1825, replies_days=365, deliveries_days=365)
BODY = "Con tôi bị đưa sang biên giới, xin giúp"


def _world(session: Session) -> dict[str, Any]:
    """Old and recent tips, replies and deliveries: what retention must take and must leave."""
    closed = {"status": "closed", "resolution": "referred_police", "queue": "police_ke_sach"}
    old = create_tip(BODY, sender="+84981230001", given_phone="+84981230009",
                     closed_at=LONG_AGO, **closed)  # fmt: skip
    held = create_tip(BODY, sender="+84981230002", closed_at=LONG_AGO, legal_hold=True,
                      legal_hold_reason="vụ án 12/2031", **closed)  # fmt: skip
    recent = create_tip(BODY, sender="+84981230003", closed_at=LAST_MONTH, **closed)
    still_open = create_tip(BODY, sender="+84981230004", received_at=LONG_AGO)
    session.add_all([TipNote(tip_id=old.id, body="gặp nhân chứng"),
                     TipNote(tip_id=held.id, body="đang điều tra")])  # fmt: skip
    replies = {
        "alert": Reply(to_phone="+84981130001", body="Tin khẩn #1", kind="alert", status="sent",
                       created_at=LONG_AGO, sent_at=LONG_AGO),
        "old": Reply(tip_id=old.id, to_phone=old.sender, body="Cảm ơn", kind="reply",
                     status="sent", created_at=LONG_AGO, sent_at=LONG_AGO),
        "held": Reply(tip_id=held.id, to_phone=held.sender, body="Cảm ơn", kind="reply",
                      status="sent", created_at=LONG_AGO, sent_at=LONG_AGO),
        "open": Reply(tip_id=still_open.id, to_phone=still_open.sender, body="Cảm ơn",
                      kind="reply", status="sent", created_at=LONG_AGO, sent_at=LONG_AGO),
        "queued": Reply(to_phone="+84981130002", body="Chờ", kind="alert", status="queued",
                        created_at=LONG_AGO),
        "recent": Reply(to_phone="+84981130003", body="Mới", kind="alert", status="sent",
                        created_at=LAST_MONTH, sent_at=LAST_MONTH),
    }  # fmt: skip
    session.add_all(replies.values())
    ended = create_campaign(status=lifecycle.COMPLETED, completed_at=LONG_AGO)
    running = create_campaign(status=lifecycle.RUNNING)
    contact = create_contact("+84981000001")
    for campaign in (ended, running):
        session.add_all([
            Delivery(campaign_id=campaign.id, contact_id=contact.id, phone="+84981000001",
                     status=statuses.DELIVERED, provider_message_id="SM1", sent_at=LONG_AGO),
            Delivery(campaign_id=campaign.id, phone="+84981000002", status=statuses.FAILED,
                     error_code="30003", error_message="+84981000002 unreachable"),
        ])  # fmt: skip
    session.commit()
    return {"old": old, "held": held, "recent": recent, "open": still_open,
            "replies": replies, "ended": ended, "running": running}  # fmt: skip


def test_a_run_anonymises_what_is_past_its_period_and_keeps_the_rest(session: Session) -> None:
    """Old closed tips lose text, numbers and notes but keep queue, state and times; held, recent
    and open tips stay whole, with their replies; old deliveries of an ended campaign lose their
    numbers, keep their statuses; the audit event has the counts and nothing else."""
    w = _world(session)
    report = retention.run(session, PERIODS, now=NOW)
    assert (report.tips, report.notes, report.replies, report.deliveries, report.held) == (
        1, 1, 2, 2, 1
    )  # fmt: skip
    session.expire_all()
    old = session.get(Tip, w["old"].id)
    assert old is not None
    assert (old.body, old.body_folded, old.sender, old.given_phone) == ("", "", None, None)
    assert (old.queue, old.status, old.resolution, old.closed_at) == (
        "police_ke_sach", "closed", "referred_police", LONG_AGO
    )  # fmt: skip
    assert old.anonymised_at == NOW
    for key in ("held", "recent", "open"):
        tip = session.get(Tip, w[key].id)
        assert tip is not None and tip.body == BODY and tip.sender and tip.anonymised_at is None
    notes = session.scalars(select(TipNote.tip_id)).all()
    assert notes == [w["held"].id]
    kept = {k: session.get(Reply, r.id) for k, r in w["replies"].items()}
    assert {k for k, r in kept.items() if r and r.anonymised_at} == {"alert", "old"}
    assert kept["alert"] is not None and (kept["alert"].body, kept["alert"].to_phone) == ("", "")
    assert kept["alert"].status == "sent" and kept["alert"].kind == "alert"
    assert kept["held"] is not None and kept["held"].body == "Cảm ơn"
    rows = session.execute(
        select(Delivery.campaign_id, Delivery.id, Delivery.phone, Delivery.status,
               Delivery.contact_id, Delivery.error_message, Delivery.error_code)
    ).all()  # fmt: skip
    for campaign_id, id_, phone, status, contact_id, message, _code in rows:
        if campaign_id == w["ended"].id:
            assert (phone, contact_id, message) == (f"#{id_}", None, None)
            assert status in (statuses.DELIVERED, statuses.FAILED)
        else:
            assert phone.startswith("+84")
    assert sorted(r.error_code or "" for r in rows if r.campaign_id == w["ended"].id) == [
        "",
        "30003",
    ]
    event = session.scalar(select(AuditEvent).where(AuditEvent.action == "retention.run"))
    assert event is not None
    assert event.details["tips"] == 1 and event.details["deliveries"] == 2
    assert event.details["tips_days"] == 1825
    assert "+8498" not in str(event.details) and BODY not in str(event.details)


def test_a_second_run_finds_nothing_and_a_dry_run_changes_nothing(session: Session) -> None:
    """A dry run counts what a run then does, changing and auditing nothing; the next run finds
    nothing left."""
    w = _world(session)
    dry = retention.run(session, PERIODS, now=NOW, dry_run=True)
    session.expire_all()
    tip = session.get(Tip, w["old"].id)
    assert tip is not None and tip.body == BODY
    assert session.scalar(select(func.count(AuditEvent.id))) == 0
    real = retention.run(session, PERIODS, now=NOW)
    assert (dry.tips, dry.notes, dry.replies, dry.deliveries, dry.held) == (
        real.tips, real.notes, real.replies, real.deliveries, real.held
    )  # fmt: skip
    again = retention.run(session, PERIODS, now=NOW)
    assert (again.tips, again.notes, again.replies, again.deliveries) == (0, 0, 0, 0)
    runs = select(func.count(AuditEvent.id)).where(AuditEvent.action == "retention.run")
    assert session.scalar(runs) == 1  # a run with nothing to do leaves no audit event


def test_a_period_of_zero_keeps_that_kind_forever(session: Session) -> None:
    """0 days: that kind is never touched, the others still are."""
    _world(session)
    report = retention.run(session, retention.Periods(0, 0, 365), now=NOW)
    assert (report.tips, report.replies, report.deliveries) == (0, 0, 2)
    assert session.scalar(select(func.count(Tip.id)).where(Tip.anonymised_at.is_not(None))) == 0


def test_chunks_cover_more_rows_than_one_chunk(
    session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A run larger than a chunk finishes every row (each chunk its own transaction)."""
    monkeypatch.setattr(retention, "CHUNK", 2)
    for i in range(5):
        create_tip(BODY, sender=f"+8498123100{i}", status="closed", closed_at=LONG_AGO)
    assert retention.run(session, PERIODS, now=NOW).tips == 5
    assert session.scalar(select(func.count(Tip.id)).where(Tip.body == BODY)) == 0


def test_the_periodic_job_runs_with_the_settings(app: Any, session: Session) -> None:
    """``workers.schedule.run_retention`` (the hourly periodic job) applies LOA_RETENTION_*."""
    from workers import schedule

    create_tip(BODY, sender="+84981230001", status="closed",
               closed_at=utcnow() - dt.timedelta(days=1826))  # fmt: skip
    assert schedule.run_retention()["tips"] == 1
    assert session.scalar(select(func.count(Tip.id)).where(Tip.body == BODY)) == 0


def test_cli_dry_run_then_run(runner: Any, session: Session) -> None:
    """``loa retention run --dry-run`` counts; ``loa retention run`` does it."""
    create_tip(BODY, sender="+84981230001", status="closed",
               closed_at=utcnow() - dt.timedelta(days=1826))  # fmt: skip
    dry = runner.invoke(args=["retention", "run", "--dry-run"])
    assert dry.exit_code == 0 and "would anonymise: 1 tips" in dry.output
    done = runner.invoke(args=["retention", "run"])
    assert done.exit_code == 0 and "anonymised: 1 tips" in done.output
    assert session.scalar(select(func.count(Tip.id)).where(Tip.body == BODY)) == 0


def test_legal_hold_from_the_tip_page(client: Any, session: Session, login_as: Any) -> None:
    """An operator of the tip's queue holds it with a reason (refused without one), the page
    shows it, and releasing it is recorded too; both are audited and on the timeline."""
    tip = create_tip(BODY, queue="police_ke_sach")
    login_as("police", scope="police_ke_sach")
    refused = client.post(f"/inbox/{tip.id}/legal-hold", data={"value": "1", "reason": " "})
    assert refused.status_code == 422
    done = client.post(f"/inbox/{tip.id}/legal-hold", data={"value": "1", "reason": "vụ án 7/2026"})
    assert done.status_code == 303
    page = client.get(f"/inbox/{tip.id}").get_data(as_text=True)
    assert "Lưu giữ phục vụ điều tra" in page and "vụ án 7/2026" in page
    session.expire_all()
    held = session.get(Tip, tip.id)
    assert held is not None and held.legal_hold and held.legal_hold_by_id is not None
    assert client.post(f"/inbox/{tip.id}/legal-hold", data={"value": "0"}).status_code == 303
    session.expire_all()
    released = session.get(Tip, tip.id)
    assert released is not None and not released.legal_hold
    actions = session.scalars(
        select(AuditEvent.action).where(AuditEvent.action.like("tip.legal_hold%"))
    ).all()
    assert actions == ["tip.legal_hold", "tip.legal_hold_released"]
    kinds = session.scalars(select(TipEvent.kind).where(TipEvent.tip_id == tip.id)).all()
    assert "legal_hold" in kinds and "legal_hold_released" in kinds


def test_an_anonymised_tip_page_says_why_it_is_empty(
    client: Any, session: Session, login_as: Any
) -> None:
    """The tip page explains that retention removed the content."""
    tip = create_tip(BODY, queue="police_province", status="closed", closed_at=LONG_AGO)
    retention.run(session, PERIODS, now=NOW)
    login_as("police", scope="police_province")
    page = client.get(f"/inbox/{tip.id}").get_data(as_text=True)
    assert "hết thời hạn lưu trữ" in page and BODY not in page
