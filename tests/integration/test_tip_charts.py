"""Tips per day and per district over a period, with the broadcast days marked (issue 12, must
add 2), on the tip dashboard: within the viewer's scope, local days, figures in the table."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from sqlalchemy.orm import Session

from campaigns import lifecycle
from campaigns.db import utcnow
from campaigns.models import Area
from campaigns.reports import NONE_KEY
from tests.factories import create_campaign, create_tip


def _local_day(at: dt.datetime, hours: int = 7) -> str:
    return (at + dt.timedelta(hours=hours)).date().isoformat()


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


@pytest.mark.parametrize("hours", [7, 0])
def test_both_pictures_equal_a_recount_of_the_tips_the_user_sees(
    session: Session, hours: int
) -> None:
    """``tips_over_period`` equals counting by hand with ``may_see``: by local day and priority,
    and by district name and priority, with tips out of scope, shared in, merged, without a
    district, changed after intake, early on the period's first day or before the period left
    out or in as they should be. At Vietnam's +07:00 the whole days come from the counters the
    database keeps (``tip_days``); at another offset from the tips."""
    from gateway.tips.visibility import may_see, tips_over_period
    from tests.factories import create_user

    ke_sach, long_phu = (
        Area(name="Kế Sách", kind="district"),
        Area(name="Long Phú", kind="district"),
    )
    session.add_all([ke_sach, long_phu])
    session.commit()
    now = utcnow()
    made = []
    for i in range(36):
        made.append(
            create_tip(
                queue=("police_ke_sach", "police_long_phu", "border_guard")[i % 3],
                shared_with=["police_ke_sach"] if i % 5 == 0 else [],
                priority="urgent" if i % 4 == 0 else "normal",
                district_id=(ke_sach.id, long_phu.id, None)[i % 3 if i % 7 else 2],
                received_at=now - dt.timedelta(hours=11 * i),  # across local midnights
            )
        )
    made[1].merged_into_id = made[0].id  # counted once, in the tip it was merged into
    made[4].priority = "urgent"  # changed after intake: counted as it is now
    made[6].district_id = long_phu.id
    session.commit()
    since = now - dt.timedelta(days=12)  # the oldest tips fall before the period
    made[9].received_at = since + dt.timedelta(minutes=1)  # on the first, partial day
    made[10].received_at = since - dt.timedelta(minutes=1)  # the same local day, before
    session.commit()
    for role, scope in (("police", "police_ke_sach"), ("police", "police_province")):
        user = create_user(role, scope=scope)
        by_day, by_district = tips_over_period(session, user, since, hours * 60)
        want_day: dict[str, dict[str, int]] = {}
        want_district: dict[str, dict[str, int]] = {}
        names = {ke_sach.id: "Kế Sách", long_phu.id: "Long Phú"}
        for t in made:
            if not may_see(user, t) or t.merged_into_id or t.received_at < since:
                continue
            per_day = want_day.setdefault(_local_day(t.received_at, hours), {})
            per_day[t.priority] = per_day.get(t.priority, 0) + 1
            per_district = want_district.setdefault(names.get(t.district_id or 0, NONE_KEY), {})
            per_district[t.priority] = per_district.get(t.priority, 0) + 1
        assert by_day == dict(sorted(want_day.items())) and len(by_day) > 5, scope
        assert by_district == want_district and len(by_district) == 3, scope
        assert list(by_district) == sorted(
            want_district, key=lambda k: (-sum(want_district[k].values()), k)
        )  # largest first
