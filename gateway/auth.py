"""Login, password hashing, API bearer tokens, and the one decorator that guards every view."""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import hashlib
import secrets
import time
from collections.abc import Callable
from typing import Any, TypeVar
from urllib.parse import urlsplit, urlunsplit

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from flask import (
    Blueprint,
    Flask,
    abort,
    current_app,
    flash,
    g,
    has_app_context,
    has_request_context,
    make_response,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import gettext as _
from flask_login import LoginManager, current_user, login_user, logout_user
from redis.exceptions import RedisError
from sqlalchemy import delete, select

from campaigns.db import utcnow
from gateway import audit, db, mfa
from gateway.models import ApiToken, User, UserSession
from gateway.roles import ROLES, allowed, default_scope

F = TypeVar("F", bound=Callable[..., Any])
_hasher = PasswordHasher()
login_manager = LoginManager()
bp = Blueprint("auth", __name__)


# The test suite logs in thousands of times; argon2's memory-hard default costs ~50 ms each.
_cheap_hasher = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)


def hash_password(password: str) -> str:
    """An argon2id hash of ``password`` (cheap parameters only when ``LOA_ENV=test``)."""
    hasher = _hasher
    if has_app_context() and current_app.config["LOA_SETTINGS"].env == "test":
        hasher = _cheap_hasher
    return hasher.hash(password)


def check_password(hashed: str, password: str) -> bool:
    """Whether ``password`` matches ``hashed``; never raises on a malformed hash."""
    try:
        return _hasher.verify(hashed, password)
    except (VerificationError, InvalidHashError):
        return False


# Login throttling: failures per account and per client address, counted in Redis.
ACCOUNT_FAILURES = 5  # wrong passwords for one account …
CLIENT_FAILURES = 20  # … or from one address …
FAILURE_WINDOW = 15 * 60  # … within this many seconds lock further attempts out
_dummy_hashes: dict[bool, str] = {}


def _dummy_hash() -> str:
    """A hash to verify against for an unknown account, so it answers in the same time."""
    cheap = has_app_context() and current_app.config["LOA_SETTINGS"].env == "test"
    if cheap not in _dummy_hashes:
        _dummy_hashes[cheap] = (_cheap_hasher if cheap else _hasher).hash(secrets.token_hex(16))
    return _dummy_hashes[cheap]


def _throttle_keys(email: str) -> tuple[str, str]:
    account = hashlib.sha256(email.encode()).hexdigest()[:32]  # no address in Redis keys
    return f"loa:login:account:{account}", f"loa:login:client:{request.remote_addr or '-'}"


def _locked_out(email: str) -> bool:
    """Whether this account or this client failed too often lately (fails open without Redis)."""
    account, client = _throttle_keys(email)
    try:
        counts = db.redis().mget([account, client])
    except (RedisError, OSError):
        return False
    return int(counts[0] or 0) >= ACCOUNT_FAILURES or int(counts[1] or 0) >= CLIENT_FAILURES


def _count_failure(email: str) -> None:
    try:
        pipe = db.redis().pipeline()
        for key in _throttle_keys(email):
            pipe.incr(key)
            pipe.expire(key, FAILURE_WINDOW)
        pipe.execute()
    except (RedisError, OSError):
        pass


def create_user(
    email: str,
    role: str,
    password: str | None = None,
    scope: str | None = None,
    name: str = "",
    phone: str | None = None,
) -> tuple[User, str]:
    """Create a user; returns it with its password (generated when not given).

    Raises:
        ValueError: for an unknown role or an email already taken.
    """
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}; choose one of {', '.join(ROLES)}")
    email = email.strip().lower()
    s = db.session()
    if s.scalar(select(User).where(User.email == email)) is not None:
        raise ValueError(f"a user {email} exists already")
    password = password or secrets.token_urlsafe(12)
    user = User(
        email=email,
        role=role,
        scope=scope or default_scope(role),
        name=name or email.split("@")[0],
        password_hash=hash_password(password),
        phone=phone,
    )
    s.add(user)
    s.commit()
    return user, password


TOKEN_DAYS = 90  # a token expires after this many days unless asked otherwise
USED_EVERY = dt.timedelta(minutes=1)  # last_used_at is written at most this often


