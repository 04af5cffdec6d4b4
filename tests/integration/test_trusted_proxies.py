"""LOA_TRUSTED_PROXIES: behind that many reverse proxies the limits key on the real client;
without it a forged X-Forwarded-For changes nothing."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import func, select

from gateway import create_app, db
from gateway.auth import CLIENT_FAILURES
from gateway.public_form import RATE_LIMIT
from gateway.settings import Settings
from gateway.tips.models import Tip
from tests.factories import create_user

PROXY = {"REMOTE_ADDR": "10.0.0.1"}  # every request arrives from the one proxy


@pytest.fixture
def proxied(settings: Settings, db_engine: Any, redis_conn: Any) -> Iterator[Any]:
    """The app behind one trusted reverse proxy."""
    application = create_app(
        settings.model_copy(update={"trusted_proxies": 1}), TESTING=True, WTF_CSRF_ENABLED=False
    )
    with application.app_context():
        yield application
    application.extensions["loa.engine"].dispose()


def _tips() -> int:
    s = db.session()
    s.expire_all()
    return int(s.scalar(select(func.count()).select_from(Tip)) or 0)


def _tip(client: Any, body: str, forwarded_for: str) -> Any:
    headers = {"X-Forwarded-For": forwarded_for}
    return client.post("/bao-tin", data={"body": body}, headers=headers, environ_base=PROXY)


def _login(client: Any, email: str, password: str, forwarded_for: str) -> Any:
    headers = {"X-Forwarded-For": forwarded_for}
    data = {"email": email, "password": password}
    return client.post("/login", data=data, headers=headers, environ_base=PROXY)


def test_behind_a_proxy_each_client_has_its_own_tip_limit(proxied: Any) -> None:
    """Client A's six posts make A wait; client B, through the same proxy, is stored at once."""
    client = proxied.test_client()
    for i in range(RATE_LIMIT):
        assert _tip(client, f"A {i}", "203.0.113.5").status_code == 302
    assert _tip(client, "A thừa", "203.0.113.5").status_code == 429
    assert _tip(client, "tin của B", "198.51.100.7").status_code == 302
    assert _tips() == RATE_LIMIT + 1
    assert db.session().scalar(select(Tip.id).where(Tip.body == "tin của B"))


def test_behind_a_proxy_only_the_proxys_hop_is_believed(proxied: Any) -> None:
    """What the client wrote before the proxy's own entry is ignored: forging it per post does
    not reset the client's limit."""
    client = proxied.test_client()
    for i in range(RATE_LIMIT):
        assert _tip(client, f"A {i}", f"192.0.2.{i}, 203.0.113.5").status_code == 302
    assert _tip(client, "A thừa", "192.0.2.99, 203.0.113.5").status_code == 429
    assert _tips() == RATE_LIMIT


def test_without_trusted_proxies_a_forged_forwarded_for_is_ignored(client: Any) -> None:
    """LOA_TRUSTED_PROXIES=0: a new X-Forwarded-For on each post does not reset the limit."""
    for i in range(RATE_LIMIT):
        assert _tip(client, f"tin {i}", f"203.0.113.{i}").status_code == 302
    assert _tip(client, "tin thừa", "203.0.113.99").status_code == 429
    assert _tips() == RATE_LIMIT


def test_behind_a_proxy_login_throttling_is_per_client(proxied: Any) -> None:
    """Failures from client A lock A out; client B, through the same proxy, still logs in."""
    client = proxied.test_client()
    user = create_user("editor", password="correct horse battery")
    for i in range(CLIENT_FAILURES):
        _login(client, f"nobody{i}@loa.test", "x", "203.0.113.5")
    assert _login(client, user.email, "correct horse battery", "203.0.113.5").status_code == 429
    assert _login(client, user.email, "correct horse battery", "198.51.100.7").status_code == 302


def test_without_trusted_proxies_login_throttling_ignores_forwarded_for(client: Any) -> None:
    """LOA_TRUSTED_PROXIES=0: failures under ever new X-Forwarded-For still lock the address."""
    user = create_user("editor", password="correct horse battery")
    for i in range(CLIENT_FAILURES):
        _login(client, f"nobody{i}@loa.test", "x", f"203.0.113.{i}")
    assert _login(client, user.email, "correct horse battery", "198.51.100.7").status_code == 429


def test_behind_a_proxy_the_scheme_is_the_proxys(proxied: Any) -> None:
    """X-Forwarded-Proto from the trusted proxy makes the request https (secure cookies, URLs)."""
    from flask import request

    seen: list[str] = []
    proxied.before_request_funcs.setdefault(None, []).append(lambda: seen.append(request.scheme))
    proxied.test_client().get(
        "/bao-tin", headers={"X-Forwarded-Proto": "https"}, environ_base=PROXY
    )
    assert seen == ["https"]
