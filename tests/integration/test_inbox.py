"""The inbox pages: lists by scope, filters, search, unread marks, the live count, the tip page,
escaping of tip bodies, reveal-with-reason and the urgency dashboard."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pytest
from sqlalchemy import select

from campaigns.areas import load_soc_trang_2024
from campaigns.db import utcnow
from gateway import db
from gateway.models import AuditEvent
from tests.factories import create_tip

SENDER = "+84912345678"


def _ids(html: bytes) -> set[int]:
    import re

    return {int(m) for m in re.findall(rb'href="/inbox/(\d+)"', html)}


def test_district_officer_sees_only_their_district_and_shared_tips(
    client: Any, login_as: Any
) -> None:
    """A Kế Sách officer's inbox lists Kế Sách tips and tips shared with Kế Sách, nothing else."""
    own = create_tip(queue="police_ke_sach")
    shared = create_tip(queue="hotline_111", shared_with=["police_ke_sach"])
    other = create_tip(queue="police_my_tu")
    child = create_tip(queue="hotline_111")
    login_as("police", scope="police_ke_sach")
    ids = _ids(client.get("/inbox/").data)
    assert {own.id, shared.id} <= ids
    assert not {other.id, child.id} & ids


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("ke sach", {"a"}),  # no diacritics finds diacritics
        ("KẾ SÁCH", {"a"}),  # case and diacritics both ignored
        ("tàu cá", {"b"}),
        ("100%", {"c"}),  # LIKE wildcards are literal
        ("không có", set()),
    ],
)
def test_search_folds_case_and_diacritics(
    client: Any, login_as: Any, query: str, expected: set[str]
) -> None:
    """Search matches the folded body, so accents and case never matter."""
    tips = {
        "a": create_tip("Có người lạ ở Kế Sách", queue="police_province"),
        "b": create_tip("Thấy TÀU CÁ lạ", queue="police_province"),
        "c": create_tip("chắc chắn 100% là họ", queue="police_province"),
    }
    login_as("admin")
    ids = _ids(client.get("/inbox/", query_string={"q": query}).data)
    assert ids == {tips[k].id for k in expected}


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        ({"status": "new"}, {"new_urgent_sms"}),
        ({"status": "closed"}, {"closed_web"}),
        ({"status": "open"}, {"new_urgent_sms", "progress_call"}),
        ({"priority": "urgent"}, {"new_urgent_sms"}),
        ({"channel": "web"}, {"closed_web"}),
        ({"channel": "call"}, {"progress_call"}),
        ({"queue": "border_guard"}, {"progress_call"}),
    ],
)
def test_filters_narrow_the_list(
    client: Any, login_as: Any, args: dict[str, str], expected: set[str]
) -> None:
    """Status, priority, channel and queue filters each keep exactly the matching tips."""
    tips = {
        "new_urgent_sms": create_tip(channel="sms", priority="urgent", queue="police_province"),
        "closed_web": create_tip(
            channel="web", status="closed", resolution="spam", queue="police_province"
        ),
        "progress_call": create_tip(channel="call", status="in_progress", queue="border_guard"),
    }
    login_as("admin")
    ids = _ids(client.get("/inbox/", query_string=args).data)
    assert ids == {tips[k].id for k in expected}


def test_date_and_district_filters(client: Any, login_as: Any, session: Any) -> None:
    """The date filter speaks local days and the district filter uses the area id."""
    load_soc_trang_2024(session)
    session.commit()
    from campaigns.models import Area

    ke_sach = session.scalar(select(Area).where(Area.name == "Kế Sách"))
    old = create_tip(received_at=dt.datetime(2026, 7, 1, 3, tzinfo=dt.UTC), queue="police_province")
    # 30 July 2026, 23:30 in Hồ Chí Minh City is still 30 July locally, though 16:30 UTC.
    late = create_tip(
        received_at=dt.datetime(2026, 7, 30, 16, 30, tzinfo=dt.UTC),
        queue="police_ke_sach",
        district_id=ke_sach.id,
    )
    login_as("admin")
    day = _ids(client.get("/inbox/?since=2026-07-30&until=2026-07-30").data)
    assert day == {late.id}
    assert _ids(client.get(f"/inbox/?district={ke_sach.id}").data) == {late.id}
    assert old.id in _ids(client.get("/inbox/?until=2026-07-02").data)


