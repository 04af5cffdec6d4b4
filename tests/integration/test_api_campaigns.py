"""The campaigns API: the full lifecycle with bearer tokens, and every refusal (401/403/409/422)."""

from __future__ import annotations

from typing import Any

import pytest
from redis import Redis

from campaigns.models import Delivery
from gateway import queues
from gateway.auth import create_token
from tests.factories import OFFICIAL_TEXT, create_campaign, create_list, create_user


class Api:
    """A test client speaking JSON with one user's bearer token."""

    def __init__(self, client: Any, role: str) -> None:
        self.client = client
        self.user = create_user(role)
        self.headers = {"Authorization": f"Bearer {create_token(self.user)}"}

    def get(self, path: str) -> Any:
        return self.client.get(f"/api/v1{path}", headers=self.headers)

    def post(self, path: str, json: Any = None) -> Any:
        return self.client.post(f"/api/v1{path}", json=json, headers=self.headers)


@pytest.fixture
def editor(client: Any, app: Any) -> Api:
    return Api(client, "editor")


@pytest.fixture
def approver(client: Any, app: Any) -> Api:
    return Api(client, "approver")


def _new(editor: Api, **extra: Any) -> Any:
    create_list("Toàn tỉnh", size=3)
    body = {"name": "30/7", "body": OFFICIAL_TEXT, "lists": ["Toàn tỉnh"], **extra}
    return editor.post("/campaigns", body)


def test_full_lifecycle(editor: Api, approver: Api, redis_conn: Redis) -> None:
    """Create → submit → approve → launch → pause → resume → cancel, each via the API."""
    resp = _new(
        editor,
        sender="LOA-SOCTRANG",
        rate_per_second=100,
        window={"start": "07:00", "end": "22:00"},
    )
    assert resp.status_code == 201, resp.json
    campaign = resp.json
    cid = campaign["id"]
    assert (campaign["status"], campaign["encoding"], campaign["segments_per_message"]) == (
        "draft",
        "UCS-2",
        4,
    )
    assert campaign["audience_size"] == 3
    assert campaign["cost_estimate"]["segments"] == 12
    assert campaign["counts"] == dict.fromkeys(
        ("pending", "sending", "sent", "delivered", "undelivered", "failed", "unknown", "skipped"),
        0,
    )
    for path, who, status in [
        ("submit", editor, "pending_approval"),
        ("approve", approver, "approved"),
        ("launch", editor, "running"),
        ("pause", approver, "paused"),
        ("resume", editor, "running"),
        ("cancel", editor, "cancelled"),
    ]:
        resp = who.post(f"/campaigns/{cid}/{path}")
        assert resp.status_code == 200, (path, resp.json)
        assert resp.json["status"] == status
    assert queues.queue("bulk", redis_conn).job_ids == [f"launch-{cid}"]
    detail = editor.get(f"/campaigns/{cid}").json
    assert detail["status"] == "cancelled"
    assert detail["approved_by_id"] == approver.user.id


def test_reject_needs_reason_and_keeps_it(editor: Api, approver: Api) -> None:
    """Rejecting needs a reason; the editor sees it."""
    cid = _new(editor).json["id"]
    editor.post(f"/campaigns/{cid}/submit")
    assert approver.post(f"/campaigns/{cid}/reject").status_code == 422
    resp = approver.post(f"/campaigns/{cid}/reject", {"reason": "Thiếu số 113"})
    assert resp.status_code == 200 and resp.json["status"] == "rejected"
    assert editor.get(f"/campaigns/{cid}").json["rejection_reason"] == "Thiếu số 113"


def test_self_approval_refused(client: Any, app: Any) -> None:
    """An approver cannot approve a campaign they created: 403 with the reason."""
    approver = Api(client, "approver")
    campaign = create_campaign(
        status="pending_approval", created_by_id=approver.user.id, audience={"lists": ["x"]}
    )
    resp = approver.post(f"/campaigns/{campaign.id}/approve")
    assert resp.status_code == 403
    assert "tự duyệt" in resp.json["reason"]


@pytest.mark.parametrize(
    ("role", "action"),
    [("editor", "approve"), ("editor", "reject"), ("approver", "submit"), ("police", "launch")],
)
def test_wrong_role_is_403(client: Any, app: Any, role: str, action: str) -> None:
    """A role without the action's permission gets 403."""
    campaign = create_campaign(status="pending_approval", audience={"lists": ["x"]})
    assert Api(client, role).post(f"/campaigns/{campaign.id}/{action}").status_code == 403


