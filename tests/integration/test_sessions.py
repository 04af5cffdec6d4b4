"""Server-side sessions: logout, a password reset, deactivation, 'sign out everywhere' and the
idle and absolute timeouts end a session; its old cookie then opens nothing."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from sqlalchemy import update
from sqlalchemy.orm import Session

from campaigns.db import utcnow
from gateway.models import UserSession
from tests.factories import create_user, log_in

PW = "correct horse battery"


def _login(client: Any, role: str = "police") -> Any:
    user = create_user(role, scope="police_province" if role == "police" else None, password=PW)
    resp = log_in(client, user, PW)
    assert resp.status_code == 302
    assert client.get("/inbox/").status_code == 200
    return user


def _replay(client: Any, cookie: str) -> int:
    client.set_cookie("session", cookie)
    status: int = client.get("/inbox/").status_code
    return status


def test_logout_revokes_the_cookie(client: Any, session: Session) -> None:
    """The cookie of a logged-out browser, replayed, opens neither the inbox nor the API."""
    _login(client)
    cookie = client.get_cookie("session").value
    client.post("/logout")
    assert _replay(client, cookie) == 302  # to the login page
    assert client.get("/api/v1/tips").status_code == 401


@pytest.mark.parametrize("action", ["reset-password", "deactivate", "sign-out"])
def test_an_admin_ends_every_session_of_a_user(
    client: Any, app: Any, session: Session, action: str
) -> None:
    """A password reset, a deactivation (then reactivation) or 'sign out everywhere' ends the
    user's open sessions for good."""
    user = _login(client)
    cookie = client.get_cookie("session").value
    admin = app.test_client()
    log_in(admin, create_user("admin", email="boss@loa.test", password=PW), PW)
    assert admin.post(f"/users/{user.id}/{action}").status_code in (200, 303)
    if action == "deactivate":
        assert admin.post(f"/users/{user.id}/activate").status_code == 303
    assert _replay(client, cookie) == 302


@pytest.mark.parametrize(
    ("column", "age"),
    [("last_seen_at", dt.timedelta(minutes=31)), ("created_at", dt.timedelta(hours=13))],
    ids=["idle", "absolute"],
)
def test_sessions_time_out(client: Any, session: Session, column: str, age: dt.timedelta) -> None:
    """30 minutes without a request, or 12 hours after login, end a session."""
    _login(client)
    session.execute(update(UserSession).values({column: utcnow() - age}))
    session.commit()
    assert client.get("/inbox/").status_code == 302
    assert session.query(UserSession).count() == 0  # the ended session is gone


def test_a_login_starts_a_fresh_session(client: Any, session: Session) -> None:
    """Each login is its own server-side session; only a hash of its token is stored."""
    _login(client)
    cookie = client.get_cookie("session").value
    (row,) = session.query(UserSession).all()
    assert len(row.id) == 64 and row.id not in cookie
