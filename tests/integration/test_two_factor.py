"""Two-factor sign-in (TOTP and recovery codes), the password rule, and one's own account page."""

from __future__ import annotations

import re
import time
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pyotp
import pytest
from sqlalchemy import select

from gateway import db, mfa, passwords
from gateway.models import AuditEvent, RecoveryCode, User
from tests.factories import create_user

PW = "pw-for-tests"


def _password_step(client: Any, user: User, next_: str = "") -> Any:
    url = f"/login?next={next_}" if next_ else "/login"
    return client.post(url, data={"email": user.email, "password": PW})


def _actions(session: Any, user: User) -> list[str]:
    rows = session.scalars(
        select(AuditEvent.action).where(
            (AuditEvent.actor_id == user.id) | (AuditEvent.object_id == str(user.id))
        )
    )
    return list(rows)


def test_a_tip_role_enrols_at_first_login_before_any_session(client: Any, session: Any) -> None:
    """Police with no second factor: the right password leads to enrolment (QR code and key),
    and nothing opens until a code from the app proves it; then ten recovery codes, once."""
    user = create_user("police", scope="police_ke_sach", password=PW)
    resp = _password_step(client, user, "/inbox/")
    assert resp.headers["Location"] == "/login/enrol"
    assert client.get("/inbox/").status_code == 302  # the password alone opens nothing

    page = client.get("/login/enrol").get_data(as_text=True)
    assert 'src="data:image/svg+xml;base64,' in page
    assert 'autocomplete="one-time-code"' in page
    key = re.search(r'class="totp-key">([A-Z2-7 ]+)<', page)
    assert key is not None
    secret = key.group(1).replace(" ", "")
    session.refresh(user)
    assert user.totp_secret == secret and user.totp_enabled_at is None

    assert client.post("/login/enrol", data={"code": "000000"}).status_code == 400
    assert client.get("/inbox/").status_code == 302

    resp = client.post("/login/enrol", data={"code": pyotp.TOTP(secret).now()})
    assert resp.status_code == 200
    assert resp.headers["Cache-Control"] == "no-store"
    codes = re.findall(r"<code>([a-z2-9]{5}-[a-z2-9]{5})</code>", resp.get_data(as_text=True))
    assert len(set(codes)) == 10
    assert 'href="/inbox/"' in resp.get_data(as_text=True)  # then on to where they were going
    assert client.get("/inbox/").status_code == 200
    session.refresh(user)
    assert user.totp_enabled_at is not None
    stored = session.scalars(select(RecoveryCode.code_hash).where(RecoveryCode.user_id == user.id))
    assert not set(codes) & set(stored)  # only hashes are kept
    assert {"mfa.enrolled", "login"} <= set(_actions(session, user))


def test_an_enrolled_user_gives_a_code_once(app: Any, client: Any, session: Any) -> None:
    """The code step: a wrong code is refused, the right one opens the session and goes to
    ?next=, and the same code cannot sign in a second browser."""
    user = create_user("hotline_111", password=PW)
    mfa.provision(user)
    session.commit()
    assert _password_step(client, user, "/inbox/").headers["Location"] == "/login/code"
    page = client.get("/login/code").get_data(as_text=True)
    assert 'autocomplete="one-time-code"' in page
    assert client.post("/login/code", data={"code": "123456"}).status_code == 401
    code = pyotp.TOTP(user.totp_secret).now()
    resp = client.post("/login/code", data={"code": code})
    assert (resp.status_code, resp.headers["Location"]) == (302, "/inbox/")
    assert client.get("/inbox/").status_code == 200

    other = app.test_client()
    assert _password_step(other, user).headers["Location"] == "/login/code"
    assert other.post("/login/code", data={"code": code}).status_code == 401  # replayed
    assert other.get("/inbox/").status_code == 302


