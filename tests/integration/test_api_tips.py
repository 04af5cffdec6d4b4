"""GET /api/v1/tips and /api/v1/tips/{id}: who sees which tip (role × scope), masked senders."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.auth import create_token
from gateway.models import AuditEvent
from tests.factories import create_tip, create_user

QUEUES = ("hotline_111", "border_guard", "police_ke_sach", "police_tran_de", "police_province")


@pytest.fixture
def tips(app: Any) -> dict[str, int]:
    """One tip per queue, plus a 111 tip shared with Kế Sách's police."""
    out = {q: create_tip(f"tin {q}", queue=q, sender="+84981230001").id for q in QUEUES}
    out["shared"] = create_tip(
        "tin chia sẻ", queue="hotline_111", shared_with=["police_ke_sach"]
    ).id
    return out


def _headers(role: str, scope: str | None = None) -> dict[str, str]:
    return {"Authorization": f"Bearer {create_token(create_user(role, scope=scope))}"}


# role, scope → the tips the user sees
MATRIX = [
    ("admin", None, {*QUEUES, "shared"}),
    # provincial police see every police queue, so also the 111 tip shared with Kế Sách
    ("police", None, {"police_ke_sach", "police_tran_de", "police_province", "shared"}),
    (
        "police",
        "police_province",
        {"police_ke_sach", "police_tran_de", "police_province", "shared"},
    ),
    ("police", "police_ke_sach", {"police_ke_sach", "shared"}),
    ("border_guard", None, {"border_guard"}),
    ("hotline_111", None, {"hotline_111", "shared"}),
]


@pytest.mark.parametrize(("role", "scope", "visible"), MATRIX)
def test_list_is_scoped(
    client: Any, tips: dict[str, int], role: str, scope: str | None, visible: set[str]
) -> None:
    """The list holds exactly the tips of the user's scope (primary or shared queue)."""
    resp = client.get("/api/v1/tips", headers=_headers(role, scope))
    assert resp.status_code == 200
    assert {item["id"] for item in resp.json["items"]} == {tips[k] for k in visible}


@pytest.mark.parametrize(("role", "scope", "visible"), MATRIX)
def test_detail_is_scoped(
    client: Any, tips: dict[str, int], role: str, scope: str | None, visible: set[str]
) -> None:
    """Each tip by id: 200 inside the scope, 403 outside."""
    headers = _headers(role, scope)
    for key, tip_id in tips.items():
        expected = 200 if key in visible else 403
        assert client.get(f"/api/v1/tips/{tip_id}", headers=headers).status_code == expected, key


@pytest.mark.parametrize("role", ["editor", "approver"])
def test_campaign_roles_are_refused(client: Any, tips: dict[str, int], role: str) -> None:
    """Roles without tips.view get 403 on both endpoints."""
    headers = _headers(role)
    assert client.get("/api/v1/tips", headers=headers).status_code == 403
    assert client.get(f"/api/v1/tips/{tips['hotline_111']}", headers=headers).status_code == 403


def test_no_token_is_401(client: Any, tips: dict[str, int]) -> None:
    """Anonymous calls get 401 JSON."""
    resp = client.get("/api/v1/tips")
    assert resp.status_code == 401 and resp.is_json


def test_unknown_tip_is_404(client: Any) -> None:
    """A missing tip is 404, not 403 or 500."""
    assert client.get("/api/v1/tips/999", headers=_headers("admin")).status_code == 404


def test_tip_shape_masks_sender_and_audits(
    client: Any, session: Session, tips: dict[str, int]
) -> None:
    """A tip has the documented keys, a masked sender, and the view is audited."""
    tip_id = tips["hotline_111"]
    resp = client.get(f"/api/v1/tips/{tip_id}", headers=_headers("hotline_111"))
    assert set(resp.json) == {
        "id", "channel", "queue", "shared_with", "priority", "status", "received_at", "body", "sender",
        "given_phone",
    }  # fmt: skip
    assert resp.json["sender"] == "+84 98x xxx 001"
    action = session.scalar(
        select(AuditEvent.action).where(
            AuditEvent.object_type == "tip", AuditEvent.object_id == str(tip_id)
        )
    )
    assert action == "tip.view"


def test_filters_and_paging(client: Any, tips: dict[str, int]) -> None:
    """Filters narrow the list; pages of ``limit`` follow the ``next`` cursor to the end."""
    headers = _headers("admin")
    resp = client.get("/api/v1/tips?queue=border_guard", headers=headers)
    assert [i["queue"] for i in resp.json["items"]] == ["border_guard"]
    assert client.get("/api/v1/tips?status=closed", headers=headers).json["items"] == []
    seen, cursor = [], None
    while True:
        url = "/api/v1/tips?limit=4" + (f"&before={cursor}" if cursor else "")
        page = client.get(url, headers=headers).json
        seen += [i["id"] for i in page["items"]]
        cursor = page["next"]
        if cursor is None:
            break
    assert seen == sorted(tips.values(), reverse=True)


@pytest.mark.parametrize(
    "query", ["limit=abc", "since=yesterday", "status=lost", "priority=high", "before=x"]
)
def test_bad_filters_are_400(client: Any, tips: dict[str, int], query: str) -> None:
    """Malformed filters are a clear 400, never a 500."""
    assert client.get(f"/api/v1/tips?{query}", headers=_headers("admin")).status_code == 400


def test_queue_outside_scope_is_403(client: Any, tips: dict[str, int]) -> None:
    """Asking for another queue's tips is refused."""
    resp = client.get("/api/v1/tips?queue=border_guard", headers=_headers("hotline_111"))
    assert resp.status_code == 403


def test_documented_in_openapi(client: Any) -> None:
    """Both routes are in the OpenAPI document."""
    paths = client.get("/api/v1/openapi.json").json["paths"]
    assert "get" in paths["/tips"] and "get" in paths["/tips/{id}"]
