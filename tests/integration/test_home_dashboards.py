"""The home page per role (issue 12, must add 1): the campaign team sees campaigns in flight with
progress and ETA; an operator sees open tips by priority and the oldest one waiting, in their own
scope; an admin sees the lanes, the workers' heartbeats, the provider errors of the last hour
and the kill switch."""

from __future__ import annotations

import datetime as dt
from typing import Any

from redis import Redis
from rq import Worker
from sqlalchemy.orm import Session

from campaigns import lifecycle
from campaigns.db import utcnow
from campaigns.models import Delivery, KillSwitch
from gateway import queues
from tests.factories import create_campaign, create_contact, create_tip


def _section(page: str, marker: str) -> str:
    assert marker in page, marker
    return page.split(marker, 1)[1].split("</section>", 1)[0]


def _deliveries(session: Session, campaign_id: int, statuses: dict[str, int], **kw: Any) -> None:
    for status, count in statuses.items():
        for _ in range(count):
            contact = create_contact()
            session.add(
                Delivery(
                    campaign_id=campaign_id,
                    contact_id=contact.id,
                    phone=contact.phone,
                    status=status,
                    segments=4,
                    **kw,
                )
            )
    session.commit()


def test_the_campaign_team_sees_campaigns_in_flight(
    client: Any, login_as: Any, session: Session
) -> None:
    running = create_campaign(name="Đang gửi 30/7", status=lifecycle.RUNNING, audience_size=4)
    _deliveries(session, running.id, {"sent": 3, "pending": 1})
    paused = create_campaign(
        name="Tạm dừng", status=lifecycle.PAUSED, paused_reason="window", audience_size=0
    )
    create_campaign(name="Bản nháp riêng")
    login_as("editor")
    block = _section(client.get("/").get_data(as_text=True), 'id="campaigns-in-flight"')
    assert "Đang gửi 30/7" in block and "Tạm dừng" in block
    assert "Bản nháp riêng" not in block
    assert f'data-campaign="{running.id}"' in block and 'value="75.0"' in block
    assert "3 / 4 người nhận (75.0%)" in block
    assert f'data-campaign="{paused.id}"' in block and "Ngoài khung giờ gửi" in block
    assert 'id="health"' not in client.get("/").get_data(as_text=True)  # admins only


def test_nothing_in_flight_says_so(client: Any, login_as: Any) -> None:
    login_as("approver")
    block = _section(client.get("/").get_data(as_text=True), 'id="campaigns-in-flight"')
    assert "Không có chiến dịch nào đang chạy" in block


def test_an_operator_sees_their_scope_by_priority_and_the_oldest_waiting(
    client: Any, login_as: Any
) -> None:
    now = utcnow()
    waited = dt.timedelta(hours=3, minutes=5)
    old = create_tip(queue="police_ke_sach", priority="urgent", received_at=now - waited)
    recent = now - dt.timedelta(minutes=10)
    create_tip(queue="police_ke_sach", priority="normal", received_at=recent)
    create_tip(queue="police_ke_sach", priority="normal", status="closed")
    create_tip(queue="border_guard", priority="urgent", received_at=now - dt.timedelta(days=2))
    login_as("police", "police_ke_sach")
    page = client.get("/").get_data(as_text=True)
    counts = _section(page, 'id="open-by-priority"')
    assert 'data-priority="urgent"><strong>1</strong>' in counts
    assert 'data-priority="normal"><strong>1</strong>' in counts
    oldest = counts.split('id="oldest-unacknowledged"', 1)[1]
    assert f"#{old.id}" in oldest and "3 giờ 5 phút" in oldest
    assert 'id="campaigns-in-flight"' not in page and 'id="health"' not in page


def test_an_admin_sees_the_systems_health(
    client: Any, login_as: Any, session: Session, redis_conn: Redis
) -> None:
    admin = login_as("admin")
    block = _section(client.get("/").get_data(as_text=True), 'id="health"')
    assert "Không có lệnh dừng khẩn cấp." in block
    assert "Không có worker nào đang chạy" in block
    assert "Gửi chiến dịch" in block and ">bulk<" not in block  # lanes by name, not by code

    queues.queue(queues.BULK, redis_conn).enqueue("time.sleep", 0)
    worker = Worker([queues.queue(queues.BULK, redis_conn)], connection=redis_conn, name="w-test")
    worker.register_birth()
    worker.heartbeat()
    campaign = create_campaign(status=lifecycle.RUNNING)
    now = utcnow()
    _deliveries(session, campaign.id, {"failed": 2}, error_code="30003", finished_at=now)
    _deliveries(
        session,
        campaign.id,
        {"failed": 1},
        error_code="30005",
        finished_at=now - dt.timedelta(hours=2),
    )
    session.add(KillSwitch(reason="Nội dung sai chính tả", engaged_by_id=admin.id))
    session.commit()
    try:
        block = _section(client.get("/").get_data(as_text=True), 'id="health"')
    finally:
        worker.register_death()
    lanes = block.split('id="health-lanes"', 1)[1].split("</table>", 1)[0]
    assert '<tr data-lane="bulk"><td>Gửi chiến dịch</td><td class="num">1</td>' in lanes
    workers = block.split('id="health-workers"', 1)[1].split("</table>", 1)[0]
    assert "w-test" in workers and "Gửi chiến dịch" in workers and "mất liên lạc" not in workers
    errors = block.split('id="health-errors"', 1)[1].split("</table>", 1)[0]
    assert '<td>30003</td><td class="num">2</td>' in errors and "30005" not in errors
    assert "Nội dung sai chính tả" in block and "DỪNG KHẨN CẤP" in block
