"""Campaign pages say what is true (issue 12, item 2): a cancelled campaign's recipients are
skipped, a launch under way is not launched twice, the list and the campaign page agree, the
progress rate is in the setting's unit, and a saved draft leads to "Gửi phê duyệt"."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pytest
from sqlalchemy import func, select

from campaigns import lifecycle, reports
from campaigns import statuses as st
from campaigns.models import Campaign, Delivery
from gateway import labels, queues
from gateway.admin import campaign_figures
from gateway.auth import create_token
from gateway.models import AuditEvent
from tests.factories import OFFICIAL_TEXT, create_campaign, create_list, create_user


def _act(client: Any, campaign: Campaign, action: str, **data: str) -> Any:
    return client.post(
        f"/campaigns/{campaign.id}/actions/{action}", data=data, follow_redirects=True
    )


def _running_with(session: Any, **counts: int) -> Campaign:
    campaign = create_campaign(
        status=lifecycle.PAUSED,
        paused_reason="window",
        launched_at=dt.datetime.now(dt.UTC),
        audience_size=sum(counts.values()),
    )
    n = 0
    for status, count in counts.items():
        for _ in range(count):
            n += 1
            session.add(Delivery(campaign_id=campaign.id, phone=f"+849120{n:05d}", status=status))
    session.commit()
    return campaign


def test_cancel_skips_the_waiting_recipients_and_says_why(
    client: Any, login_as: Any, session: Any
) -> None:
    """Pending deliveries become skipped (cancelled); in-flight and sent ones keep their status;
    the page shows the cancel reason and no paused reason."""
    campaign = _running_with(session, pending=3, sending=1, sent=2)
    login_as("editor")
    page = _act(client, campaign, "cancel", reason="Sai nội dung").get_data(as_text=True)
    counts = reports.counts(session, campaign.id)
    assert (counts[st.PENDING], counts[st.SKIPPED], counts[st.SENDING], counts[st.SENT]) == (
        0,
        3,
        1,
        2,
    )
    assert counts["skipped_cancelled"] == 3
    assert reports.total(counts) == campaign.audience_size
    session.expire_all()
    assert (campaign.status, campaign.paused_reason) == (lifecycle.CANCELLED, None)
    assert "Lý do huỷ: Sai nội dung" in page
    assert "Lý do tạm dừng" not in page
    report = client.get(f"/campaigns/{campaign.id}/report").get_data(as_text=True)
    assert 'data-skip="cancelled">3<' in report and "chiến dịch bị huỷ" in report


def test_cancel_leaves_other_campaigns_alone(session: Any) -> None:
    """Only the cancelled campaign's pending deliveries are skipped."""
    other = _running_with(session, pending=2)
    campaign = _running_with(session, pending=1)
    lifecycle.transition(session, campaign, lifecycle.CANCEL, None)
    session.commit()
    assert reports.counts(session, other.id)[st.PENDING] == 2
    assert reports.counts(session, campaign.id)["skipped_cancelled"] == 1


def test_a_second_launch_click_is_refused_and_not_audited(
    client: Any, login_as: Any, session: Any, redis_conn: Any
) -> None:
    """While the launch job waits, the page says "Đang chuẩn bị gửi" without the button, and
    a second POST is refused with one audit event in all."""
    campaign = create_campaign(status=lifecycle.APPROVED, audience={"lists": ["x"]})
    campaign.approval_hash = lifecycle.approval_hash(campaign)
    session.commit()
    login_as("editor")
    first = _act(client, campaign, "launch").get_data(as_text=True)
    assert str(labels.LAUNCHING_LABEL) in first
    assert "action-launch" not in first
    second = _act(client, campaign, "launch").get_data(as_text=True)
    assert "không cần bấm lại" in second
    launches = session.scalar(
        select(func.count()).where(
            AuditEvent.action == "campaign.launch", AuditEvent.object_id == str(campaign.id)
        )
    )
    assert launches == 1
    assert queues.queue("bulk", redis_conn).count == 1


def test_an_approved_campaign_without_a_launch_job_offers_the_button(
    client: Any, login_as: Any, session: Any, redis_conn: Any
) -> None:
    """No job queued: the page shows "Đã phê duyệt" and the launch button."""
    campaign = create_campaign(status=lifecycle.APPROVED)
    login_as("editor")
    page = client.get(f"/campaigns/{campaign.id}").get_data(as_text=True)
    assert "action-launch" in page and "Đã phê duyệt" in page


@pytest.mark.parametrize("status", [lifecycle.COMPLETED, lifecycle.DRAFT])
def test_the_api_409_names_the_action_and_state_in_words(
    client: Any, app: Any, status: str
) -> None:
    """The 409's words are Vietnamese; its machine fields stay codes (a contract)."""
    user = create_user("editor")
    campaign = create_campaign(status=status)
    resp = client.post(
        f"/api/v1/campaigns/{campaign.id}/launch",
        headers={"Authorization": f"Bearer {create_token(user)}"},
    )
    body = resp.get_json()
    assert resp.status_code == 409
    assert (body["error"], body["status"]) == ("illegal_transition", status)
    state = str(labels.CAMPAIGN_STATE_LABELS[status])
    assert body["detail"] == f"Không thể “Bắt đầu gửi” khi chiến dịch đang ở trạng thái “{state}”."
    assert status not in body["detail"]


def test_saving_a_draft_leads_to_submit_and_the_list_agrees(
    client: Any, login_as: Any, session: Any
) -> None:
    """ "Lưu bản nháp" lands on the campaign page with "Gửi phê duyệt"; the list shows the
    audience size and segments the page shows."""
    lst = create_list("Cán bộ xã", size=3)
    login_as("editor")
    form = {
        "name": "30/7",
        "body": OFFICIAL_TEXT,
        "lists": [lst.name],
        "window_start": "07:00",
        "window_end": "22:00",
        "rate_per_second": "10",
        "recurrence": "none",
        "do": "save",
    }
    resp = client.post("/campaigns/new", data=form)
    campaign = session.scalar(select(Campaign))
    assert resp.headers["Location"].endswith(f"/campaigns/{campaign.id}")
    page = client.get(resp.headers["Location"]).get_data(as_text=True)
    assert "action-submit" in page and "Gửi phê duyệt" in page
    listing = client.get("/campaigns/").get_data(as_text=True)
    row = re.search(rf'campaigns/{campaign.id}".*?</tr>', listing, flags=re.S)
    assert row is not None
    assert re.findall(r'class="num">(\d+)<', row.group(0)) == ["3", "4"]


def test_progress_rate_is_in_segments_per_second_since_the_launch(app: Any, session: Any) -> None:
    """13 seconds after launch, 13 messages of 4 segments sent: 4 segments/s, not 52/60; the
    ETA counts the segments left at that rate."""
    now = dt.datetime(2026, 7, 30, 3, 0, 13, tzinfo=dt.UTC)
    launched = now - dt.timedelta(seconds=13)
    campaign = create_campaign(status=lifecycle.RUNNING, launched_at=launched)
    for i in range(13):
        session.add(
            Delivery(
                campaign_id=campaign.id,
                phone=f"+8491230{i:04d}",
                status=st.SENT,
                segments=4,
                sent_at=launched + dt.timedelta(seconds=i),
            )
        )
    for i in range(10):
        session.add(
            Delivery(
                campaign_id=campaign.id, phone=f"+8491240{i:04d}", status=st.PENDING, segments=4
            )
        )
    session.commit()
    live = campaign_figures.progress(session, campaign, now=now)
    assert live["rate_per_second"] == 4.0
    assert live["eta_seconds"] == 10  # 40 segments left at 4 segments/s
