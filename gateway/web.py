"""The home page (each role's starting point) and the health endpoints."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from flask import (
    Blueprint,
    Flask,
    Response,
    abort,
    current_app,
    jsonify,
    redirect,
    render_template,
    url_for,
)
from sqlalchemy import text

from gateway import db, labels
from gateway.auth import current
from gateway.roles import allowed

bp = Blueprint("home", __name__)

ROLE_LABELS = labels.ROLE_LABELS


def register_nav(app: Flask, endpoint: str, label: Any, permission: str) -> None:
    """Add a menu entry, shown only to roles that hold ``permission``."""
    app.extensions.setdefault("loa.nav", []).append((endpoint, label, permission))


@bp.route("/")
def index() -> Any:
    """The dashboard for a logged-in user; the login page otherwise."""
    user = current()
    if user is None:
        return redirect(url_for("auth.login"))
    return render_template("home/index.html", user=user)


@bp.route("/.well-known/security.txt")
def security_txt() -> Any:
    """RFC 9116: where to report a hole (404 until ``LOA_SECURITY_CONTACT`` is set)."""
    contact = current_app.config["LOA_SETTINGS"].security_contact
    if not contact:
        abort(404)
    if "@" in contact and not contact.startswith(("mailto:", "https://")):
        contact = f"mailto:{contact}"
    expires = (dt.datetime.now(dt.UTC) + dt.timedelta(days=180)).strftime("%Y-%m-%dT%H:%M:%SZ")
    body = f"Contact: {contact}\nExpires: {expires}\nPreferred-Languages: vi, en\n"
    return Response(body, mimetype="text/plain")


@bp.route("/favicon.ico")
def favicon() -> Any:
    """Browsers ask for /favicon.ico whatever the page says: the icon (SVG), cached a day."""
    icon = Path(current_app.static_folder or "", "favicon.svg").read_bytes()  # 400 bytes
    response = Response(icon, mimetype="image/svg+xml")
    response.cache_control.max_age = 86400
    response.cache_control.public = True
    return response


@bp.route("/healthz")
def healthz() -> Any:
    """The process is alive (no dependency is checked)."""
    return jsonify(status="ok")


@bp.route("/readyz")
def readyz() -> Any:
    """The database and Redis answer; 503 with the failing part otherwise."""
    checks: dict[str, str] = {}
    try:
        with db.engine().connect() as conn:
            conn.execute(text("SELECT 1"))
        checks["database"] = "ok"
    except Exception as exc:
        checks["database"] = f"error: {type(exc).__name__}"
    try:
        db.redis().ping()
        checks["redis"] = "ok"
    except Exception as exc:
        checks["redis"] = f"error: {type(exc).__name__}"
    ready = all(v == "ok" for v in checks.values())
    return jsonify(status="ok" if ready else "unavailable", **checks), (200 if ready else 503)


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
    app.jinja_env.globals.update(
        allowed=allowed,
        role_label=lambda role: ROLE_LABELS.get(role, role),
        nav_items=lambda: app.extensions.get("loa.nav", []),
    )
