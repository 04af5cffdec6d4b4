"""Campaigns the mobile operators send (issue 13): composition, letters under approval, the
follow-up of each operator and the reminders, through the admin pages and the domain."""

from __future__ import annotations

import datetime as dt
import io
from typing import Any

import pytest
from docx import Document
from sqlalchemy import select

from campaigns import delegation, letters, lifecycle
from campaigns.areas import load_soc_trang_2024
from campaigns.models import (
    Area,
    Campaign,
    Contact,
    Delivery,
    OperatorRequest,
    OperatorRequestEvent,
)
from gateway import db, results
from gateway.auth import create_token
from gateway.models import AuditEvent
from tests.factories import OFFICIAL_TEXT, create_campaign, create_user

DAY = dt.datetime(2027, 7, 29, 1, 0, tzinfo=dt.UTC)  # 08:00 on 29 July in Vietnam
PLAN = {
    "contact_name": "Nguyễn Văn An",
    "contact_phone": "0299 3822 123",
    "answer_by": "2027-07-20",
    "report_by": "2027-08-10",
}


@pytest.fixture
def province(app: Any) -> dict[str, Area]:
    """The operators (as ``loa db upgrade`` inserts them) and Sóc Trăng's areas."""
    s = db.session()
    delegation.seed_operators(s)
    load_soc_trang_2024(s)
    s.commit()
    return {a.name: a for a in s.scalars(select(Area))}


def _delegated(operators: tuple[str, ...] = ("viettel", "mobifone"), **kw: Any) -> Campaign:
    kw.setdefault("audience", {"all": True, "operators": list(operators)})
    return create_campaign(
        route=delegation.ROUTE_OPERATORS,
        delegation=dict(PLAN),
        scheduled_at=DAY,
        created_by_id=create_user("editor").id,
        **kw,
    )


def _approved(campaign: Campaign) -> Campaign:
    s = db.session()
    lifecycle.transition(s, campaign, lifecycle.SUBMIT, None)
    lifecycle.transition(s, campaign, lifecycle.APPROVE, create_user("approver"))
    s.commit()
    return campaign


def _docx_text(data: bytes) -> list[str]:
    doc = Document(io.BytesIO(data))
    lines = [p.text for p in doc.paragraphs]
    for table in doc.tables:
        for cell in table.rows[0].cells:
            lines.extend(p.text for p in cell.paragraphs)
    return lines


# --- the domain ---------------------------------------------------------------------------


def test_submit_writes_one_numbered_letter_per_operator(province: Any) -> None:
    """Each operator asked gets a letter numbered in order, holding the exact text, its size,
    the areas, the date, the hours and the contact person."""
    campaign = _delegated(("viettel", "vinaphone", "mobifone"))
    s = db.session()
    lifecycle.transition(s, campaign, lifecycle.SUBMIT, None, now=DAY - dt.timedelta(days=30))
    s.commit()
    got = delegation.requests_of(s, campaign.id)
    assert [(r.operator.code, r.letter_no, r.status) for r in got] == [
        ("viettel", 1, "prepared"),
        ("vinaphone", 2, "prepared"),
        ("mobifone", 3, "prepared"),
    ]
    letter = got[0].letter
    assert letter["sms"] == OFFICIAL_TEXT
    assert (letter["characters"], letter["encoding"], letter["segments"]) == (227, "UCS-2", 4)
    facts = dict(letter["facts"])
    assert facts["Nội dung tin nhắn"] == f"“{OFFICIAL_TEXT}”"
    assert facts["Địa bàn"] == "tỉnh Sóc Trăng"
    assert facts["Thời gian gửi"] == "ngày 29/07/2027, từ 07:00 đến 22:00"
    assert facts["Đầu mối liên hệ"] == "Nguyễn Văn An, 0299 3822 123"
    assert letter["number"] == "Số: 1/STTTT-TTBCXB"
    assert letter["place_date"] == "Sóc Trăng, ngày 29 tháng 6 năm 2027"
    assert letter["addressee"].startswith("Kính gửi: Tập đoàn Công nghiệp")
    assert "20/07/2027" in letter["closing"] and "10/08/2027" in letter["closing"]
    assert got[0].letter_hash == delegation.content_hash(letter)


