"""Admin pages of campaigns: roles, composer facts, approval, actions, progress, report, export."""

from __future__ import annotations

import csv
import io
import re
from typing import Any

import pytest
from sqlalchemy import select

from campaigns import lifecycle
from campaigns.models import Campaign, Delivery
from gateway import queues
from gateway.models import AuditEvent
from tests.factories import OFFICIAL_TEXT, create_campaign, create_contact, create_list, create_user

ROLES = ("admin", "editor", "approver", "police", "border_guard", "hotline_111")
VIEWERS = {"admin", "editor", "approver"}
PAGES = {
    "/campaigns/": VIEWERS,
    "/campaigns/new": {"admin", "editor"},
    "/campaigns/approvals": VIEWERS,
    "/campaigns/{id}": VIEWERS,
    "/campaigns/{id}/edit": {"admin", "editor"},
    "/campaigns/{id}/progress": VIEWERS,
    "/campaigns/{id}/progress.json": VIEWERS,
    "/campaigns/{id}/report": VIEWERS,
    "/campaigns/{id}/deliveries.csv": VIEWERS,
    "/campaigns/kill-switch": {"admin", "approver"},
}


def _audience(size: int = 3) -> Any:
    """A list of ``size`` new contacts."""
    return create_list(f"ds-{size}", size=size)


@pytest.mark.parametrize("role", ROLES)
def test_pages_by_role(client: Any, auth: Any, role: str) -> None:
    """Each page answers 200 to the roles holding its permission and 403 to the others."""
    campaign = create_campaign()
    auth.login(role)  # once per role: logging in (argon2) is the slow part
    got = {path: client.get(path.format(id=campaign.id)).status_code for path in PAGES}
    assert got == {path: 200 if role in who else 403 for path, who in PAGES.items()}


@pytest.mark.parametrize("path", ["/campaigns/", "/campaigns/new", "/campaigns/kill-switch"])
def test_pages_need_login(client: Any, path: str) -> None:
    """An anonymous visitor is sent to the login page."""
    assert "/login" in client.get(path).headers["Location"]


def test_sms_info_for_the_official_text(client: Any, auth: Any) -> None:
    """The live endpoint: UCS-2, 4 segments, ASCII variant 2, the forcing characters marked."""
    auth.login("editor")
    info = client.post("/campaigns/sms-info", data={"text": OFFICIAL_TEXT}).get_json()
    assert (info["encoding"], info["segments"], info["ascii_variant_segments"]) == ("UCS-2", 4, 2)
    assert "".join(s["text"] for s in info["spans"]) == OFFICIAL_TEXT
    marked = {ch for s in info["spans"] if s["mark"] for ch in s["text"]}
    assert marked == set(info["non_gsm"])
    assert {"à", "é"}.isdisjoint(marked)  # in the GSM-7 basic table
    assert {"ố", "đ", "ư"} <= marked


def test_sms_info_accepts_the_csrf_header_composer_js_sends(
    settings: Any, db_engine: Any, redis_conn: Any
) -> None:
    """With CSRF on, the endpoint refuses a bare POST and accepts the page's token as a header."""
    from gateway import create_app

    app = create_app(settings, TESTING=True)
    with app.app_context():
        client = app.test_client()
        user = create_user("editor")
        page = client.get("/login").get_data(as_text=True)
        token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
        client.post(
            "/login", data={"email": user.email, "password": "pw-for-tests", "csrf_token": token}
        )
        page = client.get("/campaigns/new").get_data(as_text=True)
        token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
        assert client.post("/campaigns/sms-info", data={"text": "Chống"}).status_code == 400
        resp = client.post(
            "/campaigns/sms-info", data={"text": "Chống"}, headers={"X-CSRFToken": token}
        )
        assert resp.get_json()["encoding"] == "UCS-2"
    app.extensions["loa.engine"].dispose()  # this second app's pool must not outlive the test


@pytest.mark.parametrize(
    ("data", "status"), [({}, 400), ({"text": "x" * 2001}, 413), ({"text": "Chào"}, 200)]
)
def test_sms_info_bad_input(client: Any, auth: Any, data: dict[str, str], status: int) -> None:
    """No text is 400, too long is 413, never a 500."""
    auth.login("editor")
    assert client.post("/campaigns/sms-info", data=data).status_code == status


def _composer_form(**over: Any) -> dict[str, Any]:
    form = {
        "name": "Ngày 30/7",
        "body": OFFICIAL_TEXT,
        "lists": [],
        "senders": "LOA-SOCTRANG",
        "rate_per_second": "10",
        "window_start": "07:00",
        "window_end": "22:00",
        "scheduled_at": "",
        "recurrence": "none",
        "do": "save",
    }
    form.update(over)
    return form


