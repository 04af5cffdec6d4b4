"""Campaigns the mobile operators send: the operators asked, their request letters, the follow-up.

The province's plan asks the operators to text their subscribers; Loa writes the request
letters, keeps them under the same four-eyes approval as its own broadcasts and follows each
operator until it reports how many subscribers it reached.

```
prepared ─(campaign "request")→ requested ─→ acknowledged ─→ sending ─→ reported
                                    │              │             │
                                    └──────────────┴─────────────┴─→ declined
```

Decisions:
- A delegated campaign's audience is described, not listed: ``{"all": true}`` (the province) or
  ``districts``/``wards``, plus ``operators`` (codes). Its date is ``scheduled_at`` and its hours
  the campaign window. Loa never materialises deliveries for it.
- A letter is stored as its content (a dict of texts, :func:`letter_content`); DOCX and PDF are
  rendered from it on download (``campaigns.letters``), so the hash of the content is the hash
  of what every rendering says. The letters are written when the campaign is submitted and
  their hashes are part of the approval hash (``campaigns.lifecycle``).
- A letter keeps its number once given (per calendar year, in order); a resubmitted campaign
  rewrites its letters' text under the same numbers.
- The caller commits; nothing here commits.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from campaigns import encoding, localtime
from campaigns.areas import names_by_id
from campaigns.db import utcnow
from campaigns.models import (
    Area,
    Campaign,
    LetterTemplate,
    MobileOperator,
    OperatorRequest,
    OperatorRequestEvent,
)
from campaigns.text import nfc

ROUTE_LOA = "direct"
ROUTE_OPERATORS = "operators"
ROUTES = (ROUTE_LOA, ROUTE_OPERATORS)

PREPARED = "prepared"
REQUESTED = "requested"
ACKNOWLEDGED = "acknowledged"
SENDING = "sending"
REPORTED = "reported"
DECLINED = "declined"
REQUEST_STATES = (PREPARED, REQUESTED, ACKNOWLEDGED, SENDING, REPORTED, DECLINED)
ANSWERED = frozenset({REPORTED, DECLINED})
# Where a request may go from each state; "reported" again corrects the figures.
MOVES: dict[str, tuple[str, ...]] = {
    PREPARED: (),
    REQUESTED: (ACKNOWLEDGED, SENDING, REPORTED, DECLINED),
    ACKNOWLEDGED: (SENDING, REPORTED, DECLINED),
    SENDING: (REPORTED,),
    REPORTED: (REPORTED,),
    DECLINED: (ACKNOWLEDGED,),
}

LETTER_KIND = "operator_request"
# The names a template may use, each filled per letter.
PLACEHOLDERS = ("co_quan", "nha_mang", "dia_ban", "ngay", "gio", "han_tra_loi", "han_bao_cao")
_PLACEHOLDER = re.compile(r"\{([a-z_]+)\}")

# The operators a province can ask; migration 0014 inserts the same rows.
OPERATORS: tuple[tuple[str, str, str], ...] = (
    ("viettel", "Viettel", "Tập đoàn Công nghiệp – Viễn thông Quân đội (Viettel)"),
    ("vinaphone", "VinaPhone", "Tổng công ty Dịch vụ Viễn thông (VNPT VinaPhone)"),
    ("mobifone", "MobiFone", "Tổng công ty Viễn thông MobiFone"),
    ("vietnamobile", "Vietnamobile", "Công ty Cổ phần Viễn thông Di động Vietnamobile"),
    ("gmobile", "Gmobile", "Công ty Cổ phần Viễn thông Di động Toàn Cầu (Gmobile)"),
    ("wintel", "Wintel", "Công ty Cổ phần Wintel"),
    ("itel", "iTel", "Công ty Cổ phần Viễn thông Đông Dương Telecom (iTel)"),
)


class RequestError(Exception):
    """A follow-up step that is not possible; the message says why, in Vietnamese."""


def seed_operators(session: Session) -> int:
    """Add the operators of :data:`OPERATORS` that are missing (by code); returns how many."""
    have = set(session.scalars(select(MobileOperator.code)))
    added = 0
    for position, (code, name, addressee) in enumerate(OPERATORS):
        if code not in have:
            session.add(
                MobileOperator(code=code, name=name, addressee=addressee, position=position)
            )
            added += 1
    session.flush()
    return added


def operators(session: Session, active_only: bool = True) -> list[MobileOperator]:
    """The operators in their usual order."""
    stmt = select(MobileOperator).order_by(MobileOperator.position, MobileOperator.id)
    if active_only:
        stmt = stmt.where(MobileOperator.active.is_(True))
    return list(session.scalars(stmt))


def is_delegated(campaign: Campaign) -> bool:
    """Whether the operators send this campaign."""
    return campaign.route == ROUTE_OPERATORS


def province_name(session: Session) -> str:
    """The province's name (the area of kind "province"), "" before areas are loaded."""
    name = session.scalar(select(Area.name).where(Area.kind == "province").order_by(Area.id))
    return name or ""