def test_admin_dates_take_a_leading_zero_as_decree_30_asks() -> None:
    assert delegation.admin_date(dt.date(2027, 2, 3)) == "ngày 03 tháng 02 năm 2027"
    assert delegation.admin_date(dt.date(2027, 11, 30)) == "ngày 30 tháng 11 năm 2027"


def test_resubmitting_keeps_the_numbers_and_drops_operators_no_longer_asked(
    province: Any,
) -> None:
    campaign = _delegated(("viettel", "mobifone"))
    s = db.session()
    lifecycle.transition(s, campaign, lifecycle.SUBMIT, None)
    lifecycle.edit(
        s, campaign, None, {"audience": {"all": True, "operators": ["mobifone", "itel"]}}
    )
    lifecycle.transition(s, campaign, lifecycle.SUBMIT, None)
    s.commit()
    got = [(r.operator.code, r.letter_no) for r in delegation.requests_of(s, campaign.id)]
    assert got == [("mobifone", 2), ("itel", 3)]


def test_approval_covers_each_letter_word_for_word(province: Any) -> None:
    """A letter changed after approval (say, the stored text edited) voids the approval: the
    letters cannot be marked as sent."""
    campaign = _approved(_delegated())
    s = db.session()
    assert lifecycle.approval_valid(campaign)
    req = delegation.requests_of(s, campaign.id)[0]
    changed = dict(req.letter, sms="Một nội dung khác")
    req.letter, req.letter_hash = changed, delegation.content_hash(changed)
    s.commit()
    with pytest.raises(lifecycle.IllegalTransition) as refused:
        lifecycle.transition(s, campaign, lifecycle.REQUEST, create_user("editor"))
    assert refused.value.code == "approval_void"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"audience": {"all": True, "operators": []}}, "Chưa chọn nhà mạng"),
        ({"audience": {"operators": ["viettel"]}}, "Chưa chọn địa bàn"),
        ({"scheduled_at": None}, "Chưa đặt ngày"),
        ({"body": "Chào {name}, hãy báo 111."}, "không được chứa biến"),
    ],
)
def test_a_delegated_draft_needs_operators_areas_a_date_and_no_variables(
    province: Any, change: dict[str, Any], message: str
) -> None:
    campaign = _delegated()
    s = db.session()
    for key, value in change.items():
        setattr(campaign, key, value)
    with pytest.raises(lifecycle.IllegalTransition) as refused:
        lifecycle.transition(s, campaign, lifecycle.SUBMIT, None)
    assert message in refused.value.reason
    assert s.scalar(select(OperatorRequest.id)) is None


@pytest.mark.parametrize("action", [lifecycle.LAUNCH, lifecycle.SCHEDULE])
def test_loa_never_sends_a_delegated_campaign(province: Any, action: str) -> None:
    campaign = _approved(_delegated())
    with pytest.raises(lifecycle.IllegalTransition, match="nhà mạng gửi"):
        lifecycle.transition(db.session(), campaign, action, None, now=DAY - dt.timedelta(days=1))


def test_a_campaign_loa_sends_has_no_letters_to_send(app: Any) -> None:
    campaign = create_campaign(audience={"all": True}, created_by_id=create_user("editor").id)
    _approved(campaign)
    with pytest.raises(lifecycle.IllegalTransition, match="Loa gửi"):
        lifecycle.transition(db.session(), campaign, lifecycle.REQUEST, None)


def test_follow_up_moves_and_figures(province: Any) -> None:
    campaign = _approved(_delegated())
    s = db.session()
    editor = create_user("editor")
    lifecycle.transition(s, campaign, lifecycle.REQUEST, editor)
    req = delegation.requests_of(s, campaign.id)[0]
    assert req.status == delegation.REQUESTED and req.requested_at is not None
    with pytest.raises(delegation.RequestError):
        delegation.advance(s, req, delegation.PREPARED, editor.id)
    with pytest.raises(delegation.RequestError, match="Cần nhập"):
        delegation.advance(s, req, delegation.REPORTED, editor.id)
    areas = [province["Kế Sách"].id, province["Trần Đề"].id]
    with pytest.raises(delegation.RequestError, match="lớn hơn"):
        delegation.advance(
            s, req, delegation.REPORTED, editor.id, reached_total=10, reached_by_area={areas[0]: 11}
        )
    delegation.advance(
        s, req, delegation.REPORTED, editor.id, reached_by_area={areas[0]: 700, areas[1]: 300}
    )
    assert req.reached_total == 1000  # the sum when only areas were given
    steps = delegation.history(s, [req.id])[req.id]
    assert [e.status for e in steps] == ["requested", "reported"]
    assert not delegation.all_answered(s, campaign.id)