@pytest.mark.parametrize(
    ("status", "action"),
    [
        ("draft", "approve"),
        ("draft", "launch"),
        ("completed", "pause"),
        ("running", "submit"),
        ("cancelled", "resume"),
    ],
)
def test_illegal_transition_is_409(client: Any, app: Any, status: str, action: str) -> None:
    """An action not allowed from the current status is 409 with a reason and the status."""
    user = Api(client, "admin") if action != "approve" else Api(client, "approver")
    campaign = create_campaign(status=status, audience={"lists": ["x"]})
    resp = user.post(f"/campaigns/{campaign.id}/{action}")
    assert resp.status_code == 409
    assert resp.json["reason"] and resp.json["status"] == status


def test_edit_after_approval_voids_it(editor: Api, approver: Api) -> None:
    """PATCH on an approved campaign sends it back to draft; launch then is 409."""
    cid = _new(editor).json["id"]
    editor.post(f"/campaigns/{cid}/submit")
    approver.post(f"/campaigns/{cid}/approve")
    resp = editor.client.patch(
        f"/api/v1/campaigns/{cid}", json={"body": "Gọi 111"}, headers=editor.headers
    )
    assert resp.status_code == 200
    assert (resp.json["status"], resp.json["approval_valid"]) == ("draft", False)
    assert editor.post(f"/campaigns/{cid}/launch").status_code == 409


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ({"body": ""}, "body"),
        ({"body": "   "}, "body"),
        ({"lists": []}, "lists"),
        ({"lists": ["Không có"]}, "Không có danh sách"),
        ({"rate_per_second": 0}, "rate_per_second"),
        ({"rate_per_second": -5}, "rate_per_second"),
        ({"rate_per_second": "10"}, "rate_per_second"),
        ({"window": {"start": "7h", "end": "22:00"}}, "window"),
        ({"window": {"start": "07:00", "end": "25:00"}}, "window"),
        ({"window": {"start": "07:00"}}, "window"),
        ({"scheduled_at": "ngày mai"}, "scheduled_at"),
        ({"sender": ""}, "sender"),
        ({"colour": "red"}, "colour"),
        ({"recurrence": "weekly"}, "recurrence"),
        ({"providers": ["pigeon"]}, "providers"),
        ({"providers": "smpp"}, "providers"),
        ({"providers": ["smpp", "smpp"]}, "providers"),
    ],
)
def test_create_validation_is_422(editor: Api, extra: dict[str, Any], message: str) -> None:
    """Each bad field is refused with 422 and a message naming it."""
    resp = _new(editor, **extra)
    assert resp.status_code == 422
    assert message in resp.json["detail"]


def test_providers_in_failover_order(editor: Api) -> None:
    """A campaign names its providers in order; without them it shows the default."""
    plain = _new(editor)
    assert plain.status_code == 201
    assert editor.get(f"/campaigns/{plain.json['id']}").json["providers"] == ["simulator"]
    chosen = editor.post(
        "/campaigns",
        {"name": "b", "body": "x", "lists": ["Toàn tỉnh"], "providers": ["http", "smpp"]},
    )
    assert chosen.status_code == 201
    assert editor.get(f"/campaigns/{chosen.json['id']}").json["providers"] == ["http", "smpp"]


def test_not_json_is_422(editor: Api) -> None:
    """A body that is not a JSON object is 422, not 500."""
    resp = editor.client.post("/api/v1/campaigns", data="x", headers=editor.headers)
    assert resp.status_code == 422


def test_scheduled_at_local_time(editor: Api) -> None:
    """A time without offset is Asia/Ho_Chi_Minh and is stored in UTC."""
    resp = _new(editor, scheduled_at="2030-07-30T08:00", recurrence="yearly")
    assert resp.status_code == 201
    assert resp.json["scheduled_at"] == "2030-07-30T01:00:00+00:00"


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", "/campaigns"),
        ("post", "/campaigns"),
        ("get", "/campaigns/1"),
        ("post", "/campaigns/1/launch"),
        ("get", "/campaigns/1/deliveries"),
        ("get", "/lists"),
        ("post", "/optouts"),
    ],
)
def test_no_token_is_401(client: Any, app: Any, method: str, path: str) -> None:
    """Every route needs a token."""
    resp = getattr(client, method)(f"/api/v1{path}", headers={"Authorization": "Bearer nope"})
    assert resp.status_code == 401


def test_police_cannot_read_campaigns(client: Any, app: Any) -> None:
    """The tip-line roles see no campaign."""
    assert Api(client, "police").get("/campaigns").status_code == 403


def test_list_and_lists(editor: Api) -> None:
    """The campaign list is paged newest first; lists show their sizes."""
    _new(editor)
    second = editor.post("/campaigns", {"name": "b", "body": "x", "lists": ["Toàn tỉnh"]}).json[
        "id"
    ]
    page = editor.get("/campaigns?limit=1").json
    assert [c["id"] for c in page["items"]] == [second] and page["next"] == second
    rest = editor.get(f"/campaigns?limit=1&before={page['next']}").json
    assert rest["next"] is None and len(rest["items"]) == 1
    assert editor.get("/lists").json["items"][0]["size"] == 3


