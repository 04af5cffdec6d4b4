"""The results report for a period (issue 13): figures checked against a generated year of
campaigns of both routes and tips, the page, the API, DOCX and XLSX, roles."""

from __future__ import annotations

import datetime as dt
import io
import math
import random
import statistics
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import pytest
from docx import Document
from openpyxl import load_workbook

from campaigns import delegation, lifecycle
from campaigns import statuses as st
from campaigns.areas import load_soc_trang_2024
from campaigns.models import Area, Campaign, Contact, Delivery, OperatorRequest
from gateway import db, results
from gateway.auth import create_token
from gateway.tips.models import Tip, TipEvent
from tests.factories import create_user

ZONE = dt.timezone(dt.timedelta(hours=7))
YEAR = 2025
CHANNELS = ("sms", "smpp", "http_mo", "web", "call")
QUEUES = ("police_ke_sach", "police_tran_de", "hotline_111", "border_guard")
RESOLUTIONS = (*results.RESOLUTIONS, None)


@dataclass
class Truth:
    """What the generator wrote, counted in Python for the report of the whole year."""

    campaigns: dict[int, dict[str, Any]] = field(default_factory=dict)
    accepted_by_area: Counter[str] = field(default_factory=Counter)
    accepted_by_carrier: Counter[str] = field(default_factory=Counter)
    reported_by_area: Counter[str] = field(default_factory=Counter)
    reported_by_operator: Counter[str] = field(default_factory=Counter)
    tips: list[dict[str, Any]] = field(default_factory=list)
    broadcast_days: list[dt.date] = field(default_factory=list)


def _at(day: dt.date, hour: int = 9) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour), tzinfo=ZONE).astimezone(dt.UTC)


@pytest.fixture
def year(app: Any) -> Truth:
    """A year of Sóc Trăng: 6 broadcasts Loa sent, 2 the operators sent, 600 tips."""
    rnd = random.Random(13)
    s = db.session()
    delegation.seed_operators(s)
    load_soc_trang_2024(s)
    s.flush()
    districts = [a for a in s.scalars(db_select(Area)) if a.kind in ("district", "town", "city")]
    carriers = ["Viettel", "VinaPhone", "MobiFone", "Vietnamobile"]
    contacts = []
    for n in range(400):
        district = rnd.choice([*districts, None])
        contact = Contact(
            phone=f"+8498{n:07d}",
            district_id=district.id if district else None,
            carrier=rnd.choice(carriers),
        )
        contacts.append(contact)
    s.add_all(contacts)
    s.flush()
    truth = Truth()
    for i in range(6):
        day = dt.date(YEAR, 1 + 2 * i, 10 + i)
        campaign = Campaign(
            name=f"Loa {i}", body="Báo 111", status=lifecycle.COMPLETED, launched_at=_at(day)
        )
        s.add(campaign)
        s.flush()
        accepted = 0
        for contact in rnd.sample(contacts, 150):
            status = rnd.choice([st.DELIVERED, st.DELIVERED, st.SENT, st.FAILED, st.SKIPPED])
            s.add(
                Delivery(
                    campaign_id=campaign.id,
                    contact_id=contact.id,
                    phone=contact.phone,
                    status=status,
                )
            )
            if status in (st.SENT, st.DELIVERED):
                accepted += 1
                area = next((d.name for d in districts if d.id == contact.district_id), "")
                truth.accepted_by_area[area] += 1
                truth.accepted_by_carrier[contact.carrier or ""] += 1
        truth.campaigns[campaign.id] = {"route": "direct", "accepted": accepted, "day": day}
        truth.broadcast_days.append(day)
    operators = {o.code: o for o in delegation.operators(s)}
    for i, day in enumerate((dt.date(YEAR, 7, 29), dt.date(YEAR, 11, 20))):
        campaign = Campaign(
            name=f"Nhà mạng {i}",
            body="Báo 111",
            route="operators",
            status=lifecycle.COMPLETED,
            scheduled_at=_at(day, 8),
            audience={"all": True, "operators": ["viettel", "mobifone"]},
        )
        s.add(campaign)
        s.flush()
        reached = 0
        for n, code in enumerate(("viettel", "mobifone")):
            by_area = {str(d.id): rnd.randint(1000, 9000) for d in rnd.sample(districts, 3)}
            total = sum(by_area.values()) + rnd.randint(0, 500)
            s.add(
                OperatorRequest(
                    campaign_id=campaign.id,
                    operator_id=operators[code].id,
                    status="reported",
                    letter_year=YEAR,
                    letter_no=10 * i + n + 1,
                    letter={"number": f"Số: {10 * i + n + 1}/X"},
                    letter_hash="0" * 64,
                    reached_total=total,
                    reached_by_area=by_area,
                )
            )
            reached += total
            truth.reported_by_operator[operators[code].name] += total
            names = {str(d.id): d.name for d in districts}
            for key, value in by_area.items():
                truth.reported_by_area[names[key]] += value
            truth.reported_by_area[""] += total - sum(by_area.values())
        truth.campaigns[campaign.id] = {"route": "operators", "reported": reached, "day": day}
        truth.broadcast_days.append(day)
    officer = create_user("police")
    start = dt.date(YEAR, 1, 1)
    for _n in range(600):
        received = _at(start + dt.timedelta(days=rnd.randrange(365)), rnd.randrange(24))
        district = rnd.choice([*districts, None])
        tip = Tip(
            channel=rnd.choice(CHANNELS),
            queue=rnd.choice(QUEUES),
            body="(không dùng trong báo cáo)",
            received_at=received,
            district_id=district.id if district else None,
            resolution=rnd.choice(RESOLUTIONS),
        )
        s.add(tip)
        s.flush()
        first = None
        if rnd.random() < 0.8:
            s.add(TipEvent(tip_id=tip.id, at=received, actor_id=None, kind="created"))
            first = received + dt.timedelta(minutes=rnd.randint(1, 600))
            s.add(TipEvent(tip_id=tip.id, at=first, actor_id=officer.id, kind="acknowledged"))
            later = first + dt.timedelta(minutes=5)
            s.add(TipEvent(tip_id=tip.id, at=later, actor_id=officer.id, kind="note"))
        truth.tips.append(
            {
                "channel": tip.channel,
                "queue": tip.queue,
                "area": district.name if district else "",
                "day": received.astimezone(ZONE).date(),
                "resolution": tip.resolution,
                "minutes": (first - received).total_seconds() / 60 if first else None,
            }
        )
    # A merged duplicate counts once: it is not in the truth.
    s.add(
        Tip(channel="web", queue="hotline_111", body="x", received_at=_at(start), merged_into_id=1)
    )
    s.commit()
    return truth