def new_token(user: User, name: str = "", expires_days: int = TOKEN_DAYS) -> tuple[ApiToken, str]:
    """Add (not commit) an API token for ``user``, audited; returns it with its secret, which
    only this answer holds. ``expires_days`` 0 means until revoked."""
    token = "loa_" + secrets.token_urlsafe(32)
    expires = utcnow() + dt.timedelta(days=expires_days) if expires_days > 0 else None
    row = ApiToken(user_id=user.id, token_hash=_token_hash(token), name=name, expires_at=expires)
    s = db.session()
    s.add(row)
    s.flush()
    audit.record(
        "token.create",
        object_type="api_token",
        object_id=row.id,
        details={"user_id": user.id, "expires_days": expires_days},
        session=s,
    )
    return row, token


def create_token(user: User, name: str = "", expires_days: int = TOKEN_DAYS) -> str:
    """Create an API token for ``user`` and return it (only its hash is stored)."""
    _, token = new_token(user, name, expires_days)
    db.session().commit()
    return token


def token_state(token: ApiToken, now: dt.datetime | None = None) -> str:
    """``active``, ``revoked`` or ``expired``."""
    if token.revoked_at is not None:
        return "revoked"
    if token.expires_at is not None and token.expires_at <= (now or utcnow()):
        return "expired"
    return "active"


def revoke_token(token: ApiToken) -> bool:
    """Revoke ``token``, audited (the caller commits); False when it was revoked already."""
    if token.revoked_at is not None:
        return False
    token.revoked_at = utcnow()
    audit.record(
        "token.revoke",
        object_type="api_token",
        object_id=token.id,
        details={"user_id": token.user_id},
        session=db.session(),
    )
    return True


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def user_from_bearer() -> User | None:
    """The active user whose live (neither revoked nor expired) token is in the Authorization
    header, if any."""
    header = request.headers.get("Authorization", "")
    if not header.startswith("Bearer "):
        return None
    s = db.session()
    token = s.scalar(select(ApiToken).where(ApiToken.token_hash == _token_hash(header[7:].strip())))
    now = utcnow()
    if token is None or token_state(token, now) != "active":
        return None
    user = s.get(User, token.user_id)
    if user is None or not user.active:
        return None
    # One write a minute at most, not one per request.
    if token.last_used_at is None or now - token.last_used_at >= USED_EVERY:
        token.last_used_at = now
        s.commit()
    return user


def same_site_path(target: str) -> str | None:
    """``target`` as a path of this site, or None: parsed the way a browser reads it (tabs and
    newlines dropped, ``\\`` taken for ``/``), so nothing can turn it into another host."""
    if any(ord(c) < 0x20 or c == "\\" for c in target):
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not parts.path.startswith("/"):
        return None
    if parts.path.startswith("//"):
        return None
    return urlunsplit(("", "", parts.path, parts.query, ""))


def current() -> User | None:
    """The user of this request: by API token, else by session; None when anonymous.

    The JSON API takes bearer tokens only: a browser's session cookie rides along on any
    cross-site request, so accepting it there would be CSRF."""
    if "loa.user" in request.environ:
        u: User | None = request.environ["loa.user"]
        return u
    user = user_from_bearer() if request.headers.get("Authorization") else None
    if user is None and current_user.is_authenticated and request.blueprint != "api":
        user = current_user._get_current_object()
    request.environ["loa.user"] = user
    return user


def require(permission: str, api: bool = False) -> Callable[[F], F]:
    """Guard a view: anonymous → login (or 401 for the API); wrong role → 403."""

    def decorate(view: F) -> F:
        @functools.wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            user = current()
            if user is None:
                if api:
                    abort(401)
                return redirect(url_for("auth.login", next=request.full_path))
            if not allowed(user.role, permission):
                abort(403)
            return view(*args, **kwargs)

        wrapper.loa_permission = permission  # type: ignore[attr-defined]
        return wrapper  # type: ignore[return-value]

    return decorate


SEEN_EVERY = dt.timedelta(minutes=1)  # last_seen_at is written at most this often


