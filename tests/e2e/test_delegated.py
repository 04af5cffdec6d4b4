"""The plan's own route in a browser (issue 13): an editor composes a broadcast the operators
send, the approver approves it, the editor downloads a request letter; the approver builds the
results report and downloads it. The downloaded files are opened with python-docx/openpyxl."""

from __future__ import annotations

import datetime as dt
import io
import secrets
from collections.abc import Callable
from pathlib import Path

import pytest
from docx import Document
from openpyxl import load_workbook
from playwright.sync_api import Page, expect

from tests.e2e.support import APPROVER, EDITOR, LoaServer

pytestmark = pytest.mark.e2e
SHOTS = Path(__file__).resolve().parents[2] / "var" / "screenshots"  # for people to look at

TEXT = (
    "Toàn dân tích cực tham gia phòng, chống mua bán người. Khi phát hiện dấu hiệu hãy báo "
    "Công an nơi gần nhất hoặc Tổng đài 111."
)


def _docx_lines(path: Path) -> list[str]:
    doc = Document(str(path))
    lines = [p.text for p in doc.paragraphs]
    for table in doc.tables:
        for row in table.rows:
            lines.extend(line for cell in row.cells for line in cell.text.splitlines())
    return lines


def test_compose_approve_and_download_a_request_letter(
    loa_server: LoaServer, page: Page, login: Callable[[Page, str], None]
) -> None:
    name = f"E2E: nhà mạng gửi {secrets.token_hex(3)}"
    login(page, EDITOR)
    page.goto("/campaigns/new")
    operators = page.locator("fieldset[data-route=operators]")
    lists = page.locator("div[data-route=direct]").first
    expect(operators).to_be_hidden()  # "Loa gửi" is the default route
    page.check("input[name=route][value=operators]")
    expect(operators).to_be_visible()
    expect(lists).to_be_hidden()
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.fill("input[name=name]", name)
    page.fill("textarea[name=body]", TEXT)
    page.check("input[name=all_contacts]")
    page.check("input[name=operators][value=viettel]")
    page.check("input[name=operators][value=mobifone]")
    page.fill("input[name=contact_name]", "Nguyễn Văn An")
    page.fill("input[name=contact_phone]", "0299 3822 123")
    day = dt.date.today() + dt.timedelta(days=30)
    page.fill("input[name=scheduled_at]", f"{day.isoformat()}T08:00")
    page.click("button[name=do][value=save]")
    expect(page.locator("#campaign-route")).to_have_text("Nhờ nhà mạng gửi")
    page.click("form.action-submit button")
    campaign_id = int(page.url.rstrip("/").split("/")[-1])
    loa_server.call("POST", f"/campaigns/{campaign_id}/approve", APPROVER)

    page.reload()
    expect(page.locator("#campaign-status")).to_have_text("Đã phê duyệt")
    row = page.locator("#operators tr[data-operator=viettel]")
    with page.expect_download() as info:
        row.get_by_role("link", name="Tải DOCX").click()
    download = info.value
    assert download.suggested_filename.endswith("-viettel.docx")
    lines = _docx_lines(Path(download.path()))
    assert f"- Nội dung tin nhắn: “{TEXT}”." in lines
    assert "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM" in lines
    assert any(line.startswith("Kính gửi: Tập đoàn Công nghiệp") for line in lines)
    with page.expect_download() as pdf:
        row.get_by_role("link", name="Tải PDF").click()
    assert Path(pdf.value.path()).read_bytes().startswith(b"%PDF-")

    page.click("form.action-request button")
    expect(page.locator("#campaign-status")).to_have_text("Đã gửi công văn cho nhà mạng")
    expect(row.locator(".request-status")).to_have_text("Đã gửi đề nghị")
    page.locator("#followup-viettel summary").click()
    page.screenshot(path=str(SHOTS / "delegated-campaign.png"), full_page=True)


def test_the_approver_downloads_the_results_report(
    loa_server: LoaServer, page: Page, login: Callable[[Page, str], None]
) -> None:
    login(page, APPROVER)
    page.get_by_role("link", name="Báo cáo kết quả").first.click()
    expect(page.locator("h1")).to_have_text("Báo cáo kết quả")
    today = dt.date.today()
    page.fill("input[name=from]", (today - dt.timedelta(days=90)).isoformat())
    page.fill("input[name=to]", today.isoformat())
    page.click("#period button")
    tips = int(page.locator("#tips-count").inner_text().replace(".", ""))
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "results-report.png"), full_page=True)
    with page.expect_download() as word:
        page.get_by_role("link", name="Tải DOCX").click()
    lines = _docx_lines(Path(word.value.path()))
    assert "BÁO CÁO" in lines and "Tin báo theo kênh" in lines
    with page.expect_download() as sheet:
        page.get_by_role("link", name="Tải XLSX (số liệu)").click()
    book = load_workbook(io.BytesIO(Path(sheet.value.path()).read_bytes()))
    rows = list(book["Tin báo theo kênh"].iter_rows(min_row=2, values_only=True))
    assert sum(n for _k, n in rows) == tips
