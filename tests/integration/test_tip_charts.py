"""Tips per day and per district over a period, with the broadcast days marked (issue 12, must
add 2), on the tip dashboard: within the viewer's scope, local days, figures in the table."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy.orm import Session

from campaigns import lifecycle
from campaigns.db import utcnow
from campaigns.models import Area
from tests.factories import create_campaign, create_tip


def _local_day(at: dt.datetime) -> str:
    return (at + dt.timedelta(hours=7)).date().isoformat()


def test_tips_by_day_and_district_in_scope_with_broadcast_days(
    client: Any, login_as: Any, session: Session
) -> None:
    district = Area(name="Kế Sách", kind="district")
    session.add(district)
    session.commit()
    now = utcnow()
    three_days_ago = now - dt.timedelta(days=3)
    create_tip(
        queue="police_ke_sach",
        priority="urgent",
        district_id=district.id,
        received_at=three_days_ago,
    )
    create_tip(
        queue="police_ke_sach",
        priority="normal",
        district_id=district.id,
        received_at=three_days_ago,
    )
    create_tip(queue="police_ke_sach", priority="normal", received_at=now - dt.timedelta(hours=1))
    create_tip(queue="border_guard", priority="urgent", received_at=three_days_ago)  # not in scope
    create_tip(
        queue="police_ke_sach", received_at=now - dt.timedelta(days=120)
    )  # before the period
    create_campaign(
        status=lifecycle.COMPLETED,
        launched_at=three_days_ago - dt.timedelta(hours=1),
        completed_at=three_days_ago,
    )
    login_as("police", "police_ke_sach")
    page = client.get("/inbox/dashboard").get_data(as_text=True)
    section = page.split('id="tips-over-period"', 1)[1].split("</section>", 1)[0]
    day = _local_day(three_days_ago)
    shown = f"{day[8:]}/{day[5:7]}/{day[:4]}"
    by_day = section.split('id="chart-tips-by-day"', 1)[1].split('id="chart-tips-by-district"', 1)[
        0
    ]
    row = by_day.split(f"<td>{shown}</td>", 1)[1].split("</tr>", 1)[0]
    assert row.startswith('<td class="num">1</td><td class="num">1</td><td>✓</td>'), row
    assert f"{day}: Ngày có chiến dịch gửi tin" in by_day  # the band behind the column
    by_district = section.split('id="chart-tips-by-district"', 1)[1]
    assert '<td>Kế Sách</td><td class="num">1</td><td class="num">1</td>' in by_district
    assert '<td>Chưa rõ</td><td class="num">0</td><td class="num">1</td>' in by_district
    assert "Kế Sách: Khẩn 1 tin báo" in by_district
    assert "Biên phòng" not in section
    # A year shows the old tip too; an unknown period falls back to 90 days.
    year = client.get("/inbox/dashboard?days=365").get_data(as_text=True)
    assert "Tin báo trong 365 ngày qua" in year
    assert "Tin báo trong 90 ngày qua" in client.get("/inbox/dashboard?days=7").get_data(
        as_text=True
    )
