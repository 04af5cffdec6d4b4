"""Small things a new user trips over (issue 12, found 4): the browser's icon, emergency numbers
that a phone can call, and an empty error table that says so."""

from __future__ import annotations

from typing import Any

from campaigns import lifecycle
from tests.factories import create_campaign


def test_favicon_is_served_without_login(client: Any) -> None:
    resp = client.get("/favicon.ico")
    assert resp.status_code == 200
    assert resp.mimetype == "image/svg+xml" and resp.data.startswith(b"<svg")
    assert resp.cache_control.max_age == 86400
    page = client.get("/login").get_data(as_text=True)
    assert 'rel="icon"' in page


def test_emergency_numbers_are_tel_links(client: Any) -> None:
    """On the public form, its confirmation and every page's footer, 111 and 113 can be tapped."""
    for path in ("/bao-tin", "/bao-tin/da-nhan", "/login"):
        page = client.get(path).get_data(as_text=True)
        assert '<a href="tel:111">111</a>' in page, path
        assert '<a href="tel:113">113</a>' in page, path
        assert "&lt;a href" not in page, path  # the links are not escaped into text


def test_english_keeps_the_links(client: Any) -> None:
    page = client.get("/bao-tin?lang=en").get_data(as_text=True)
    assert "In an emergency, call" in page and '<a href="tel:113">113</a>' in page


def test_an_empty_error_table_says_there_is_no_error(client: Any, auth: Any) -> None:
    campaign = create_campaign(status=lifecycle.RUNNING)
    auth.login("editor")
    page = client.get(f"/campaigns/{campaign.id}/progress").get_data(as_text=True)
    errors = page.split('id="p-errors"', 1)[1].split("</tbody>", 1)[0]
    assert "Không có lỗi." in errors
    assert 'data-none="Không có lỗi."' in page  # progress.js writes it back after each poll
