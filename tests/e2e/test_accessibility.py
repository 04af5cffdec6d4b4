"""Accessibility of the main pages in a real Chromium (issue 12, must add 5): axe-core (vendored
under tests/e2e/vendor/axe-core, never loaded from the internet) finds no serious or critical
WCAG 2.1 A/AA violation (labels on controls, contrast, names of links and buttons…); nothing
overflows at 360 px; the main flows work with the keyboard alone."""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Callable
from pathlib import Path

import pytest
from playwright.sync_api import Page

from tests.e2e.support import Contexts

pytestmark = pytest.mark.e2e

AXE_FILE = Path(__file__).parent / "vendor" / "axe-core" / "axe.min.js"
AXE_SRI = "sha256-KTSJmUUM3yhJqOcLeRL8LahahJ2jnA0NU5T1HUqe2Vw="  # axe-core 4.14.1, as published
AXE = AXE_FILE.read_text(encoding="utf-8")
TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
SERIOUS = ("serious", "critical")
PHONE = {"width": 360, "height": 740}
WIDE = {"width": 1280, "height": 900}

# Each role's main pages; "first:SELECTOR" follows the first link that SELECTOR finds on the
# page before it (a campaign, a tip), "here:SUFFIX" goes to that link's URL plus SUFFIX.
PAGES: dict[str, list[str]] = {
    "": ["/login", "/bao-tin"],
    "editor@loa.local": [
        "/",
        "/campaigns/",
        "first:table a[href^='/campaigns/']",
        "here:/progress",
        "here:/report",
        "/campaigns/new",
        "/contacts",
        "/lists",
        "/contacts/import",
        "/optouts",
        "/account/",
        "/campaigns/letter-template",
    ],
    "approver@loa.local": ["/", "/campaigns/approvals", "/reports/ket-qua"],
    "police@loa.local": [
        "/",
        "/inbox/",
        "first:table.tips a[href^='/inbox/']",
        "here:/handoff",
        "/inbox/dashboard",
    ],
    "tongdai111@loa.local": ["/", "/inbox/", "/tips/calls/new"],
    "admin@loa.local": [
        "/",
        "/users/",
        "/users/new",
        "/users/rosters",
        "/rules/",
        "/rules/test",
        "/rules/new",
        "/areas/",
        "/audit/",
        "/campaigns/kill-switch",
        "/simulator",
    ],
}


# What sticks out of a 360 px page: the page's width and the outermost elements past its edge.
OVERFLOWING = """() => {
  const width = document.documentElement.scrollWidth;
  if (width <= window.innerWidth + 1) { return null; }
  const past = e => e.getBoundingClientRect().right > window.innerWidth + 1;
  const clipped = e => {  // inside a box that scrolls or clips sideways: not the page's problem
    for (let a = e.parentElement; a && a !== document.body; a = a.parentElement) {
      if (getComputedStyle(a).overflowX !== 'visible') { return true; }
    }
    return false;
  };
  const out = [...document.querySelectorAll('body *')].filter(e =>
    past(e) && !clipped(e) && !(e.parentElement && past(e.parentElement)));
  return {width, elements: out.slice(0, 5).map(e => e.tagName.toLowerCase() +
    (e.id ? '#' + e.id : '') + (e.className && e.className.baseVal === undefined ? '.' + e.className : ''))};
}"""


def axe_violations(page: Page) -> list[dict[str, object]]:
    """The serious and critical WCAG 2.1 A/AA violations axe finds on the page as it is."""
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        page.evaluate(AXE)  # evaluated by the DevTools protocol: the page's CSP does not apply
    found = page.evaluate(
        """tags => axe.run(document, {runOnly: {type: 'tag', values: tags}, resultTypes: ['violations']})
             .then(r => r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
               nodes: v.nodes.slice(0, 3).map(n => n.target.join(' '))})))""",
        TAGS,
    )
    return [v for v in found if v["impact"] in SERIOUS]


def _visit(page: Page, path: str, followed: list[str]) -> None:
    if path.startswith("first:"):
        href = page.locator(path.removeprefix("first:")).first.get_attribute("href")
        assert href, f"no link for {path} on {page.url}"
        path = href
        followed.append(href)
    elif path.startswith("here:"):
        path = followed[-1] + path.removeprefix("here:")
    resp = page.goto(path)
    assert resp is not None and resp.status == 200, (path, resp and resp.status)


