"""No internal code shows as text: pages, exports and messages name every state, reason, queue,
channel and audit action through ``gateway.labels``.

The pages are rendered with data in every state; their visible text (tags, attribute values,
scripts and e-mail addresses left out) must not hold any key of any label table as a whole word.
"""

from __future__ import annotations

import datetime as dt
import html.parser
import io
import re
from typing import Any

import pytest
from openpyxl import load_workbook

from campaigns import delegation, lifecycle
from campaigns import statuses as st
from campaigns.models import Area, ContactImport, Delivery, OperatorRequestEvent
from gateway import audit, labels
from gateway.tips import states
from gateway.tips.models import Reply
from tests.factories import create_campaign, create_tip, create_user

SENDER = "+84912345678"
UNLOADED_QUEUE = "police_vinh_chau"  # an area queue whose area is not in the areas table
EMAIL = re.compile(r"\S+@\S+")


class _Text(html.parser.HTMLParser):
    """The text a reader sees: data outside <script>/<style>; attributes are not text."""

    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []
        self._hidden = 0

    def handle_starttag(self, tag: str, attrs: Any) -> None:
        self._hidden += tag in ("script", "style")

    def handle_endtag(self, tag: str) -> None:
        self._hidden -= tag in ("script", "style")

    def handle_data(self, data: str) -> None:
        if not self._hidden:
            self.parts.append(data)


def visible_text(page: str) -> str:
    parser = _Text()
    parser.feed(page)
    return " ".join(parser.parts)


def _codes() -> set[str]:
    return {key for table in labels.CODE_TABLES.values() for key in table}


def _label_texts() -> list[str]:
    texts = {str(v) for table in labels.CODE_TABLES.values() for v in table.values()}
    return sorted(texts, key=len, reverse=True)


def raw_codes(text: str) -> set[str]:
    """The internal codes that ``text`` shows as whole words (labels themselves set aside)."""
    text = EMAIL.sub(" ", text)
    for words in _label_texts():  # "Biểu mẫu web" is the label of "web", not the code
        text = text.replace(words, " ")
    return {c for c in _codes() if re.search(rf"(?<![\w.]){re.escape(c)}(?![\w.])", text)}


def test_the_checker_finds_a_raw_code() -> None:
    """The check itself catches codes in text, not in attributes or e-mail addresses."""
    assert raw_codes(visible_text("<p>Lý do tạm dừng: window</p>")) == {"window"}
    assert raw_codes(visible_text("<p>ack · inline</p>")) >= {"ack", "inline"}
    assert raw_codes(visible_text('<p data-status="paused">Tạm dừng</p>')) == set()
    assert raw_codes(visible_text("<p>admin@loa.test · Biểu mẫu web</p>")) == set()