def test_reminders_name_operators_past_their_dates(province: Any) -> None:
    campaign = _approved(_delegated(("viettel", "mobifone", "itel")))
    s = db.session()
    lifecycle.transition(s, campaign, lifecycle.REQUEST, None)
    _viettel, mobifone, itel = delegation.requests_of(s, campaign.id)
    delegation.advance(s, mobifone, delegation.ACKNOWLEDGED, None)
    delegation.advance(s, itel, delegation.DECLINED, None)
    s.commit()
    assert delegation.reminders(s, dt.date(2027, 7, 20)) == []
    late = delegation.reminders(s, dt.date(2027, 7, 21))
    assert [(r.operator, r.status) for r in late] == [("Viettel", "requested")]
    later = delegation.reminders(s, dt.date(2027, 8, 11))
    assert {(r.operator, r.status) for r in later} == {
        ("Viettel", "requested"),
        ("MobiFone", "acknowledged"),
    }


def test_letters_render_as_docx_and_pdf(province: Any) -> None:
    """Both renderings hold the layout's parts and the exact approved text."""
    campaign = _approved(_delegated())
    req = delegation.requests_of(db.session(), campaign.id)[0]
    lines = _docx_text(letters.docx_bytes(req.letter))
    for part in (
        "UBND TỈNH SÓC TRĂNG",
        "SỞ THÔNG TIN VÀ TRUYỀN THÔNG",
        letters.MOTTO,
        letters.MOTTO_2,
        req.letter["number"],
        req.letter["subject"],
        req.letter["addressee"],
        "Nơi nhận:",
        "GIÁM ĐỐC",
    ):
        assert part in lines, part
    assert f"- Nội dung tin nhắn: “{OFFICIAL_TEXT}”." in lines
    pdf = letters.pdf_bytes(req.letter)
    assert (pdf.startswith(b"%PDF-") and b"DejaVu" in pdf) or b"Liberation" in pdf


# --- the admin pages ----------------------------------------------------------------------


def _compose(client: Any, **extra: Any) -> Any:
    data = {
        "route": "operators",
        "name": "Ngày 30/7 qua nhà mạng",
        "body": OFFICIAL_TEXT,
        "all_contacts": "1",
        "operators": ["viettel", "mobifone"],
        "scheduled_at": "2027-07-29T08:00",
        "window_start": "07:00",
        "window_end": "21:00",
        "do": "save",
        **PLAN,
        **extra,
    }
    return client.post("/campaigns/new", data=data)


