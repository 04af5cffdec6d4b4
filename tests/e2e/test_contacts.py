"""A large contact import as an editor sees it (issue 12): the upload returns at once, the page
follows the worker's progress live (gateway/static/import.js) and turns into the result."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.support import EDITOR, LoaServer

pytestmark = [pytest.mark.e2e, pytest.mark.slow]  # 300,000 rows: kept out of make test-fast

ROWS = 300_000  # about 9 MB: far over LOA_IMPORT_ASYNC_BYTES, several seconds in the worker


def _big_csv() -> bytes:
    lines = ["số điện thoại,họ tên,huyện"]
    lines += [f"0971{i:06d},Tình nguyện viên {i},Kế Sách" for i in range(ROWS - 1)]
    lines.append("không phải số,X,Kế Sách")
    return ("\n".join(lines) + "\n").encode()


def _count(shown: str) -> int:
    """A count as the Vietnamese page writes it ("300.000")."""
    assert re.fullmatch(r"\d{1,3}(\.\d{3})*", shown), shown
    return int(shown.replace(".", ""))


def test_a_large_import_shows_its_progress_live_then_its_result(
    loa_server: LoaServer, loa_worker: None, page: Page, login: Callable[[Page, str], None]
) -> None:
    """Uploading 300,000 rows lands on the import's page at once; the counts grow without a
    reload while the worker imports; the page then shows the result with the rejected row."""
    login(page, EDITOR)
    page.goto("/contacts/import")
    page.set_input_files(
        "input[name=file]",
        files=[{"name": "tinh-nguyen-vien.csv", "mimeType": "text/csv", "buffer": _big_csv()}],
    )
    page.fill("input[name=list_name]", "Tình nguyện viên E2E")
    page.click("main form button[type=submit]")
    page.wait_for_url("**/contacts/imports/*")
    expect(page.locator("#import-progress")).to_be_visible()
    page.evaluate("window.__e2eNotReloaded = true")
    # The worker's counts reach the open page (import.js polls every 1.5 s).
    expect(page.locator("#i-rows")).not_to_have_text("0", timeout=60_000)
    rows = _count(page.locator("#i-rows").inner_text())
    assert 0 < rows < ROWS
    assert page.evaluate("window.__e2eNotReloaded") is True
    # At the end the page reloads itself into the result.
    expect(page.locator("#import-counts")).to_be_visible(timeout=120_000)
    expect(page.locator("#import-progress")).to_have_count(0)
    counts = {
        key: _count(page.locator(f"#import-counts [data-count={key}]").inner_text())
        for key in ("rows", "added", "updated", "duplicates")
    }
    assert counts["rows"] == ROWS and counts["duplicates"] == 0, counts
    assert counts["added"] + counts["updated"] == ROWS - 1, counts  # a few are demo contacts
    expect(page.locator("#import-counts [data-count=rejected]")).to_have_text("1")
    expect(page.locator("#rejected")).to_contain_text("không phải số")
    shots = Path(__file__).resolve().parents[2] / "var" / "screenshots"
    shots.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(shots / "contact-import.png"), full_page=True)
