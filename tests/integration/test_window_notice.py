"""Before launch the campaign page and the composer say plainly when a closed sending window
opens (issue 12, found 3): a newcomer who launches at 22:23 is told that sending starts at 07:00
tomorrow instead of watching the campaign pause at once."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from campaigns import lifecycle, localtime
from gateway import labels
from tests.factories import create_campaign


def _utc(hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime(2026, 7, 29, hour, minute, tzinfo=dt.UTC)


@pytest.mark.parametrize(
    ("window", "now", "expected"),
    [
        (("07:00", "22:00"), _utc(15, 23), "07:00 ngày mai"),  # 22:23 in Sóc Trăng
        (("07:00", "22:00"), _utc(23, 30), "07:00 hôm nay"),  # 06:30 the next morning
        (("07:00", "22:00"), _utc(5), ""),  # noon: open
        (("22:00", "06:00"), _utc(5), "22:00 hôm nay"),  # a night window, seen at noon
        (("00:00", "24:00"), _utc(15, 23), ""),  # always open
        (("25:00", "22:00"), _utc(15, 23), ""),  # unreadable: the form reports it
    ],
    ids=["evening", "early-morning", "open", "night-window", "all-day", "malformed"],
)
def test_the_notice_names_when_sending_starts(
    app: Any, window: tuple[str, str], now: dt.datetime, expected: str
) -> None:
    with app.test_request_context():
        notice = labels.window_notice(*window, now)
    if expected:
        assert "Khung giờ gửi đang đóng" in notice and expected in notice
    else:
        assert notice == ""


def _closed_now() -> dict[str, str]:
    """A one-minute window two hours from now (local time): closed whenever the test runs."""
    at = dt.datetime.now(localtime.zone()) + dt.timedelta(hours=2)
    end = at + dt.timedelta(minutes=1)
    return {"window_start": at.strftime("%H:%M"), "window_end": end.strftime("%H:%M")}


def test_the_campaign_page_and_the_composer_warn_before_launch(client: Any, auth: Any) -> None:
    window = _closed_now()
    approved = create_campaign(status=lifecycle.APPROVED, **window)
    draft = create_campaign(**window)
    auth.login("editor")
    page = client.get(f"/campaigns/{approved.id}").get_data(as_text=True)
    assert 'id="window-notice"' in page and window["window_start"] in page
    form = client.get(f"/campaigns/{draft.id}/edit").get_data(as_text=True)
    assert 'id="window-notice"' in form


def test_no_notice_when_open_or_finished(client: Any, auth: Any) -> None:
    always = create_campaign(status=lifecycle.APPROVED, window_start="00:00", window_end="24:00")
    done = create_campaign(status=lifecycle.COMPLETED, **_closed_now())
    auth.login("editor")
    for campaign in (always, done):
        page = client.get(f"/campaigns/{campaign.id}").get_data(as_text=True)
        assert page.count("<h1>") == 1 and 'id="window-notice"' not in page


def test_the_demo_has_a_campaign_that_can_be_tried_at_any_hour(app: Any, session: Any) -> None:
    """Besides the official text on its legal 07:00-22:00 window, the demo ships a draft to the
    officials' test list on a 24-hour window."""
    from sqlalchemy import select

    from campaigns.models import Campaign
    from gateway import demo

    with app.test_request_context():
        lines = list(demo.seed(contacts=10))
    assert any("demo log-ins" in line for line in lines)
    campaigns = {c.name: c for c in session.scalars(select(Campaign))}
    anytime = campaigns[demo.ANYTIME_CAMPAIGN]
    assert (anytime.window_start, anytime.window_end) == ("00:00", "24:00")
    assert anytime.audience == {"lists": [demo.SEED_LIST]} and anytime.audience_size == 3
    assert anytime.status == lifecycle.DRAFT
    official = next(c for name, c in campaigns.items() if name != demo.ANYTIME_CAMPAIGN)
    assert (official.window_start, official.window_end) == ("07:00", "22:00")
