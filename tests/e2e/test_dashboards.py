"""Each role's dashboard at ``/`` in a real Chromium (issue 12, must add 1 and 6): what the role
works on is there, what it may not see is not; a screenshot of each goes to var/screenshots/."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.support import Contexts

pytestmark = pytest.mark.e2e

SHOTS = Path(__file__).resolve().parents[2] / "var" / "screenshots"
CAMPAIGNS, HEALTH, TIPS = "#campaigns-in-flight", "#health", "#open-by-priority"
# (sections shown, sections absent) by demo user
ROLES = {
    "editor@loa.local": ({CAMPAIGNS}, {HEALTH, TIPS}),
    "approver@loa.local": ({CAMPAIGNS}, {HEALTH, TIPS}),
    "police@loa.local": ({TIPS}, {HEALTH, CAMPAIGNS}),
    "bienphong@loa.local": ({TIPS}, {HEALTH, CAMPAIGNS}),
    "tongdai111@loa.local": ({TIPS}, {HEALTH, CAMPAIGNS}),
    "admin@loa.local": ({HEALTH, CAMPAIGNS}, set()),
}


@pytest.mark.parametrize("email", sorted(ROLES))
def test_each_role_sees_its_own_dashboard(
    contexts: Contexts, login: Callable[[Page, str], None], email: str
) -> None:
    page = contexts.new_page()
    page.set_viewport_size({"width": 1280, "height": 900})
    login(page, email)
    page.goto("/")
    shown, absent = ROLES[email]
    for selector in shown:
        expect(page.locator(selector)).to_be_visible()
    for selector in absent:
        expect(page.locator(selector)).to_have_count(0)
    if TIPS in shown:  # the operator's clock: the oldest tip waiting, or a plain "none"
        expect(page.locator("#oldest-unacknowledged")).not_to_be_empty()
        assert page.locator(f"{TIPS} li").count() >= 1
    if HEALTH in shown:  # queue depths, workers' heartbeats, provider errors, the kill switch
        for part in ("#health-lanes", "#health-workers", "#health-errors", "#health-kill-switch"):
            expect(page.locator(part)).to_be_visible()
        assert page.locator("#health-lanes tbody tr").count() == 3  # replies, bulk, events
    if CAMPAIGNS in shown:
        flights = page.locator(f"{CAMPAIGNS} article.flight")
        if flights.count():
            expect(flights.first.locator("progress")).to_be_visible()
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"dashboard-{email.split('@')[0]}.png"), full_page=True)