def test_from_the_composer_to_both_operators_reported(
    client: Any, login_as: Any, province: Any
) -> None:
    """Composed as "nhờ nhà mạng gửi", approved by a second person, the letters downloaded, one
    operator's figures typed in and another's decline recorded: the campaign completes."""
    editor = login_as("editor")
    assert "Nhờ nhà mạng gửi" in client.get("/campaigns/new").get_data(as_text=True)
    resp = _compose(client)
    assert resp.status_code == 302, resp.get_data(as_text=True)
    s = db.session()
    campaign = s.scalars(select(Campaign)).one()
    assert campaign.route == "operators" and campaign.audience_size == 0
    assert campaign.audience == {"all": True, "operators": ["viettel", "mobifone"]}
    assert campaign.delegation == PLAN
    client.post(f"/campaigns/{campaign.id}/actions/submit")
    login_as("approver")
    queue = client.get("/campaigns/approvals").get_data(as_text=True)
    assert "Số: 1/STTTT-TTBCXB" in queue and "Số: 2/STTTT-TTBCXB" in queue
    client.post(f"/campaigns/{campaign.id}/actions/approve")
    editor = login_as("editor")
    assert client.post(f"/campaigns/{campaign.id}/actions/request").status_code == 302
    s.expire_all()
    assert s.get(Campaign, campaign.id).status == lifecycle.REQUESTED
    viettel, mobifone = delegation.requests_of(s, campaign.id)

    got = client.get(f"/campaigns/{campaign.id}/letters/{viettel.id}.docx")
    assert got.status_code == 200 and got.mimetype == letters.DOCX_TYPE
    assert 'filename="cong-van-1-' in got.headers["Content-Disposition"]
    assert f"- Nội dung tin nhắn: “{OFFICIAL_TEXT}”." in _docx_text(got.data)
    pdf = client.get(f"/campaigns/{campaign.id}/letters/{mobifone.id}.pdf")
    assert pdf.status_code == 200 and pdf.data.startswith(b"%PDF-")

    page = client.get(f"/campaigns/{campaign.id}").get_data(as_text=True)
    assert "Đã gửi đề nghị" in page and "requested" not in page.replace(
        'data-status="requested"', ""
    )
    kesach = province["Kế Sách"].id
    resp = client.post(
        f"/campaigns/{campaign.id}/operators/{viettel.id}",
        data={
            "status": "reported",
            "reached_total": "412.345",
            f"area_{kesach}": "51.000",
            "note": "Công văn số 88/VTST",
        },
    )
    assert resp.status_code == 302
    client.post(
        f"/campaigns/{campaign.id}/operators/{mobifone.id}",
        data={"status": "declined", "note": "Hết hạn mức tin công ích"},
    )
    s.expire_all()
    viettel = s.get(OperatorRequest, viettel.id)
    assert (viettel.reached_total, viettel.reached_by_area) == (412345, {str(kesach): 51000})
    assert s.get(Campaign, campaign.id).status == lifecycle.COMPLETED
    page = client.get(f"/campaigns/{campaign.id}").get_data(as_text=True)
    assert "412.345" in page and "Nhà mạng từ chối" in page
    actions = set(s.scalars(select(AuditEvent.action)))
    assert {"campaign.letter_download", "campaign.operator_update", "campaign.complete"} <= actions
    steps = s.scalars(select(OperatorRequestEvent.by_id)).all()
    assert len(steps) == 4 and set(steps) == {editor.id}  # requested ×2, reported, declined


def test_a_bad_figure_is_refused_and_changes_nothing(
    client: Any, login_as: Any, province: Any
) -> None:
    campaign = _approved(_delegated())
    lifecycle.transition(db.session(), campaign, lifecycle.REQUEST, None)
    db.session().commit()
    req = delegation.requests_of(db.session(), campaign.id)[0]
    login_as("editor")
    resp = client.post(
        f"/campaigns/{campaign.id}/operators/{req.id}",
        data={"status": "reported", "reached_total": "khoảng 40 nghìn"},
        follow_redirects=True,
    )
    assert "không phải là một số thuê bao" in resp.get_data(as_text=True)
    db.session().expire_all()
    assert db.session().get(OperatorRequest, req.id).status == delegation.REQUESTED


@pytest.mark.parametrize(
    ("role", "letter", "follow"),
    [
        ("admin", 200, 302),
        ("editor", 200, 302),
        ("approver", 200, 302),
        ("police", 403, 403),
        ("border_guard", 403, 403),
        ("hotline_111", 403, 403),
    ],
)
def test_letters_and_follow_up_by_role(
    client: Any, login_as: Any, province: Any, role: str, letter: int, follow: int
) -> None:
    campaign = _approved(_delegated())
    lifecycle.transition(db.session(), campaign, lifecycle.REQUEST, None)
    db.session().commit()
    req = delegation.requests_of(db.session(), campaign.id)[0]
    login_as(role)
    assert client.get(f"/campaigns/{campaign.id}/letters/{req.id}.docx").status_code == letter
    resp = client.post(
        f"/campaigns/{campaign.id}/operators/{req.id}", data={"status": "acknowledged"}
    )
    assert resp.status_code == follow


def test_another_campaigns_letter_is_not_found(client: Any, login_as: Any, province: Any) -> None:
    one, two = _approved(_delegated()), _approved(_delegated())
    req = delegation.requests_of(db.session(), two.id)[0]
    login_as("editor")
    assert client.get(f"/campaigns/{one.id}/letters/{req.id}.pdf").status_code == 404
    assert client.get(f"/campaigns/{two.id}/letters/{req.id}.exe").status_code == 404


