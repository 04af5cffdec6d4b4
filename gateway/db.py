"""The database and Redis bound to the Flask app: one engine and one Redis client per app, one
session per request."""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, current_app, g
from redis import Redis
from sqlalchemy import Engine
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker
from werkzeug.exceptions import ServiceUnavailable

from campaigns.db import make_engine, make_sessionmaker
from gateway import queues
from gateway.tips.line import TipLine

log = logging.getLogger("loa.web")

# What a client is asked to wait when the database cannot answer now (SQLite's write lock held
# past its busy timeout, PostgreSQL unreachable): a provider retries its webhook after it.
RETRY_AFTER_SECONDS = 5


def init_app(app: Flask) -> None:
    """Create the app's engine (lazily connecting) and close each request's session."""
    settings = app.config["LOA_SETTINGS"]
    engine = make_engine(settings.effective_database_url)
    app.extensions["loa.engine"] = engine
    app.extensions["loa.sessionmaker"] = make_sessionmaker(engine)
    app.extensions["loa.redis"] = queues.connect(settings.redis_url)  # connects on first use
    app.teardown_appcontext(_close_session)
    app.register_error_handler(OperationalError, _database_unavailable)


def engine() -> Engine:
    """The current app's engine."""
    eng: Engine = current_app.extensions["loa.engine"]
    return eng


def redis() -> Redis:
    """The current app's Redis client."""
    r: Redis = current_app.extensions["loa.redis"]
    return r


def tipline() -> TipLine:
    """The tip line's view of the current app: its settings and Redis."""
    return TipLine(settings=current_app.config["LOA_SETTINGS"], redis=redis())


def session() -> Session:
    """The session of the current request (or app context), created on first use."""
    if "loa_session" not in g:
        factory: sessionmaker[Session] = current_app.extensions["loa.sessionmaker"]
        g.loa_session = factory()
    s: Session = g.loa_session
    return s


def _close_session(_exc: BaseException | None) -> None:
    s = g.pop("loa_session", None)
    if s is not None:
        s.close()


def _database_unavailable(exc: OperationalError) -> Any:
    """503 with Retry-After, never a 500: nothing was committed, the caller may send again."""
    log.warning("database unavailable: %s", type(exc.orig).__name__)
    s = g.pop("loa_session", None)
    if s is not None:
        s.close()  # rolls back what the request had begun
    busy = ServiceUnavailable("the database is busy; send the request again in a few seconds")
    resp = current_app.make_response(current_app.handle_http_exception(busy))
    resp.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return resp
