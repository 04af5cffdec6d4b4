"""A request letter's content (``campaigns.delegation.letter_content``) as DOCX and as PDF.

Both follow the layout of Vietnamese administrative documents (Decree 30/2020/NĐ-CP, appendix
I): A4, margins 20/20/30/15 mm, a serif face at 13–14 pt; at the top the issuing body (left) and
the national motto (right), then the number and symbol, place and date, subject line, recipient,
the text, and at the foot the recipients of copies (left) and the signature block (right).

DOCX is written with python-docx (Times New Roman, as the decree asks; Word substitutes a
metric twin where it is missing). PDF is written with fpdf2, which must embed a TrueType face
with Vietnamese glyphs: DejaVu Serif (Debian ``fonts-dejavu-core``) or Liberation Serif, found
in the usual places or named by the caller (the ``LOA_LETTER_FONT`` setting: the regular face;
``-Bold`` and ``-Italic`` siblings are used when present).
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from docx import Document
from docx.enum.table import WD_TABLE_ALIGNMENT
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.shared import Mm, Pt
from docx.text.paragraph import Paragraph
from fpdf import FPDF
from fpdf.enums import Align, XPos, YPos

MOTTO = "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM"
MOTTO_2 = "Độc lập - Tự do - Hạnh phúc"
DOCX_TYPE = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
PDF_TYPE = "application/pdf"
FACE = "Times New Roman"

_FONT_CANDIDATES = (
    "/usr/share/fonts/truetype/dejavu/DejaVuSerif.ttf",
    "/usr/share/fonts/truetype/liberation2/LiberationSerif-Regular.ttf",
    "/usr/share/fonts/truetype/liberation/LiberationSerif-Regular.ttf",
)


class FontMissing(RuntimeError):
    """No TrueType face with Vietnamese glyphs to embed in a PDF."""


def _font_files(named: str = "") -> dict[str, Path]:
    """The regular face (``named``, else the first usual one found) and, where present, its
    bold and italic siblings."""
    for candidate in ([named] if named else []) + list(_FONT_CANDIDATES):
        regular = Path(candidate)
        if regular.is_file():
            stem = regular.stem.removesuffix("-Regular")
            faces = {"": regular}
            for style, suffix in (("B", "-Bold"), ("I", "-Italic")):
                sibling = regular.with_name(stem + suffix + regular.suffix)
                faces[style] = sibling if sibling.is_file() else regular
            return faces
    raise FontMissing(
        "Không tìm thấy phông chữ có dấu tiếng Việt để tạo PDF: cài gói fonts-dejavu-core "
        "hoặc đặt LOA_LETTER_FONT (tệp .ttf có dấu tiếng Việt)."
    )


# --- DOCX -------------------------------------------------------------------------------------


def run(paragraph: Paragraph, text: str, size: float = 13, **style: bool) -> None:
    run = paragraph.add_run(text)
    run.font.name = FACE
    run.font.size = Pt(size)
    run.bold = style.get("bold", False)
    run.italic = style.get("italic", False)


def centred(cell: Any, lines: list[tuple[str, float, dict[str, bool]]]) -> None:
    first = True
    for text, size, style in lines:
        paragraph = cell.paragraphs[0] if first else cell.add_paragraph()
        first = False
        paragraph.alignment = WD_ALIGN_PARAGRAPH.CENTER
        paragraph.paragraph_format.space_after = Pt(0)
        run(paragraph, text, size, **style)


def administrative_document(size: float) -> Any:
    """An empty Word document on A4 with the decree's margins, in the serif face at ``size``."""
    doc = Document()
    section = doc.sections[0]
    section.page_width, section.page_height = Mm(210), Mm(297)
    section.top_margin, section.bottom_margin = Mm(20), Mm(20)
    section.left_margin, section.right_margin = Mm(30), Mm(15)
    style = doc.styles["Normal"]
    style.font.name = FACE
    style.font.size = Pt(size)
    return doc


