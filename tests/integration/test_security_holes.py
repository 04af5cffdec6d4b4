"""Regression tests for the holes a probe found (issue: "Safe enough for the most sensitive
data the province holds"); each failed before its fix."""

from __future__ import annotations

import csv
import io
from typing import Any

import pytest
from sqlalchemy.orm import Session

from campaigns import statuses
from campaigns.models import Delivery
from gateway import create_app
from gateway.auth import create_token
from tests.factories import create_campaign, create_tip, create_user, log_in

PHONE = "+84981230077"


@pytest.mark.parametrize(
    "target",
    [
        "/%09/evil.example/phish",
        "//evil.example/x",
        "/\\evil.example",
        "https://evil.example/",
        "/%0a/evil.example",
        "javascript:alert(1)",
        "/\t/evil.example",
    ],
)
def test_login_never_redirects_off_site(client: Any, target: str) -> None:
    """?next= is parsed: only a path of this site is followed, whatever the encoding."""
    user = create_user("admin", password="pw")
    resp = log_in(client, user, "pw", next_=target)
    assert resp.status_code == 302
    location = resp.headers["Location"]
    assert location == "/", location


def test_login_follows_a_path_of_this_site(client: Any) -> None:
    user = create_user("admin", password="pw")
    resp = log_in(client, user, "pw", next_="/inbox/%3Fq%3Dx")
    assert resp.headers["Location"] == "/inbox/?q=x"


def test_the_api_refuses_the_session_cookie(client: Any, auth: Any) -> None:
    """The JSON API takes bearer tokens only: a logged-in browser (CSRF) gets 401."""
    auth.login("editor")
    assert client.get("/api/v1/lists").status_code == 401
    resp = client.post(
        "/api/v1/optouts",
        json={"phone": PHONE},
        headers={"Origin": "https://evil.example"},
    )
    assert resp.status_code == 401


def test_the_api_still_takes_bearer_tokens(client: Any, app: Any) -> None:
    user = create_user("editor")
    resp = client.get("/api/v1/lists", headers={"Authorization": f"Bearer {create_token(user)}"})
    assert resp.status_code == 200


def _dnc_delivery(session: Session) -> Any:
    campaign = create_campaign()
    session.add(
        Delivery(
            campaign_id=campaign.id, phone=PHONE, status=statuses.SKIPPED,
            skip_reason=statuses.SKIP_DO_NOT_CONTACT,
        )
    )  # fmt: skip
    session.commit()
    return campaign


def test_do_not_contact_is_a_generic_suppression_for_campaign_staff(
    client: Any, auth: Any, session: Session
) -> None:
    """The CSV of an editor (who sees full numbers) shows a do-not-contact skip as
    'suppressed' with the number masked: police decisions about tipsters do not leak."""
    campaign = _dnc_delivery(session)
    auth.login("editor")
    resp = client.get(f"/campaigns/{campaign.id}/deliveries.csv")
    assert resp.status_code == 200
    (row,) = list(csv.DictReader(io.StringIO(resp.get_data(as_text=True).lstrip("\ufeff"))))
    assert row["skip_reason"] == "suppressed"
    assert row["phone"] != PHONE and row["phone"].endswith("077")


def test_do_not_contact_is_generic_in_the_api(app: Any, client: Any, session: Session) -> None:
    campaign = _dnc_delivery(session)
    user = create_user("editor")
    resp = client.get(
        f"/api/v1/campaigns/{campaign.id}/deliveries",
        headers={"Authorization": f"Bearer {create_token(user)}"},
    )
    (item,) = resp.json["items"]
    assert item["skip_reason"] == "suppressed" and item["phone"] != PHONE


@pytest.mark.parametrize(
    "path",
    [
        "/inbox/99999999999999999999999",
        "/campaigns/99999999999999999999999",
        "/inbox/?until=9999-12-31",
        "/inbox/?since=0001-01-01",
    ],
)
def test_overlong_ids_and_dates_are_not_500(client: Any, auth: Any, path: str) -> None:
    auth.login("admin")
    assert client.get(path).status_code in (200, 400, 404)


@pytest.mark.parametrize(
    "query",
    [
        "before=-99999999999999999999999",
        "before=99999999999999999999999",
        "since=9999-12-31T23:59:59",
    ],
)
def test_api_cursors_out_of_range_are_4xx(app: Any, client: Any, query: str) -> None:
    user = create_user("admin")
    resp = client.get(
        f"/api/v1/tips?{query}", headers={"Authorization": f"Bearer {create_token(user)}"}
    )
    assert resp.status_code in (200, 400)


def test_pages_with_tip_bodies_are_not_cached(client: Any, auth: Any) -> None:
    """A shared computer's browser cache must not keep what a tipster wrote."""
    tip = create_tip(queue="police_province")
    auth.login("admin")
    for path in (f"/inbox/{tip.id}", "/inbox/"):
        assert "no-store" in client.get(path).headers.get("Cache-Control", ""), path


def test_api_answers_with_tip_bodies_are_not_cached(app: Any, client: Any) -> None:
    create_tip(queue="police_province")
    user = create_user("admin")
    resp = client.get("/api/v1/tips", headers={"Authorization": f"Bearer {create_token(user)}"})
    assert "no-store" in resp.headers.get("Cache-Control", "")


@pytest.mark.parametrize("path", ["/bao-tin", "/report", "/login"])
def test_anonymous_forms_refuse_big_bodies_before_parsing(client: Any, path: str) -> None:
    """A 1 MiB anonymous post is refused (413) by the form's own cap, not parsed up to 64 MiB;
    chunked, without a Content-Length, it is refused too (the stream stops at the cap)."""
    big = {"body": "x" * (1024 * 1024)}
    assert client.post(path, data=big).status_code == 413
    chunked = client.post(
        path,
        input_stream=io.BytesIO(b"body=" + b"x" * (1024 * 1024)),
        headers={
            "Content-Type": "application/x-www-form-urlencoded",
            "Transfer-Encoding": "chunked",
        },
    )
    assert chunked.status_code in (400, 401, 413)


