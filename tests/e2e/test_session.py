"""Logging in through the form, and the interface language."""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable

import pyotp
import pytest
from playwright.sync_api import Page, expect

from tests.e2e.support import Contexts, LoaServer

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
    expect(page.locator(".inbox-dashboard h2").first).to_contain_text("Tin báo chưa đóng")
    expect(page.locator("#health h2")).to_contain_text("Tình trạng hệ thống")

    page.locator("header .lang").get_by_role("link", name="EN").click()

    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.locator("main h1")).to_have_text("Hello, Quản trị viên")
    expect(page.locator(NAV)).to_contain_text("Tip inbox")
    expect(page.locator("header .who")).to_contain_text("Log out")
    expect(page.locator("header .lang a[aria-current=true]")).to_have_text("EN")
    expect(page.locator("#health h2")).to_contain_text("System health")
    expect(page.locator("#campaigns-in-flight h2")).to_contain_text("Campaigns in flight")

    page.locator(NAV).click()  # the choice is kept for the next pages
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.locator("main h1")).to_contain_text("Tip inbox")


def test_password_and_totp_sign_in_then_logout_revokes_the_session(
    contexts: Contexts, loa_server: LoaServer
) -> None:
    """An officer provisioned from the command line signs in with password and a code from the
    app (the field the phone fills in); after logout, the old cookie opens nothing."""
    email = f"cs111-{secrets.token_hex(3)}@loa.test"
    password = "ba con cò bay qua cánh đồng lúa"
    out = loa_server.loa(
        "users", "create", email, "--role", "hotline_111", "--password", password, "--totp"
    )
    uri = re.search(r"totp=(otpauth://\S+)", out)
    assert uri is not None, out
    loa_server.totp[email] = pyotp.parse_uri(uri.group(1)).secret

    page = contexts.new_page()
    page.goto("/inbox/")
    expect(page).to_have_url(re.compile(r"/login\?next="))
    page.fill("input[name=email]", email)
    page.fill("input[name=password]", password)
    page.click("main form button[type=submit]")
    expect(page).to_have_url(re.compile(r"/login/code$"))
    code_field = page.locator("input[name=code]")
    expect(code_field).to_have_attribute("autocomplete", "one-time-code")
    code_field.fill("000000")
    page.click("main form button[type=submit]")
    expect(page.locator("main [role=alert]")).to_contain_text("Mã không đúng")
    page.fill("input[name=code]", loa_server.code(email))
    page.click("main form button[type=submit]")
    expect(page).to_have_url(re.compile(r"/inbox/$"))
    expect(page.locator("main h1")).to_contain_text("Hộp thư tin báo")

    cookies = page.context.cookies()
    page.locator("header .who button").click()
    expect(page).to_have_url(re.compile(r"/login$"))

    replay = contexts.new_page()  # another browser holding the cookie stolen before logout
    replay.context.add_cookies(cookies)  # type: ignore[arg-type]
    replay.goto("/inbox/")
    expect(replay).to_have_url(re.compile(r"/login\?next="))
    expect(replay.locator("main h1")).to_have_text("Đăng nhập")