def test_a_recovery_code_signs_in_once(app: Any, client: Any, session: Any) -> None:
    """Lost phone: a recovery code stands in for the TOTP code, and only once."""
    user = create_user("border_guard", password=PW)
    mfa.provision(user)
    codes = mfa.new_recovery_codes(session, user)
    session.commit()
    _password_step(client, user)
    typed = codes[3].upper().replace("-", " ")  # as a person copies it from paper
    assert client.post("/login/code", data={"code": typed}).status_code == 302
    assert client.get("/inbox/").status_code == 200
    assert mfa.recovery_codes_left(session, user) == 9

    other = app.test_client()
    _password_step(other, user)
    assert other.post("/login/code", data={"code": codes[3]}).status_code == 401


def test_the_code_step_is_throttled_and_expires(app: Any, client: Any, session: Any) -> None:
    """Guessing codes locks the account like wrong passwords do; and the step is only open for
    a few minutes after the password."""
    user = create_user("admin", password=PW)
    mfa.provision(user)
    session.commit()
    _password_step(client, user)
    answers = [client.post("/login/code", data={"code": f"{n:06d}"}).status_code for n in range(6)]
    assert answers[:5] == [401] * 5 and answers[5] == 429
    good = client.post("/login/code", data={"code": pyotp.TOTP(user.totp_secret).now()})
    assert good.status_code == 429  # locked out, even with the right code

    assert _password_step(app.test_client(), user).status_code == 429  # the password step too

    other = create_user("admin", password=PW)
    mfa.provision(other)
    session.commit()
    late = app.test_client()
    _password_step(late, other)
    with late.session_transaction() as sess:
        sess["pending"] = {**sess["pending"], "at": int(time.time()) - 301}
    assert late.get("/login/code").headers["Location"] == "/login"


def test_the_code_step_needs_the_password_first(client: Any) -> None:
    """No password just now: the code and enrolment pages send back to the login."""
    assert client.get("/login/code").headers["Location"] == "/login"
    assert client.post("/login/enrol", data={"code": "123456"}).headers["Location"] == "/login"


def test_an_editor_may_turn_two_factor_on_and_then_must_use_it(
    app: Any, client: Any, session: Any
) -> None:
    """Campaign roles sign in with a password alone, until they turn the second factor on."""
    user = create_user("editor", password=PW)
    assert _password_step(client, user).headers["Location"] == "/"
    page = client.get("/account/").get_data(as_text=True)
    assert "Chưa bật" in page
    enrol = client.get("/account/2fa").get_data(as_text=True)
    secret = re.search(r'class="totp-key">([A-Z2-7 ]+)<', enrol).group(1).replace(" ", "")  # type: ignore[union-attr]
    resp = client.post("/account/2fa", data={"code": pyotp.TOTP(secret).now()})
    assert (
        len(re.findall(r"<code>[a-z2-9]{5}-[a-z2-9]{5}</code>", resp.get_data(as_text=True))) == 10
    )

    other = app.test_client()
    assert _password_step(other, user).headers["Location"] == "/login/code"


def test_an_admin_resets_a_lost_second_factor(
    app: Any, client: Any, login_as: Any, session: Any
) -> None:
    """Lost phone and codes: an admin resets it; the user's sessions end and the next sign-in
    enrols again."""
    user = create_user("police", scope="police_ke_sach", password=PW)
    mfa.provision(user)
    mfa.new_recovery_codes(session, user)
    session.commit()
    theirs = app.test_client()
    _password_step(theirs, user)
    theirs.post("/login/code", data={"code": pyotp.TOTP(user.totp_secret).now()})
    assert theirs.get("/inbox/").status_code == 200

    login_as("admin")
    assert client.post(f"/users/{user.id}/reset-2fa").status_code == 303
    session.refresh(user)
    assert user.totp_secret is None and user.totp_enabled_at is None
    assert mfa.recovery_codes_left(session, user) == 0
    assert theirs.get("/inbox/").status_code == 302
    assert _password_step(app.test_client(), user).headers["Location"] == "/login/enrol"
    assert "user.reset_2fa" in _actions(session, user)


def test_only_an_admin_resets_a_second_factor(client: Any, login_as: Any, session: Any) -> None:
    user = create_user("police", scope="police_ke_sach", password=PW)
    mfa.provision(user)
    session.commit()
    login_as("police", scope="police_province")
    assert client.post(f"/users/{user.id}/reset-2fa").status_code == 403
    session.refresh(user)
    assert user.totp_enabled_at is not None


