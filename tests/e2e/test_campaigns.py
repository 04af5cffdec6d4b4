"""A broadcast as people see it: live progress (gateway/static/progress.js) and the citizen
phone simulator. The RQ worker runs in a subprocess, as in production."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from campaigns.phones import mask
from gateway.demo import DEMO_LIST, SEED_LIST
from gateway.tips.replies import DEFAULT_ACK
from tests.e2e.support import (
    EDITOR,
    LoaServer,
    approved_campaign,
    launch,
    unique_tag,
    wait_completed,
)

pytestmark = pytest.mark.e2e

POLL_MS = 3_000  # progress.js polls every 3 s


@pytest.fixture(scope="session")
def sent_campaign(loa_server: LoaServer, loa_worker: None) -> Iterator[dict[str, Any]]:
    """A campaign to the demo's seed list, sent through the worker (once per server)."""
    body = f"Loa Soc Trang {unique_tag()}: goi 111 neu thay dau hieu mua ban nguoi."
    campaign_id = approved_campaign(loa_server, "E2E: seed list", body, lists=[SEED_LIST])
    launch(loa_server, campaign_id)
    yield {**wait_completed(loa_server, campaign_id), "body": body}


def test_progress_page_updates_counts_live(
    loa_server: LoaServer, loa_worker: None, page: Page, login: Callable[[Page, str], None]
) -> None:
    """The progress page of an approved campaign follows its launch to completion, live."""
    campaign_id = approved_campaign(
        loa_server,
        f"E2E: progress {unique_tag()}",
        "Loa Soc Trang: Ngay toan dan phong, chong mua ban nguoi 30/7. Goi 111.",
        lists=[DEMO_LIST],
        districts=["Kế Sách"],  # a district's share of the demo contacts: fewer receipts to run
    )
    page.clock.install()  # progress.js polls every 3 s: the test may move its clock on
    login(page, EDITOR)
    page.goto(f"/campaigns/{campaign_id}/progress")
    expect(page.locator("#p-status")).to_have_text("Đã phê duyệt")
    expect(page.locator("#p-done")).to_have_text("0")
    page.evaluate("window.__e2eNotReloaded = true")

    launch(loa_server, campaign_id)
    final = wait_completed(loa_server, campaign_id)
    page.clock.fast_forward(POLL_MS)

    expect(page.locator("#p-status")).to_have_text("Hoàn tất")
    total = final["audience_size"]
    assert 0 < total < 300
    expect(page.locator("#p-total")).to_have_text(str(total))
    expect(page.locator("#p-done")).to_have_text(str(total))
    expect(page.locator("#p-percent")).to_have_text("100")
    # Every recipient is counted under one status (receipts may still move sent → delivered).
    shown = {s: int(page.locator(f"#p-count-{s}").inner_text()) for s in final["counts"]}
    assert sum(shown.values()) == total, shown
    assert shown["pending"] == shown["sending"] == 0, shown
    assert shown["sent"] + shown["delivered"] > 0, shown
    assert page.evaluate("window.__e2eNotReloaded") is True


def test_simulator_shows_broadcast_and_acknowledges_reply(
    loa_server: LoaServer,
    sent_campaign: dict[str, Any],
    page: Page,
    login: Callable[[Page, str], None],
) -> None:
    """On the citizen phone a recipient sees the broadcast, replies, and gets the acknowledgement."""
    deliveries = loa_server.call("GET", f"/campaigns/{sent_campaign['id']}/deliveries", EDITOR)
    phone = next(d["phone"] for d in deliveries["items"] if d["status"] in ("sent", "delivered"))
    login(page, "admin@loa.local")  # the citizen phone is a demo tool for admins only
    page.goto("/simulator")

    picker = page.locator("main form").filter(has=page.locator("select[name=m]"))
    picker.locator("select[name=m]").select_option(label=mask(phone))
    picker.locator("button").click()

    thread = page.locator("ul.thread")
    expect(page.locator("main h2")).to_contain_text(mask(phone))
    expect(thread.locator("li.out .text").filter(has_text=sent_campaign["body"])).to_have_count(1)
    # The simulator's receipt came back through Loa's status webhook (over HTTP, from the worker).
    broadcast = thread.locator("li.out").filter(has_text=sent_campaign["body"])
    expect(broadcast.locator(".meta")).to_contain_text("Đã giao")

    reply = f"Toi thay nguoi la tuyen lao dong o cho {unique_tag()}"
    page.fill("textarea[name=body]", reply)
    page.locator("main form[method=post] button").click()

    expect(thread.locator("li").first).to_have_class("out")
    expect(thread.locator("li").first.locator(".text")).to_have_text(DEFAULT_ACK)
    expect(thread.locator("li").nth(1)).to_have_class("in")
    expect(thread.locator("li").nth(1).locator(".text")).to_have_text(reply)
    expect(thread.locator("li").nth(2).locator(".text")).to_have_text(sent_campaign["body"])


def test_the_report_of_a_sent_campaign_has_its_charts(
    sent_campaign: dict[str, Any], page: Page, login: Callable[[Page, str], None]
) -> None:
    """From the campaign to its report: the pictures are drawn (SVG with bars) beside tables
    that hold the same recipients; a screenshot is kept under var/screenshots/."""
    login(page, EDITOR)
    page.goto(f"/campaigns/{sent_campaign['id']}/report")
    by_district = page.locator("#chart-by-district svg.chart")
    expect(by_district).to_be_visible()
    assert by_district.locator("rect title").count() > 0
    expect(page.locator("#chart-over-time svg.chart")).to_be_visible()
    rows = page.locator("#chart-by-district table.breakdown tbody tr")
    totals = [int(rows.nth(i).locator("td").nth(1).inner_text()) for i in range(rows.count())]
    assert sum(totals) == sent_campaign["audience_size"]
    shots = Path(__file__).resolve().parents[2] / "var" / "screenshots"
    shots.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(shots / "campaign-report.png"), full_page=True)