def test_composer_preview_shows_encoding_cost_and_samples(
    client: Any, auth: Any, session: Any
) -> None:
    """Preview without JS: UCS-2, 4 segments, highlighted characters, ASCII 2, cost, 3 samples."""
    lst = _audience(size=5)
    auth.login("editor")
    resp = client.post("/campaigns/new", data=_composer_form(lists=[lst.name], do="preview"))
    page = resp.get_data(as_text=True)
    assert resp.status_code == 200
    assert '<strong id="sms-encoding">UCS-2</strong>' in page
    assert '<strong id="sms-segments">4</strong>' in page
    assert '<strong id="sms-ascii-segments">2</strong>' in page
    assert 'T<mark class="nongsm">ổ</mark>ng <mark class="nongsm">đ</mark>ài' in page
    assert '<strong id="audience-size">5</strong>' in page
    assert "7.000 ₫" in page  # 4 segments × 5 people × 350 VND
    assert page.count('<figure class="sample">') == 3
    assert session.scalar(select(Campaign)) is None  # a preview saves nothing


def test_composer_warns_reply_to_brandname_and_unknown_variable(client: Any, auth: Any) -> None:
    """The domain's warnings appear: reply requested from a brandname, unknown variable."""
    auth.login("editor")
    body = "Chào {ten}, hãy nhắn tin lại số này"
    page = client.post("/campaigns/new", data=_composer_form(body=body, do="preview")).get_data(
        as_text=True
    )
    assert 'data-code="reply_to_brandname"' in page
    assert 'data-code="unknown_variables"' in page


def test_composer_saves_a_draft_then_edits_it(client: Any, auth: Any, session: Any) -> None:
    """Save creates a draft with its encoding; a local schedule is stored in UTC."""
    lst = _audience()
    auth.login("editor")
    resp = client.post(
        "/campaigns/new",
        data=_composer_form(lists=[lst.name], scheduled_at="2027-07-30T08:00", recurrence="yearly"),
    )
    assert resp.status_code == 302
    campaign = session.scalar(select(Campaign))
    assert (campaign.status, campaign.encoding, campaign.segments_per_message) == (
        "draft",
        "UCS-2",
        4,
    )
    assert campaign.scheduled_at.isoformat() == "2027-07-30T01:00:00+00:00"
    assert campaign.audience["lists"] == [lst.name]
    resp = client.post(
        f"/campaigns/{campaign.id}/edit", data=_composer_form(lists=[lst.name], body="Toan dan")
    )
    assert resp.status_code == 302
    session.expire_all()
    assert (campaign.body, campaign.encoding, campaign.segments_per_message) == (
        "Toan dan",
        "GSM-7",
        1,
    )


@pytest.mark.parametrize(
    ("over", "field"),
    [
        ({"name": ""}, "name"),
        ({"body": ""}, "body"),
        ({"window_start": "22:00"}, "window"),
        ({"window_end": "24:30"}, "window"),
        ({"rate_per_second": "nhanh"}, "rate_per_second"),
        ({"scheduled_at": "ngày mai"}, "scheduled_at"),
    ],
)
def test_composer_refuses_bad_values(
    client: Any, auth: Any, session: Any, over: dict[str, str], field: str
) -> None:
    """A bad field is a 422 naming the field; nothing is saved."""
    auth.login("editor")
    resp = client.post("/campaigns/new", data=_composer_form(**over))
    assert resp.status_code == 422
    assert f'data-field="{field}"' in resp.get_data(as_text=True)
    assert session.scalar(select(Campaign)) is None


def _act(client: Any, campaign: Campaign, action: str, **data: str) -> Any:
    return client.post(
        f"/campaigns/{campaign.id}/actions/{action}", data=data, follow_redirects=True
    )


def test_approval_by_the_author_is_refused(client: Any, auth: Any, session: Any) -> None:
    """An approver cannot approve their own draft; the domain's reason is shown."""
    user = auth.login("approver")
    campaign = create_campaign(
        status=lifecycle.PENDING_APPROVAL, created_by_id=user.id, audience={"lists": ["x"]}
    )
    page = _act(client, campaign, "approve").get_data(as_text=True)
    assert "Không được tự duyệt chiến dịch do mình soạn." in page
    session.expire_all()
    assert session.get(Campaign, campaign.id).status == lifecycle.PENDING_APPROVAL


def test_submit_then_approve_by_another_user(client: Any, auth: Any, session: Any) -> None:
    """The editor submits, the queue lists it with size, segments and cost; an approver approves."""
    lst = _audience(size=4)
    editor = create_user("editor")
    campaign = create_campaign(created_by_id=editor.id, audience={"lists": [lst.name]})
    auth.login("editor", email="second-editor@loa.test")
    _act(client, campaign, "submit")
    auth.logout()
    auth.login("approver")
    queue = client.get("/campaigns/approvals").get_data(as_text=True)
    assert f'id="approval-{campaign.id}"' in queue
    assert '<strong class="audience-size">4</strong>' in queue
    assert '<strong class="segments">4</strong>' in queue
    assert "5.600 ₫" in queue  # 4 segments × 4 people × 350 VND
    _act(client, campaign, "approve")
    session.expire_all()
    assert session.get(Campaign, campaign.id).status == lifecycle.APPROVED


