"""Logging in through the form, and the interface language."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from playwright.sync_api import Page, expect

pytestmark = pytest.mark.e2e

NAV = 'header nav a[href="/inbox/"]'


def test_login_dashboard_in_vietnamese_then_english(
    page: Page, login: Callable[[Page, str], None]
) -> None:
    """The admin logs in through the form and sees the dashboard in Vietnamese, then in English."""
    login(page, "admin@loa.local")

    expect(page.locator("html")).to_have_attribute("lang", "vi")
    expect(page.locator("main h1")).to_have_text("Xin chào, Quản trị viên")
    expect(page.locator(NAV)).to_contain_text("Hộp thư tin báo")
    expect(page.locator("header .who")).to_contain_text("Đăng xuất")
    expect(page.locator(".inbox-dashboard h2").first).to_contain_text("Tin báo quá hạn")

    page.locator("header .lang").get_by_role("link", name="EN").click()

    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.locator("main h1")).to_have_text("Hello, Quản trị viên")
    expect(page.locator(NAV)).to_contain_text("Tip inbox")
    expect(page.locator("header .who")).to_contain_text("Log out")
    expect(page.locator("header .lang a[aria-current=true]")).to_have_text("EN")

    page.locator(NAV).click()  # the choice is kept for the next pages
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.locator("main h1")).to_contain_text("Tip inbox")
