"""The case packet: one tip's messages, timeline, notes and routing as an XLSX file to hand off.

The SHA-256 is computed over the packet's contents (every sheet's cells, in order, as canonical
JSON), not over the file's bytes: an XLSX carries its own creation time, and the hash must be
printed inside the file itself. The page that offers the packet and the file show the same hash
as long as the tip does not change, so a recipient can check what they received.

The sender's number is masked unless the viewer revealed it, with a reason, for this packet.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from flask_babel import gettext as _
from openpyxl import Workbook
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.styles import Alignment, Font
from sqlalchemy import select
from sqlalchemy.orm import Session

from campaigns.models import Area
from campaigns.phones import mask
from gateway.labels import (
    CHANNEL_LABELS,
    EVENT_LABELS,
    PRIORITY_LABELS,
    REPLY_STATUS_LABELS,
    RESOLUTION_LABELS,
    STATE_LABELS,
    label,
    queue_name,
)
from gateway.models import User
from gateway.tips import casework
from gateway.tips.models import Reply, Tip, TipEvent, TipNote

XLSX_MIME = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@dataclass(frozen=True)
class Sheet:
    """One sheet of the packet: a title, a header row and data rows (all text)."""

    title: str
    header: list[str]
    rows: list[list[str]]


@dataclass(frozen=True)
class Packet:
    """A tip's case packet, ready to be written; ``sha256`` covers every sheet's cells."""

    tip_id: int
    sheets: list[Sheet]
    revealed: bool

    @property
    def sha256(self) -> str:
        canonical = json.dumps(
            [[s.title, s.header, s.rows] for s in self.sheets],
            ensure_ascii=False,
            separators=(",", ":"),
        )
        return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def build_packet(
    session: Session,
    tip: Tip,
    viewer: User,
    zone: ZoneInfo,
    revealed_number: str | None = None,
) -> Packet:
    """Collect the packet of ``tip`` as ``viewer`` may see it.

    Args:
        revealed_number: the sender's number as returned by ``casework.reveal`` (which audits
            it); without it the packet shows the masked number.
    Raises:
        casework.NotAllowed: the viewer may not see the tip.
    """
    if not casework.may_see(viewer, tip):
        raise casework.NotAllowed(f"user {viewer.id} may not see tip {tip.id}")
    names = _user_names(session)
    areas = {q: n for q, n in session.execute(select(Area.police_queue, Area.name)) if q}

    def queue(value: str | None) -> str:
        return queue_name(value, areas)

    def when(value: dt.datetime | None) -> str:
        return "" if value is None else value.astimezone(zone).strftime("%d/%m/%Y %H:%M:%S")

    if revealed_number:
        sender = revealed_number
    elif tip.sender:
        sender = mask(tip.sender)
    elif tip.given_phone:
        sender = mask(tip.given_phone) + " " + _("(số do người báo cung cấp, chưa xác minh)")
    else:
        sender = _("(ẩn danh)")
    rules = ", ".join(f"{r.get('name')} (v{r.get('version')})" for r in tip.matched_rules or [])
    case = Sheet(
        _("Hồ sơ"),
        [_("Mục"), _("Nội dung")],
        [
            [_("Mã tin báo"), str(tip.id)],
            [_("Kênh"), label(CHANNEL_LABELS, tip.channel)],
            [_("Nhận lúc"), when(tip.received_at)],
            [_("Người gửi"), sender],
            [_("Hàng đợi"), queue(tip.queue)],
            [_("Chia sẻ với"), ", ".join(queue(q) for q in tip.shared_with or [])],
            [_("Mức ưu tiên"), label(PRIORITY_LABELS, tip.priority)],
            [_("Trạng thái"), label(STATE_LABELS, tip.status)],
            [_("Kết quả xử lý"), label(RESOLUTION_LABELS, tip.resolution)],
            [_("Người phụ trách"), names.get(tip.assigned_to_id or 0, "")],
            [_("Quy tắc định tuyến đã khớp"), rules],
            [_("Gộp vào tin báo"), str(tip.merged_into_id or "")],
        ],
    )
    merged = session.scalars(
        select(Tip).where(Tip.merged_into_id == tip.id).order_by(Tip.received_at)
    )
    messages = [[when(tip.received_at), _("Tin báo"), str(tip.id), tip.body]]
    messages += [[when(t.received_at), _("Tin trùng đã gộp"), str(t.id), t.body] for t in merged]
    for r in session.scalars(select(Reply).where(Reply.tip_id == tip.id).order_by(Reply.id)):
        status = label(REPLY_STATUS_LABELS, r.status)
        messages.append([when(r.created_at), _("Gửi người báo tin"), status, r.body])
    timeline = [
        [
            when(e.at),
            names.get(e.actor_id or 0, _("hệ thống")),
            label(EVENT_LABELS, e.kind),
            " → ".join(
                x
                for x in (label(STATE_LABELS, e.from_status), label(STATE_LABELS, e.to_status))
                if x
            ),
            ", ".join(
                x for x in (queue(e.to_queue), names.get(e.to_user_id or 0, ""), _details(e)) if x
            ),
        ]
        for e in session.scalars(
            select(TipEvent).where(TipEvent.tip_id == tip.id).order_by(TipEvent.at, TipEvent.id)
        )
    ]
    notes = [
        [when(n.created_at), names.get(n.author_id or 0, ""), n.body]
        for n in session.scalars(
            select(TipNote).where(TipNote.tip_id == tip.id).order_by(TipNote.created_at, TipNote.id)
        )
    ]
    sheets = [
        case,
        Sheet(_("Tin nhắn"), [_("Thời gian"), _("Loại"), _("Mã"), _("Nội dung")], messages),
        Sheet(
            _("Diễn biến"),
            [_("Thời gian"), _("Người thực hiện"), _("Sự kiện"), _("Trạng thái"), _("Chi tiết")],
            timeline,
        ),
        Sheet(_("Ghi chú"), [_("Thời gian"), _("Người viết"), _("Nội dung")], notes),
    ]
    clean = [Sheet(s.title, s.header, [[_text(v) for v in row] for row in s.rows]) for s in sheets]
    return Packet(tip.id, clean, revealed=revealed_number is not None)


def _details(event: TipEvent) -> str:
    details = event.details or {}
    parts = []
    if details.get("recipient"):
        parts.append(_("người nhận: %(who)s", who=details["recipient"]))
    if details.get("resolution"):
        parts.append(label(RESOLUTION_LABELS, details["resolution"]))
    if details.get("into"):
        parts.append(_("gộp vào #%(id)s", id=details["into"]))
    if details.get("from"):
        parts.append(_("gộp từ #%(id)s", id=details["from"]))
    return "; ".join(parts)


def _user_names(session: Session) -> dict[int, str]:
    return {
        uid: name or email
        for uid, name, email in session.execute(select(User.id, User.name, User.email))
    }


def _text(value: str) -> str:
    # Control characters are illegal in XLSX; a body may carry them.
    return str(ILLEGAL_CHARACTERS_RE.sub("", value))


def to_xlsx(packet: Packet, generated_by: str, generated_at: str) -> bytes:
    """Write ``packet`` as an XLSX workbook (Vietnamese), its SHA-256 on the first sheet.

    Every cell is written as text, so a body starting with ``=`` never becomes a formula.
    """
    wb = Workbook()
    wb.remove(wb.active)
    for index, sheet in enumerate(packet.sheets):
        ws = wb.create_sheet(sheet.title[:31])
        if index == 0:
            ws.append([_("HỒ SƠ TIN BÁO #%(id)s", id=packet.tip_id)])
            ws["A1"].font = Font(bold=True, size=14)
            ws.append([_("SHA-256 nội dung"), packet.sha256])
            ws.append([_("Người tạo"), _text(generated_by)])
            ws.append([_("Thời điểm tạo"), generated_at])
            ws.append(
                [_("Ghi chú"), _("Mã SHA-256 tính trên nội dung các trang, không gồm 4 dòng đầu.")]
            )
            ws.append([])
        ws.append(sheet.header)
        for cell in ws[ws.max_row]:
            cell.font = Font(bold=True)
        for row in sheet.rows:
            ws.append(row)
        for row in ws.iter_rows():
            for cell in row:
                if isinstance(cell.value, str):
                    cell.data_type = "s"
                    cell.alignment = Alignment(wrap_text=True, vertical="top")
        for column, width in zip("ABCDE", (22, 24, 18, 60, 40), strict=False):
            ws.column_dimensions[column].width = width
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()
