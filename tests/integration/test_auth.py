"""Login, logout, CSRF, roles on the server, and API bearer tokens."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from gateway import create_app
from gateway.auth import create_token
from gateway.models import AuditEvent
from tests.factories import create_user


def test_login_with_the_right_password(client: Any, session: Any) -> None:
    """A good password logs in, lands on the dashboard and is audited."""
    user = create_user("editor", password="correct horse")
    resp = client.post("/login", data={"email": user.email.upper(), "password": "correct horse"})
    assert resp.status_code == 302
    assert client.get("/").status_code == 200
    actions = session.scalars(select(AuditEvent.action).where(AuditEvent.actor_id == user.id)).all()
    assert "login" in actions


@pytest.mark.parametrize("password", ["wrong", "", "x" * 10_000])
def test_login_with_a_wrong_password(client: Any, password: str) -> None:
    """A wrong password is refused with 401 and the form again, never a 500."""
    user = create_user("editor", password="correct horse")
    resp = client.post("/login", data={"email": user.email, "password": password})
    assert resp.status_code == 401
    assert "không đúng" in resp.get_data(as_text=True)


def test_a_deactivated_user_cannot_log_in(client: Any, session: Any) -> None:
    """Deactivating a user locks them out at once."""
    user = create_user("police", password="pw")
    user.active = False
    session.commit()
    assert client.post("/login", data={"email": user.email, "password": "pw"}).status_code == 401


def test_open_redirect_after_login_is_refused(client: Any) -> None:
    """?next= may only point inside Loa."""
    user = create_user("editor", password="pw")
    resp = client.post("/login?next=//evil.example/x", data={"email": user.email, "password": "pw"})
    assert resp.headers["Location"] == "/"


def test_logout_is_post_only(auth: Any, client: Any) -> None:
    """GET /logout does nothing (a link elsewhere cannot log users out); POST does."""
    auth.login("admin")
    assert client.get("/logout").status_code == 405
    assert client.post("/logout").status_code == 302
    assert client.get("/").headers["Location"].startswith("/login")


def test_forms_need_a_csrf_token(settings: Any, db_engine: Any, redis_conn: Any) -> None:
    """With CSRF on (as in production) a login POST without the token is a 400."""
    app = create_app(settings, TESTING=True)
    with app.app_context():
        user = create_user("admin", password="pw")
        resp = app.test_client().post("/login", data={"email": user.email, "password": "pw"})
    app.extensions["loa.engine"].dispose()
    assert resp.status_code == 400


def test_bearer_token_authenticates_api_calls(app: Any, client: Any) -> None:
    """A token from `loa tokens create` identifies its user; a bad one is refused."""
    from flask import Blueprint

    from gateway.auth import current, require

    user = create_user("editor")
    token = create_token(user)
    bp = Blueprint("probe", __name__)

    @bp.get("/probe")
    @require("campaigns.view", api=True)
    def probe() -> Any:
        return {"email": current().email}  # type: ignore[union-attr]

    @bp.get("/probe-admin")
    @require("users.manage", api=True)
    def probe_admin() -> Any:
        return {}

    app.register_blueprint(bp)
    assert client.get("/probe", headers={"Authorization": f"Bearer {token}"}).get_json() == {
        "email": user.email
    }
    assert client.get("/probe", headers={"Authorization": "Bearer loa_forged"}).status_code == 401
    assert client.get("/probe").status_code == 401
    assert (
        client.get("/probe-admin", headers={"Authorization": f"Bearer {token}"}).status_code == 403
    )


def test_vietnamese_by_default_english_on_request(client: Any) -> None:
    """The login page speaks Vietnamese unless English is chosen."""
    assert "Đăng nhập" in client.get("/login").get_data(as_text=True)
    english = client.get("/login?lang=en").get_data(as_text=True)
    assert "Log in" in english
    assert "Log in" in client.get("/login").get_data(as_text=True)  # the choice sticks


def test_language_links_keep_the_page_and_its_query(auth: Any, client: Any) -> None:
    """Switching language on a filtered page keeps the filters."""
    auth.login("police")
    html = client.get("/inbox/?status=new&priority=urgent").get_data(as_text=True)
    assert 'href="/inbox/?status=new&amp;priority=urgent&amp;lang=en"' in html
