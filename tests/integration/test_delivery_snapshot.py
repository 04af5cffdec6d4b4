"""A campaign's breakdown by carrier and by district is the snapshot taken at launch: each
delivery keeps its contact's carrier and district, the counters count them, and editing or
deleting the contact afterwards changes nothing (issue 11)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alembic import command
from redis import Redis
from sqlalchemy import delete, func, insert, select, text, update
from sqlalchemy.orm import Session

from campaigns import dispatch, reports
from campaigns.db import make_engine
from campaigns.models import Area, Campaign, Contact, Delivery
from gateway import migrate
from tests.factories import mobile
from tests.integration.dispatch_support import (
    FakeSender,
    approved_campaign,
    bulk_contacts,
    dispatcher,
)
from tests.integration.test_delivery_counts import assert_exact, outcome_by_id
from tests.integration.test_migrations import empty_database


def grouped(session: Session, campaign_id: int, label: Any) -> dict[str, dict[str, int]]:
    """A direct GROUP BY of a campaign's deliveries by ``label`` and status, in the shape of
    the reports' breakdowns (NULL → ``NONE_KEY``)."""
    stmt = (
        select(label, Delivery.status, func.count())
        .select_from(Delivery)
        .outerjoin(Area, Area.id == Delivery.district_id)
        .where(Delivery.campaign_id == campaign_id)
        .group_by(label, Delivery.status)
    )
    out: dict[str, dict[str, int]] = {}
    for value, status, n in session.execute(stmt):
        out.setdefault(value or reports.NONE_KEY, {})[status] = int(n)
    return out


def assert_breakdowns_match(session: Session, campaign_id: int) -> None:
    """by_carrier and by_district equal a direct GROUP BY of the deliveries (order aside)."""
    assert reports.by_carrier(session, campaign_id) == grouped(
        session, campaign_id, Delivery.carrier
    )
    assert reports.by_district(session, campaign_id) == grouped(session, campaign_id, Area.name)


def mixed_audience(session: Session) -> tuple[Area, Area]:
    """30 contacts over two carriers (and none) and two districts (and none)."""
    ke_sach, vinh_chau = (
        Area(name="Kế Sách", kind="district"),
        Area(name="Vĩnh Châu", kind="district"),
    )
    session.add_all([ke_sach, vinh_chau])
    session.commit()
    bulk_contacts(session, 12, carrier="Viettel", district_id=ke_sach.id)
    bulk_contacts(session, 10, start=12, carrier="Mobifone", district_id=vinh_chau.id)
    bulk_contacts(session, 8, start=22)
    return ke_sach, vinh_chau


def test_launch_copies_the_contacts_carrier_and_district(
    session: Session, redis_conn: Redis
) -> None:
    """Each delivery carries its contact's carrier and district; the breakdowns read from the
    counters equal a GROUP BY of the deliveries, before and after a dispatch."""
    ke_sach, _ = mixed_audience(session)
    campaign = approved_campaign(session)
    assert dispatch.launch(session, campaign.id, batch_size=10)
    first = session.scalars(
        select(Delivery).where(Delivery.campaign_id == campaign.id).order_by(Delivery.id)
    ).first()
    assert first is not None and (first.carrier, first.district_id) == ("Viettel", ke_sach.id)
    assert_exact(session, campaign.id)
    assert_breakdowns_match(session, campaign.id)
    assert reports.by_carrier(session, campaign.id) == {
        "Viettel": {"pending": 12},
        "Mobifone": {"pending": 10},
        reports.NONE_KEY: {"pending": 8},
    }
    assert reports.by_district(session, campaign.id) == {
        "Kế Sách": {"pending": 12},
        "Vĩnh Châu": {"pending": 10},
        reports.NONE_KEY: {"pending": 8},
    }
    dispatcher(session, FakeSender(outcome_by_id), redis_conn).run_batch(campaign.id, 0)
    session.commit()
    assert_exact(session, campaign.id)
    assert_breakdowns_match(session, campaign.id)
    assert len(reports.by_carrier(session, campaign.id)["Viettel"]) > 1