def test_changing_ones_password(app: Any, client: Any, session: Any) -> None:
    """The current password is needed, the rule applies, and the change ends other sessions
    but not this one."""
    user = create_user("editor", password=PW)
    elsewhere = app.test_client()
    _password_step(elsewhere, user)
    _password_step(client, user)
    assert elsewhere.get("/").status_code == 200

    def change(current: str, new: str, confirm: str | None = None) -> str:
        data = {"password": current, "new_password": new, "confirm": confirm or new}
        client.post("/account/password", data=data)
        return client.get("/account/").get_data(as_text=True)

    assert "Mật khẩu hiện tại không đúng" in change("wrong", "a much longer passphrase here")
    assert "ít nhất 12 ký tự" in change(PW, "short")
    assert "quá dễ đoán" in change(PW, "password1234")
    assert "không khớp" in change(PW, "a much longer passphrase here", "something else")
    session.refresh(user)
    assert mfa and user.password_hash == user.password_hash  # unchanged so far
    before = user.password_hash

    change(PW, "cây dừa Kế Sách nghiêng về hướng bắc")
    session.refresh(user)
    assert user.password_hash != before
    assert client.get("/").status_code == 200
    assert elsewhere.get("/").status_code == 302
    assert "user.password_changed" in _actions(session, user)
    fresh = app.test_client()
    login = {"email": user.email, "password": "cây dừa Kế Sách nghiêng về hướng bắc"}
    assert fresh.post("/login", data=login).status_code == 302


def test_account_page_needs_a_session(client: Any) -> None:
    assert client.get("/account/").headers["Location"].startswith("/login")
    assert client.post("/account/password", data={}).status_code == 302


@pytest.mark.parametrize(
    ("password", "problem"),
    [
        ("short", "too_short"),
        ("x" * 129, "too_long"),
        ("password1234", "guessable"),
        ("qwertyuiop12", "guessable"),
        ("matkhau123456", "guessable"),
        ("Mật khẩu 123456", "guessable"),  # folded, it is the one above
        ("soctrang2024", "guessable"),
        ("loaloaloaloa", "guessable"),
        ("nguyen.van.an@loa.test", "guessable"),  # the user's own email
        ("cây dừa Kế Sách nghiêng về hướng bắc", None),
        ("tY7#qLw9!zR2", None),
    ],
)
def test_the_password_rule(password: str, problem: str | None) -> None:
    assert passwords.problem(password, ("nguyen.van.an@loa.test", "Nguyễn Văn An")) == problem


def test_cli_refuses_a_weak_password_and_provisions_totp(runner: Any, session: Any) -> None:
    """`loa users create --password` applies the rule; `--totp` prints the otpauth:// URI and
    recovery codes, and that URI's codes sign the user in."""
    weak = runner.invoke(
        args=["users", "create", "a@loa.test", "--role", "editor", "--password", "x"]
    )
    assert weak.exit_code != 0 and "at least 12 characters" in weak.output
    assert session.scalar(select(User).where(User.email == "a@loa.test")) is None

    args = ["users", "create", "cs111@loa.test", "--role", "hotline_111", "--totp"]
    result = runner.invoke(args=[*args, "--password", "bốn con mèo ngủ trên mái nhà"])
    assert result.exit_code == 0, result.output
    uri = re.search(r"totp=(otpauth://\S+)", result.output).group(1)  # type: ignore[union-attr]
    assert urlsplit(uri).netloc == "totp" and parse_qs(urlsplit(uri).query)["issuer"] == ["Loa"]
    assert len(re.findall(r"\b[a-z2-9]{5}-[a-z2-9]{5}\b", result.output)) == 10
    user = session.scalar(select(User).where(User.email == "cs111@loa.test"))
    session.refresh(user)
    assert user.totp_enabled_at is not None
    assert mfa.verify(user, pyotp.parse_uri(uri).now())
    db.session().rollback()