def _token_id(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def start_session(user: User) -> None:
    """Sign ``user`` in: a new server-side session whose token only this cookie holds."""
    token = secrets.token_urlsafe(32)
    db.session().add(UserSession(id=_token_id(token), user_id=user.id))
    session.clear()  # no state from before the login survives it (session fixation)
    g.pop("csrf_token", None)  # nor Flask-WTF's token cached for this request
    session["sid"] = token
    login_user(user)


def end_sessions(s: Any, user_id: int) -> int:
    """End every session of a user (password reset, deactivation, sign out everywhere)."""
    result = s.execute(delete(UserSession).where(UserSession.user_id == user_id))
    return int(getattr(result, "rowcount", 0) or 0)


@login_manager.user_loader  # type: ignore[untyped-decorator]
def _load_user(user_id: str) -> User | None:
    """The user of this cookie, only while its server-side session lives (idle and absolute
    timeouts); a cookie whose session was ended opens nothing."""
    token = session.get("sid")
    if not user_id.isdigit() or not isinstance(token, str):
        return None
    s = db.session()
    row = s.get(UserSession, _token_id(token))
    if row is None or row.user_id != int(user_id):
        return None
    settings = current_app.config["LOA_SETTINGS"]
    now = utcnow()
    idle = now - row.last_seen_at > dt.timedelta(minutes=settings.session_idle_minutes)
    if idle or now - row.created_at > dt.timedelta(hours=settings.session_max_hours):
        s.delete(row)
        s.commit()
        return None
    if now - row.last_seen_at > SEEN_EVERY:
        row.last_seen_at = now
        s.commit()
    user = s.get(User, int(user_id))
    return user if user is not None and user.active else None


@bp.route("/login", methods=["GET", "POST"])
def login() -> Any:
    """The login form; every attempt is audited (never the password). A user who must use a
    second factor goes on to the code (or, the first time, to enrolment) before any session."""
    error = None
    if request.method == "POST":
        email = request.form.get("email", "").strip().lower()[:200]
        password = request.form.get("password", "")[:500]
        s = db.session()
        if _locked_out(email):
            return _locked(email)
        user = s.scalar(select(User).where(User.email == email))
        # An unknown account costs the same hash as a known one: time tells nothing.
        valid = check_password(user.password_hash if user else _dummy_hash(), password)
        if user is not None and user.active and valid:
            if mfa.required(user):
                return _second_step(user)
            return _signed_in(user)
        _count_failure(email)
        audit.record("login_failed", details={"email_domain": email.partition("@")[2]})
        db.session().commit()
        error = _("Email hoặc mật khẩu không đúng.")
    return render_template("auth/login.html", error=error), (401 if error else 200)


PENDING_SECONDS = 300  # between the password and the code


def _locked(email: str) -> Any:
    audit.record("login.locked", details={"email_domain": email.partition("@")[2]})
    db.session().commit()
    error = _("Quá nhiều lần đăng nhập sai. Vui lòng thử lại sau 15 phút.")
    return render_template("auth/login.html", error=error), 429


def _second_step(user: User) -> Any:
    """The password was right: remember who, briefly, and ask for the second factor."""
    session.clear()
    session["pending"] = {
        "uid": user.id,
        "at": int(time.time()),
        "next": same_site_path(request.args.get("next", "")) or "",
    }
    return redirect(url_for("auth.login_code" if user.totp_enabled_at else "auth.login_enrol"))


def _pending_user() -> User | None:
    """The user who gave the right password in this browser a moment ago, if any."""
    pending = session.get("pending")
    if not isinstance(pending, dict) or time.time() - pending.get("at", 0) > PENDING_SECONDS:
        return None
    user = db.session().get(User, int(pending.get("uid", 0)))
    return user if user is not None and user.active else None


def _signed_in(user: User, **details: str) -> Any:
    """Open a session for ``user`` and go where the login was asked from."""
    pending = session.get("pending")
    target = pending.get("next", "") if isinstance(pending, dict) else ""
    target = target or same_site_path(request.args.get("next", "")) or url_for("home.index")
    with contextlib.suppress(RedisError, OSError):
        db.redis().delete(_throttle_keys(user.email)[0])
    start_session(user)
    user.last_login_at = utcnow()
    audit.record("login", actor=user, details=details or None)
    db.session().commit()
    return redirect(target)


@bp.route("/login/code", methods=["GET", "POST"])
def login_code() -> Any:
    """The second step: a code from the authenticator app, or one recovery code."""
    user = _pending_user()
    if user is None or user.totp_enabled_at is None:
        return redirect(url_for("auth.login"))
    error = None
    if request.method == "POST":
        if _locked_out(user.email):
            return _locked(user.email)
        code = request.form.get("code", "")[:40]
        s = db.session()
        if mfa.verify(user, code):
            return _signed_in(user, second_factor="totp")
        if mfa.looks_like_recovery_code(code) and mfa.use_recovery_code(s, user, code):
            return _signed_in(user, second_factor="recovery_code")
        _count_failure(user.email)
        audit.record("login_failed", actor=user, details={"step": "code"})
        s.commit()
        error = _("Mã không đúng hoặc đã dùng. Vui lòng nhập mã mới trong ứng dụng xác thực.")
    return render_template("auth/login_code.html", error=error), (401 if error else 200)


@bp.route("/login/enrol", methods=["GET", "POST"])
def login_enrol() -> Any:
    """The first sign-in of a user who must use a second factor: scan, confirm, keep the
    recovery codes; only then a session."""
    user = _pending_user()
    if user is None:
        return redirect(url_for("auth.login"))
    if user.totp_enabled_at is not None:
        return redirect(url_for("auth.login_code"))
    page = enrolment(user, url_for("auth.login_enrol"))
    if page is not None:
        return page
    codes = mfa.new_recovery_codes(db.session(), user)
    audit.record("mfa.enrolled", actor=user, object_type="user", object_id=user.id)
    answer = _signed_in(user, second_factor="enrolment")
    return recovery_codes_page(codes, answer.location)


def enrolment(user: User, action: str) -> Any:
    """The enrolment form (QR code, key, code field), or None once the code proved the app
    holds the secret (then two-factor sign-in is on; the caller commits)."""
    s = db.session()
    if not user.totp_secret:
        user.totp_secret = mfa.new_secret()
        s.commit()
    error = None
    if request.method == "POST":
        if _locked_out(user.email):
            return _locked(user.email)
        if mfa.enable(user, user.totp_secret, request.form.get("code", "")[:40]):
            return None
        _count_failure(user.email)
        error = _("Mã không đúng. Kiểm tra giờ trên điện thoại rồi nhập mã mới.")
    uri = mfa.uri(user, user.totp_secret)
    key = " ".join(user.totp_secret[i : i + 4] for i in range(0, len(user.totp_secret), 4))
    return render_template(
        "auth/enrol.html", qr=mfa.qr_svg(uri), key=key, action=action, error=error
    ), (400 if error else 200)


def recovery_codes_page(codes: list[str], next_url: str) -> Any:
    """The recovery codes, shown this once (no-store, never logged)."""
    resp = make_response(render_template("auth/recovery_codes.html", codes=codes, next=next_url))
    resp.headers["Cache-Control"] = "no-store"
    return resp


@bp.route("/logout", methods=["POST"])
def logout() -> Any:
    """Log out (POST only, so a link on another site cannot log a user out)."""
    user = current()
    token = session.get("sid")
    if isinstance(token, str):
        db.session().execute(delete(UserSession).where(UserSession.id == _token_id(token)))
    if user is not None:
        audit.record("logout", actor=user)
    db.session().commit()
    logout_user()
    session.clear()
    flash(_("Đã đăng xuất."))
    return redirect(url_for("auth.login"))


def init_app(app: Flask) -> None:
    """Wire Flask-Login and the login views."""
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    app.register_blueprint(bp)
    app.before_request(_forget_cached_user)
    audit.ambient = _audit_ambient


def _audit_ambient() -> audit.Ambient:
    """The audit log's view of this request: its user, client address and session."""
    if has_request_context():
        return audit.Ambient(actor=current(), ip=request.remote_addr, session=db.session())
    if has_app_context():  # a CLI command or a test inside the app
        return audit.Ambient(session=db.session())
    return audit.Ambient()


def _forget_cached_user() -> None:
    # Flask-Login caches the user on the app context, which may outlive one request (tests,
    # CLI); each request must decide from its own cookie or token.
    g.pop("_login_user", None)
