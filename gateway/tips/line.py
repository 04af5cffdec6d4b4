"""What the tip line needs from the process it runs in, passed in rather than looked up.

The web app (``gateway.db.tipline()``), a worker (``workers.runtime.tipline()``) and the SMPP
link (``loa smpp``) each build one, so intake, replies and notifications read the same settings
everywhere and never fall back to defaults outside a request.
"""

from __future__ import annotations

from dataclasses import dataclass

from redis import Redis

from gateway.settings import Settings


@dataclass(frozen=True, slots=True)
class TipLine:
    """The settings the tip line reads and the Redis that carries its work to the workers."""

    settings: Settings
    redis: Redis

    @property
    def link_days(self) -> int:
        """Days after a broadcast in which a tip from its recipient is linked to it."""
        return int(self.settings.tip_link_days)
