"""The JSON API under /api/v1: bearer tokens, JSON errors, and the OpenAPI 3.1 document.

Each area registers its routes on :data:`bp` in its own module (``campaigns``, ``contacts``,
``tips``) and describes them with :func:`document`; ``/api/v1/openapi.json`` serves the union.
"""

from __future__ import annotations

import importlib
from typing import Any

from flask import Blueprint, Flask, jsonify

from gateway.security import csrf

bp = Blueprint("api", __name__, url_prefix="/api/v1")
csrf.exempt(bp)  # bearer tokens, no cookies: CSRF cannot apply

_PATHS: dict[str, dict[str, Any]] = {}
_SCHEMAS: dict[str, Any] = {
    "Error": {
        "type": "object",
        "properties": {"error": {"type": "string"}, "detail": {"type": "string"}},
        "required": ["error"],
    }
}


def document(path: str, method: str, spec: dict[str, Any]) -> None:
    """Describe ``method`` on ``path`` (OpenAPI operation object) in the served document."""
    spec.setdefault("security", [{"bearer": []}])
    spec.setdefault("responses", {})
    spec["responses"].setdefault(
        "401", {"description": "no or bad token", "content": _json_ref("Error")}
    )
    if "{" in path:
        spec["responses"].setdefault(
            "404", {"description": "no such object", "content": _json_ref("Error")}
        )
    if spec["security"]:
        spec["responses"].setdefault(
            "403", {"description": "the token's role may not", "content": _json_ref("Error")}
        )
    _PATHS.setdefault(path, {})[method.lower()] = spec


def schema(name: str, spec: dict[str, Any]) -> dict[str, str]:
    """Register a component schema; returns a ``$ref`` to it."""
    _SCHEMAS[name] = spec
    return {"$ref": f"#/components/schemas/{name}"}


def _json_ref(name: str) -> dict[str, Any]:
    return {"application/json": {"schema": {"$ref": f"#/components/schemas/{name}"}}}


def error(status: int, detail: str, code: str | None = None) -> Any:
    """A JSON error response."""
    return jsonify(error=code or _REASONS.get(status, "error"), detail=detail), status


_REASONS = {400: "bad_request", 403: "forbidden", 404: "not_found", 409: "conflict", 422: "invalid"}


@bp.get("/openapi.json")
def openapi() -> Any:
    """The OpenAPI 3.1 document of every /api/v1 route."""
    return jsonify(
        {
            "openapi": "3.1.0",
            "info": {"title": "Loa API", "version": "1"},
            "servers": [{"url": "/api/v1"}],
            "paths": {p: _PATHS[p] for p in sorted(_PATHS)},
            "components": {
                "schemas": _SCHEMAS,
                "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            },
        }
    )


document(
    "/openapi.json",
    "get",
    {
        "summary": "This document",
        "security": [],
        "responses": {"200": {"description": "OpenAPI 3.1"}},
    },
)


# Modules that add routes to ``bp``; each is imported before the blueprint is registered.
API_MODULES: tuple[str, ...] = ("tips", "campaigns", "contacts", "reports")


def init_app(app: Flask) -> None:
    """Import every API module, then register the blueprint with all their routes."""
    for name in API_MODULES:
        importlib.import_module(f"gateway.api.{name}")
    app.register_blueprint(bp)
