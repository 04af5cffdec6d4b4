"""Users admin: create with role, scope and phone; deactivate; reset a password; rosters."""

from __future__ import annotations

import re
from typing import Any

import pytest
from sqlalchemy import select

from campaigns.areas import load_soc_trang_2024
from gateway.auth import check_password, create_token
from gateway.models import ApiToken, AuditEvent, User
from gateway.tips.models import Roster
from tests.factories import create_user


@pytest.fixture
def areas(session: Any) -> None:
    load_soc_trang_2024(session)
    session.commit()


def _password(html: str) -> str:
    match = re.search(r'<code class="secret">([^<]+)</code>', html)
    assert match, html
    return match.group(1)


def test_create_user_shows_the_password_once(
    client: Any, login_as: Any, session: Any, areas: None
) -> None:
    """A created user can log in with the password shown; the number is stored in E.164."""
    login_as("admin")
    resp = client.post(
        "/users/new",
        data={
            "email": "Can.Bo@ke-sach.vn",
            "name": "Cán bộ Kế Sách",
            "role": "police",
            "scope": "police_ke_sach",
            "phone": "0912 345 678",
        },
    )
    assert resp.status_code == 200
    assert resp.headers["Cache-Control"] == "no-store"
    user = session.scalar(select(User).where(User.email == "can.bo@ke-sach.vn"))
    assert (user.role, user.scope, user.phone) == ("police", "police_ke_sach", "+84912345678")
    assert check_password(user.password_hash, _password(resp.get_data(as_text=True)))
    event = session.scalar(select(AuditEvent).where(AuditEvent.action == "user.create"))
    assert event.object_id == str(user.id)


@pytest.mark.parametrize(
    "data",
    [
        {"email": "not-an-email", "role": "police"},
        {"email": "a@b.vn", "role": "wizard"},
        {"email": "a@b.vn", "role": "hotline_111", "scope": "border_guard"},
        {"email": "a@b.vn", "role": "police", "scope": "police_atlantis"},
        {"email": "a@b.vn", "role": "editor", "scope": "hotline_111"},
        {"email": "a@b.vn", "role": "police", "phone": "12"},
    ],
)
def test_invalid_user_forms_are_refused(
    client: Any, login_as: Any, session: Any, areas: None, data: dict[str, str]
) -> None:
    """Bad email, role, scope or phone answers 422 and creates nobody."""
    login_as("admin")
    assert client.post("/users/new", data=data).status_code == 422
    assert session.scalar(select(User).where(User.email == "a@b.vn")) is None


def test_duplicate_email_is_refused(client: Any, login_as: Any) -> None:
    """An email already in use answers 422."""
    create_user("editor", email="taken@loa.test")
    login_as("admin")
    resp = client.post("/users/new", data={"email": "taken@loa.test", "role": "editor"})
    assert resp.status_code == 422


def test_deactivated_user_cannot_log_in_and_loses_tokens(
    client: Any, auth: Any, session: Any
) -> None:
    """Deactivation blocks login and revokes the user's API tokens."""
    victim = create_user("editor", email="gone@loa.test")
    create_token(victim)
    auth.login("admin")
    assert client.post(f"/users/{victim.id}/deactivate").status_code == 303
    session.expire_all()
    assert session.get(User, victim.id).active is False
    assert session.scalar(select(ApiToken.revoked_at)) is not None
    auth.logout()
    resp = client.post("/login", data={"email": "gone@loa.test", "password": "pw-for-tests"})
    assert resp.status_code == 401


def test_admin_cannot_deactivate_themselves(client: Any, login_as: Any, session: Any) -> None:
    """The last thing an admin should do by accident: lock themselves out. Refused."""
    me = login_as("admin")
    client.post(f"/users/{me.id}/deactivate")
    session.expire_all()
    assert session.get(User, me.id).active is True


def test_reset_password_replaces_the_old_one(client: Any, login_as: Any, session: Any) -> None:
    """After a reset the old password fails and the shown one works; audited."""
    user = create_user("hotline_111", email="reset@loa.test")
    login_as("admin")
    resp = client.post(f"/users/{user.id}/reset-password")
    new_password = _password(resp.get_data(as_text=True))
    session.expire_all()
    fresh = session.get(User, user.id)
    assert check_password(fresh.password_hash, new_password)
    assert not check_password(fresh.password_hash, "pw-for-tests")
    assert session.scalar(select(AuditEvent).where(AuditEvent.action == "user.reset_password"))


def test_roster_shift_is_added_and_removed(
    client: Any, login_as: Any, session: Any, areas: None
) -> None:
    """A shift entered in local time is stored in UTC, listed, and can be removed."""
    officer = create_user("police", scope="police_ke_sach")
    login_as("admin")
    resp = client.post(
        "/users/rosters",
        data={
            "queue": "police_ke_sach",
            "user_id": str(officer.id),
            "starts_at": "2099-07-30T07:00",
            "ends_at": "2099-07-30T19:00",
        },
    )
    assert resp.status_code == 303
    shift = session.scalar(select(Roster))
    assert (shift.starts_at.hour, shift.ends_at.hour) == (0, 12)  # UTC+7
    assert officer.name in client.get("/users/rosters").get_data(as_text=True)
    assert client.post(f"/users/rosters/{shift.id}/delete").status_code == 303
    assert session.scalar(select(Roster)) is None


@pytest.mark.parametrize(
    ("queue", "starts", "ends"),
    [
        ("hotline_111", "2099-07-30T07:00", "2099-07-30T19:00"),  # officer cannot see 111
        ("police_ke_sach", "2099-07-30T19:00", "2099-07-30T07:00"),  # ends before it starts
        ("police_ke_sach", "tomorrow", "2099-07-30T07:00"),
        ("nowhere", "2099-07-30T07:00", "2099-07-30T19:00"),
    ],
)
def test_invalid_shifts_are_refused(
    client: Any, login_as: Any, session: Any, areas: None, queue: str, starts: str, ends: str
) -> None:
    """A shift outside the user's scope or with bad times answers 422."""
    officer = create_user("police", scope="police_ke_sach")
    login_as("admin")
    resp = client.post(
        "/users/rosters",
        data={"queue": queue, "user_id": str(officer.id), "starts_at": starts, "ends_at": ends},
    )
    assert resp.status_code == 422
    assert session.scalar(select(Roster)) is None
