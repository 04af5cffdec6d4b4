"""Job kinds: each dotted path names a real job function, and ids are deterministic."""

from __future__ import annotations

import importlib

import pytest

from gateway import jobs, queues


@pytest.mark.parametrize("kind", jobs.KINDS, ids=lambda k: k.func)
def test_each_kind_names_a_job_function(kind: jobs.Kind) -> None:
    """The worker can import what the web enqueues by name, on a lane that exists."""
    module, _, name = kind.func.rpartition(".")
    assert callable(getattr(importlib.import_module(module), name))
    assert kind.queue in queues.ALL


def test_ids_are_deterministic_and_distinct() -> None:
    """Two kinds never share an id for the same key; ids are plain letters, digits and dashes."""
    ids = {k.job_id(7, 3) for k in jobs.KINDS if k.id_format is not None}
    assert len(ids) == sum(1 for k in jobs.KINDS if k.id_format is not None)
    assert all(i and i.replace("-", "").isalnum() for i in ids if i)
    assert jobs.LAUNCH.job_id(12) == "launch-12"


def test_job_paths_are_spelled_only_in_gateway_jobs() -> None:
    """No module but gateway/jobs.py (and the periodic table) names a job function's path."""
    import pathlib
    import re

    root = pathlib.Path(__file__).resolve().parents[2]
    dotted = re.compile(r"[\"']workers\.[a-z_]+\.[a-z_]+[\"']")
    allowed = {"gateway/jobs.py", "workers/runtime.py"}
    offenders = [
        str(path.relative_to(root))
        for package in ("campaigns", "gateway", "workers")
        for path in (root / package).rglob("*.py")
        if dotted.search(path.read_text(encoding="utf-8"))
        and str(path.relative_to(root)) not in allowed
    ]
    assert offenders == []