@pytest.mark.parametrize(("role", "action"), [("editor", "approve"), ("approver", "submit")])
def test_action_needs_its_permission(client: Any, auth: Any, role: str, action: str) -> None:
    """An editor cannot approve and an approver cannot submit: 403."""
    campaign = create_campaign(status=lifecycle.PENDING_APPROVAL)
    auth.login(role)
    assert client.post(f"/campaigns/{campaign.id}/actions/{action}").status_code == 403


def test_reject_keeps_the_reason(client: Any, auth: Any, session: Any) -> None:
    """A rejection stores its reason and the campaign page shows it."""
    campaign = create_campaign(status=lifecycle.PENDING_APPROVAL)
    auth.login("approver")
    page = _act(client, campaign, "reject", reason="Sai số tổng đài").get_data(as_text=True)
    assert "Sai số tổng đài" in page
    session.expire_all()
    assert session.get(Campaign, campaign.id).status == lifecycle.REJECTED


def test_launch_enqueues_the_dispatch_job(
    client: Any, auth: Any, session: Any, redis_conn: Any
) -> None:
    """Launching an approved campaign enqueues workers.dispatch.launch as launch-<id>."""
    campaign = create_campaign(status=lifecycle.APPROVED, audience={"lists": ["x"]})
    campaign.approval_hash = lifecycle.approval_hash(campaign)
    session.commit()
    auth.login("editor")
    _act(client, campaign, "launch")
    job = queues.queue("bulk", redis_conn).fetch_job(f"launch-{campaign.id}")
    assert job is not None
    # JSON stores the arguments as a list (jobs are JSON, never pickle).
    assert (job.func_name, job.args) == ("workers.dispatch.launch", [campaign.id])


def test_launch_of_a_changed_campaign_is_refused(
    client: Any, auth: Any, session: Any, redis_conn: Any
) -> None:
    """A campaign changed after approval is not launched; the editor is told why."""
    campaign = create_campaign(status=lifecycle.APPROVED, approval_hash="0" * 64)
    auth.login("editor")
    page = _act(client, campaign, "launch").get_data(as_text=True)
    assert "cần duyệt lại" in page
    assert queues.queue("bulk", redis_conn).fetch_job(f"launch-{campaign.id}") is None


STATUSES = {
    "pending": 2,
    "sending": 1,
    "sent": 3,
    "delivered": 5,
    "undelivered": 1,
    "failed": 2,
    "unknown": 1,
    "skipped": 2,
}


def _with_deliveries(session: Any) -> Campaign:
    campaign = create_campaign(status=lifecycle.RUNNING, audience_size=sum(STATUSES.values()))
    n = 0
    for status, count in STATUSES.items():
        for _ in range(count):
            n += 1
            contact = create_contact(carrier="Viettel" if n % 2 else "MobiFone")
            session.add(
                Delivery(
                    campaign_id=campaign.id,
                    contact_id=contact.id,
                    phone=contact.phone,
                    carrier=contact.carrier,  # the launch's snapshot, which the report reads
                    status=status,
                    segments=4,
                    skip_reason="opted_out" if status == "skipped" else None,
                    error_code="30003" if status in ("failed", "undelivered") else None,
                )
            )
    session.commit()
    return campaign


def test_report_counts_sum_to_the_audience(client: Any, auth: Any, session: Any) -> None:
    """Every status, the total equal to the audience, breakdowns, the SMSC note and the cost."""
    campaign = _with_deliveries(session)
    auth.login("approver")
    page = client.get(f"/campaigns/{campaign.id}/report").get_data(as_text=True)
    shown = dict(re.findall(r'data-status="(\w+)">(\d+)<', page))
    assert {k: int(v) for k, v in shown.items()} == STATUSES
    assert f'id="report-total">{campaign.audience_size}<' in page
    assert 'data-skip="opted_out">2<' in page
    assert "Đã giao = tổng đài của nhà mạng đã nhận tin" in page
    assert "Viettel" in page and "MobiFone" in page and "30003" in page
    assert "12.600 ₫" in page  # (3 sent + 5 delivered + 1 undelivered) × 4 segments × 350
    assert "2.800 ₫" in page  # uncertain: (1 sending + 1 unknown) × 4 × 350


