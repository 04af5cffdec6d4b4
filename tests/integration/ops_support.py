"""What the operations tests share: the environment and command of a real ``loa`` process."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from gateway.settings import Settings

LOA = str(Path(sys.executable).with_name("loa"))


def loa_env(settings: Settings, tmp_path: Path, **extra: str) -> dict[str, str]:
    """The environment of a ``loa`` process on the test's database and Redis (simulator)."""
    env = dict(os.environ)
    env.update(
        LOA_ENV="test",
        LOA_DATABASE_URL=settings.effective_database_url,
        LOA_REDIS_URL=settings.redis_url,
        LOA_VAR_DIR=str(tmp_path / "var"),
        LOA_SECRET_KEY="test-secret-key-not-for-production",
        LOA_PUBLIC_BASE_URL=settings.public_base_url,
        LOA_PROVIDER="simulator",
        **extra,
    )
    return env
