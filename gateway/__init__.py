"""Loa's web application. :func:`create_app` is the only place that wires everything together."""

from __future__ import annotations

import importlib
from typing import Any

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from campaigns import localtime
from gateway import logs
from gateway.settings import ROOT, Settings, load_settings

# Each area is a module with ``init_app(app)``; the order is the order of registration.
AREAS = (
    "gateway.logs",  # first: every later hook logs with the request's id
    "gateway.i18n",
    "gateway.db",
    "gateway.security",
    "gateway.auth",
    "gateway.account",
    "gateway.web",
    "gateway.api",
    "gateway.webhooks",
    "gateway.simulator_views",
    "gateway.public_form",
    "gateway.admin.calls",
    "gateway.admin.inbox",
    "gateway.admin.users",
    "gateway.admin.audit_log",
    "gateway.admin.rules",
    "gateway.admin.areas",
    "gateway.admin.contacts",
    "gateway.admin.campaigns",
    "gateway.admin.dashboard",
    "gateway.admin.results_report",
    "gateway.metrics",
    "gateway.cli",
)


def create_app(settings: Settings | None = None, **config: Any) -> Flask:
    """Build the Flask app.

    Args:
        settings: the validated settings; read from the environment when omitted.
        config: extra Flask config (tests pass ``TESTING=True`` and the like).
    Returns:
        the app; no database or Redis connection is opened until first use.
    """
    settings = settings or load_settings()
    localtime.configure(settings.timezone)  # settings built directly (tests) skip load_settings
    app = Flask(
        "gateway",
        template_folder=str(ROOT / "templates"),
        static_folder=str(ROOT / "gateway" / "static"),
    )
    app.config.update(
        LOA_SETTINGS=settings,
        SECRET_KEY=settings.secret(),
        MAX_CONTENT_LENGTH=settings.max_request_bytes,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        # Outside the demo the cookie travels over HTTPS only (production must sit behind TLS).
        SESSION_COOKIE_SECURE=(
            settings.env == "production" or settings.public_base_url.startswith("https://")
        ),
        WTF_CSRF_TIME_LIMIT=None,
        JSON_SORT_KEYS=False,
    )
    app.config.update(config)
    if settings.trusted_proxies:
        # Only the address and scheme: the host stays what the proxy asked for, and signatures
        # use LOA_PUBLIC_BASE_URL anyway. Each proxy appends one hop; we trust that many.
        n = settings.trusted_proxies
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=n, x_proto=n)  # type: ignore[method-assign]
    logs.install()
    for area in AREAS + tuple(config.get("LOA_EXTRA_AREAS", ())):
        importlib.import_module(area).init_app(app)
    return app
