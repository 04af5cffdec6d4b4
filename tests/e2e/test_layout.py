"""The layout a new user met at 1280 x 900 (issue 12, found 4), measured in a real Chromium: the
menu on one line, the inbox's tips above the fold under a compact filter row, the audit table
inside the page, no empty badge, a reason box inside its own button's group. Screenshots of
the pages go to ``var/screenshots/`` as test artifacts."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from pathlib import Path

import pytest
from playwright.sync_api import Page

from tests.e2e.support import Contexts

pytestmark = pytest.mark.e2e

SHOTS = Path(__file__).resolve().parents[2] / "var" / "screenshots"
WIDE = {"width": 1280, "height": 900}
PHONE = {"width": 360, "height": 740}


def _shot(page: Page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def _menu_rows(page: Page) -> int:
    """How many lines the menu's links take."""
    tops = page.eval_on_selector_all(
        "header.top nav a", "links => links.map(a => Math.round(a.getBoundingClientRect().top))"
    )
    assert tops, "no menu"
    return len(set(tops))


def _overflows(page: Page) -> bool:
    return bool(page.evaluate("document.documentElement.scrollWidth > window.innerWidth + 1"))


@pytest.mark.parametrize(
    "email", ["admin@loa.local", "editor@loa.local", "police@loa.local", "tongdai111@loa.local"]
)
def test_the_menu_fits_one_line_at_1280(
    contexts: Contexts, login: Callable[[Page, str], None], email: str
) -> None:
    page = contexts.new_page()
    page.set_viewport_size(WIDE)
    login(page, email)
    assert _menu_rows(page) == 1
    assert not _overflows(page)
    # Nothing shows an empty pill: every visible badge has text.
    empty = page.eval_on_selector_all(
        ".badge",
        "els => els.filter(e => e.offsetWidth > 0 && !e.textContent.trim()).length",
    )
    assert empty == 0
    _shot(page, f"home-{email.split('@')[0]}")


def test_inbox_tips_are_above_the_fold(
    contexts: Contexts, login: Callable[[Page, str], None]
) -> None:
    page = contexts.new_page()
    page.set_viewport_size(WIDE)
    login(page, "police@loa.local")
    page.goto("/inbox/")
    _shot(page, "inbox-police-1280")
    rows = page.eval_on_selector_all(
        "form.filters > .field:not(.check), form.filters > button",
        "els => new Set(els.map(e => Math.round(e.getBoundingClientRect().bottom / 16))).size",
    )
    assert rows <= 2  # a compact grid of two rows at most, not a column of eight fields
    first_row = page.locator("table.tips tbody tr").first.bounding_box()
    assert first_row is not None
    assert first_row["y"] + first_row["height"] <= WIDE["height"], first_row
    # The queue tabs are separate pills with space between them.
    boxes = [
        page.locator(".queue-tabs a").nth(i).bounding_box()
        for i in range(min(3, page.locator(".queue-tabs a").count()))
    ]
    assert all(b is not None for b in boxes)
    for left, right in itertools.pairwise(boxes):
        assert left is not None and right is not None
        if abs(left["y"] - right["y"]) < 2:  # same line
            assert right["x"] - (left["x"] + left["width"]) >= 4
    _shot(page, "inbox-police-1280")


def test_on_a_phone_the_filter_folds_and_nothing_overflows(
    contexts: Contexts, login: Callable[[Page, str], None]
) -> None:
    page = contexts.new_page()
    page.set_viewport_size(PHONE)
    login(page, "police@loa.local")
    page.goto("/inbox/")
    assert page.locator("details.filter-box").get_attribute("open") is None
    assert not page.locator("form.filters").is_visible()
    page.click("details.filter-box > summary")
    assert page.locator("form.filters").is_visible()
    _shot(page, "inbox-police-360")
    assert not _overflows(page)
    # With a filter in use the box stays open.
    page.goto("/inbox/?status=open")
    assert page.locator("form.filters").is_visible()


def test_the_audit_table_stays_inside_the_page(
    contexts: Contexts, login: Callable[[Page, str], None]
) -> None:
    page = contexts.new_page()
    page.set_viewport_size(WIDE)
    login(page, "admin@loa.local")
    page.goto("/audit/")
    assert page.locator("tr.audit-row").count() > 0
    assert not _overflows(page)
    _shot(page, "audit-admin-1280")


def test_a_reason_box_sits_with_its_button(
    contexts: Contexts, login: Callable[[Page, str], None]
) -> None:
    """On a campaign awaiting approval, the reject reason is inside the reject group, and the
    approve button is outside it."""
    editor = contexts.new_page()
    editor.set_viewport_size(WIDE)
    login(editor, "editor@loa.local")
    editor.goto("/campaigns/")
    editor.click("text=Thử toàn quy trình")
    editor.click("form.action-submit button")
    approver = contexts.new_page()
    approver.set_viewport_size(WIDE)
    login(approver, "approver@loa.local")
    approver.goto(editor.url)
    group = approver.locator("form.action-reject.with-reason")
    assert group.locator("input[name=reason]").count() == 1
    assert group.locator("button").count() == 1
    assert approver.locator("form.action-approve input[name=reason]").count() == 0
    box = group.bounding_box()
    reason = group.locator("input[name=reason]").bounding_box()
    assert box is not None and reason is not None
    assert box["x"] <= reason["x"] and reason["x"] + reason["width"] <= box["x"] + box["width"]
    _shot(approver, "campaign-approval-1280")