def test_the_department_edits_the_wording_of_later_letters(
    client: Any, login_as: Any, province: Any
) -> None:
    login_as("editor")
    form = client.get("/campaigns/letter-template").get_data(as_text=True)
    assert "SỞ THÔNG TIN VÀ TRUYỀN THÔNG" in form
    data = {
        "issuer_parent": "UBND TỈNH SÓC TRĂNG",
        "issuer": "SỞ KHOA HỌC VÀ CÔNG NGHỆ",
        "symbol": "SKHCN-BCVT",
        "place": "Sóc Trăng",
        "subject": "V/v nhắn tin tuyên truyền",
        "opening": "Sở đề nghị {nha_mang} nhắn tin trên địa bàn {dia_ban} ngày {ngay}.",
        "closing": "Trân trọng./.",
        "signer_title": "KT. GIÁM ĐỐC\nPHÓ GIÁM ĐỐC",
        "signer_name": "Trần Thị Bình",
        "copies_to": "Như trên;\nLưu: VT.",
        "addressee_viettel": "Viettel Sóc Trăng",
        "active_viettel": "1",
        "active_mobifone": "1",
    }
    bad = client.post("/campaigns/letter-template", data={**data, "opening": "Gửi {ten_nguoi}"})
    assert bad.status_code == 422 and "{ten_nguoi}" in bad.get_data(as_text=True)
    assert client.post("/campaigns/letter-template", data=data).status_code == 302
    campaign = _approved(_delegated(("viettel",)))
    letter = delegation.requests_of(db.session(), campaign.id)[0].letter
    assert letter["issuer"] == "SỞ KHOA HỌC VÀ CÔNG NGHỆ"
    assert letter["number"] == "Số: 1/SKHCN-BCVT"
    assert letter["addressee"] == "Kính gửi: Viettel Sóc Trăng"
    assert (
        letter["opening"]
        == "Sở đề nghị Viettel nhắn tin trên địa bàn tỉnh Sóc Trăng ngày 29/07/2027."
    )
    names = [o.code for o in delegation.operators(db.session())]
    assert names == ["viettel", "mobifone"]  # the others were unticked


def test_police_cannot_edit_the_wording(client: Any, login_as: Any, province: Any) -> None:
    login_as("police")
    assert client.get("/campaigns/letter-template").status_code == 403
    assert client.post("/campaigns/letter-template", data={"issuer": "X"}).status_code == 403


def test_the_editors_dashboard_shows_late_operators(
    client: Any, login_as: Any, province: Any
) -> None:
    campaign = _delegated(("viettel",))
    campaign.delegation = {**PLAN, "answer_by": "2020-01-01"}
    db.session().commit()
    _approved(campaign)
    lifecycle.transition(db.session(), campaign, lifecycle.REQUEST, None)
    db.session().commit()
    login_as("editor")
    page = client.get("/").get_data(as_text=True)
    assert 'id="operator-reminders"' in page and "Viettel" in page and "01/01/2020" in page


# --- the API ------------------------------------------------------------------------------


