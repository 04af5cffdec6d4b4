"""Builders for test data: ``create_user(role)``, ``create_contact``, ``create_campaign``, ``create_tip``.

Each works inside an app context (the ``app`` fixture) and commits what it creates.
"""

from __future__ import annotations

import itertools
from typing import Any

from campaigns.models import Campaign, Contact, ContactList, ListMember
from gateway import db
from gateway.auth import create_user as _create_user
from gateway.models import User
from gateway.tips.models import Tip

_seq = itertools.count(1)
OFFICIAL_TEXT = (
    "Toàn dân tích cực tham gia phòng, chống mua bán người. Khi phát hiện dấu hiệu liên quan đến "
    "mua bán người hãy thông báo ngay đến cơ quan Công an nơi gần nhất hoặc Tổng đài quốc gia 111 "
    "để được tư vấn, hỗ trợ, hướng dẫn kịp thời"
)


def log_in(client: Any, user: User, password: str, next_: str | None = None) -> Any:
    """Log in through the forms: the password, then (for a user who must use one) a TOTP code,
    provisioning the second factor first as `loa users create --totp` does. Returns the last
    answer (a redirect where ``?next=`` pointed, when all went well)."""
    import pyotp

    from gateway import mfa

    if mfa.required(user) and user.totp_enabled_at is None:
        mfa.provision(user)
        db.session().commit()
    url = "/login" if next_ is None else f"/login?next={next_}"
    resp = client.post(url, data={"email": user.email, "password": password})
    if resp.status_code == 302 and resp.headers["Location"] == "/login/code":
        code = pyotp.TOTP(user.totp_secret).now()
        resp = client.post("/login/code", data={"code": code})
    return resp


def sign_in(client: Any, user_id: int) -> None:
    """Give a test client the cookie of a signed-in browser (a server-side session), without
    the password round trip (argon2 is slow by design); tests of the form post to /login."""
    import hashlib

    from gateway.models import UserSession

    token = f"test-session-{user_id}-{next(_seq)}"
    s = db.session()
    s.add(UserSession(id=hashlib.sha256(token.encode()).hexdigest(), user_id=user_id))
    s.commit()
    with client.session_transaction() as sess:
        sess["_user_id"] = str(user_id)
        sess["_fresh"] = True
        sess["sid"] = token


def create_user(
    role: str = "admin",
    scope: str | None = None,
    email: str | None = None,
    password: str = "pw-for-tests",
    **kw: Any,
) -> User:
    user, _ = _create_user(
        email or f"{role}{next(_seq)}@loa.test", role, password=password, scope=scope, **kw
    )
    return user


def mobile(n: int) -> str:
    """A distinct, valid Viettel number for ``n`` (0 … 9,999,999)."""
    return f"+8498{n:07d}"


def create_contact(phone: str | None = None, **kw: Any) -> Contact:
    contact = Contact(phone=phone or mobile(next(_seq)), **kw)
    s = db.session()
    s.add(contact)
    s.commit()
    return contact


def create_list(name: str | None = None, size: int = 0) -> ContactList:
    s = db.session()
    lst = ContactList(name=name or f"list-{next(_seq)}")
    s.add(lst)
    s.flush()
    for _ in range(size):
        contact = Contact(phone=mobile(next(_seq)))
        s.add(contact)
        s.flush()
        s.add(ListMember(list_id=lst.id, contact_id=contact.id))
    s.commit()
    return lst


def create_campaign(body: str = OFFICIAL_TEXT, **kw: Any) -> Campaign:
    campaign = Campaign(name=kw.pop("name", f"campaign-{next(_seq)}"), body=body, **kw)
    s = db.session()
    s.add(campaign)
    s.commit()
    return campaign


def create_tip(
    body: str = "Có người lạ dụ dỗ trẻ em ở Kế Sách", routed: bool = False, **kw: Any
) -> Tip:
    """A tip row as given; with ``routed=True`` it goes through ``store_tip`` (rules, link)."""
    kw.setdefault("channel", "web")
    s = db.session()
    if routed:
        from gateway.tips.intake import store_tip

        tip, _ = store_tip(s, db.tipline(), body=body, **kw)
        s.commit()
        return tip
    tip = Tip(body=body, **kw)
    s.add(tip)
    s.commit()
    return tip
