"""CSRF on every form, security headers, and clean 4xx answers for bad requests."""

from __future__ import annotations

from typing import Any

from flask import Flask, Response, jsonify, render_template, request
from flask_wtf.csrf import CSRFError, CSRFProtect
from werkzeug.exceptions import HTTPException
from werkzeug.routing import IntegerConverter

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
    if request.endpoint != "static":
        # Pages and answers carry tip bodies and numbers: no browser or proxy may keep them.
        resp.headers.setdefault("Cache-Control", "no-store")
    resp.headers.setdefault("X-Frame-Options", "DENY")
    resp.headers.setdefault("Referrer-Policy", "same-origin")
    resp.headers.setdefault(
        "Content-Security-Policy",
        "default-src 'self'; img-src 'self' data:; style-src 'self'; "
        "script-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'; "
        "object-src 'none'",
    )
    return resp


def digits_up_to(limit: int) -> str:
    """A regex matching the decimal numbers from 0 to ``limit`` (leading zeros allowed)."""
    s = str(limit)
    parts = [rf"\d{{1,{len(s) - 1}}}"] if len(s) > 1 else []
    for i, digit in enumerate(s):
        if digit != "0":
            parts.append(rf"{s[:i]}[0-{int(digit) - 1}]\d{{{len(s) - i - 1}}}")
    parts.append(s)
    return "(?:" + "|".join(parts) + ")"


MAX_ID = 2**31 - 1  # the largest Integer id in both databases


class BoundedInt(IntegerConverter):
    """``<int:…>`` in every route, bounded to what the database stores: a longer id is 404,
    never an overflow (500) in SQL. The bound is in the regex, not only in ``max``: werkzeug
    answers 405 (not 404) when a rule of another method matches a path whose converter refuses
    the value."""

    regex = digits_up_to(MAX_ID)

    def __init__(self, url_map: Any, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("max", MAX_ID)
        super().__init__(url_map, *args, **kwargs)


# Anonymous forms take little: their cap applies before anything (CSRF included) parses them.
SMALL_BODIES = {"/bao-tin": 16 * 1024, "/report": 16 * 1024, "/login": 16 * 1024}


def _cap_small_bodies() -> None:
    limit = SMALL_BODIES.get(request.path)
    if limit is not None:
        request.max_content_length = limit


def init_app(app: Flask) -> None:
    """CSRF for forms (webhooks and the bearer-token API are exempted where registered)."""
    app.url_map.converters["int"] = BoundedInt
    app.before_request(_cap_small_bodies)  # before CSRF, which reads the form
    csrf.init_app(app)
    app.register_error_handler(CSRFError, _csrf_error)
    app.register_error_handler(HTTPException, _http_error)
    app.after_request(_headers)