def _bearer(role: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {create_token(create_user(role))}"}


def test_the_api_drafts_a_delegated_campaign_and_shows_its_letters(
    client: Any, province: Any
) -> None:
    headers = _bearer("editor")
    body = {
        "name": "Ngày 30/7",
        "body": OFFICIAL_TEXT,
        "route": "operators",
        "operators": ["viettel", "itel"],
        "districts": [province["Kế Sách"].id],
        "scheduled_at": "2027-07-29T08:00",
        "delegation": PLAN,
    }
    made = client.post("/api/v1/campaigns", json=body, headers=headers)
    assert made.status_code == 201, made.get_json()
    got = made.get_json()
    assert got["route"] == "operators" and got["audience_size"] == 0
    assert got["audience"] == {
        "districts": [province["Kế Sách"].id],
        "operators": ["viettel", "itel"],
    }
    submitted = client.post(f"/api/v1/campaigns/{got['id']}/submit", headers=headers)
    assert submitted.status_code == 200
    shown = client.get(f"/api/v1/campaigns/{got['id']}", headers=headers).get_json()
    letters_ = {r["operator"]: r for r in shown["operator_requests"]}
    assert set(letters_) == {"viettel", "itel"}
    assert letters_["viettel"]["status"] == "prepared"
    assert letters_["viettel"]["letter_number"] == "Số: 1/STTTT-TTBCXB"
    stored = delegation.requests_of(db.session(), got["id"])[0]
    assert letters_["viettel"]["letter_hash"] == stored.letter_hash
    assert dict(stored.letter["facts"])["Địa bàn"] == "Kế Sách"


@pytest.mark.parametrize(
    ("change", "word"),
    [
        ({"operators": ["viettel", "nokia"]}, "'operators'"),
        ({"operators": []}, "'operators'"),
        ({"districts": [], "all": False}, "toàn tỉnh"),
        ({"route": "pigeon"}, "'route'"),
        ({"delegation": {"answer_by": "30/07/2027"}}, "YYYY-MM-DD"),
        ({"delegation": {"who": "x"}}, "'delegation'"),
    ],
)
def test_the_api_refuses_a_bad_delegated_campaign(
    client: Any, province: Any, change: dict[str, Any], word: str
) -> None:
    body = {
        "name": "x",
        "body": OFFICIAL_TEXT,
        "route": "operators",
        "operators": ["viettel"],
        "all": True,
        **change,
    }
    resp = client.post("/api/v1/campaigns", json=body, headers=_bearer("editor"))
    assert resp.status_code == 422 and word in resp.get_json()["detail"]
    assert db.session().scalar(select(Campaign.id)) is None


def test_the_pdf_uses_the_configured_face_and_says_when_there_is_none(
    client: Any, login_as: Any, province: Any, monkeypatch: Any
) -> None:
    campaign = _approved(_delegated(("viettel",)))
    req = delegation.requests_of(db.session(), campaign.id)[0]
    sans = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"
    assert b"+DejaVuSansBold" in letters.pdf_bytes(req.letter, sans)
    assert b"+DejaVuSerifItalic" in letters.pdf_bytes(req.letter)  # the place and date
    monkeypatch.setattr(letters, "_FONT_CANDIDATES", ())
    with pytest.raises(letters.FontMissing):
        letters.pdf_bytes(req.letter, "/nowhere/Times.ttf")
    login_as("editor")
    resp = client.get(f"/campaigns/{campaign.id}/letters/{req.id}.pdf", follow_redirects=True)
    assert resp.status_code == 200 and "fonts-dejavu-core" in resp.get_data(as_text=True)
    assert client.get(f"/campaigns/{campaign.id}/letters/{req.id}.docx").status_code == 200


# --- the operators' own spreadsheets --------------------------------------------------------


def _xlsx(rows: list[list[Any]]) -> bytes:
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    for row in rows:
        sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _requested(operators: tuple[str, ...] = ("viettel", "mobifone")) -> Campaign:
    campaign = _approved(_delegated(operators))
    lifecycle.transition(db.session(), campaign, lifecycle.REQUEST, None)
    db.session().commit()
    return campaign


def test_an_operators_spreadsheet_is_read_and_its_columns_remembered(
    client: Any, login_as: Any, province: Any
) -> None:
    """An XLSX with a title row, districts written the operator's way, a total row and one
    unknown place: the figures by area, the file's total, the unknown row named by its line;
    the next file of the same operator needs no mapping even with other columns around."""
    campaign = _requested()
    viettel, mobifone = delegation.requests_of(db.session(), campaign.id)
    login_as("editor")
    book = _xlsx(
        [
            ["STT", "Huyện/Thị xã", "Số TB đã nhận tin"],
            [1, "huyen ke sach", 51000],
            [2, "TX. Vĩnh Châu", "62.500"],
            [3, "Đảo Ngọc", 100],
            [4, "Trần Đề", "không rõ"],
            ["", "Tổng cộng", 113600],
        ]
    )
    resp = client.post(
        f"/campaigns/{campaign.id}/operators/{viettel.id}/import",
        data={"file": (io.BytesIO(book), "viettel-bao-cao.xlsx")},
        content_type="multipart/form-data",
        follow_redirects=True,
    )
    page = resp.get_data(as_text=True)
    assert resp.status_code == 200
    assert "dòng 4: không nhận ra địa bàn “Đảo Ngọc”" in page
    assert "dòng 5: không đọc được số thuê bao “không rõ”" in page
    s = db.session()
    s.expire_all()
    viettel = s.get(OperatorRequest, viettel.id)
    assert viettel.status == delegation.REPORTED and viettel.reached_total == 113600
    assert viettel.reached_by_area == {
        str(province["Kế Sách"].id): 51000,
        str(province["Vĩnh Châu"].id): 62500,
    }
    assert viettel.operator.column_map == {"area": "Huyện/Thị xã", "reached": "Số TB đã nhận tin"}

    # MobiFone writes CSV with odd headers: asked once which columns, then remembered.
    odd = "Khu vực phát;SL;Ghi chú\nKế Sách;1.200;\nMỹ Xuyên;800;x\n".encode()
    resp = client.post(
        f"/campaigns/{campaign.id}/operators/{mobifone.id}/import",
        data={"file": (io.BytesIO(odd), "mobi.csv")},
        content_type="multipart/form-data",
    )
    page = resp.get_data(as_text=True)
    assert resp.status_code == 422 and '<option value="SL"' in page
    resp = client.post(
        f"/campaigns/{campaign.id}/operators/{mobifone.id}/import",
        data={
            "file": (io.BytesIO(odd), "mobi.csv"),
            "area_column": "Khu vực phát",
            "reached_column": "SL",
        },
        content_type="multipart/form-data",
    )
    assert resp.status_code == 302
    s.expire_all()
    mobifone = s.get(OperatorRequest, mobifone.id)
    assert (mobifone.reached_total, len(mobifone.reached_by_area)) == (2000, 2)
    assert mobifone.operator.column_map == {"area": "Khu vực phát", "reached": "SL"}
    assert s.get(Campaign, campaign.id).status == lifecycle.COMPLETED


def test_the_remembered_columns_serve_the_next_campaign(
    client: Any, login_as: Any, province: Any
) -> None:
    s = db.session()
    operator = delegation.operators(s)[0]
    operator.column_map = {"area": "Khu vực phát", "reached": "SL"}
    s.commit()
    campaign = _requested(("viettel",))
    (req,) = delegation.requests_of(s, campaign.id)
    login_as("editor")
    odd = "Ghi chú,Khu vực phát,SL\n,Châu Thành,300\n".encode()
    resp = client.post(
        f"/campaigns/{campaign.id}/operators/{req.id}/import",
        data={"file": (io.BytesIO(odd), "viettel.csv")},
        content_type="multipart/form-data",
    )
    assert resp.status_code == 302
    s.expire_all()
    assert s.get(OperatorRequest, req.id).reached_by_area == {str(province["Châu Thành"].id): 300}


@pytest.mark.parametrize(
    "content",
    [b"", b"\x00\x01\x02garbage", b"PK\x03\x04not really a zip", "Huyện,Số TB\n".encode()],
)
def test_a_broken_report_file_is_refused_and_changes_nothing(
    client: Any, login_as: Any, province: Any, content: bytes
) -> None:
    campaign = _requested(("viettel",))
    (req,) = delegation.requests_of(db.session(), campaign.id)
    login_as("editor")
    resp = client.post(
        f"/campaigns/{campaign.id}/operators/{req.id}/import",
        data={"file": (io.BytesIO(content), "bao-cao.xlsx" if content[:2] == b"PK" else "a.csv")},
        content_type="multipart/form-data",
    )
    assert resp.status_code in (302, 422)
    db.session().expire_all()
    assert db.session().get(OperatorRequest, req.id).status == delegation.REQUESTED


# --- reach and the tips that followed ---------------------------------------------------------


def test_the_report_shows_the_operators_figures_and_the_tips_of_their_areas(
    client: Any, login_as: Any, province: Any
) -> None:
    """By operator and by area, labelled as the operators' figures; the tips counted are those
    from the districts covered, inside the window after the broadcast's day."""
    from tests.factories import create_tip

    kesach, tran_de, vinh_chau = (province[n] for n in ("Kế Sách", "Trần Đề", "Vĩnh Châu"))
    campaign = _requested()
    campaign.audience = {"districts": [kesach.id, tran_de.id], "operators": ["viettel", "mobifone"]}
    db.session().commit()
    viettel, mobifone = delegation.requests_of(db.session(), campaign.id)
    s = db.session()
    delegation.advance(
        s, viettel, delegation.REPORTED, None, reached_total=1000, reached_by_area={kesach.id: 600}
    )
    delegation.advance(s, mobifone, delegation.REPORTED, None, reached_by_area={tran_de.id: 250})
    day = DAY  # 08:00 local on 29 July
    for district, at in (
        (kesach, day + dt.timedelta(hours=3)),  # counts
        (tran_de, day + dt.timedelta(days=13)),  # counts (14-day window)
        (vinh_chau, day + dt.timedelta(hours=5)),  # another district: not this broadcast's
        (kesach, day - dt.timedelta(days=1)),  # before the broadcast
        (kesach, day + dt.timedelta(days=15)),  # after the window
    ):
        create_tip(district_id=district.id, received_at=at)
    # Loa's own broadcast to officials of Kế Sách two days later: three accepted, one failed;
    # one a month earlier, outside the window.
    own = create_campaign(
        name="Cán bộ Kế Sách", status="completed", launched_at=day + dt.timedelta(days=2)
    )
    old = create_campaign(
        name="Tháng trước", status="completed", launched_at=day - dt.timedelta(days=30)
    )
    for n, (target, status) in enumerate(
        [(own, "delivered"), (own, "sent"), (own, "delivered"), (own, "failed"), (old, "delivered")]
    ):
        contact = Contact(phone=f"+8498100{n:04d}", district_id=kesach.id, carrier="Viettel")
        s.add(contact)
        s.flush()
        s.add(
            Delivery(
                campaign_id=target.id, contact_id=contact.id, phone=contact.phone, status=status
            )
        )
    s.commit()
    login_as("approver")
    page = client.get(f"/campaigns/{campaign.id}/report").get_data(as_text=True)
    assert "không phải số tin tổng đài (SMSC) đã nhận qua Loa" in page
    assert "Cán bộ Kế Sách" in page and "Tháng trước" not in page
    side = results.beside(s, campaign, *delegation.broadcast_window(campaign, 14))
    areas = {
        r["area"]: (r["reported_by_operators"], r["accepted_by_smsc"])
        for r in side["reach_by_area"]
    }
    assert areas == {"Kế Sách": (600, 3), "Trần Đề": (250, 0), "": (400, 0)}
    operators = {
        r["operator"]: (r["reported_by_operators"], r["accepted_by_smsc"])
        for r in side["reach_by_operator"]
    }
    assert operators == {"Viettel": (1000, 3), "MobiFone": (250, 0)}
    assert '<span id="reach-total">1.250</span>' in page
    assert '<span id="tips-total">2</span>' in page
    reach = delegation.reach(s, campaign.id)
    assert reach.by_area == {"Kế Sách": {"Viettel": 600}, "Trần Đề": {"MobiFone": 250}}
    assert reach.unplaced == {"Viettel": 400}


def test_draft_to_reported_one_figure_typed_one_imported(
    client: Any, login_as: Any, province: Any
) -> None:
    """The issue's path: two operators, Viettel's figure typed in, MobiFone's imported from its
    spreadsheet; both reported, the campaign complete, each letter still the approved text."""
    campaign = _requested()
    viettel, mobifone = delegation.requests_of(db.session(), campaign.id)
    login_as("editor")
    typed = client.post(
        f"/campaigns/{campaign.id}/operators/{viettel.id}",
        data={"status": "reported", "reached_total": "398.120"},
    )
    assert typed.status_code == 302
    sheet = _xlsx([["Huyện", "Số thuê bao"], ["Kế Sách", 41000], ["Tổng cộng", 41000]])
    imported = client.post(
        f"/campaigns/{campaign.id}/operators/{mobifone.id}/import",
        data={"file": (io.BytesIO(sheet), "mobifone.xlsx")},
        content_type="multipart/form-data",
    )
    assert imported.status_code == 302
    s = db.session()
    s.expire_all()
    assert [(r.status, r.reached_total) for r in delegation.requests_of(s, campaign.id)] == [
        ("reported", 398120),
        ("reported", 41000),
    ]
    assert s.get(Campaign, campaign.id).status == lifecycle.COMPLETED
    assert lifecycle.approval_valid(s.get(Campaign, campaign.id))
    for req in delegation.requests_of(s, campaign.id):
        assert req.letter["sms"] == s.get(Campaign, campaign.id).body == OFFICIAL_TEXT
