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