@pytest.fixture
def world(app: Any, session: Any, client: Any, login_as: Any) -> dict[str, Any]:
    """Tips, campaigns, deliveries and audit events in every state, and an admin logged in."""
    session.add(Area(name="Kế Sách", kind="district", police_queue="police_ke_sach"))
    for kind in labels.AREA_KIND_LABELS:
        session.add(Area(name=f"Địa bàn {len(kind)}{kind[:2]}", kind=kind))
    session.commit()
    admin = login_as("admin", name="Nguyễn Văn An")
    worker = create_user("police", email="binh@congan.test", name="Trần Bình")
    tips = {}
    queues_ = ["police_province", "border_guard", "hotline_111", "police_ke_sach", UNLOADED_QUEUE]
    for i, state in enumerate(states.STATES):
        tips[state] = create_tip(
            f"Tin báo số {i}",
            queue=queues_[i % len(queues_)],
            shared_with=[queues_[(i + 1) % len(queues_)]],
            status=state,
            resolution="referred_police" if state == states.CLOSED else None,
            priority=states.URGENT if i % 2 else states.NORMAL,
            channel=sorted(labels.CHANNEL_LABELS)[i % len(labels.CHANNEL_LABELS)],
            sender=SENDER,
        )
    work = create_tip("Có người bị giữ", queue=UNLOADED_QUEUE, sender=SENDER, channel="sms")
    for kind, status in (("ack", "inline"), ("reply", "sent"), ("reply", "failed")):
        session.add(
            Reply(tip_id=work.id, to_phone=SENDER, body="Đã nhận.", kind=kind, status=status)
        )
    session.commit()
    base = f"/inbox/{work.id}"
    client.post(f"{base}/transition", data={"to": "acknowledged"})
    client.post(f"{base}/assign", data={"user_id": str(worker.id)})
    client.post(f"{base}/notes", data={"body": "Đã gọi lại"})
    client.post(
        f"{base}/hand-off", data={"recipient": "Đồn Biên phòng", "to_queue": "border_guard"}
    )
    client.post(f"{base}/transition", data={"to": "closed", "resolution": "referred_police"})

    campaigns = {}
    paused = {
        "window": "window",
        "kill": "kill_switch: kiểm tra nội dung",
        "errors": "provider_errors: 50 consecutive provider errors (last 30007)",
    }
    for state in labels.CAMPAIGN_STATE_LABELS:
        campaigns[state] = create_campaign(name=f"Chiến dịch {len(campaigns)}", status=state)
    for key, reason in paused.items():
        campaigns[key] = create_campaign(
            name=f"Tạm dừng {len(campaigns)}", status=lifecycle.PAUSED, paused_reason=reason
        )
    sending = campaigns[lifecycle.RUNNING]
    now = dt.datetime.now(dt.UTC)
    for i, status in enumerate(st.ALL):
        session.add(
            Delivery(
                campaign_id=sending.id,
                phone=f"+8491200000{i}",
                status=status,
                segments=4,
                sent_at=now if status != st.PENDING else None,
                error_code="30007" if status in (st.FAILED, st.UNKNOWN) else None,
            )
        )
    for i, reason in enumerate(labels.SKIP_REASON_LABELS):
        session.add(
            Delivery(
                campaign_id=sending.id,
                phone=f"+8491300000{i}",
                status=st.SKIPPED,
                skip_reason=reason,
            )
        )
    session.commit()
    cancelled = create_campaign(
        name="Sẽ huỷ", status=lifecycle.PAUSED, paused_reason="window", launched_at=now
    )
    session.add(Delivery(campaign_id=cancelled.id, phone="+84912000099", status=st.PENDING))
    session.commit()
    client.post(f"/campaigns/{cancelled.id}/actions/cancel", data={"reason": "Đổi nội dung"})
    campaigns["cancel_ui"] = cancelled
    campaigns.update(_delegated_campaigns(session))

    details = {k: "x" for k in labels.AUDIT_DETAIL_LABELS}
    details |= {"from": "new", "to": "closed", "resolution": "no_action", "queue": UNLOADED_QUEUE}
    details |= {"role": "police", "scope": "police_ke_sach", "channel": "web", "fields": ["body"]}
    details |= {"to_queue": "hotline_111", "full_numbers": False, "priority": "urgent"}
    for action in labels.AUDIT_ACTION_LABELS:
        kind = action.partition(".")[0]
        kind = kind if kind in labels.AUDIT_OBJECT_LABELS else None
        audit.record(action, actor=admin, object_type=kind, object_id=None, details=details)
    for kind in labels.AUDIT_OBJECT_LABELS:
        audit.record("tip.view", actor=admin, object_type=kind, object_id=7)
    imports = []
    for status in labels.IMPORT_STATUS_LABELS:
        record = ContactImport(
            token=f"plain-words-import-{status}",
            status=status,
            list_name="Cán bộ xã",
            filename="danh-ba.csv",
            counts={"rows": 10, "added": 8, "updated": 1, "duplicates": 1, "rejected_count": 0},
            error="Không tìm thấy cột số điện thoại." if status == "failed" else "",
        )
        session.add(record)
        imports.append(record.token)
    session.commit()
    return {"tips": tips, "work": work, "campaigns": campaigns, "imports": imports}


def _delegated_campaigns(session: Any) -> dict[str, Any]:
    """A delegated campaign awaiting approval, and one whose operators' requests are in every
    follow-up state and late (the dashboard's reminders)."""
    delegation.seed_operators(session)
    codes = [code for code, _name, _addressee in delegation.OPERATORS]
    made = {}
    for key, status in (
        ("delegated_pending", lifecycle.PENDING_APPROVAL),
        ("delegated", "requested"),
    ):
        made[key] = create_campaign(
            name=f"Nhà mạng gửi {key}",
            route="operators",
            status=status,
            audience={"all": True, "operators": codes[: len(delegation.REQUEST_STATES)]},
            delegation={"answer_by": "2020-01-01", "report_by": "2020-01-10"},
        )
        letters = delegation.prepare_letters(session, made[key])
    for req, state in zip(letters, delegation.REQUEST_STATES, strict=True):
        req.status, req.note = state, "ghi chú"
        session.add(OperatorRequestEvent(request_id=req.id, status=state, note="ghi chú"))
    session.commit()
    return made


