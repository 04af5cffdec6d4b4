"""CSRF on every form, security headers, and clean 4xx answers for bad requests."""

from __future__ import annotations

from typing import Any

from flask import Flask, Response, jsonify, render_template, request
from flask_wtf.csrf import CSRFError, CSRFProtect
from werkzeug.exceptions import HTTPException

csrf = CSRFProtect()


def _wants_json() -> bool:
    return request.path.startswith(("/api/", "/webhooks/")) or request.is_json


def _http_error(exc: HTTPException) -> Any:
    code = exc.code or 500
    if _wants_json():
        return jsonify(error=exc.name, detail=exc.description), code
    return render_template("errors/error.html", code=code, name=exc.name), code


def _csrf_error(exc: CSRFError) -> Any:
    return render_template("errors/error.html", code=400, name="CSRF"), 400


def _headers(resp: Response) -> Response:
    resp.headers.setdefault("X-Content-Type-Options", "nosniff")
    resp.headers.setdefault("X-Frame-Options", "DENY")
    resp.headers.setdefault("Referrer-Policy", "same-origin")
    resp.headers.setdefault(
        "Content-Security-Policy",
        "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
        "script-src 'self'; frame-ancestors 'none'",
    )
    return resp


def init_app(app: Flask) -> None:
    """CSRF for forms (webhooks and the bearer-token API are exempted where registered)."""
    csrf.init_app(app)
    app.register_error_handler(CSRFError, _csrf_error)
    app.register_error_handler(HTTPException, _http_error)
    app.after_request(_headers)
