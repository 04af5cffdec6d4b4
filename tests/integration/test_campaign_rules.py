"""One rule in one place: the composer form and the API accept and refuse the same campaigns,
with the same words, and read local times in the configured zone."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from sqlalchemy import select

from campaigns import fields, localtime
from campaigns.models import Campaign
from gateway.labels import field_problem
from tests.integration.test_admin_campaigns import _composer_form
from tests.integration.test_api_campaigns import Api, _new

# (form fields, API fields, refused field or None when both accept)
CASES = {
    "24h-window": ({"window_start": "00:00", "window_end": "24:00"}, {}, None),
    "overnight-window": ({"window_start": "20:00", "window_end": "06:00"}, {}, None),
    "empty-window": ({"window_start": "07:00", "window_end": "07:00"}, {}, "window"),
    "starts-at-24": ({"window_start": "24:00", "window_end": "07:00"}, {}, "window"),
    "not-a-time": ({"window_start": "7h", "window_end": "22:00"}, {}, "window"),
    "decimal-rate": ({"rate_per_second": "2,5"}, {"rate_per_second": 2.5}, None),
    "zero-rate": ({"rate_per_second": "0"}, {"rate_per_second": 0}, "rate_per_second"),
    "huge-rate": ({"rate_per_second": "20000"}, {"rate_per_second": 20000}, "rate_per_second"),
    "yearly-without-time": ({"recurrence": "yearly"}, {"recurrence": "yearly"}, "scheduled_at"),
    "long-name": ({"name": "x" * 201}, {"name": "x" * 201}, "name"),
}


@pytest.fixture
def editor(client: Any, app: Any) -> Api:
    return Api(client, "editor")


def _api_fields(form: dict[str, Any], api: dict[str, Any]) -> dict[str, Any]:
    api = {"rate_per_second": 10, **api}  # as the composer form's defaults
    if "window_start" in form:
        return {**api, "window": {"start": form["window_start"], "end": form["window_end"]}}
    return api


@pytest.mark.parametrize("case", sorted(CASES))
def test_form_and_api_agree(client: Any, auth: Any, session: Any, editor: Api, case: str) -> None:
    """Each case is accepted by both or refused by both, naming the same field."""
    form, api, refused = CASES[case]
    api_resp = _new(editor, **_api_fields(form, api))
    auth.login("editor")
    form_resp = client.post("/campaigns/new", data=_composer_form(**form))
    saved = session.scalars(select(Campaign)).all()
    if refused is None:
        assert api_resp.status_code == 201, api_resp.json
        assert form_resp.status_code == 302
        assert len(saved) == 2
        a, b = saved
        assert (a.window_start, a.window_end, a.rate_per_second) == (
            b.window_start,
            b.window_end,
            b.rate_per_second,
        )
    else:
        assert api_resp.status_code == 422
        assert f"'{refused}'" in api_resp.json["detail"]
        assert form_resp.status_code == 422
        assert f'data-field="{refused}"' in form_resp.get_data(as_text=True)
        assert saved == []


def test_same_words_for_the_same_problem(client: Any, auth: Any, app: Any, editor: Api) -> None:
    """The API's message carries the label the form shows."""
    with app.test_request_context():
        words = field_problem(fields.Invalid("window", fields.BAD_WINDOW))
    assert words in _new(editor, window={"start": "07:00", "end": "07:00"}).json["detail"]
    auth.login("editor")
    page = client.post(
        "/campaigns/new", data=_composer_form(window_start="07:00", window_end="07:00")
    ).get_data(as_text=True)
    assert words in page


def test_local_times_follow_the_setting() -> None:
    """A naive time is read in LOA_TIMEZONE, wherever it is configured; windows follow too."""
    try:
        localtime.configure("Asia/Bangkok")  # also UTC+7: nothing changes
        assert fields.scheduled_at("2030-07-30T08:00") == dt.datetime(2030, 7, 30, 1, tzinfo=dt.UTC)
        localtime.configure("Asia/Tokyo")  # UTC+9
        assert fields.scheduled_at("2030-07-30T08:00") == dt.datetime(
            2030, 7, 29, 23, tzinfo=dt.UTC
        )
        from campaigns.windows import Window

        window = Window.parse("07:00", "22:00")
        assert window.is_open(dt.datetime(2030, 7, 29, 22, 30, tzinfo=dt.UTC))  # 07:30 Tokyo
        assert not window.is_open(dt.datetime(2030, 7, 29, 21, 30, tzinfo=dt.UTC))  # 06:30
    finally:
        localtime.configure(localtime.DEFAULT)


def test_the_zone_is_named_in_one_place() -> None:
    """Only campaigns/localtime.py builds a ZoneInfo from a literal zone name."""
    import pathlib
    import re

    root = pathlib.Path(__file__).resolve().parents[2]
    literal = re.compile(r"ZoneInfo\(\s*[\"']")
    offenders = [
        str(path.relative_to(root))
        for package in ("campaigns", "gateway", "workers")
        for path in (root / package).rglob("*.py")
        if literal.search(path.read_text(encoding="utf-8")) and path.name != "localtime.py"
    ]
    assert offenders == []