def test_deliveries_masked_for_approver(editor: Api, approver: Api, session: Any) -> None:
    """Admins and editors see full numbers, approvers masked; keyset paging and status filter work."""
    campaign = create_campaign(status="running", audience={"lists": ["x"]})
    for n, status in enumerate(["pending", "sent", "sent"]):
        session.add(Delivery(campaign_id=campaign.id, phone=f"+8491234567{n}", status=status))
    session.commit()
    full = editor.get(f"/campaigns/{campaign.id}/deliveries?limit=2").json
    assert [d["phone"] for d in full["items"]] == ["+84912345670", "+84912345671"]
    assert full["next"] is not None
    rest = editor.get(f"/campaigns/{campaign.id}/deliveries?after={full['next']}").json
    assert len(rest["items"]) == 1 and rest["next"] is None
    masked = approver.get(f"/campaigns/{campaign.id}/deliveries?status=sent").json["items"]
    assert [d["phone"] for d in masked] == ["+84 91x xxx 671", "+84 91x xxx 672"]
    detail = editor.get(f"/campaigns/{campaign.id}").json
    assert detail["counts"]["sent"] == 2 and detail["audience_size"] == 3


def test_optout_api(editor: Api) -> None:
    """POST /optouts records the opt-out (masked in the answer), DELETE opts back in."""
    resp = editor.post(
        "/optouts", {"phone": "0912 345 678", "reason": "gọi tổng đài", "channel": "hotline"}
    )
    assert resp.status_code == 201
    assert resp.json["phone"] == "+84 91x xxx 678"
    assert editor.post("/optouts", {"phone": "abc"}).status_code == 422
    assert editor.post("/optouts", {"phone": "0912345678", "channel": "fax"}).status_code == 422
    gone = editor.client.delete(
        "/api/v1/optouts", json={"phone": "+84912345678"}, headers=editor.headers
    )
    assert gone.status_code == 204


def test_openapi_documents_routes(client: Any, app: Any) -> None:
    """The OpenAPI document lists the campaign and contact routes."""
    paths = client.get("/api/v1/openapi.json").json["paths"]
    for path in (
        "/campaigns",
        "/campaigns/{id}",
        "/campaigns/{id}/approve",
        "/campaigns/{id}/deliveries",
        "/contacts/import",
        "/lists",
        "/optouts",
    ):
        assert path in paths, path


def test_rate_changes_while_running_and_keeps_the_approval(
    editor: Api, approver: Api, session: Any
) -> None:
    """A running campaign's rate can change (audited) without voiding its approval."""
    from sqlalchemy import select

    from campaigns import lifecycle
    from campaigns.models import Campaign
    from gateway.models import AuditEvent

    cid = _new(editor, rate_per_second=10).json["id"]
    editor.post(f"/campaigns/{cid}/submit")
    approver.post(f"/campaigns/{cid}/approve")
    assert editor.post(f"/campaigns/{cid}/rate", {"rate_per_second": 5}).status_code == 409
    session.execute(Campaign.__table__.update().where(Campaign.id == cid).values(status="running"))
    session.commit()
    resp = editor.post(f"/campaigns/{cid}/rate", {"rate_per_second": 2.5})
    assert resp.status_code == 200, resp.json
    campaign = session.get(Campaign, cid)
    session.refresh(campaign)
    assert campaign.rate_per_second == 2.5
    assert lifecycle.approval_valid(campaign)
    event = session.scalar(select(AuditEvent).where(AuditEvent.action == "campaign.rate"))
    assert event is not None and event.details == {"from": 10.0, "to": 2.5}


@pytest.mark.parametrize("rate", [0, -1, 10_001, "fast", True, None])
def test_rate_out_of_range_is_422(editor: Api, session: Any, rate: Any) -> None:
    """A rate that is not a positive number up to 10,000 is refused with 422."""
    campaign = create_campaign(status="running", audience={"lists": ["x"]}, rate_per_second=10)
    resp = editor.post(f"/campaigns/{campaign.id}/rate", {"rate_per_second": rate})
    assert resp.status_code == 422
    session.refresh(campaign)
    assert campaign.rate_per_second == 10


def test_rate_needs_an_operating_role(client: Any, app: Any) -> None:
    """Police may not change a campaign's rate."""
    campaign = create_campaign(status="running", audience={"lists": ["x"]})
    resp = Api(client, "police").post(f"/campaigns/{campaign.id}/rate", {"rate_per_second": 1})
    assert resp.status_code == 403
