"""A database that cannot answer gives a clear 503 with Retry-After, never a 500 (the quick
companion of test_sqlite_busy.py, whose lock must outlast SQLite's 30 s busy timeout)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from twilio.request_validator import RequestValidator

from gateway import create_app
from gateway.db import RETRY_AFTER_SECONDS
from gateway.settings import Settings
from tests import servers
from tests.faults import inbound


@pytest.fixture
def unreachable_db_client(settings: Settings) -> Iterator[Any]:
    """The app on a PostgreSQL address where nothing listens (refused at once, either pass)."""
    dead = f"postgresql+psycopg://loa@127.0.0.1:{servers.free_port()}/loa"
    app = create_app(
        settings.model_copy(update={"database_url": dead}), TESTING=True, WTF_CSRF_ENABLED=False
    )
    yield app.test_client()
    app.extensions["loa.engine"].dispose()


def test_a_webhook_answers_503_when_the_database_is_unreachable(
    unreachable_db_client: Any, settings: Settings
) -> None:
    """Twilio retries a 503; a 500 would say Loa is broken."""
    params = inbound.message(1, seed=1)
    signature = RequestValidator(settings.twilio_auth_token.get_secret_value()).compute_signature(
        settings.public_base_url + inbound.PATH, params
    )
    resp = unreachable_db_client.post(
        inbound.PATH, data=params, headers={"X-Twilio-Signature": signature}
    )
    assert resp.status_code == 503
    assert resp.headers["Retry-After"] == str(RETRY_AFTER_SECONDS)
    assert resp.get_json()["error"] == "Service Unavailable"


def test_the_public_form_answers_503_when_the_database_is_unreachable(
    unreachable_db_client: Any,
) -> None:
    """A tipster's post gets the error page with 503, not a crash; the form itself needs no
    database."""
    assert unreachable_db_client.get("/bao-tin").status_code == 200
    resp = unreachable_db_client.post("/bao-tin", data={"body": "Có người lạ dụ dỗ trẻ em"})
    assert resp.status_code == 503
    assert resp.headers["Retry-After"] == str(RETRY_AFTER_SECONDS)