def db_select(model: Any) -> Any:
    from sqlalchemy import select

    return select(model)


def test_the_years_figures_match_the_database(year: Truth) -> None:
    got = results.build(db.session(), dt.date(YEAR, 1, 1), dt.date(YEAR, 12, 31))
    by_id = {c["id"]: c for c in got["campaigns"]}
    assert set(by_id) == set(year.campaigns)
    for cid, want in year.campaigns.items():
        if want["route"] == "direct":
            assert by_id[cid]["accepted_by_smsc"] == want["accepted"]
            assert by_id[cid]["reported_by_operators"] is None
        else:
            assert by_id[cid]["reported_by_operators"] == want["reported"]
            assert by_id[cid]["accepted_by_smsc"] is None
        assert by_id[cid]["day"] == want["day"].isoformat()
    areas = {r["area"]: r for r in got["reach_by_area"]}
    assert {k: v["accepted_by_smsc"] for k, v in areas.items() if v["accepted_by_smsc"]} == {
        k: v for k, v in year.accepted_by_area.items() if v
    }
    assert {
        k: v["reported_by_operators"] for k, v in areas.items() if v["reported_by_operators"]
    } == {k: v for k, v in year.reported_by_area.items() if v}
    operators = {r["operator"]: r for r in got["reach_by_operator"]}
    assert {
        k: v["accepted_by_smsc"] for k, v in operators.items() if v["accepted_by_smsc"]
    } == dict(year.accepted_by_carrier)
    assert {
        k: v["reported_by_operators"] for k, v in operators.items() if v["reported_by_operators"]
    } == dict(year.reported_by_operator)

    tips = got["tips"]
    assert tips["total"] == len(year.tips) == 600
    assert tips["by_channel"] == dict(Counter(t["channel"] for t in year.tips))
    assert tips["by_queue"] == dict(Counter(t["queue"] for t in year.tips))
    assert tips["by_area"] == dict(Counter(t["area"] for t in year.tips))
    weeks = Counter(t["day"] - dt.timedelta(days=t["day"].weekday()) for t in year.tips)
    assert {w["week_start"]: w["tips"] for w in tips["by_week"] if w["tips"]} == {
        k.isoformat(): v for k, v in weeks.items()
    }
    marked = {w["week_start"] for w in tips["by_week"] if w["broadcast"]}
    assert marked == {(d - dt.timedelta(days=d.weekday())).isoformat() for d in year.broadcast_days}
    assert sum(w["tips"] for w in tips["by_week"]) == 600  # every week of the year is listed

    handling = got["handling"]
    closed = Counter(t["resolution"] for t in year.tips)
    assert handling["by_resolution"] == {r: closed.get(r, 0) for r in results.RESOLUTIONS}
    assert handling["open"] == closed[None]
    for row in handling["first_action"]:
        minutes = sorted(
            t["minutes"]
            for t in year.tips
            if t["queue"] == row["queue"] and t["minutes"] is not None
        )
        assert row["tips"] == sum(1 for t in year.tips if t["queue"] == row["queue"])
        assert row["acted"] == len(minutes)
        assert row["median_minutes"] == pytest.approx(
            round(statistics.median(minutes), 1), abs=0.051
        )
        rank = minutes[math.ceil(0.9 * len(minutes)) - 1]
        assert row["p90_minutes"] == pytest.approx(round(rank, 1), abs=0.051)