@pytest.mark.parametrize("email", sorted(PAGES))
def test_main_pages_pass_axe_and_fit_a_phone(
    contexts: Contexts, login: Callable[[Page, str], None], email: str
) -> None:
    page = contexts.new_page()
    page.set_viewport_size(WIDE)
    if email:
        login(page, email)
    problems: dict[str, object] = {}
    followed: list[str] = []
    for path in PAGES[email]:
        _visit(page, path, followed)
        here = page.url
        found = axe_violations(page)
        if found:
            problems[here] = found
        page.set_viewport_size(PHONE)
        wide = page.evaluate(OVERFLOWING)
        if wide:
            problems[f"{here} at 360 px"] = wide
        page.set_viewport_size(WIDE)
    assert not problems, json.dumps(problems, ensure_ascii=False, indent=1)


def test_the_vendored_axe_is_the_published_file() -> None:
    digest = base64.b64encode(hashlib.sha256(AXE_FILE.read_bytes()).digest()).decode()
    assert f"sha256-{digest}" == AXE_SRI


def test_the_checker_finds_a_serious_violation(contexts: Contexts) -> None:
    """axe runs and reports: a control without a label and grey-on-grey text are found."""
    page = contexts.new_page()
    page.set_content(
        "<html lang='vi'><title>x</title><main><input type='text'>"
        "<p style='color:#bbb;background:#ccc'>khó đọc</p></main></html>"
    )
    found = {v["id"] for v in axe_violations(page)}
    assert {"label", "color-contrast"} <= found, found


def _focused(page: Page) -> str:
    return str(
        page.evaluate(
            """() => { const e = document.activeElement;
                 return e.tagName.toLowerCase() + (e.name ? '[name=' + e.name + ']' : '')
                   + (e.className ? '.' + e.className : ''); }"""
        )
    )


def test_a_tip_and_a_login_with_the_keyboard_alone(contexts: Contexts) -> None:
    """The first Tab offers the skip link, which lands in the main content; the public form is
    filled and sent, and an official signs in, with keys only; focus is always visible."""
    page = contexts.new_page()
    page.goto("/bao-tin")
    page.keyboard.press("Tab")
    assert _focused(page) == "a.skip"
    assert page.locator("a.skip").bounding_box()["y"] >= 0  # type: ignore[index]
    outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    assert outline not in ("none", ""), outline
    page.keyboard.press("Enter")
    page.wait_for_url("**/bao-tin#main")
    page.wait_for_function("document.activeElement && document.activeElement.id === 'main'")
    order = []
    for _ in range(12):
        page.keyboard.press("Tab")
        order.append(_focused(page))
        if order[-1] == "textarea[name=body]":
            break
    assert order[-1] == "textarea[name=body]", order
    page.keyboard.type("Có người lạ dụ con gái tôi sang biên giới làm việc.")
    page.keyboard.press("Tab")
    assert _focused(page) == "input[name=phone]"
    page.keyboard.press("Tab")
    assert _focused(page).startswith("input[name=confirm_sms]")
    page.keyboard.press("Tab")
    assert _focused(page).startswith("button")
    page.keyboard.press("Enter")
    page.wait_for_url("**/bao-tin/da-nhan")

    page.goto("/login")
    page.keyboard.press("Tab")
    page.keyboard.press("Enter")  # the skip link
    for _ in range(6):
        page.keyboard.press("Tab")
        if _focused(page) == "input[name=email]":
            break
    assert _focused(page) == "input[name=email]"
    page.keyboard.type("editor@loa.local")
    page.keyboard.press("Tab")
    assert _focused(page) == "input[name=password]"
    page.keyboard.type(contexts.server.passwords["editor@loa.local"])
    page.keyboard.press("Enter")
    page.wait_for_url(lambda url: "/login" not in url)
    # On a fresh page the menu is reached by Tab and followed with Enter.
    page.goto("/contacts")
    seen = []
    for _ in range(8):
        page.keyboard.press("Tab")
        seen.append(_focused(page))
        if page.evaluate("document.activeElement.closest('header nav') !== null"):
            break
    target = page.evaluate("document.activeElement.getAttribute('href')")
    assert target, (page.url, seen)
    page.keyboard.press("Enter")
    page.wait_for_url(f"**{target}")


def test_the_public_form_is_light_and_works_without_javascript(contexts: Contexts) -> None:
    """Everything /bao-tin loads weighs under 50 KB, and with JavaScript off a tip is sent."""
    page = contexts.new_page(java_script_enabled=False)
    sizes: dict[str, int] = {}
    page.on(
        "requestfinished", lambda req: sizes.__setitem__(req.url, req.sizes()["responseBodySize"])
    )
    page.goto("/bao-tin")
    page.wait_for_load_state("networkidle")
    total = sum(sizes.values())
    assert 0 < total < 50 * 1024, sizes
    assert not [url for url in sizes if url.endswith(".js")], sizes
    page.fill("textarea[name=body]", "Tin báo gửi khi trình duyệt tắt JavaScript.")
    page.click("main form button[type=submit]")
    page.wait_for_url("**/bao-tin/da-nhan")
