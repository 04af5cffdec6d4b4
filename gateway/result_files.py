"""The results report as tables in words, and those tables as DOCX (with a chart) and XLSX.

:func:`tables` turns the report's codes into labelled tables once; the page, the Word document
and the workbook all show the same tables. The DOCX takes the layout of the request letters
(``campaigns.letters``: issuing body, motto, place and date) and the department's names from
the letter wording (``campaigns.delegation.template``); its one chart, tips per week with the
weeks of broadcasts marked, is drawn with Pillow, since Word does not show SVG.
"""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.shared import Mm, Pt
from flask_babel import gettext as _
from openpyxl import Workbook
from PIL import Image, ImageDraw, ImageFont

from campaigns import delegation, letters
from campaigns.text import spreadsheet_safe

DOCX_TYPE = letters.DOCX_TYPE
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
Cell = str | int | float | None


@dataclass(frozen=True, slots=True)
class Table:
    """One table of the report: a title, a header row and rows of cells."""

    key: str
    title: str
    header: list[str]
    rows: list[list[Cell]]


@dataclass(frozen=True, slots=True)
class Texts:
    """The labels a table needs for the report's codes."""

    route: Callable[[str], str]
    campaign_state: Callable[[str], str]
    channel: Callable[[str], str]
    resolution: Callable[[str], str]
    queue: Callable[[str], str]

    @classmethod
    def from_labels(cls, words: Mapping[str, Any]) -> Texts:
        def of(table: Mapping[str, Any]) -> Callable[[str], str]:
            return lambda code: str(table.get(code, code))

        return cls(
            route=of(words["route_labels"]),
            campaign_state=of(words["campaign_labels"]),
            channel=of(words["channel_labels"]),
            resolution=of(words["resolution_labels"]),
            queue=lambda q: str(words["queue_label"](q)),
        )


def _day(value: str | None) -> str:
    return dt.date.fromisoformat(value).strftime("%d/%m/%Y") if value else ""


def tables(report: Mapping[str, Any], t: Texts) -> list[Table]:
    """The report's tables, labelled; numbers stay numbers (None where a figure does not apply)."""
    unknown = _("Chưa rõ")
    smsc, operators = _("SMSC đã nhận qua Loa"), _("Nhà mạng báo đã nhận tin")
    count = _("Số tin báo")
    tips = report["tips"]
    handling = report["handling"]
    return [
        Table(
            "campaigns",
            _("Chiến dịch trong kỳ"),
            [_("Tên"), _("Cách gửi"), _("Ngày gửi"), _("Trạng thái"), smsc, operators],
            [
                [
                    c["name"],
                    t.route(c["route"]),
                    _day(c["day"]),
                    t.campaign_state(c["status"]),
                    c["accepted_by_smsc"],
                    c["reported_by_operators"],
                ]
                for c in report["campaigns"]
            ],
        ),
        _reach("reach_by_area", _("Phạm vi tiếp cận theo địa bàn"), _("Địa bàn"), report, "area"),
        _reach(
            "reach_by_operator",
            _("Phạm vi tiếp cận theo nhà mạng"),
            _("Nhà mạng"),
            report,
            "operator",
        ),
        Table(
            "tips_by_channel",
            _("Tin báo theo kênh"),
            [_("Kênh"), count],
            [[t.channel(k), n] for k, n in tips["by_channel"].items()],
        ),
        Table(
            "tips_by_queue",
            _("Tin báo theo hàng đợi"),
            [_("Hàng đợi"), count],
            [[t.queue(k), n] for k, n in tips["by_queue"].items()],
        ),
        Table(
            "tips_by_area",
            _("Tin báo theo địa bàn"),
            [_("Địa bàn"), count],
            [[k or unknown, n] for k, n in tips["by_area"].items()],
        ),
        Table(
            "tips_by_week",
            _("Tin báo theo tuần"),
            [_("Tuần từ ngày"), count, _("Có chiến dịch")],
            [
                [_day(w["week_start"]), w["tips"], _("có") if w["broadcast"] else ""]
                for w in tips["by_week"]
            ],
        ),
        Table(
            "resolutions",
            _("Kết quả xử lý tin báo"),
            [_("Kết quả"), count],
            [[t.resolution(k), n] for k, n in handling["by_resolution"].items()]
            + [[_("Chưa xử lý xong"), handling["open"]]],
        ),
        Table(
            "first_action",
            _("Thời gian từ khi nhận đến thao tác đầu tiên"),
            [_("Hàng đợi"), count, _("Đã có thao tác"), _("Trung vị (phút)"), _("90% (phút)")],
            [
                [t.queue(r["queue"]), r["tips"], r["acted"], r["median_minutes"], r["p90_minutes"]]
                for r in handling["first_action"]
            ],
        ),
    ]


def _reach(key: str, title: str, first: str, report: Mapping[str, Any], by: str) -> Table:
    """Reach by area or operator: Loa's deliveries and the operators' figures side by side."""
    return Table(
        key,
        title,
        [first, _("SMSC đã nhận qua Loa"), _("Nhà mạng báo đã nhận tin")],
        [
            [r[by] or _("Chưa rõ"), r["accepted_by_smsc"], r["reported_by_operators"]]
            for r in report[f"reach_by_{by}"]
        ],
    )


def _text(cell: Cell) -> str:
    if cell is None:
        return ""
    if isinstance(cell, int):
        return f"{cell:,}".replace(",", ".")
    if isinstance(cell, float):
        return f"{cell:,.1f}".replace(",", " ").replace(".", ",").replace(" ", ".")
    return str(cell)


# --- the chart --------------------------------------------------------------------------------

_FACES = (
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/truetype/liberation2/LiberationSans-Regular.ttf",
)