def test_deliveries_csv_is_complete_masked_and_audited(
    client: Any, auth: Any, session: Any
) -> None:
    """The export has one row per recipient, numbers masked for an approver, and is audited."""
    campaign = _with_deliveries(session)
    auth.login("approver")
    resp = client.get(f"/campaigns/{campaign.id}/deliveries.csv")
    rows = list(csv.reader(io.StringIO(resp.get_data(as_text=True).lstrip("\ufeff"))))
    assert rows[0][:3] == ["delivery_id", "phone", "status"]
    assert len(rows) - 1 == campaign.audience_size
    assert all(" " in r[1] and "x" in r[1] for r in rows[1:])
    event = session.scalar(
        select(AuditEvent).where(AuditEvent.action == "campaign.export_deliveries")
    )
    assert event is not None and event.object_id == str(campaign.id)


def test_progress_json(client: Any, auth: Any, session: Any) -> None:
    """progress.json carries counts, totals, rate, ETA, window state and errors by code."""
    campaign = _with_deliveries(session)
    auth.login("editor")
    data = client.get(f"/campaigns/{campaign.id}/progress.json").get_json()
    assert data["counts"] == STATUSES
    assert (data["total"], data["done"]) == (17, 14)
    assert data["errors_by_code"] == {"30003": 3, "unknown": 1}  # the unknown one has no code
    assert isinstance(data["window_open"], bool)
    assert data["status"] == "running"


def test_kill_switch_pauses_every_running_campaign(client: Any, auth: Any, session: Any) -> None:
    """The kill switch needs a reason; it pauses running campaigns with it and is audited."""
    running = [create_campaign(status=lifecycle.RUNNING) for _ in range(2)]
    draft = create_campaign()
    auth.login("approver")
    page = client.post("/campaigns/kill-switch", data={"reason": ""}, follow_redirects=True)
    assert "Hãy ghi lý do" in page.get_data(as_text=True)
    page = client.post(
        "/campaigns/kill-switch", data={"reason": "Nội dung sai"}, follow_redirects=True
    ).get_data(as_text=True)
    assert 'id="kill-switch-engaged"' in page
    session.expire_all()
    assert {session.get(Campaign, c.id).status for c in running} == {lifecycle.PAUSED}
    assert "Nội dung sai" in session.get(Campaign, running[0].id).paused_reason
    assert session.get(Campaign, draft.id).status == lifecycle.DRAFT
    assert session.scalar(select(AuditEvent).where(AuditEvent.action == "kill_switch.engage"))


def test_test_send_goes_to_the_seed_list_through_replies(
    client: Any, auth: Any, session: Any, redis_conn: Any, rq_worker: Any
) -> None:
    """A test send enqueues on the replies lane and the worker sends to every official."""
    create_list("Cán bộ thử nghiệm", size=3)
    # Open all day: the test must not depend on the hour it runs (07:00-22:00 by default).
    campaign = create_campaign(window_start="00:00", window_end="24:00")
    auth.login("editor")
    page = client.post(
        f"/campaigns/{campaign.id}/test-send",
        data={"list": "Cán bộ thử nghiệm"},
        follow_redirects=True,
    ).get_data(as_text=True)
    assert "3 số" in page
    assert queues.queue("replies", redis_conn).count == 1
    rq_worker.run()
    session.expire_all()
    event = session.scalar(select(AuditEvent).where(AuditEvent.action == "campaign.test_sent"))
    assert event is not None
    assert event.details["sent"] == 3


def test_rate_form_changes_a_running_campaign(client: Any, auth: Any, session: Any) -> None:
    """The campaign page offers a rate form while running; the change is saved and audited."""
    auth.login("editor")
    campaign = create_campaign(status="running", audience={"lists": ["x"]}, rate_per_second=10)
    page = client.get(f"/campaigns/{campaign.id}").get_data(as_text=True)
    assert f"/campaigns/{campaign.id}/rate" in page
    resp = client.post(f"/campaigns/{campaign.id}/rate", data={"rate_per_second": "4"})
    assert resp.status_code == 302
    session.refresh(campaign)
    assert campaign.rate_per_second == 4
    assert session.scalar(select(AuditEvent).where(AuditEvent.action == "campaign.rate"))
    client.post(f"/campaigns/{campaign.id}/rate", data={"rate_per_second": "nope"})
    session.refresh(campaign)
    assert campaign.rate_per_second == 4


def test_rate_form_is_not_offered_for_a_draft(client: Any, auth: Any, session: Any) -> None:
    """A draft changes its rate in the composer (voiding nothing yet), not with this form."""
    auth.login("editor")
    campaign = create_campaign(audience={"lists": ["x"]}, rate_per_second=10)
    assert f"/campaigns/{campaign.id}/rate" not in client.get(f"/campaigns/{campaign.id}").get_data(
        as_text=True
    )
    client.post(f"/campaigns/{campaign.id}/rate", data={"rate_per_second": "4"})
    session.refresh(campaign)
    assert campaign.rate_per_second == 10
