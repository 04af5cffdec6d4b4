"""Users admin (admins only): list, create, deactivate, reset a password; API tokens;
on-duty rosters."""

from __future__ import annotations

import datetime as dt
import secrets
from typing import Any

from flask import (
    Blueprint,
    Flask,
    abort,
    flash,
    make_response,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import select, update

from campaigns import localtime, phones
from campaigns.db import utcnow
from gateway import audit, db, mfa
from gateway.admin import (
    known_queues,
    one_page,
    register_helpers,
    scope_error,
)
from gateway.auth import (
    TOKEN_DAYS,
    create_user,
    current,
    end_sessions,
    hash_password,
    new_token,
    require,
    revoke_token,
    token_state,
)
from gateway.labels import TOKEN_STATE_LABELS
from gateway.models import ApiToken, User
from gateway.roles import ROLES, TIP_ROLES, may_see_queue
from gateway.tips.models import Roster
from gateway.web import register_nav

bp = Blueprint("users", __name__, url_prefix="/users")


def _user_or_404(user_id: int) -> User:
    user = db.session().get(User, user_id)
    if user is None:
        abort(404)
    return user


def _password_page(user: User, password: str) -> Any:
    resp = make_response(render_template("users/user_password.html", user=user, password=password))
    resp.headers["Cache-Control"] = "no-store"  # the password must not outlive this page
    return resp


@bp.get("/")
@require("users.manage")
def user_list() -> Any:
    """Every user, active first, with role, scope and last login."""
    rows, page, has_next = one_page(
        db.session(), select(User).order_by(User.active.desc(), User.email)
    )
    return render_template("users/user_list.html", users=rows, page=page, has_next=has_next)


def _form_errors(form: dict[str, str], queues: list[str]) -> dict[str, str]:
    errors: dict[str, str] = {}
    if "@" not in form["email"] or len(form["email"]) > 200:
        errors["email"] = _("Email không hợp lệ.")
    if form["role"] not in ROLES:
        errors["role"] = _("Vai trò không hợp lệ.")
    else:
        problem = scope_error(form["role"], form["scope"] or None, queues)
        if problem:
            errors["scope"] = problem
    if form["phone"]:
        number = phones.normalize(form["phone"])
        if not number.valid or number.e164 is None:
            errors["phone"] = _("Số điện thoại không hợp lệ.")
        else:
            form["phone"] = number.e164
    if len(form["name"]) > 200:
        errors["name"] = _("Tên quá dài.")
    return errors


@bp.route("/new", methods=["GET", "POST"])
@require("users.manage")
def user_create() -> Any:
    """Create a user; the generated password is shown once, on this answer only."""
    queues = known_queues(db.session())
    form = {k: request.form.get(k, "").strip() for k in ("email", "name", "role", "scope", "phone")}
    form["email"] = form["email"].lower()
    errors: dict[str, str] = {}
    if request.method == "POST":
        errors = _form_errors(form, queues)
        if not errors:
            try:
                user, password = create_user(
                    form["email"],
                    form["role"],
                    scope=form["scope"] or None,
                    name=form["name"],
                    phone=form["phone"] or None,
                )
            except ValueError:
                errors["email"] = _("Email này đã có người dùng.")
            else:
                audit.record(
                    "user.create",
                    object_type="user",
                    object_id=user.id,
                    details={"role": user.role, "scope": user.scope},
                )
                db.session().commit()
                return _password_page(user, password)
    return render_template(
        "users/user_form.html", form=form, errors=errors, roles=ROLES, queues=queues
    ), (422 if errors else 200)


@bp.post("/<int:user_id>/deactivate")
@require("users.manage")
def user_deactivate(user_id: int) -> Any:
    """Deactivate a user (never deleted: the audit log refers to them) and revoke their tokens."""
    user = _user_or_404(user_id)
    actor = current()
    if actor is not None and actor.id == user.id:
        flash(_("Bạn không thể tự vô hiệu hoá tài khoản của mình."), "error")
        return redirect(url_for("users.user_list")), 303
    s = db.session()
    user.active = False
    s.execute(
        update(ApiToken)
        .where(ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None))
        .values(revoked_at=utcnow())
    )
    end_sessions(s, user.id)
    audit.record("user.deactivate", object_type="user", object_id=user.id)
    s.commit()
    flash(_("Đã vô hiệu hoá %(email)s.", email=user.email), "success")
    return redirect(url_for("users.user_list")), 303


