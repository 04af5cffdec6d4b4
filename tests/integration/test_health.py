"""The health endpoints and the app factory."""

from __future__ import annotations

from typing import Any

from gateway import create_app


def test_healthz_answers_without_dependencies(client: Any) -> None:
    """/healthz says the process is alive."""
    resp = client.get("/healthz")
    assert resp.status_code == 200
    assert resp.get_json() == {"status": "ok"}


def test_readyz_checks_database_and_redis(client: Any) -> None:
    """/readyz reports both dependencies as reachable."""
    resp = client.get("/readyz")
    assert resp.status_code == 200
    assert resp.get_json() == {"status": "ok", "database": "ok", "redis": "ok"}


def test_readyz_reports_a_dead_redis(settings: Any, db_engine: Any) -> None:
    """With Redis unreachable /readyz answers 503 and names it."""
    from tests.servers import free_port

    dead = settings.model_copy(update={"redis_url": f"redis://127.0.0.1:{free_port()}/0"})
    app = create_app(dead, TESTING=True)
    resp = app.test_client().get("/readyz")
    app.extensions["loa.engine"].dispose()
    assert resp.status_code == 503
    body = resp.get_json()
    assert body["database"] == "ok"
    assert body["redis"].startswith("error")


def test_sql_errors_never_carry_their_parameters(db_engine: Any) -> None:
    """SQLAlchemy's message lists no parameter (tip bodies and numbers stay out of logs)."""
    import pytest
    from sqlalchemy import insert
    from sqlalchemy.exc import IntegrityError

    from campaigns.models import OptOut

    with db_engine.begin() as conn:
        conn.execute(insert(OptOut), {"phone": "+84912345678", "channel": "sms"})
    with pytest.raises(IntegrityError) as err, db_engine.begin() as conn:
        conn.execute(insert(OptOut), {"phone": "+84912345678", "channel": "sms"})
    assert "hidden due to hide_parameters" in str(err.value)
    assert "'+84912345678'" not in str(err.value)  # the parameter list, not PostgreSQL's DETAIL


def test_logged_exceptions_have_numbers_masked(app: Any, caplog: Any) -> None:
    """Even an exception quoting a number (PostgreSQL's DETAIL does) is logged masked."""
    import logging

    try:
        raise ValueError("Key (phone)=(+84912345678) already exists; also 0912 345 678")
    except ValueError:
        app.logger.exception("unexpected error for %s", "+84981234567")
    text = caplog.text
    assert "+84912345678" not in text and "0912 345 678" not in text
    assert "+84981234567" not in text
    assert "+84 91x xxx 678" in text and "+84 98x xxx 567" in text
    assert any(r.levelno == logging.ERROR for r in caplog.records)
    logging.getLogger("rq.worker").warning("job failed for %s", "+84981234567")
    assert "+84981234567" not in caplog.text  # other libraries' loggers too