def _pages(client: Any, world: dict[str, Any]) -> dict[str, str]:
    urls = ["/inbox/", f"/inbox/{world['work'].id}", f"/inbox/{world['work'].id}/handoff"]
    urls += ["/inbox/dashboard"] + [
        f"/inbox/?queue={q}" for q in ("police_ke_sach", UNLOADED_QUEUE)
    ]
    urls += [f"/inbox/{t.id}" for t in world["tips"].values()]
    urls += ["/campaigns/", "/campaigns/kill-switch", "/campaigns/approvals"]
    for c in world["campaigns"].values():
        urls += [f"/campaigns/{c.id}", f"/campaigns/{c.id}/progress", f"/campaigns/{c.id}/report"]
    urls += ["/audit/", "/areas/", "/"]  # and every further page of the log (below)
    urls += ["/users/", "/users/new", "/users/rosters", "/rules/", "/optouts", "/account/"]
    urls += ["/campaigns/letter-template"]  # the composer names its {variables} on purpose
    today = dt.date.today()
    span = f"from={today - dt.timedelta(days=400)}&to={today + dt.timedelta(days=1)}"
    urls += [f"/reports/ket-qua?{span}", "/reports/ket-qua"]
    urls += [f"/contacts/imports/{token}" for token in world["imports"]]
    pages = {}
    for url in urls:
        resp = client.get(url)
        assert resp.status_code == 200, url
        pages[url] = visible_text(resp.get_data(as_text=True))
        pager = r'<nav class="pager">(?:(?!</nav>).)*?href="(/audit/\?[^"]*after=[^"]*)"'
        further = re.search(pager, resp.get_data(as_text=True), flags=re.S)
        if further:
            urls.append(html.unescape(further.group(1)))
    tip = world["tips"][states.IN_PROGRESS]
    refused = client.post(f"/inbox/{tip.id}/transition", data={"to": "closed"})
    assert refused.status_code == 422
    pages["close without a resolution"] = visible_text(refused.get_data(as_text=True))
    return pages


def test_no_page_shows_an_internal_code(client: Any, world: dict[str, Any]) -> None:
    """Inbox, tips, hand-off, campaigns in every state, progress, reports and the audit log
    show words, never codes (``window``, ``inline``, ``border_guard``, ``tip.transition``…)."""
    shown = {url: raw_codes(text) for url, text in _pages(client, world).items()}
    bad = {url: sorted(codes) for url, codes in shown.items() if codes}
    assert not bad, "\n".join(f"{url}: {codes}" for url, codes in bad.items())


def test_the_case_packet_names_queues_states_and_replies(
    client: Any, world: dict[str, Any]
) -> None:
    """The XLSX handed to another agency says "Biên phòng", not ``border_guard``."""
    resp = client.get(f"/inbox/{world['work'].id}/packet.xlsx")
    assert resp.status_code == 200
    book = load_workbook(io.BytesIO(resp.data))
    cells = [
        str(c.value) for ws in book.worksheets for row in ws.iter_rows() for c in row if c.value
    ]
    text = " ".join(cells)
    assert "Biên phòng" in text
    assert raw_codes(text) == set()


def test_closing_without_a_result_says_so_in_vietnamese(client: Any, world: dict[str, Any]) -> None:
    """The refusal asks for a result in words, not "closing needs a resolution: one of …"."""
    tip = world["tips"][states.IN_PROGRESS]
    resp = client.post(f"/inbox/{tip.id}/transition", data={"to": "closed"})
    text = visible_text(resp.get_data(as_text=True))
    assert str(labels.CASEWORK_PROBLEMS["needs_resolution"]) in text
    assert "closing needs" not in text


def test_a_queue_without_its_area_still_reads_as_words(app: Any) -> None:
    """An area queue whose area is not loaded is "Công an địa bàn…", never its id."""
    from gateway.admin import queue_label

    with app.test_request_context("/"):
        assert queue_label("police_ke_sach") == str(labels.UNKNOWN_AREA_POLICE_LABEL)
        assert queue_label("border_guard") == "Biên phòng"
        assert "ke_sach" not in queue_label("police_ke_sach")