def test_login_is_throttled_per_account(client: Any, app: Any) -> None:
    """Five wrong passwords lock the account for 15 minutes, even against the right one; the
    lock-out is audited; another account is not locked."""
    user = create_user("editor", password="correct horse battery")
    other = create_user("police", password="another good one")
    for _ in range(5):
        assert client.post("/login", data={"email": user.email, "password": "x"}).status_code == 401
    right = client.post("/login", data={"email": user.email, "password": "correct horse battery"})
    assert right.status_code == 429
    ok = client.post("/login", data={"email": other.email, "password": "another good one"})
    assert ok.status_code == 302


def test_login_is_throttled_per_client(client: Any, app: Any) -> None:
    """Twenty failures from one address, spread over accounts, lock that address out."""
    for i in range(20):
        client.post("/login", data={"email": f"nobody{i}@loa.test", "password": "x"})
    user = create_user("editor", password="correct horse battery")
    resp = client.post("/login", data={"email": user.email, "password": "correct horse battery"})
    assert resp.status_code == 429


def test_an_unknown_account_costs_a_hash_too(client: Any, app: Any, monkeypatch: Any) -> None:
    """The answer's time does not tell whether an account exists: a hash is verified either way."""
    from gateway import auth

    calls = []
    real = auth.check_password
    monkeypatch.setattr(auth, "check_password", lambda h, p: calls.append(h) or real(h, p))
    client.post("/login", data={"email": "nobody@loa.test", "password": "x"})
    user = create_user("editor", password="pw-long-enough")
    client.post("/login", data={"email": user.email, "password": "x"})
    assert len(calls) == 2 and calls[0].startswith("$argon2id$")


def test_exports_neutralise_spreadsheet_formulas(client: Any, auth: Any, session: Session) -> None:
    """A rejected value like =HYPERLINK(…), @SUM(1) or +cmd reaches the CSV as text, with a
    leading apostrophe: Excel never evaluates it."""
    from tests.integration.test_admin_contacts import _upload

    evil = ['=HYPERLINK("http://evil.example","x")', "@SUM(1)", "+cmd|' /C calc'!A0", "-2+3"]
    rows = "phone,name\n" + "".join(f'"{v.replace(chr(34), chr(34) * 2)}",x\n' for v in evil)
    auth.login("editor")
    resp = _upload(client, rows.encode())
    download = client.get(resp.headers["Location"] + "/rejected.csv").get_data(as_text=True)
    values = [row[1] for row in csv.reader(io.StringIO(download.lstrip("\ufeff")))][1:]
    assert values == ["'" + v for v in evil]


def test_spreadsheet_safe_leaves_plain_values() -> None:
    from campaigns.text import spreadsheet_safe

    assert [spreadsheet_safe(v) for v in ("0981", "Kế Sách", 5, None, "=1")] == [
        "0981", "Kế Sách", 5, None, "'=1",
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("env", "base_url", "secure"),
    [
        ("production", "https://loa.soctrang.gov.vn", True),
        ("production", "http://10.0.0.5:5000", True),  # behind a TLS proxy that says http
        ("development", "https://loa.example", True),
        ("development", "http://127.0.0.1:5000", False),  # `make run`: the demo on loopback
    ],
)
def test_session_cookie_flags(
    settings: Any, db_engine: Any, redis_conn: Any, env: str, base_url: str, secure: bool
) -> None:
    """The session cookie is HttpOnly and SameSite=Lax always, and Secure outside the demo."""
    cfg = settings.model_copy(update={"env": env, "public_base_url": base_url})
    app = create_app(cfg, TESTING=True, WTF_CSRF_ENABLED=False)
    client = app.test_client()
    with app.app_context():
        user = create_user("editor", password="pw")
        assert log_in(client, user, "pw").status_code == 302
    app.extensions["loa.engine"].dispose()
    cookie = client.get_cookie("session")
    assert cookie is not None and cookie.http_only and cookie.same_site == "Lax"
    assert cookie.secure is secure


def test_pages_carry_a_strict_content_security_policy(client: Any) -> None:
    """No inline script or style, no framing, no plugins, forms post only here."""
    policy = client.get("/login").headers["Content-Security-Policy"]
    directives = dict(part.strip().split(" ", 1) for part in policy.split(";"))
    assert directives["script-src"] == "'self'" and directives["style-src"] == "'self'"
    assert directives["frame-ancestors"] == "'none'" and directives["object-src"] == "'none'"
    assert directives["form-action"] == "'self'"


def test_where_to_report_a_hole(settings: Any, db_engine: Any, redis_conn: Any) -> None:
    """LOA_SECURITY_CONTACT is on the login page and in /.well-known/security.txt (RFC 9116)."""
    off = create_app(settings, TESTING=True).test_client()
    assert off.get("/.well-known/security.txt").status_code == 404
    cfg = settings.model_copy(update={"security_contact": "antt@soctrang.gov.vn"})
    app = create_app(cfg, TESTING=True)
    client = app.test_client()
    txt = client.get("/.well-known/security.txt")
    assert txt.status_code == 200 and txt.mimetype == "text/plain"
    assert "Contact: mailto:antt@soctrang.gov.vn\n" in txt.get_data(as_text=True)
    assert "Expires: 20" in txt.get_data(as_text=True)
    assert "antt@soctrang.gov.vn" in client.get("/login").get_data(as_text=True)
    app.extensions["loa.engine"].dispose()
