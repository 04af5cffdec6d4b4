"""The tip inbox: the live count (gateway/static/inbox.js) and tips shown as text."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from playwright.sync_api import Dialog, Page, expect

from tests.e2e.support import Contexts, unique_tag

pytestmark = pytest.mark.e2e

BADGE = 'header nav a[href="/inbox/"] [data-inbox-count]'
POLL_MS = 30_000  # inbox.js polls every 30 s


def submit_tip(page: Page, body: str) -> None:
    """Send an anonymous tip through the public form /bao-tin."""
    page.goto("/bao-tin")
    page.fill("textarea[name=body]", body)
    page.click("main form button[type=submit]")
    expect(page.locator("main h1")).to_have_text("Đã nhận tin của bạn")


def counts(text: str) -> tuple[int, int]:
    match = re.fullmatch(r"(\d+) / (\d+)", text.strip())
    assert match, f"badge shows {text!r}"
    return int(match[1]), int(match[2])


def test_inbox_count_rises_without_reload(
    contexts: Contexts, login: Callable[[Page, str], None]
) -> None:
    """Provincial police see the nav badge count rise after a citizen's web tip, without reload."""
    police = contexts.new_page()
    # inbox.js polls every 30 s and exposes no knob: a fake clock lets the test skip the wait.
    police.clock.install()
    login(police, "police@loa.local")
    badge = police.locator(BADGE)
    expect(badge).to_be_visible()
    expect(badge).to_have_text(re.compile(r"^\d+ / \d+$"))
    unread, open_ = counts(badge.inner_text())
    police.evaluate("window.__e2eNotReloaded = true")

    citizen = contexts.new_page()  # a second, anonymous person
    submit_tip(
        citizen,
        f"Có người lạ ở chợ tuyển lao động đi làm xa, hứa lương cao ({unique_tag()})",
    )
    expect(badge).to_have_text(f"{unread} / {open_}")  # not before the next poll

    with police.expect_response("**/inbox/count.json"):
        police.clock.fast_forward(POLL_MS)

    expect(badge).to_have_text(f"{unread + 1} / {open_ + 1}")
    assert police.evaluate("window.__e2eNotReloaded") is True


def test_tip_with_markup_is_shown_as_text(
    contexts: Contexts, login: Callable[[Page, str], None]
) -> None:
    """A tip containing <script> and an onerror image shows as plain text in the inbox."""
    dialogs: list[str] = []

    def on_dialog(dialog: Dialog) -> None:
        dialogs.append(dialog.message)
        dialog.dismiss()

    tag = f"xss{unique_tag()}"
    hostile = (
        f'<script>alert("{tag}")</script><img src="x" onerror="alert(\'{tag}\')"> Có kẻ lạ {tag}'
    )
    citizen = contexts.new_page()
    citizen.on("dialog", on_dialog)
    submit_tip(citizen, hostile)

    admin = contexts.new_page()
    admin.on("dialog", on_dialog)
    login(admin, "admin@loa.local")
    admin.goto(f"/inbox/?q={tag}")
    row = admin.locator("table.tips tbody tr")
    expect(row).to_have_count(1)
    expect(row.locator("td.tip-body")).to_contain_text(f'<script>alert("{tag}")</script>')
    row.locator("td.tip-body a").click()

    body = admin.locator("main .tip-body")
    expect(body).to_have_text(hostile)
    expect(body.locator("script, img")).to_have_count(0)
    expect(admin.locator(f'img[src="x"], script:has-text("{tag}")')).to_have_count(0)
    admin.wait_for_timeout(500)  # let anything that would run, run
    assert dialogs == []


def test_a_new_urgent_tip_is_announced_in_the_open_inbox(
    contexts: Contexts, login: Callable[[Page, str], None]
) -> None:
    """An operator with the inbox open is told of a new urgent tip at the next poll, as an
    alert, without the list reloading under their hands."""
    police = contexts.new_page()
    police.clock.install()
    login(police, "police@loa.local")
    police.goto("/inbox/")
    banner = police.locator("#new-tips")
    with police.expect_response("**/inbox/count.json"):
        police.clock.fast_forward(1000)  # the first poll: what the page was opened with
    expect(banner).to_be_hidden()
    police.evaluate("window.__e2eNotReloaded = true")

    submit_tip(
        contexts.new_page(),
        f"Cứu tôi, tôi đang bị nhốt ở Kế Sách, họ sắp đưa tôi đi ({unique_tag()})",
    )
    with police.expect_response("**/inbox/count.json"):
        police.clock.fast_forward(POLL_MS)
    expect(banner).to_be_visible()
    expect(banner).to_contain_text("KHẨN")
    expect(banner).to_have_attribute("role", "alert")
    assert police.evaluate("window.__e2eNotReloaded") is True
    banner.locator("a").click()  # reload the list: the new tip is on it
    expect(police.locator("table.tips")).to_contain_text("Cứu tôi, tôi đang bị nhốt ở Kế Sách")


def test_the_home_dashboard_follows_new_tips_without_reload(
    contexts: Contexts, login: Callable[[Page, str], None]
) -> None:
    """The provincial police's home page counts a new tip at its next refresh (every 30 s)."""
    police = contexts.new_page()
    police.clock.install()
    login(police, "police@loa.local")
    counts = police.locator("#open-by-priority [data-priority] strong")

    def total() -> int:
        return sum(int(t) for t in counts.all_inner_texts())

    before = total()
    police.evaluate("window.__e2eNotReloaded = true")
    submit_tip(
        contexts.new_page(),
        f"Có người lạ ở chợ tuyển lao động đi làm xa, hứa lương cao ({unique_tag()})",
    )
    assert total() == before  # not before the next refresh
    with police.expect_response(lambda r: r.url.rstrip("/") == police.url.rstrip("/")):
        police.clock.fast_forward(30_000)
    expect(police.locator("#open-by-priority")).to_be_visible()
    police.wait_for_function(
        "n => [...document.querySelectorAll('#open-by-priority [data-priority] strong')]"
        ".reduce((a, e) => a + Number(e.textContent), 0) === n",
        arg=before + 1,
    )
    assert police.evaluate("window.__e2eNotReloaded") is True