def default_template(session: Session) -> LetterTemplate:
    """The wording Loa proposes until the department saves its own (not added to the session)."""
    province = province_name(session)
    return LetterTemplate(
        kind=LETTER_KIND,
        issuer_parent=f"UBND TỈNH {province.upper()}".strip(),
        issuer="SỞ THÔNG TIN VÀ TRUYỀN THÔNG",
        symbol="STTTT-TTBCXB",
        place=province or "……",
        subject="V/v đề nghị nhắn tin tuyên truyền phòng, chống mua bán người",
        opening=(
            "Thực hiện Kế hoạch của Ủy ban nhân dân tỉnh về triển khai Ngày toàn dân phòng, "
            "chống mua bán người (30/7), Sở Thông tin và Truyền thông đề nghị {nha_mang} hỗ trợ nhắn tin tuyên "
            "truyền miễn phí đến các thuê bao di động đang hoạt động trên địa bàn {dia_ban}, "
            "cụ thể như sau:"
        ),
        closing=(
            "Đề nghị {nha_mang} phản hồi trước ngày {han_tra_loi} và báo cáo kết quả (số thuê "
            "bao đã nhận tin, theo từng địa bàn nếu có) về Sở Thông tin và Truyền thông trước ngày {han_bao_cao}."
            "\nTrân trọng./."
        ),
        signer_title="GIÁM ĐỐC",
        signer_name="",
        copies_to=f"Như trên;\nUBND tỉnh {province} (để báo cáo);\nLưu: VT.".replace("  ", " "),
    )


def template(session: Session) -> LetterTemplate:
    """The department's saved wording, or the default."""
    return session.get(LetterTemplate, LETTER_KIND) or default_template(session)


def unknown_placeholders(text: str) -> list[str]:
    """The ``{names}`` in a template text that Loa cannot fill."""
    return sorted({m for m in _PLACEHOLDER.findall(text) if m not in PLACEHOLDERS})


def fill(text: str, values: Mapping[str, str]) -> str:
    """Replace each known ``{name}``; anything else stays as written."""
    return _PLACEHOLDER.sub(lambda m: values.get(m.group(1), m.group(0)), text)


def admin_date(day: dt.date) -> str:
    """A date as a Vietnamese administrative document writes it (Decree 30/2020, appendix I):
    days below 10 and months below 3 take a leading zero."""
    month = f"{day.month:02d}" if day.month < 3 else str(day.month)
    return f"ngày {day.day:02d} tháng {month} năm {day.year}"


def short_date(day: dt.date) -> str:
    return day.strftime("%d/%m/%Y")


def _day(value: str | None) -> dt.date | None:
    try:
        return dt.date.fromisoformat(value) if value else None
    except ValueError:
        return None


def area_text(session: Session, audience: Mapping[str, Any], province: str) -> str:
    """The target areas in words: the province, or the districts and wards chosen."""
    if audience.get("all"):
        return f"tỉnh {province}" if province else "toàn tỉnh"
    ids = [int(i) for i in [*audience.get("districts", []), *audience.get("wards", [])]]
    names = list(session.scalars(select(Area.name).where(Area.id.in_(ids)).order_by(Area.name)))
    return ", ".join(names)


