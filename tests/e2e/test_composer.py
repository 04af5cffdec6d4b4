"""The composer's live SMS facts (gateway/static/composer.js)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from playwright.sync_api import Page, Request, expect

from campaigns import encoding
from tests.factories import OFFICIAL_TEXT

pytestmark = pytest.mark.e2e

PLAIN = "Loa Soc Trang: hay goi 111 neu thay dau hieu mua ban nguoi."


def test_composer_shows_encoding_and_segments_while_typing(
    page: Page, login: Callable[[Page, str], None]
) -> None:
    """Typing the official text shows UCS-2, 4 segments and its non-GSM characters, live."""
    login(page, "editor@loa.local")
    page.goto("/campaigns/new")
    posted: list[Request] = []
    page.on("request", lambda r: posted.append(r) if r.method == "POST" else None)
    forcing = encoding.analyze(OFFICIAL_TEXT).non_gsm
    panel = page.locator("#sms-panel")
    body = page.locator("textarea#body")
    expect(panel.locator("#sms-encoding")).to_have_text("GSM-7")  # the empty text, server-side
    expect(panel.locator("#sms-segments")).to_have_text("0")

    body.press_sequentially(OFFICIAL_TEXT)

    expect(panel.locator("#sms-encoding")).to_have_text("UCS-2", timeout=5_000)
    expect(panel.locator("#sms-segments")).to_have_text("4")
    expect(panel.locator("#sms-characters")).to_have_text(str(len(OFFICIAL_TEXT)))
    expect(panel.locator("#sms-nongsm mark.nongsm")).to_have_text(list(forcing))
    expect(panel.locator("#sms-highlight")).to_have_text(OFFICIAL_TEXT)
    marked = panel.locator("#sms-highlight mark.nongsm").all_text_contents()
    assert marked and set("".join(marked)) == set(forcing)
    assert "ự" in forcing and "ự" in "".join(marked)

    body.fill(PLAIN)

    expect(panel.locator("#sms-encoding")).to_have_text("GSM-7", timeout=5_000)
    expect(panel.locator("#sms-segments")).to_have_text("1")
    expect(panel.locator("#sms-highlight")).to_have_text(PLAIN)
    expect(panel.locator("mark.nongsm")).to_have_count(0)

    # Nothing was submitted: the facts came from the sms-info endpoint, the form stayed put.
    assert page.url.endswith("/campaigns/new")
    assert posted and all(r.url.endswith("/campaigns/sms-info") for r in posted), [
        r.url for r in posted
    ]