def docx_bytes(letter: Mapping[str, Any]) -> bytes:
    """The letter as a Word document."""
    doc = administrative_document(14)

    head = doc.add_table(rows=1, cols=2)
    head.alignment = WD_TABLE_ALIGNMENT.CENTER
    left, right = head.rows[0].cells
    centred(
        left,
        [
            (letter["issuer_parent"], 13, {}),
            (letter["issuer"], 13, {"bold": True}),
            ("———", 13, {}),
            (letter["number"], 13, {}),
            (letter["subject"], 12, {}),
        ],
    )
    centred(
        right,
        [
            (MOTTO, 12, {"bold": True}),
            (MOTTO_2, 13, {"bold": True}),
            ("———————", 13, {}),
            (letter["place_date"], 13, {"italic": True}),
        ],
    )
    addressee = doc.add_paragraph()
    addressee.alignment = WD_ALIGN_PARAGRAPH.CENTER
    addressee.paragraph_format.space_before = Pt(12)
    run(addressee, letter["addressee"], 14)
    for text in _body_paragraphs(letter):
        paragraph = doc.add_paragraph()
        paragraph.alignment = WD_ALIGN_PARAGRAPH.JUSTIFY
        paragraph.paragraph_format.first_line_indent = Mm(10)
        paragraph.paragraph_format.space_after = Pt(6)
        run(paragraph, text, 14)

    foot = doc.add_table(rows=1, cols=2)
    copies, signature = foot.rows[0].cells
    label = copies.paragraphs[0]
    run(label, "Nơi nhận:", 12, bold=True, italic=True)
    for line in letter["copies_to"]:
        run(copies.add_paragraph(), f"- {line}", 11)
    centred(
        signature,
        [
            (letter["signer_title"], 14, {"bold": True}),
            ("", 14, {}),
            ("", 14, {}),
            ("", 14, {}),
            (letter["signer_name"], 14, {"bold": True}),
        ],
    )
    out = io.BytesIO()
    doc.save(out)
    return out.getvalue()


def _body_paragraphs(letter: Mapping[str, Any]) -> list[str]:
    """The text between the recipient and the signature, paragraph by paragraph."""
    facts = [f"- {label}: {value}." for label, value in letter["facts"]]
    return [
        *letter["opening"].splitlines(),
        *facts,
        *letter["closing"].splitlines(),
    ]


# --- PDF --------------------------------------------------------------------------------------


def pdf_bytes(letter: Mapping[str, Any], font: str = "") -> bytes:
    """The letter as a PDF, in ``font`` (a .ttf path) or the first usual face found.

    Raises:
        FontMissing: no TrueType face to embed.
    """
    faces = _font_files(font)
    pdf = FPDF(format="A4", unit="mm")
    pdf.set_margins(30, 20, 15)
    pdf.set_auto_page_break(True, margin=20)
    for style, path in faces.items():
        pdf.add_font("letter", style, str(path))
    pdf.set_title(letter["subject"])
    pdf.add_page()
    width = pdf.epw
    half = width / 2 - 2
    top = pdf.get_y()

    def column(x: float, y: float, lines: list[tuple[str, str, float]], w: float) -> float:
        pdf.set_xy(x, y)
        for text, style, size in lines:
            pdf.set_font("letter", style, size)
            pdf.set_x(x)
            pdf.multi_cell(w, 5.6, text, align=Align.C, new_x=XPos.LEFT, new_y=YPos.NEXT)
        return pdf.get_y()

    left = column(
        pdf.l_margin,
        top,
        [
            (letter["issuer_parent"], "", 10.5),
            (letter["issuer"], "B", 10.5),
            ("———", "", 10),
            (letter["number"], "", 11),
            (letter["subject"], "", 10),
        ],
        width * 0.40,
    )
    right = column(
        pdf.l_margin + width * 0.40,
        top,
        [
            (MOTTO, "B", 10.5),
            (MOTTO_2, "B", 11.5),
            ("———————", "", 10),
            (letter["place_date"], "I", 11.5),
        ],
        width * 0.60,
    )
    pdf.set_xy(pdf.l_margin, max(left, right) + 6)
    pdf.set_font("letter", "", 13)
    pdf.multi_cell(width, 6.5, letter["addressee"], align=Align.C)
    pdf.ln(3)
    for text in _body_paragraphs(letter):
        pdf.set_x(pdf.l_margin)
        pdf.multi_cell(width, 6.5, "      " + text, align=Align.J)
        pdf.ln(1.5)
    pdf.ln(4)
    if pdf.get_y() > pdf.h - 70:
        pdf.add_page()
    foot = pdf.get_y()
    pdf.set_xy(pdf.l_margin, foot)
    pdf.set_font("letter", "B", 11)
    pdf.cell(half, 5.5, "Nơi nhận:", new_x=XPos.LEFT, new_y=YPos.NEXT)
    pdf.set_font("letter", "", 10)
    for line in letter["copies_to"]:
        pdf.set_x(pdf.l_margin)
        pdf.multi_cell(half, 5, f"- {line}", new_x=XPos.LEFT, new_y=YPos.NEXT)
    column(
        pdf.l_margin + half,
        foot,
        [(letter["signer_title"], "B", 13), ("\n\n\n", "", 13), (letter["signer_name"], "B", 13)],
        half,
    )
    return bytes(pdf.output())
