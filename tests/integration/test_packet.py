"""The case packet: XLSX in Vietnamese with messages, timeline, notes and routing; the SHA-256
on the page equals the one in the file; masked sender unless revealed with a reason."""

from __future__ import annotations

import io
import re
from typing import Any

import openpyxl
from sqlalchemy import select

from gateway.models import AuditEvent
from gateway.tips.models import TipEvent
from tests.factories import create_tip

SENDER = "+84912345678"


def _workbook(data: bytes) -> Any:
    return openpyxl.load_workbook(io.BytesIO(data))


def _all_text(wb: Any) -> str:
    return "\n".join(
        str(cell.value)
        for ws in wb.worksheets
        for row in ws.iter_rows()
        for cell in row
        if cell.value
    )


def _page_sha(client: Any, tip_id: int) -> str:
    html = client.get(f"/inbox/{tip_id}/handoff").get_data(as_text=True)
    match = re.search(r'<code class="sha256">([0-9a-f]{64})</code>', html)
    assert match, html
    return match.group(1)


def _prepared_tip(client: Any) -> Any:
    tip = create_tip(
        '=HYPERLINK("http://evil") Có người bị giữ trên tàu cá',
        queue="police_province",
        sender=SENDER,
        matched_rules=[{"id": 2, "name": "Biển, biên giới → Biên phòng", "version": 3}],
    )
    client.post(f"/inbox/{tip.id}/transition", data={"to": "in_progress"})
    client.post(f"/inbox/{tip.id}/notes", data={"body": "Đã liên hệ đồn biên phòng"})
    return tip


def test_packet_holds_the_case_and_the_same_sha_as_the_page(client: Any, login_as: Any) -> None:
    """The XLSX has the body, the note, the timeline and the rules; its SHA-256 matches the page."""
    login_as("police")
    tip = _prepared_tip(client)
    sha = _page_sha(client, tip.id)
    resp = client.get(f"/inbox/{tip.id}/packet.xlsx")
    assert resp.status_code == 200
    assert resp.headers["X-Packet-SHA256"] == sha
    assert "attachment" in resp.headers["Content-Disposition"]
    wb = _workbook(resp.data)
    assert [ws.title for ws in wb.worksheets] == ["Hồ sơ", "Tin nhắn", "Diễn biến", "Ghi chú"]
    text = _all_text(wb)
    assert sha in text
    assert "Có người bị giữ trên tàu cá" in text
    assert "Đã liên hệ đồn biên phòng" in text
    assert "Biển, biên giới → Biên phòng (v3)" in text
    assert "Đang xử lý" in text  # the state move, in Vietnamese
    assert "+84 91x xxx 678" in text and SENDER not in text


def test_a_body_starting_with_equals_is_text_not_a_formula(client: Any, login_as: Any) -> None:
    """Cells are written as strings, so a tip cannot smuggle a formula into the recipient's Excel."""
    login_as("police")
    tip = _prepared_tip(client)
    wb = _workbook(client.get(f"/inbox/{tip.id}/packet.xlsx").data)
    for ws in wb.worksheets:
        for row in ws.iter_rows():
            for cell in row:
                assert cell.data_type != "f", cell.value


def test_sha_changes_when_the_case_changes(client: Any, login_as: Any) -> None:
    """A new note changes the packet's SHA-256."""
    login_as("police")
    tip = _prepared_tip(client)
    before = _page_sha(client, tip.id)
    assert _page_sha(client, tip.id) == before  # stable while nothing changes
    client.post(f"/inbox/{tip.id}/notes", data={"body": "Thêm một ghi chú"})
    assert _page_sha(client, tip.id) != before


def test_revealed_packet_needs_a_reason_and_is_audited(
    client: Any, login_as: Any, session: Any
) -> None:
    """With a reason the packet carries the full number; both reveal and export are audited."""
    login_as("police")
    tip = _prepared_tip(client)
    assert client.post(f"/inbox/{tip.id}/packet.xlsx", data={"reason": ""}).status_code == 422
    resp = client.post(f"/inbox/{tip.id}/packet.xlsx", data={"reason": "chuyển Công an huyện"})
    assert resp.status_code == 200
    assert SENDER in _all_text(_workbook(resp.data))
    exports = session.scalars(select(AuditEvent).where(AuditEvent.action == "tip.export")).all()
    assert [e.details["revealed"] for e in exports] == [True]
    assert session.scalar(select(AuditEvent).where(AuditEvent.action == "tip.reveal"))


def test_hand_off_records_the_packet_sha(client: Any, login_as: Any, session: Any) -> None:
    """Handing off from the packet page stores the packet's SHA-256 with the recipient."""
    login_as("police")
    tip = _prepared_tip(client)
    sha = _page_sha(client, tip.id)
    resp = client.post(
        f"/inbox/{tip.id}/hand-off",
        data={"recipient": "Đồn Biên phòng Trần Đề", "packet_sha256": sha},
    )
    assert resp.status_code == 303
    event = session.scalar(select(TipEvent).where(TipEvent.kind == "handed_off"))
    assert event.details == {"recipient": "Đồn Biên phòng Trần Đề", "packet_sha256": sha}
    bad = client.post(f"/inbox/{tip.id}/hand-off", data={"recipient": "x", "packet_sha256": "zz"})
    assert bad.status_code == 400


def test_packet_of_a_tip_outside_scope_is_forbidden(client: Any, login_as: Any) -> None:
    """A 111 operator cannot export a police tip."""
    tip = create_tip(queue="police_province", sender=SENDER)
    login_as("hotline_111")
    assert client.get(f"/inbox/{tip.id}/packet.xlsx").status_code == 403
    assert client.get(f"/inbox/{tip.id}/handoff").status_code == 403
