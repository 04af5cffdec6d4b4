"""The routing-rules admin: list, create, versioned edits, (de)activation and the test bench."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from campaigns.areas import load_soc_trang_2024
from gateway.models import AuditEvent
from gateway.tips import routing
from gateway.tips.models import RoutingRule


@pytest.fixture
def default_rules(session: Any) -> list[RoutingRule]:
    load_soc_trang_2024(session)
    routing.seed_default_rules(session)
    session.commit()
    return routing.active_rules(session)


def _versions(session: Any, name: str) -> list[tuple[int, bool]]:
    session.expire_all()
    return [
        (r.version, r.active)
        for r in session.scalars(
            select(RoutingRule).where(RoutingRule.name == name).order_by(RoutingRule.version)
        )
    ]


def test_list_shows_every_rule_to_a_reader(client: Any, login_as: Any, default_rules: Any) -> None:
    """A police officer (rules.view) reads the list but gets no edit controls."""
    login_as("police")
    html = client.get("/rules/").get_data(as_text=True)
    for rule in default_rules:
        assert rule.name in html
    assert "/rules/new" not in html
    assert "/deactivate" not in html


def test_create_rule_makes_version_one_and_audits(client: Any, login_as: Any, session: Any) -> None:
    """Posting the form creates an active version 1 and an audit line."""
    login_as("admin")
    resp = client.post(
        "/rules/new",
        data={
            "name": "Lao động → Công an tỉnh",
            "kind": "keyword",
            "phrases": "việc nhẹ lương cao\nxuất khẩu lao động\n\n",
            "queue": "police_province",
            "priority": "",
            "rank": "40",
        },
    )
    assert resp.status_code == 303
    rule = session.scalar(select(RoutingRule).where(RoutingRule.name == "Lao động → Công an tỉnh"))
    assert (rule.version, rule.active, rule.rank) == (1, True, 40)
    assert rule.phrases == ["việc nhẹ lương cao", "xuất khẩu lao động"]
    assert session.scalar(select(AuditEvent).where(AuditEvent.action == "rule.create"))


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"kind": "keyword", "phrases": "", "queue": "police_province"}, "phrases"),
        ({"kind": "keyword", "phrases": "x", "queue": "nowhere"}, "queue"),
        ({"kind": "keyword", "phrases": "x"}, "queue"),
        ({"kind": "keyword", "phrases": "x", "queue": "border_guard", "rank": "-3"}, "rank"),
        ({"kind": "magic", "phrases": "x", "queue": "border_guard"}, "kind"),
        ({"kind": "urgency", "phrases": "x", "priority": "very"}, "priority"),
    ],
)
def test_invalid_rule_forms_are_refused(
    client: Any, login_as: Any, session: Any, data: dict[str, str], field: str
) -> None:
    """A form that cannot make a working rule answers 422 and stores nothing."""
    login_as("admin")
    resp = client.post("/rules/new", data={"name": "Thử", "rank": "50", **data})
    assert resp.status_code == 422, field
    assert session.scalar(select(RoutingRule)) is None


def test_editing_creates_a_new_version(
    client: Any, login_as: Any, session: Any, default_rules: Any
) -> None:
    """An edit adds version 2 (active) and keeps version 1 (inactive) for the record."""
    child = next(r for r in default_rules if r.queue == "hotline_111")
    login_as("admin")
    resp = client.post(
        f"/rules/{child.id}/edit",
        data={
            "phrases": "\n".join([*child.phrases, "cháu nhỏ"]),
            "exclusions": "\n".join(child.exclusions),
            "queue": "hotline_111",
            "rank": "10",
        },
    )
    assert resp.status_code == 303
    assert _versions(session, child.name) == [(1, False), (2, True)]
    history = client.get(f"/rules/{child.id}").get_data(as_text=True)
    assert "v1" in history and "v2" in history


def test_deactivate_and_activate(
    client: Any, login_as: Any, session: Any, default_rules: Any
) -> None:
    """Turning a rule off stops it routing; turning it on again restores it; both versioned."""
    border = next(r for r in default_rules if r.queue == "border_guard")
    login_as("admin")
    assert client.post(f"/rules/{border.id}/deactivate").status_code == 303
    assert routing.route_tip_text(session, "có tàu cá lạ").queue == "police_province"
    assert client.post(f"/rules/{border.id}/activate").status_code == 303
    assert _versions(session, border.name) == [(1, False), (2, False), (3, True)]
    assert routing.route_tip_text(session, "có tàu cá lạ").queue == "border_guard"


@pytest.mark.parametrize(
    ("text", "queue", "shared", "priority"),
    [
        ("Có trẻ em bị dụ dỗ ở Kế Sách", "hotline_111", ["police_ke_sach"], "normal"),
        ("cuu voi, bi nhot tren tau ca", "border_guard", [], "urgent"),
        ("Một tin không có gì đặc biệt", "police_province", [], "normal"),
    ],
)
def test_bench_shows_where_a_text_would_go(
    client: Any,
    login_as: Any,
    session: Any,
    default_rules: Any,
    text: str,
    queue: str,
    shared: list[str],
    priority: str,
) -> None:
    """The bench shows the primary queue, shared queues, priority and matched rules; stores nothing."""
    login_as("admin")
    html = client.post("/rules/test", data={"text": text}).get_data(as_text=True)
    assert f'class="queue" data-queue="{queue}"' in html
    for q in shared:
        assert f'data-queue="{q}"' in html
    assert f'data-priority="{priority}"' in html
    from gateway.tips.models import Tip

    assert session.scalar(select(Tip)) is None


def test_bench_escapes_the_pasted_text(client: Any, login_as: Any, default_rules: Any) -> None:
    """Pasted HTML comes back as text."""
    login_as("admin")
    html = client.post("/rules/test", data={"text": "<script>x()</script>"}).get_data(as_text=True)
    assert "<script>x()" not in html
    assert "&lt;script&gt;x()" in html


def test_an_edit_is_checked_against_the_corpus_before_it_is_saved(
    client: Any, login_as: Any, session: Any, default_rules: Any, tmp_path: Any, monkeypatch: Any
) -> None:
    """Dropping the border rule's boat words would misroute the sample tips: the form shows
    the accuracy before and after, and saves nothing until the admin confirms."""
    from gateway.tips import corpus

    sample = tmp_path / "corpus.csv"
    sample.write_text(
        "text,queue,shared,priority,note\n"
        + "".join(f"tàu cá số {i} tuyển người ra khơi,border_guard,,normal,\n" for i in range(20))
        + "Cứu tôi với,police_province,hotline_111,urgent,\n",
        encoding="utf-8",
    )
    monkeypatch.setattr(corpus, "CORPUS", sample)
    monkeypatch.setattr(corpus.load, "__defaults__", (sample,))
    border = next(r for r in default_rules if r.queue == "border_guard")
    login_as("admin")
    form = {"phrases": "biên giới", "exclusions": "", "queue": "border_guard", "rank": "20"}
    resp = client.post(f"/rules/{border.id}/edit", data=form)
    assert resp.status_code == 422
    html = resp.get_data(as_text=True)
    assert "100.0%" in html and "0.0%" in html and "tàu cá số 1" in html
    assert _versions(session, border.name) == [(1, True)]  # nothing saved
    resp = client.post(f"/rules/{border.id}/edit", data={**form, "confirm_worse": "1"})
    assert resp.status_code == 303
    assert _versions(session, border.name) == [(1, False), (2, True)]


def test_exclusions_are_edited_like_phrases(
    client: Any, login_as: Any, session: Any, default_rules: Any
) -> None:
    """An exclusion saved in the form keeps 'biển số' out of the sea on the bench."""
    border = next(r for r in default_rules if r.queue == "border_guard")
    login_as("admin")
    data = {
        "phrases": "\n".join(border.phrases),
        "exclusions": "biển số\nbiển quảng cáo",
        "queue": "border_guard",
        "rank": "20",
    }
    assert client.post(f"/rules/{border.id}/edit", data=data).status_code == 303
    session.expire_all()
    new = session.scalar(
        select(RoutingRule).where(RoutingRule.name == border.name, RoutingRule.active.is_(True))
    )
    assert new is not None and new.exclusions == ["biển số", "biển quảng cáo"]
    html = client.post("/rules/test", data={"text": "xe biển số 83A ở Kế Sách"}).get_data(
        as_text=True
    )
    assert 'data-queue="police_ke_sach"' in html