@dataclass(frozen=True, slots=True)
class LetterFacts:
    """What every letter of one campaign shares (one read of the database for all of them)."""

    areas: str
    day: dt.date | None
    hours: str
    answer_by: dt.date | None
    report_by: dt.date | None
    contact: str


def campaign_facts(session: Session, campaign: Campaign) -> LetterFacts:
    """The areas, date, hours, answer dates and contact person a campaign's letters state."""
    spec = campaign.delegation or {}
    day = (
        campaign.scheduled_at.astimezone(localtime.zone()).date() if campaign.scheduled_at else None
    )
    contact = ", ".join(
        p for p in (spec.get("contact_name", ""), spec.get("contact_phone", "")) if p
    )
    return LetterFacts(
        areas=area_text(session, campaign.audience or {}, province_name(session)),
        day=day,
        hours=f"từ {campaign.window_start} đến {campaign.window_end}",
        answer_by=_day(spec.get("answer_by")),
        report_by=_day(spec.get("report_by")),
        contact=contact,
    )


def letter_content(
    campaign: Campaign,
    operator: MobileOperator,
    wording: LetterTemplate,
    facts: LetterFacts,
    number: int,
    made_on: dt.date,
) -> dict[str, Any]:
    """The text of one request letter, part by part, as Decree 30/2020 lays a letter out."""
    body = nfc(campaign.body)
    info = encoding.analyze(body)
    pending = "…"
    values = {
        "co_quan": wording.issuer,
        "nha_mang": operator.name,
        "dia_ban": facts.areas or pending,
        "ngay": short_date(facts.day) if facts.day else pending,
        "gio": facts.hours,
        "han_tra_loi": short_date(facts.answer_by) if facts.answer_by else pending,
        "han_bao_cao": short_date(facts.report_by) if facts.report_by else pending,
    }
    return {
        "issuer_parent": wording.issuer_parent,
        "issuer": wording.issuer,
        "number": f"Số: {number}/{wording.symbol}",
        "place_date": f"{wording.place}, {admin_date(made_on)}",
        "subject": wording.subject,
        "addressee": f"Kính gửi: {operator.addressee}",
        "opening": fill(wording.opening, values),
        "facts": [
            ["Nội dung tin nhắn", f"“{body}”"],
            [
                "Độ dài",
                f"{len(body)} ký tự, mã hoá {info.encoding}, {info.segments} tin nhắn/thuê bao",
            ],
            ["Địa bàn", values["dia_ban"]],
            ["Thời gian gửi", f"ngày {values['ngay']}, {facts.hours}"],
            ["Đầu mối liên hệ", facts.contact or pending],
        ],
        "sms": body,
        "characters": len(body),
        "encoding": info.encoding,
        "segments": info.segments,
        "closing": fill(wording.closing, values),
        "signer_title": wording.signer_title,
        "signer_name": wording.signer_name,
        "copies_to": [line.strip() for line in wording.copies_to.splitlines() if line.strip()],
    }