@bp.post("/<int:user_id>/activate")
@require("users.manage")
def user_activate(user_id: int) -> Any:
    """Let a deactivated user log in again."""
    user = _user_or_404(user_id)
    user.active = True
    audit.record("user.activate", object_type="user", object_id=user.id)
    db.session().commit()
    flash(_("Đã kích hoạt lại %(email)s.", email=user.email), "success")
    return redirect(url_for("users.user_list")), 303


@bp.post("/<int:user_id>/reset-password")
@require("users.manage")
def user_reset_password(user_id: int) -> Any:
    """Give a user a new random password, shown once to the admin (never logged or flashed)."""
    user = _user_or_404(user_id)
    password = secrets.token_urlsafe(12)
    user.password_hash = hash_password(password)
    end_sessions(db.session(), user.id)
    audit.record("user.reset_password", object_type="user", object_id=user.id)
    db.session().commit()
    return _password_page(user, password)


@bp.post("/<int:user_id>/sign-out")
@require("users.manage")
def user_sign_out(user_id: int) -> Any:
    """Sign a user out everywhere: every browser session ends at its next request."""
    user = _user_or_404(user_id)
    s = db.session()
    ended = end_sessions(s, user.id)
    audit.record(
        "user.sign_out", object_type="user", object_id=user.id, details={"sessions": ended}
    )
    s.commit()
    flash(_("Đã đăng xuất %(email)s khỏi mọi nơi.", email=user.email), "success")
    return redirect(url_for("users.user_list")), 303


@bp.post("/<int:user_id>/reset-2fa")
@require("users.manage")
def user_reset_2fa(user_id: int) -> Any:
    """Forget a user's second factor (lost phone and codes): they enrol again at next sign-in,
    and every session they hold ends now."""
    user = _user_or_404(user_id)
    s = db.session()
    mfa.reset(s, user)
    end_sessions(s, user.id)
    audit.record("user.reset_2fa", object_type="user", object_id=user.id)
    s.commit()
    flash(
        _("Đã tắt xác thực hai lớp của %(email)s; lần đăng nhập tới sẽ cài lại.", email=user.email),
        "success",
    )
    return redirect(url_for("users.user_list")), 303


@bp.get("/<int:user_id>/tokens")
@require("users.manage")
def token_list(user_id: int) -> Any:
    """A user's API tokens (never their secrets), with a form to create one."""
    user = _user_or_404(user_id)
    tokens = db.session().scalars(
        select(ApiToken).where(ApiToken.user_id == user.id).order_by(ApiToken.id.desc())
    )
    now = utcnow()
    rows = [(t, token_state(t, now)) for t in tokens]
    return render_template("users/token_list.html", user=user, rows=rows, states=TOKEN_STATE_LABELS)


@bp.post("/<int:user_id>/tokens/new")
@require("users.manage")
def token_create(user_id: int) -> Any:
    """Create a token for a user; its secret is shown on this answer only."""
    user = _user_or_404(user_id)
    name = request.form.get("name", "").strip()[:100]
    days = request.form.get("expires_days", "")
    expires_days = int(days) if days.isdigit() and int(days) <= 3650 else TOKEN_DAYS
    s = db.session()
    token, secret = new_token(user, name, expires_days)
    s.commit()
    resp = make_response(
        render_template("users/token_created.html", user=user, token=token, secret=secret)
    )
    resp.headers["Cache-Control"] = "no-store"  # the secret must not outlive this page
    return resp


