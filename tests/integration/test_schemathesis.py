"""Schemathesis against Loa's own OpenAPI document, in-process (WSGI): no 500s, and every answer
matches the document (status code declared, body valid against its schema, content type).

Each operation is tried with a valid bearer token (an admin's and an editor's) and with none or a
bad one. Runs are bounded (max_examples) and derandomised, so CI sees the same cases every time.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from gateway.auth import create_token
from tests.factories import create_user

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
MAX_EXAMPLES = 10


def _schema(app: Any) -> Any:
    return schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)


def _operations(app: Any) -> list[Any]:
    return [result.ok() for result in _schema(app).get_all_operations()]


def _run(app: Any, headers: dict[str, str]) -> int:
    """Run every operation of the document with ``headers``; returns how many were tried."""
    operations = _operations(app)
    for operation in operations:

        @settings(
            max_examples=MAX_EXAMPLES,
            derandomize=True,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        @given(case=operation.as_strategy())
        def check(case: Any) -> None:
            case.headers = {**(case.headers or {}), **headers}
            case.call_and_validate(checks=CHECKS)

        check()
    return len(operations)


def test_document_lists_every_api_route(app: Any) -> None:
    """The run below covers every /api/v1 rule the app serves: none is missing from the document."""
    documented = {(op.method.upper(), re.sub(r"\{\w+\}", "{}", op.path)) for op in _operations(app)}
    served = set()
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/v1/"):
            continue
        path = re.sub(r"<(\w+:)?\w+>", "{}", rule.rule.removeprefix("/api/v1"))
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            served.add((method, path))
    # schemathesis leaves out the operation serving the document it was loaded from
    assert served - {("GET", "/openapi.json")} <= documented, sorted(served - documented)


@pytest.mark.slow
@pytest.mark.parametrize("role", ["admin", "editor", "police"])
def test_valid_token_never_500_and_matches_document(app: Any, role: str) -> None:
    """With a valid token of each kind of user, every answer is declared and well formed."""
    with app.app_context():
        token = create_token(create_user(role))
    assert _run(app, {"Authorization": f"Bearer {token}"}) > 5


@pytest.mark.parametrize(
    "authorization",
    [
        "",
        pytest.param("Bearer not-a-token", marks=pytest.mark.slow),
        pytest.param("Basic dXNlcjpwdw==", marks=pytest.mark.slow),
        pytest.param("Bearer ", marks=pytest.mark.slow),
    ],
    ids=["none", "bad-bearer", "basic", "empty-bearer"],
)
def test_no_or_bad_token_is_401_everywhere(app: Any, authorization: str) -> None:
    """Without a usable token, every answer still matches the document (401 where secured)."""
    headers = {"Authorization": authorization} if authorization else {}
    assert _run(app, headers) > 5