def _face(size: int) -> Any:
    for path in _FACES:
        if Path(path).is_file():
            return ImageFont.truetype(path, size)
    return ImageFont.load_default()


def week_chart_png(report: Mapping[str, Any], title: str) -> bytes:
    """Tips per week as columns, the weeks with a broadcast on a shaded band; PNG bytes."""
    weeks = report["tips"]["by_week"]
    width, height, left, top, bottom = 1200, 520, 80, 60, 70
    image = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(image)
    draw.text((left, 15), title, fill="black", font=_face(24))
    plot_w, plot_h = width - left - 20, height - top - bottom
    biggest = max((w["tips"] for w in weeks), default=0) or 1
    step = plot_w / max(1, len(weeks))
    small = _face(16)
    draw.text((8, top - 8), str(biggest), fill="black", font=small)
    for i, w in enumerate(weeks):
        x = left + i * step
        if w["broadcast"]:
            draw.rectangle([x, top, x + step, top + plot_h], fill="#fde9c8")
        bar = plot_h * w["tips"] / biggest
        draw.rectangle(
            [x + step * 0.15, top + plot_h - bar, x + step * 0.85, top + plot_h], fill="#2b6cb0"
        )
        if i % max(1, len(weeks) // 10) == 0:
            label = dt.date.fromisoformat(w["week_start"]).strftime("%d/%m")
            draw.text((x, top + plot_h + 10), label, fill="black", font=small)
    draw.line([left, top + plot_h, width - 20, top + plot_h], fill="#888888", width=2)
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


# --- DOCX -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Heading:
    """The administrative header of the report: who issues it, where and when."""

    issuer_parent: str
    issuer: str
    place: str
    signer_title: str
    signer_name: str


def docx_bytes(report: Mapping[str, Any], t: Texts, head: Heading, made_on: dt.date) -> bytes:
    """The report as a Word document in the administrative layout, with its tables and chart."""
    doc = letters.administrative_document(13)
    top = doc.add_table(rows=1, cols=2)
    left, right = top.rows[0].cells
    letters.centred(
        left,
        [(head.issuer_parent, 12, {}), (head.issuer, 12, {"bold": True}), ("———", 12, {})],
    )
    letters.centred(
        right,
        [
            (letters.MOTTO, 12, {"bold": True}),
            (letters.MOTTO_2, 13, {"bold": True}),
            ("———————", 12, {}),
            (f"{head.place}, {delegation.admin_date(made_on)}", 13, {"italic": True}),
        ],
    )
    period = report["period"]
    title = doc.add_paragraph()
    title.alignment = WD_ALIGN_PARAGRAPH.CENTER
    title.paragraph_format.space_before = Pt(12)
    letters.run(title, _("BÁO CÁO"), 14, bold=True)
    subtitle = doc.add_paragraph()
    subtitle.alignment = WD_ALIGN_PARAGRAPH.CENTER
    letters.run(
        subtitle,
        _(
            "Kết quả tuyên truyền bằng tin nhắn và tiếp nhận tin báo về mua bán người "
            "từ ngày %(since)s đến ngày %(until)s",
            since=_day(period["from"]),
            until=_day(period["to"]),
        ),
        13,
        bold=True,
    )
    summary = doc.add_paragraph()
    letters.run(
        summary,
        _(
            "Trong kỳ: %(campaigns)s chiến dịch nhắn tin; %(tips)s tin báo được tiếp nhận.",
            campaigns=len(report["campaigns"]),
            tips=_text(report["tips"]["total"]),
        ),
        13,
    )
    for table in tables(report, t):
        heading = doc.add_paragraph()
        heading.paragraph_format.space_before = Pt(10)
        letters.run(heading, table.title, 13, bold=True)
        grid = doc.add_table(rows=1, cols=len(table.header))
        grid.style = "Table Grid"
        for cell, text in zip(grid.rows[0].cells, table.header, strict=True):
            cell.paragraphs[0].text = ""
            letters.run(cell.paragraphs[0], text, 11, bold=True)
        for row in table.rows:
            cells = grid.add_row().cells
            for cell, value in zip(cells, row, strict=True):
                letters.run(cell.paragraphs[0], _text(value), 11)
                if isinstance(value, int | float):
                    cell.paragraphs[0].alignment = WD_ALIGN_PARAGRAPH.RIGHT
        if table.key == "tips_by_week":
            chart_title = _("Tin báo theo tuần (tuần có chiến dịch được tô nền)")
            doc.add_picture(io.BytesIO(week_chart_png(report, chart_title)), width=Mm(160))
    sign = doc.add_table(rows=1, cols=2)
    letters.centred(
        sign.rows[0].cells[1],
        [
            (head.signer_title, 13, {"bold": True}),
            ("", 13, {}),
            ("", 13, {}),
            (head.signer_name, 13, {"bold": True}),
        ],
    )
    out = io.BytesIO()
    doc.save(out)
    return out.getvalue()


# --- XLSX -------------------------------------------------------------------------------------


def xlsx_bytes(report: Mapping[str, Any], t: Texts) -> bytes:
    """The raw figures: one sheet per table, numbers as numbers, text safe from formulas."""
    book = Workbook()
    book.remove(book.active)
    info = book.create_sheet(_("Kỳ báo cáo")[:31])
    info.append([_("Từ ngày"), report["period"]["from"]])
    info.append([_("Đến ngày"), report["period"]["to"]])
    info.append([_("Tổng số tin báo"), report["tips"]["total"]])
    for table in tables(report, t):
        sheet = book.create_sheet(table.title[:31])
        sheet.append(table.header)
        for row in table.rows:
            sheet.append([spreadsheet_safe(v) if isinstance(v, str) else v for v in row])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