def test_editing_or_deleting_contacts_after_launch_leaves_the_report(session: Session) -> None:
    """A contact's carrier or district edited, or the contact deleted (its deliveries keep
    no contact), after the launch: the campaign's breakdowns stay as they were."""
    ke_sach, vinh_chau = mixed_audience(session)
    campaign = approved_campaign(session)
    assert dispatch.launch(session, campaign.id)
    carriers = reports.by_carrier(session, campaign.id)
    districts = reports.by_district(session, campaign.id)

    session.execute(
        update(Contact)
        .where(Contact.carrier == "Viettel")
        .values(carrier="Vinaphone", district_id=vinh_chau.id)
    )
    session.execute(update(Contact).where(Contact.carrier.is_(None)).values(carrier="Viettel"))
    session.execute(delete(Contact).where(Contact.district_id == vinh_chau.id))
    session.commit()
    orphans = session.scalar(
        select(func.count()).where(
            Delivery.campaign_id == campaign.id, Delivery.contact_id.is_(None)
        )
    )
    assert orphans == 22
    assert reports.by_carrier(session, campaign.id) == carriers
    assert reports.by_district(session, campaign.id) == districts
    assert_exact(session, campaign.id)
    assert_breakdowns_match(session, campaign.id)
    # A new launch takes a new snapshot.
    later = approved_campaign(session)
    assert dispatch.launch(session, later.id)
    assert reports.by_carrier(session, later.id) == {"Viettel": {"pending": 8}}
    assert reports.by_district(session, later.id) == {reports.NONE_KEY: {"pending": 8}}
    assert ke_sach.id  # the area itself is untouched


def test_migration_0016_backfills_the_snapshot(database_url: str, tmp_path: Path) -> None:
    """Upgrading from 0015 with deliveries present copies each contact's carrier and district
    to its deliveries and recounts with the wider key; downgrading restores 0015's counters and
    triggers, and upgrading again counts again (and matches the models)."""
    url = empty_database(database_url, tmp_path, "loa_snapshot")
    migrate.upgrade(url, "0015")
    eng = make_engine(url)
    try:
        with eng.begin() as conn:
            area = conn.scalar(
                text(
                    "INSERT INTO areas (name, kind, aliases, coastal) "
                    "VALUES ('Kế Sách', 'district', '[]', false) RETURNING id"
                )
            )
            conn.execute(
                text(
                    "INSERT INTO contacts (phone, carrier, district_id, tags, invalid, "
                    "created_at, updated_at) VALUES (:p, 'Viettel', :a, '', false, "
                    "CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
                ),
                {"p": mobile(0), "a": area},
            )
            contact = conn.scalar(text("SELECT id FROM contacts"))
            campaign = Campaign.__table__
            cid = conn.scalar(
                insert(campaign)
                .values(name="c", body="b", status="running", audience_size=3)
                .returning(campaign.c.id)
            )
            rows = [(contact, "pending"), (contact, "failed"), (None, "pending")]
            for i, (contact_id, status) in enumerate(rows):
                conn.execute(
                    text(
                        "INSERT INTO deliveries (campaign_id, contact_id, phone, status, "
                        "batch_no, segments, attempts) VALUES (:c, :k, :p, :s, 0, 2, 0)"
                    ),
                    {"c": cid, "k": contact_id, "p": mobile(10 + i), "s": status},
                )
        migrate.upgrade(url)
        with Session(eng) as s:
            assert s.scalars(
                select(Delivery.carrier).where(Delivery.campaign_id == cid).order_by(Delivery.id)
            ).all() == ["Viettel", "Viettel", None]
            assert reports.counted(s, cid) == {
                ("pending", "", "", "Viettel", area): (1, 2),
                ("failed", "", "", "Viettel", area): (1, 2),
                ("pending", "", "", "", 0): (1, 2),
            }
            assert reports.by_district(s, cid) == {
                "Kế Sách": {"pending": 1, "failed": 1},
                reports.NONE_KEY: {"pending": 1},
            }
            s.execute(update(Delivery).where(Delivery.status == "failed").values(status="sent"))
            s.commit()
            assert_exact(s, cid)
            assert_breakdowns_match(s, cid)
        command.downgrade(migrate.config(url), "0015")
        with eng.begin() as conn:
            columns = set(conn.execute(text("SELECT * FROM deliveries")).keys())
            assert "carrier" not in columns and "district_id" not in columns
            # 0015's triggers count again: a statement after the downgrade is counted.
            conn.execute(text("UPDATE deliveries SET status = 'delivered' WHERE status = 'sent'"))
            counters = conn.execute(
                text(
                    "SELECT status, skip_reason, error_code, sum(n) FROM delivery_counts "
                    "WHERE campaign_id = :c GROUP BY status, skip_reason, error_code "
                    "HAVING sum(n) <> 0 ORDER BY status"
                ),
                {"c": cid},
            ).all()
            assert [tuple(r) for r in counters] == [
                ("delivered", "", "", 1),
                ("pending", "", "", 2),
            ]
        migrate.upgrade(url)
        migrate.check(url)  # the round trip leaves the schema the models describe
        with Session(eng) as s:
            assert_exact(s, cid)
            assert reports.by_carrier(s, cid) == {
                "Viettel": {"pending": 1, "delivered": 1},
                reports.NONE_KEY: {"pending": 1},
            }
    finally:
        eng.dispose()
