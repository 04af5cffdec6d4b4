"""The database and Redis bound to the Flask app: one engine and one Redis client per app, one
session per request."""

from __future__ import annotations

from flask import Flask, current_app, g
from redis import Redis
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from campaigns.db import make_engine, make_sessionmaker
from gateway import queues
from gateway.tips.line import TipLine


def init_app(app: Flask) -> None:
    """Create the app's engine (lazily connecting) and close each request's session."""
    settings = app.config["LOA_SETTINGS"]
    engine = make_engine(settings.effective_database_url)
    app.extensions["loa.engine"] = engine
    app.extensions["loa.sessionmaker"] = make_sessionmaker(engine)
    app.extensions["loa.redis"] = queues.connect(settings.redis_url)  # connects on first use
    app.teardown_appcontext(_close_session)


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