@pytest.mark.parametrize(
    "query",
    [
        "status=nope",
        "priority=high",
        "channel=fax",
        "district=abc",
        "since=30/07/2026",
        "assigned=x",
    ],
)
def test_bad_filters_are_a_clear_400(client: Any, login_as: Any, query: str) -> None:
    """A filter value that cannot be meant answers 400, not 500 or a silent empty list."""
    login_as("admin")
    assert client.get(f"/inbox/?{query}").status_code == 400


def test_script_in_a_tip_body_is_shown_as_text(client: Any, login_as: Any) -> None:
    """HTML in a tip body is escaped on the list and on the tip page."""
    body = '<script>alert("x")</script><b onmouseover="x()">đậm</b>'
    tip = create_tip(body, queue="police_province")
    login_as("admin")
    for url in ("/inbox/", f"/inbox/{tip.id}"):
        html = client.get(url).get_data(as_text=True)
        assert "<script>alert" not in html
        assert "<b onmouseover" not in html
        assert "&lt;script&gt;alert(" in html


def test_opening_a_tip_marks_it_read_and_is_audited(
    client: Any, login_as: Any, session: Any
) -> None:
    """The unread filter drops a tip once opened; marking it unread brings it back; views audit."""
    tip = create_tip(queue="police_province")
    user = login_as("admin")
    assert _ids(client.get("/inbox/?unread=1").data) == {tip.id}
    assert client.get(f"/inbox/{tip.id}").status_code == 200
    assert _ids(client.get("/inbox/?unread=1").data) == set()
    assert client.post(f"/inbox/{tip.id}/unread").status_code == 303
    assert _ids(client.get("/inbox/?unread=1").data) == {tip.id}
    views = session.scalars(
        select(AuditEvent).where(AuditEvent.action == "tip.view", AuditEvent.actor_id == user.id)
    ).all()
    assert [v.object_id for v in views] == [str(tip.id)]


def test_live_count_follows_scope_and_reads(client: Any, login_as: Any) -> None:
    """count.json counts open and unread tips of the user's scope only."""
    mine = create_tip(queue="hotline_111")
    create_tip(queue="hotline_111", status="closed", resolution="spam")
    create_tip(queue="police_province")
    login_as("hotline_111")
    counts = {"open": 1, "unread": 1, "overdue": 0, "latest": mine.id, "urgent": 0}
    assert client.get("/inbox/count.json").get_json() == counts
    client.get(f"/inbox/{mine.id}")
    assert client.get("/inbox/count.json").get_json() == {**counts, "unread": 0}
    urgent = create_tip(queue="hotline_111", priority="urgent")
    create_tip(queue="police_province", priority="urgent")  # not in scope: not announced
    later = client.get("/inbox/count.json").get_json()
    assert (later["latest"], later["urgent"], later["open"]) == (urgent.id, 1, 2)


def test_the_sender_number_is_masked_until_revealed_with_a_reason(
    client: Any, login_as: Any, session: Any
) -> None:
    """The page shows the masked number; a reveal needs a reason, shows it once, and is audited."""
    tip = create_tip(queue="police_province", sender=SENDER)
    login_as("police")
    page = client.get(f"/inbox/{tip.id}").get_data(as_text=True)
    assert SENDER not in page
    assert "+84 91x xxx 678" in page
    refused = client.post(f"/inbox/{tip.id}/reveal", data={"reason": " "})
    assert refused.status_code == 422
    assert SENDER not in refused.get_data(as_text=True)
    shown = client.post(f"/inbox/{tip.id}/reveal", data={"reason": "gọi lại xác minh vụ việc"})
    assert shown.status_code == 200
    assert SENDER in shown.get_data(as_text=True)
    assert shown.headers["Cache-Control"] == "no-store"
    assert SENDER not in client.get(f"/inbox/{tip.id}").get_data(as_text=True)
    reveal = session.scalar(select(AuditEvent).where(AuditEvent.action == "tip.reveal"))
    assert reveal.details["reason"] == "gọi lại xác minh vụ việc"
    assert SENDER not in str(reveal.details)