@bp.post("/<int:user_id>/tokens/<int:token_id>/revoke")
@require("users.manage")
def token_revoke(user_id: int, token_id: int) -> Any:
    """Revoke one token of a user (again: nothing happens)."""
    s = db.session()
    token = s.get(ApiToken, token_id)
    if token is None or token.user_id != user_id:
        abort(404)
    if revoke_token(token):
        s.commit()
    flash(_("Đã thu hồi token %(name)s.", name=token.name or token.id), "success")
    return redirect(url_for("users.token_list", user_id=user_id)), 303


def _local_datetime(value: str) -> dt.datetime | None:
    """A ``datetime-local`` form value (Loa's time zone) as UTC; None when missing or malformed."""
    try:
        naive = dt.datetime.fromisoformat(value.strip())
    except ValueError:
        return None
    if naive.tzinfo is not None:
        return None
    zone = localtime.zone()
    return naive.replace(tzinfo=zone).astimezone(dt.UTC)


@bp.route("/rosters", methods=["GET", "POST"])
@require("users.manage")
def roster_list() -> Any:
    """On-duty shifts per queue (current and coming ones), and a form to add one."""
    s = db.session()
    queues = known_queues(s)
    errors: list[str] = []
    if request.method == "POST":
        queue = request.form.get("queue", "")
        user = (
            s.get(User, int(request.form["user_id"]))
            if request.form.get("user_id", "").isdigit()
            else None
        )
        starts = _local_datetime(request.form.get("starts_at", ""))
        ends = _local_datetime(request.form.get("ends_at", ""))
        if queue not in queues:
            errors.append(_("Hàng đợi không tồn tại."))
        if user is None or not user.active:
            errors.append(_("Người dùng không tồn tại."))
        elif queue in queues and not may_see_queue(user.role, user.scope, queue):
            errors.append(_("Người dùng này không được xem hàng đợi đã chọn."))
        if starts is None or ends is None:
            errors.append(_("Thời gian bắt đầu và kết thúc không hợp lệ."))
        elif ends <= starts:
            errors.append(_("Thời gian kết thúc phải sau thời gian bắt đầu."))
        if not errors and user is not None and starts is not None and ends is not None:
            shift = Roster(queue=queue, user_id=user.id, starts_at=starts, ends_at=ends)
            s.add(shift)
            s.flush()
            audit.record(
                "roster.create",
                object_type="roster",
                object_id=shift.id,
                details={"queue": queue, "user_id": user.id},
            )
            s.commit()
            flash(_("Đã thêm ca trực."), "success")
            return redirect(url_for("users.roster_list")), 303
    shifts = s.execute(
        select(Roster, User)
        .join(User, Roster.user_id == User.id)
        .where(Roster.ends_at > utcnow())
        .order_by(Roster.queue, Roster.starts_at)
    ).all()
    staff = s.scalars(
        select(User).where(User.active.is_(True), User.role.in_(TIP_ROLES)).order_by(User.email)
    ).all()
    return render_template(
        "users/roster_list.html",
        shifts=shifts,
        staff=staff,
        queues=queues,
        errors=errors,
        now=utcnow(),
        form=request.form,
    ), (422 if errors else 200)


@bp.post("/rosters/<int:roster_id>/delete")
@require("users.manage")
def roster_delete(roster_id: int) -> Any:
    """Remove a shift."""
    s = db.session()
    shift = s.get(Roster, roster_id)
    if shift is None:
        abort(404)
    audit.record(
        "roster.delete",
        object_type="roster",
        object_id=shift.id,
        details={"queue": shift.queue, "user_id": shift.user_id},
    )
    s.delete(shift)
    s.commit()
    flash(_("Đã xoá ca trực."), "success")
    return redirect(url_for("users.roster_list")), 303


def init_app(app: Flask) -> None:
    register_helpers(app)
    app.register_blueprint(bp)
    register_nav(app, "users.user_list", _l("Người dùng"), "users.manage")