def test_a_shorter_period_keeps_only_its_own(year: Truth) -> None:
    july = results.build(db.session(), dt.date(YEAR, 7, 1), dt.date(YEAR, 9, 30))
    assert [c["name"] for c in july["campaigns"]] == ["Loa 3", "Nhà mạng 0", "Loa 4"]
    want = sum(1 for t in year.tips if dt.date(YEAR, 7, 1) <= t["day"] <= dt.date(YEAR, 9, 30))
    assert july["tips"]["total"] == want


def test_the_report_holds_no_tip_text_or_number(year: Truth) -> None:
    text = repr(results.build(db.session(), dt.date(YEAR, 1, 1), dt.date(YEAR, 12, 31)))
    assert "không dùng trong báo cáo" not in text and "+8498" not in text


@pytest.mark.parametrize(
    ("query", "status"),
    [
        ("from=2025-01-01&to=2025-12-31", 200),
        ("", 200),
        ("from=2025-12-31&to=2025-01-01", 422),
        ("from=2020-01-01&to=2025-01-01", 422),
        ("from=hôm-qua&to=2025-01-01", 422),
        ("from=2025-01-01", 422),
    ],
)
def test_the_api_answers_for_a_period(client: Any, year: Truth, query: str, status: int) -> None:
    headers = {"Authorization": f"Bearer {create_token(create_user('admin'))}"}
    resp = client.get(f"/api/v1/reports/results?{query}", headers=headers)
    assert resp.status_code == status, resp.get_json()
    if status == 200 and query:
        assert resp.get_json()["tips"]["total"] == 600


@pytest.mark.parametrize(
    ("role", "status"),
    [("admin", 200), ("approver", 200), ("editor", 403), ("police", 403), ("hotline_111", 403)],
)
def test_who_may_build_it(client: Any, login_as: Any, app: Any, role: str, status: int) -> None:
    login_as(role)
    assert client.get("/reports/ket-qua").status_code == status
    assert client.get("/reports/ket-qua.xlsx").status_code == status
    headers = {"Authorization": f"Bearer {create_token(create_user(role))}"}
    assert client.get("/api/v1/reports/results", headers=headers).status_code == status


def test_the_page_and_its_downloads(client: Any, login_as: Any, year: Truth) -> None:
    login_as("approver")
    q = "from=2025-01-01&to=2025-12-31"
    page = client.get(f"/reports/ket-qua?{q}").get_data(as_text=True)
    assert '<strong id="tips-count">600</strong>' in page
    assert "Nhà mạng báo đã nhận tin" in page and "SMSC đã nhận qua Loa" in page
    assert "police_ke_sach" not in page and "referred_111" not in page

    word = client.get(f"/reports/ket-qua.docx?{q}")
    assert word.status_code == 200 and word.mimetype.endswith("wordprocessingml.document")
    doc = Document(io.BytesIO(word.data))
    text = "\n".join(p.text for p in doc.paragraphs)
    assert "BÁO CÁO" in text and "từ ngày 01/01/2025 đến ngày 31/12/2025" in text
    assert len(doc.inline_shapes) == 1  # the chart
    titles = [t.rows[0].cells[0].text for t in doc.tables[1:-1]]
    assert "Tên" in titles and "Kênh" in titles
    channel_table = next(t for t in doc.tables if t.rows[0].cells[0].text == "Kênh")
    figures = {r.cells[0].text: r.cells[1].text for r in channel_table.rows[1:]}
    assert figures["Cuộc gọi"] == str(sum(1 for t in year.tips if t["channel"] == "call"))

    book = load_workbook(io.BytesIO(client.get(f"/reports/ket-qua.xlsx?{q}").data))
    sheet = book["Tin báo theo hàng đợi"]
    rows = {r[0]: r[1] for r in sheet.iter_rows(min_row=2, values_only=True)}
    assert rows["Tổng đài 111"] == sum(1 for t in year.tips if t["queue"] == "hotline_111")
    assert sum(rows.values()) == 600