def test_dashboard_shows_overdue_urgent_tips(client: Any, login_as: Any) -> None:
    """Urgent tips left unacknowledged past their deadline are listed; fresh or handled ones not."""
    now = utcnow()
    overdue = create_tip(
        priority="urgent", queue="police_province", received_at=now - dt.timedelta(minutes=30)
    )
    fresh = create_tip(
        priority="urgent", queue="police_province", received_at=now - dt.timedelta(minutes=1)
    )
    handled = create_tip(
        priority="urgent",
        queue="police_province",
        status="acknowledged",
        received_at=now - dt.timedelta(hours=2),
    )
    outside = create_tip(
        priority="urgent", queue="hotline_111", received_at=now - dt.timedelta(hours=1)
    )
    login_as("police")
    html = client.get("/inbox/dashboard").get_data(as_text=True)
    ids = _ids(html.encode())
    assert overdue.id in ids
    assert not {fresh.id, handled.id, outside.id} & ids
    assert client.get("/inbox/count.json").get_json()["overdue"] == 1


def test_tip_of_another_scope_is_forbidden_and_the_attempt_audited(
    client: Any, login_as: Any, session: Any
) -> None:
    """Opening a tip outside one's scope answers 403 and leaves a tip.denied audit line."""
    tip = create_tip(queue="hotline_111")
    login_as("border_guard")
    assert client.get(f"/inbox/{tip.id}").status_code == 403
    assert client.get("/inbox/999999").status_code == 404
    denied = session.scalar(select(AuditEvent).where(AuditEvent.action == "tip.denied"))
    assert denied is not None and denied.object_id == str(tip.id)


def test_a_tip_from_intake_shows_its_routing_and_timeline(
    client: Any, login_as: Any, session: Any
) -> None:
    """A tip stored by the intake (routed by the default rules) renders with its matched rules."""
    from gateway.tips import intake, routing

    load_soc_trang_2024(session)
    routing.seed_default_rules(session)
    tip, created = intake.store_tip(
        session,
        db.tipline(),
        channel="sms",
        body="Cứu với, có trẻ em bị nhốt ở Kế Sách",
        sender=SENDER,
    )
    session.commit()
    assert created
    login_as("police", scope="police_ke_sach")  # shared with the district: visible
    html = client.get(f"/inbox/{tip.id}").get_data(as_text=True)
    assert "Trẻ em → 111" in html
    assert "Tổng đài 111" in html  # the primary queue, by its name
    assert "Khẩn" in html


def test_keyset_pages_list_every_filtered_tip_once_in_order(client: Any, login_as: Any) -> None:
    """Following "next" walks a filtered list of three pages: each tip once, newest first."""
    from gateway.admin import PER_PAGE

    base = utcnow() - dt.timedelta(days=1)
    wanted = []
    for i in range(PER_PAGE * 2 + 7):
        at = base + dt.timedelta(minutes=i // 3)  # ties on received_at are broken by id
        wanted.append(create_tip(queue="police_province", received_at=at, priority="urgent"))
        create_tip(queue="police_province", received_at=at, priority="normal")
    expected = [t.id for t in sorted(wanted, key=lambda t: (t.received_at, t.id), reverse=True)]
    login_as("admin")
    seen: list[int] = []
    url: str | None = "/inbox/?priority=urgent"
    while url:
        html = client.get(url).get_data(as_text=True)
        seen += dict.fromkeys(int(m) for m in re.findall(r'href="/inbox/(\d+)"', html))
        nxt = re.search(r'href="(/inbox/\?[^"]*after=[^"]*)"[^>]*>[^<]*Sau', html)
        url = nxt.group(1).replace("&amp;", "&") if nxt else None
        if url:
            assert "priority=urgent" in url  # the filters stay in the link
    assert seen == expected


@pytest.mark.parametrize(
    "cursor",
    [
        "x",
        "2026-01-01_abc",
        "_1",
        "2026-13-45T00:00_3",
        "2026-07-30T08:00:00_3",  # no time zone: the list's times are UTC, never naive
        "2026-07-30T08:00:00+00:00_99999999999",  # past the largest id
        "2026-07-30T08:00:00+00:00_-1",
    ],
)
def test_a_malformed_cursor_is_a_400(client: Any, login_as: Any, cursor: str) -> None:
    """A cursor the list never gave out is refused, never a 500."""
    login_as("admin")
    assert client.get("/inbox/", query_string={"after": cursor}).status_code == 400
