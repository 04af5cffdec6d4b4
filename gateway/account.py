"""Your own account (every role): change the password, turn on two-factor sign-in, get new
recovery codes. Each change is audited; a new password ends every other session."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Flask, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _

from gateway import audit, db, mfa, passwords
from gateway.auth import (
    check_password,
    current,
    end_sessions,
    enrolment,
    hash_password,
    recovery_codes_page,
    require,
    start_session,
)
from gateway.labels import PASSWORD_PROBLEMS, label
from gateway.models import User

bp = Blueprint("account", __name__, url_prefix="/account")


def _me() -> User:
    user = current()
    assert user is not None  # require() let only signed-in users through
    return user


@bp.get("/")
@require("account.self")
def account() -> Any:
    user = _me()
    left = mfa.recovery_codes_left(db.session(), user) if user.totp_enabled_at else 0
    return render_template(
        "account/account.html",
        user=user,
        required=mfa.required(user),
        codes_left=left,
        min_length=passwords.MIN_LENGTH,
    )


@bp.post("/password")
@require("account.self")
def change_password() -> Any:
    """A new password: the current one proves it is you; the rule of ``gateway.passwords``."""
    user = _me()
    s = db.session()
    new = request.form.get("new_password", "")[:500]
    problem = None
    if not check_password(user.password_hash, request.form.get("password", "")[:500]):
        problem = _("Mật khẩu hiện tại không đúng.")
    elif new != request.form.get("confirm", "")[:500]:
        problem = _("Hai lần nhập mật khẩu mới không khớp.")
    elif code := passwords.problem(new, (user.email, user.name)):
        problem = label(PASSWORD_PROBLEMS, code)
    if problem:
        flash(problem, "error")
        return redirect(url_for("account.account")), 303
    user.password_hash = hash_password(new)
    end_sessions(s, user.id)  # every other browser signs in again
    start_session(user)
    audit.record("user.password_changed", object_type="user", object_id=user.id)
    s.commit()
    flash(_("Đã đổi mật khẩu. Các phiên đăng nhập khác đã bị đăng xuất."), "success")
    return redirect(url_for("account.account")), 303


@bp.route("/2fa", methods=["GET", "POST"])
@require("account.self")
def two_factor() -> Any:
    """Turn two-factor sign-in on (for roles that need not, or after an admin reset it)."""
    user = _me()
    if user.totp_enabled_at is not None:
        return redirect(url_for("account.account"))
    page = enrolment(user, url_for("account.two_factor"))
    if page is not None:
        return page
    s = db.session()
    codes = mfa.new_recovery_codes(s, user)
    audit.record("mfa.enrolled", object_type="user", object_id=user.id)
    s.commit()
    return recovery_codes_page(codes, url_for("account.account"))


@bp.post("/recovery-codes")
@require("account.self")
def recovery_codes() -> Any:
    """New recovery codes: the old ones stop working."""
    user = _me()
    if user.totp_enabled_at is None:
        return redirect(url_for("account.account")), 303
    s = db.session()
    codes = mfa.new_recovery_codes(s, user)
    audit.record("mfa.recovery_codes_renewed", object_type="user", object_id=user.id)
    s.commit()
    return recovery_codes_page(codes, url_for("account.account"))


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
