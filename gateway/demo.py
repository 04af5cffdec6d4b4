"""Demo data for `make run`: users of every role, Sóc Trăng's areas, a few hundred contacts, the
official text as a draft campaign (and as a request to the mobile operators), the default routing rules and a few sample tips. Runs once.
"""

from __future__ import annotations

import datetime as dt
import random
import secrets
from collections.abc import Iterator

from flask import current_app
from sqlalchemy import select

from campaigns import areas as areas_mod
from campaigns import delegation, localtime
from campaigns.models import Area, Campaign, Contact, ContactList, ListMember
from gateway import db, var
from gateway.admin import campaign_panel
from gateway.auth import create_user
from gateway.models import User

OFFICIAL_TEXT = (
    "Toàn dân tích cực tham gia phòng, chống mua bán người. Khi phát hiện dấu hiệu liên quan đến "
    "mua bán người hãy thông báo ngay đến cơ quan Công an nơi gần nhất hoặc Tổng đài quốc gia 111 "
    "để được tư vấn, hỗ trợ, hướng dẫn kịp thời"
)
DEMO_LIST = "Danh bạ mẫu Sóc Trăng"
SEED_LIST = "Cán bộ thử nghiệm"
ANYTIME_CAMPAIGN = "Thử toàn quy trình: gửi tới cán bộ, mọi giờ"
DELEGATED_CAMPAIGN = "Ngày 30/7: đề nghị các nhà mạng nhắn tin toàn tỉnh"

USERS = (
    ("admin@loa.local", "admin", None, "Quản trị viên"),
    ("editor@loa.local", "editor", None, "Biên tập viên Sở TT&TT"),
    ("approver@loa.local", "approver", None, "Lãnh đạo Sở TT&TT"),
    ("police@loa.local", "police", "police_province", "Công an tỉnh"),
    ("police.kesach@loa.local", "police", "police_ke_sach", "Công an huyện Kế Sách"),
    ("bienphong@loa.local", "border_guard", "border_guard", "Bộ đội Biên phòng"),
    ("tongdai111@loa.local", "hotline_111", "hotline_111", "Tổng đài 111"),
)
PREFIXES = (
    "98",
    "97",
    "86",
    "33",
    "38",
    "91",
    "94",
    "88",
    "83",
    "90",
    "93",
    "70",
    "79",
    "92",
    "56",
    "99",
)
SAMPLE_TIPS = (
    ("+84981230001", "Có người lạ dụ dỗ mấy cháu học sinh ở Kế Sách đi làm việc nhẹ lương cao"),
    ("+84912340002", "Tau ca o Tran De tuyen nguoi ra khoi, nghi bi ep lam viec"),
    ("+84903450003", "Cứu tôi, tôi đang bị nhốt ở một căn nhà gần chợ Vĩnh Châu"),
)


def seed(contacts: int = 300) -> Iterator[str]:
    """Create the demo data unless it exists; yields lines to print (with the log-ins)."""
    s = db.session()
    creds = current_app.config["LOA_SETTINGS"].var_dir / "demo-credentials.txt"
    if s.scalar(select(User).where(User.email == USERS[0][0])) is not None:
        yield "demo data exists already"
        if creds.exists():
            yield from creds.read_text().splitlines()
        return
    areas_mod.load_soc_trang_2024(s)
    lines = ["demo log-ins (email / password / role):"]
    for email, role, scope, name in USERS:
        password = secrets.token_urlsafe(9)
        create_user(email, role, password=password, scope=scope, name=name)
        lines.append(f"  {email:28} {password:14} {role}{' · ' + scope if scope else ''}")
    lines.append(
        "  roles that see tips (admin, police, border_guard, hotline_111) set up an authenticator"
        " app (TOTP) at their first login"
    )
    districts = list(s.scalars(select(Area).where(Area.kind.in_(("district", "town", "city")))))
    rng = random.Random(3007)
    demo = ContactList(name=DEMO_LIST, description="Danh bạ mẫu cho bản chạy thử")
    seedlist = ContactList(name=SEED_LIST, description="Số của cán bộ để gửi thử")
    s.add_all([demo, seedlist])
    s.flush()
    phones: set[str] = set()
    while len(phones) < contacts:
        phones.add(f"+84{rng.choice(PREFIXES)}{rng.randrange(10**7):07d}")
    for i, phone in enumerate(sorted(phones)):
        district = districts[i % len(districts)]
        contact = Contact(
            phone=phone,
            name=f"Người dân {i + 1}",
            district_id=district.id,
            carrier=_carrier(phone),
            tags=",demo,",
        )
        s.add(contact)
        s.flush()
        s.add(ListMember(list_id=demo.id, contact_id=contact.id))
        if i < 3:
            s.add(ListMember(list_id=seedlist.id, contact_id=contact.id))
    editor = s.scalar(select(User).where(User.role == "editor"))
    draft = Campaign(
        name="Ngày toàn dân phòng, chống mua bán người 30/7",
        body=OFFICIAL_TEXT,
        audience={"lists": [DEMO_LIST]},
        created_by_id=editor.id if editor else None,
    )
    # The official text keeps the legal 07:00-22:00 window; this one goes to the three officials
    # of the test list at any hour, so the whole flow (approve, launch, report) can be tried in
    # the evening too.
    anytime = Campaign(
        name=ANYTIME_CAMPAIGN,
        body=OFFICIAL_TEXT,
        audience={"lists": [SEED_LIST]},
        window_start="00:00",
        window_end="24:00",
        created_by_id=editor.id if editor else None,
    )
    # The plan's own route: the same text, asked of the operators for the whole province.
    delegated = Campaign(
        name=DELEGATED_CAMPAIGN,
        body=OFFICIAL_TEXT,
        route=delegation.ROUTE_OPERATORS,
        audience={"all": True, "operators": ["viettel", "vinaphone", "mobifone", "vietnamobile"]},
        scheduled_at=_next_30_july(),
        delegation={"contact_name": "Biên tập viên Sở TT&TT", "contact_phone": "0299 3822 123"},
        created_by_id=editor.id if editor else None,
    )
    s.flush()  # the list's members count in the drafts' audiences
    for campaign in (draft, anytime, delegated):
        campaign_panel.measure(s, campaign)  # the campaign list shows its size and segments
        s.add(campaign)
    s.commit()
    yield from _seed_tips()
    var.write_secret(creds, "\n".join(lines) + "\n")
    yield from lines


def _next_30_july() -> dt.datetime:
    """08:00 on the next 30 July, Vietnam time, in UTC."""
    zone = localtime.zone()
    today = dt.datetime.now(zone).date()
    year = today.year if today < dt.date(today.year, 7, 30) else today.year + 1
    return dt.datetime(year, 7, 30, 8, 0, tzinfo=zone).astimezone(dt.UTC)


def _carrier(phone: str) -> str | None:
    from campaigns.phones import carrier_of

    return carrier_of(phone)


def _seed_tips() -> Iterator[str]:
    from gateway.tips.intake import store_tip
    from gateway.tips.routing import seed_default_rules

    s = db.session()
    seed_default_rules(s)
    for sender, body in SAMPLE_TIPS:
        store_tip(
            s,
            db.tipline(),
            channel="sms",
            body=body,
            sender=sender,
            provider="simulator",
            provider_message_id=f"demo-{sender[-4:]}",
        )
    s.commit()
    yield f"routing rules and {len(SAMPLE_TIPS)} sample tips created"