def content_hash(letter: Mapping[str, Any]) -> str:
    """The SHA-256 of a letter's content (canonical JSON)."""
    text = json.dumps(letter, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def requests_of(session: Session, campaign_id: int) -> list[OperatorRequest]:
    """A campaign's requests in the operators' usual order."""
    return list(
        session.scalars(
            select(OperatorRequest)
            .join(MobileOperator)
            .where(OperatorRequest.campaign_id == campaign_id)
            .order_by(MobileOperator.position, MobileOperator.id)
        )
    )


def letter_hashes(session: Session, campaign_id: int) -> list[list[str]]:
    """``[operator code, letter hash]`` of each letter, for the approval hash."""
    rows = session.execute(
        select(MobileOperator.code, OperatorRequest.letter_hash)
        .join(MobileOperator)
        .where(OperatorRequest.campaign_id == campaign_id)
        .order_by(MobileOperator.code)
    )
    return [[code, digest] for code, digest in rows]


def _next_number(session: Session, year: int) -> int:
    last = session.scalar(
        select(func.max(OperatorRequest.letter_no)).where(OperatorRequest.letter_year == year)
    )
    return int(last or 0) + 1


def prepare_letters(
    session: Session, campaign: Campaign, now: dt.datetime | None = None
) -> list[OperatorRequest]:
    """Write (or rewrite) one letter per operator asked; drop the letters of operators no
    longer asked. Numbers, once given, stay.

    Returns:
        The campaign's requests, in the operators' order.
    """
    now = now or utcnow()
    made_on = now.astimezone(localtime.zone()).date()
    codes = list((campaign.audience or {}).get("operators", []))
    chosen = list(
        session.scalars(
            select(MobileOperator)
            .where(MobileOperator.code.in_(codes))
            .order_by(MobileOperator.position, MobileOperator.id)
        )
    )
    existing = {r.operator_id: r for r in requests_of(session, campaign.id)}
    dropped = [rid.id for oid, rid in existing.items() if oid not in {o.id for o in chosen}]
    if dropped:
        session.execute(delete(OperatorRequest).where(OperatorRequest.id.in_(dropped)))
    wording = template(session)
    facts = campaign_facts(session, campaign)
    for operator in chosen:
        req = existing.get(operator.id)
        if req is None:
            req = OperatorRequest(
                campaign_id=campaign.id,
                operator_id=operator.id,
                status=PREPARED,
                letter_year=made_on.year,
                letter_no=_next_number(session, made_on.year),
            )
            session.add(req)
        content = letter_content(campaign, operator, wording, facts, req.letter_no, made_on)
        req.letter, req.letter_hash = content, content_hash(content)
        req.letter_made_at, req.updated_at = now, now
        session.flush()
    return requests_of(session, campaign.id)


def _event(
    session: Session, req: OperatorRequest, user_id: int | None, note: str, now: dt.datetime
) -> None:
    session.add(
        OperatorRequestEvent(
            request_id=req.id,
            status=req.status,
            at=now,
            by_id=user_id,
            note=note,
            reached_total=req.reached_total,
        )
    )


def mark_requested(
    session: Session, campaign: Campaign, user_id: int | None, now: dt.datetime | None = None
) -> int:
    """The letters went out: every prepared request becomes requested; returns how many."""
    now = now or utcnow()
    count = 0
    for req in requests_of(session, campaign.id):
        if req.status == PREPARED:
            req.status, req.requested_at, req.updated_at = REQUESTED, now, now
            req.updated_by_id = user_id
            _event(session, req, user_id, "", now)
            count += 1
    session.flush()
    return count


def read_count(value: object) -> int | None:
    """A count as typed ("1.234.567", "1,234,567", "1 234 567"), None when empty.

    Raises:
        RequestError: when it is not a whole number of zero or more.
    """
    text = re.sub(r"[\s.,\u00a0]", "", str(value if value is not None else ""))
    if not text:
        return None
    if not text.isdigit():
        raise RequestError(f"“{value}” không phải là một số thuê bao.")
    return int(text)


def advance(
    session: Session,
    req: OperatorRequest,
    status: str,
    user_id: int | None,
    note: str = "",
    reached_total: int | None = None,
    reached_by_area: Mapping[int, int] | None = None,
    now: dt.datetime | None = None,
) -> OperatorRequest:
    """Move one operator's request on, with a note; "reported" carries the figures.

    Raises:
        RequestError: an impossible move, or a report without a total.
    """
    now = now or utcnow()
    if status not in MOVES.get(req.status, ()):
        raise RequestError("Không thể chuyển yêu cầu sang trạng thái này từ trạng thái hiện tại.")
    by_area = {str(k): int(v) for k, v in (reached_by_area or {}).items()}
    if status == REPORTED:
        if reached_total is None and by_area:
            reached_total = sum(by_area.values())
        if reached_total is None:
            raise RequestError("Cần nhập số thuê bao đã nhận tin.")
        if by_area and sum(by_area.values()) > reached_total:
            raise RequestError("Tổng theo địa bàn lớn hơn tổng số thuê bao đã báo cáo.")
        req.reached_total, req.reached_by_area = reached_total, by_area
    req.status, req.note, req.updated_at, req.updated_by_id = status, note.strip(), now, user_id
    _event(session, req, user_id, note.strip(), now)
    session.flush()
    return req


def all_answered(session: Session, campaign_id: int) -> bool:
    """Whether every operator asked has reported or declined."""
    states = [r.status for r in requests_of(session, campaign_id)]
    return bool(states) and all(s in ANSWERED for s in states)


@dataclass(frozen=True, slots=True)
class Reminder:
    """An operator that has not answered by the date the campaign set."""

    campaign_id: int
    campaign_name: str
    operator: str
    status: str
    due: dt.date


def reminders(session: Session, today: dt.date) -> list[Reminder]:
    """Requests past their answer date (still ``requested``) or past their report date (not
    yet reported), oldest first."""
    rows = session.execute(
        select(OperatorRequest, Campaign.name, Campaign.delegation)
        .join(Campaign, Campaign.id == OperatorRequest.campaign_id)
        .where(OperatorRequest.status.in_([REQUESTED, ACKNOWLEDGED, SENDING]))
    ).all()
    out = []
    for req, name, spec in rows:
        key = "answer_by" if req.status == REQUESTED else "report_by"
        due = _day((spec or {}).get(key)) or _day((spec or {}).get("report_by"))
        if due is not None and due < today:
            out.append(Reminder(req.campaign_id, name, req.operator.name, req.status, due))
    return sorted(out, key=lambda r: (r.due, r.campaign_id, r.operator))


def history(session: Session, request_ids: Iterable[int]) -> dict[int, list[OperatorRequestEvent]]:
    """The follow-up steps of these requests, oldest first."""
    ids = list(request_ids)
    out: dict[int, list[OperatorRequestEvent]] = {i: [] for i in ids}
    for event in session.scalars(
        select(OperatorRequestEvent)
        .where(OperatorRequestEvent.request_id.in_(ids))
        .order_by(OperatorRequestEvent.at, OperatorRequestEvent.id)
    ):
        out[event.request_id].append(event)
    return out


@dataclass(frozen=True, slots=True)
class Reach:
    """What the operators reported for one delegated campaign.

    ``by_area`` maps an area's name to the subscribers each operator reported there;
    ``unplaced`` is, per operator, the part of its total it did not report by area.
    """

    by_operator: list[OperatorRequest]
    by_area: dict[str, dict[str, int]]
    unplaced: dict[str, int]
    total: int


def reach(session: Session, campaign_id: int) -> Reach:
    """The subscribers the operators reported reaching, by operator and by area."""
    requests_ = requests_of(session, campaign_id)
    ids = {int(k) for r in requests_ for k in (r.reached_by_area or {})}
    names = names_by_id(session, ids)
    by_area: dict[str, dict[str, int]] = {}
    unplaced: dict[str, int] = {}
    for r in requests_:
        if r.reached_total is None:
            continue
        placed = 0
        for key, n in sorted((r.reached_by_area or {}).items()):
            name = names.get(int(key), str(key))
            by_area.setdefault(name, {})[r.operator.name] = int(n)
            placed += int(n)
        if r.reached_total > placed:
            unplaced[r.operator.name] = r.reached_total - placed
    return Reach(
        by_operator=requests_,
        by_area=dict(sorted(by_area.items())),
        unplaced=unplaced,
        total=sum(r.reached_total or 0 for r in requests_),
    )


def broadcast_window(campaign: Campaign, days: int) -> tuple[dt.datetime, dt.datetime] | None:
    """When tips may answer a delegated broadcast: from its day's start (local) for ``days``."""
    if campaign.scheduled_at is None or days <= 0:
        return None
    zone = localtime.zone()
    day = campaign.scheduled_at.astimezone(zone).date()
    start = dt.datetime.combine(day, dt.time(), tzinfo=zone).astimezone(dt.UTC)
    return start, start + dt.timedelta(days=days)


def target_districts(session: Session, audience: Mapping[str, Any]) -> list[int] | None:
    """The district ids a delegated broadcast covered (a ward counts as its district); None
    for the whole province."""
    if audience.get("all"):
        return None
    wards = [int(i) for i in audience.get("wards", [])]
    parents: list[int | None] = (
        list(session.scalars(select(Area.parent_id).where(Area.id.in_(wards)))) if wards else []
    )
    ids = {int(i) for i in audience.get("districts", [])} | {p for p in parents if p}
    return sorted(ids)
