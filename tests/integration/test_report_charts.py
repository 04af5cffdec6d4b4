"""Pictures beside their tables (issue 12, must add 2): the campaign report draws deliveries by
district and over time as server-side SVG, to scale, with the same figures in the tables, local
hours, escaped labels, and nothing loaded from elsewhere."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from sqlalchemy.orm import Session

from campaigns import lifecycle, reports
from campaigns.models import Area, Delivery
from gateway.admin import charts
from tests.factories import create_campaign, create_contact

SERIES = [("a", "Một", charts.GREEN), ("b", "Hai", charts.RED)]


def _widths(svg: str, colour: str) -> list[float]:
    return [float(w) for w in re.findall(rf'width="([\d.]+)"[^>]*fill="{colour}"', svg)]


def test_bars_are_to_scale_and_labels_escaped() -> None:
    svg = str(
        charts.stacked_bars(
            "Tiêu đề", {"<script>": {"a": 10, "b": 10}, "Kế Sách": {"a": 5}}, SERIES
        )
    )
    assert svg.startswith('<svg class="chart" role="img"') and "<title>Tiêu đề</title>" in svg
    assert "<script>" not in svg and "&lt;script&gt;" in svg
    green = _widths(svg, charts.GREEN)
    assert len(green) == 3  # two bars and the legend's swatch
    assert abs(green[0] - 2 * green[1]) < 0.2  # 10 against 5
    assert ">20<" in svg and ">5<" in svg  # totals printed at the end of each bar


def test_columns_mark_the_given_labels() -> None:
    svg = str(
        charts.columns(
            "Theo ngày",
            {"2026-07-29": {"a": 1}, "2026-07-30": {"a": 4, "b": 2}},
            SERIES,
            marked=frozenset({"2026-07-30"}),
            mark_label="Ngày gửi tin",
        )
    )
    assert svg.count('class="mark"') == 1 and "2026-07-30: Ngày gửi tin" in svg
    assert "2026-07-30: Một 4" in svg and "2026-07-29: Một 1" in svg
    assert ">6<" in svg  # the axis shows the tallest column
    assert ">29/07<" in svg  # days read DD/MM under the axis


def test_counts_read_the_vietnamese_way() -> None:
    svg = str(charts.stacked_bars("Lớn", {"Tỉnh": {"a": 1_200_000}}, SERIES))
    assert ">1.200.000<" in svg and "1,200,000" not in svg


def test_empty_charts_still_draw() -> None:
    assert "<svg" in str(charts.stacked_bars("Trống", {}, SERIES))
    assert "<svg" in str(charts.columns("Trống", {}, SERIES))


def test_over_time_groups_by_local_hour(app: Any, session: Session) -> None:
    campaign = create_campaign(status=lifecycle.COMPLETED)
    # 16:30 and 16:50 UTC are 23:30 and 23:50 on the 29th in Vietnam; 17:10 UTC is 00:10 the 30th.
    sends = ((16 * 60 + 30, "delivered"), (16 * 60 + 50, "failed"), (17 * 60 + 10, "delivered"))
    for minute, status in sends:
        contact = create_contact()
        at = dt.datetime(2026, 7, 29, tzinfo=dt.UTC) + dt.timedelta(minutes=minute)
        session.add(
            Delivery(
                campaign_id=campaign.id,
                contact_id=contact.id,
                phone=contact.phone,
                status=status,
                sent_at=at,
            )
        )
    session.add(Delivery(campaign_id=campaign.id, phone="+84900000001", status="pending"))
    session.commit()
    assert reports.over_time(session, campaign.id, 420) == {
        "2026-07-29 23": {"delivered": 1, "failed": 1},
        "2026-07-30 00": {"delivered": 1},
    }


def test_the_report_shows_both_charts_beside_their_tables(
    client: Any, login_as: Any, session: Session
) -> None:
    district = Area(name="Kế Sách", kind="district")
    session.add(district)
    session.commit()
    campaign = create_campaign(status=lifecycle.COMPLETED, audience_size=3)
    sent_at = dt.datetime(2026, 7, 30, 2, 15, tzinfo=dt.UTC)  # 09:15 in Vietnam
    for status in ("delivered", "delivered", "undelivered"):
        contact = create_contact(district_id=district.id)
        session.add(
            Delivery(
                campaign_id=campaign.id,
                contact_id=contact.id,
                phone=contact.phone,
                district_id=district.id,  # the launch's snapshot, which the report reads
                status=status,
                sent_at=sent_at,
            )
        )
    session.commit()
    login_as("editor")
    page = client.get(f"/campaigns/{campaign.id}/report").get_data(as_text=True)
    by_district = page.split('id="chart-by-district"', 1)[1].split('id="chart-over-time"', 1)[0]
    assert '<svg class="chart" role="img"' in by_district
    assert "Kế Sách: Đã giao 2 tin" in by_district
    assert "Kế Sách: Lỗi hoặc không giao được 1 tin" in by_district
    over_time = page.split('id="chart-over-time"', 1)[1]
    assert "2026-07-30 09: Đã giao 2" in over_time and "<td>30/07 09:00</td>" in over_time
    assert "http" not in page.split('id="chart-by-district"', 1)[1].split("</svg>", 1)[0].replace(
        "http://www.w3.org", ""
    )
