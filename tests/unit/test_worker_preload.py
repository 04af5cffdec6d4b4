"""The worker imports every job's module before it forks its work horses (issue 11)."""

from __future__ import annotations

import sys

from gateway import jobs
from workers import runtime


def test_preload_imports_every_jobs_module_and_the_providers() -> None:
    """Each job kind's and periodic job's module is imported, and each names a real function."""
    loaded = runtime.preload()
    for func in [k.func for k in jobs.KINDS] + [p.func for p in runtime.PERIODIC]:
        module, name = func.rsplit(".", 1)
        assert module in loaded and callable(getattr(sys.modules[module], name)), func
    assert "gateway.providers.twilio" in sys.modules
