"""The life of a tip as one table: states, the moves between them, resolutions and deadlines.

``new → acknowledged → in_progress → handed_off → closed``; a closed tip can be reopened, a
handed-off tip is taken up again by the queue it went to. The inbox applies moves with
:func:`check_move` and records each one as a ``TipEvent``.
"""

from __future__ import annotations

import datetime as dt

NEW = "new"  # stored and routed; nobody has looked at it yet
ACKNOWLEDGED = "acknowledged"  # an operator has seen it (stops the urgency clock)
IN_PROGRESS = "in_progress"  # someone works on it
HANDED_OFF = "handed_off"  # passed to another queue or person (the event says to whom)
CLOSED = "closed"  # done, with a resolution
STATES = (NEW, ACKNOWLEDGED, IN_PROGRESS, HANDED_OFF, CLOSED)

# The one table of allowed moves: from-state → the states it may go to.
MOVES: dict[str, frozenset[str]] = {
    NEW: frozenset({ACKNOWLEDGED, IN_PROGRESS, HANDED_OFF, CLOSED}),
    ACKNOWLEDGED: frozenset({IN_PROGRESS, HANDED_OFF, CLOSED}),
    IN_PROGRESS: frozenset({HANDED_OFF, CLOSED}),
    HANDED_OFF: frozenset({ACKNOWLEDGED, IN_PROGRESS, HANDED_OFF, CLOSED}),
    CLOSED: frozenset({IN_PROGRESS}),  # reopen
}

# Why a tip was closed (required when moving to ``closed``).
RESOLUTIONS = (
    "referred_police",
    "referred_111",
    "referred_border_guard",
    "no_action",
    "duplicate",
    "spam",
)

OPEN_STATES = frozenset({NEW, ACKNOWLEDGED, IN_PROGRESS, HANDED_OFF})
# States in which the urgency clock still runs (nobody has acknowledged the tip yet).
UNACKNOWLEDGED = frozenset({NEW})

URGENT = "urgent"
NORMAL = "normal"
PRIORITIES = (URGENT, NORMAL)

# Time to acknowledge per priority; an urgent tip past it alerts the on-duty staff.
ACK_DEADLINES: dict[str, dt.timedelta] = {
    URGENT: dt.timedelta(minutes=10),
    NORMAL: dt.timedelta(hours=24),
}
# After the first alert, alert again this often; from this level on, the province/admins too.
ESCALATE_EVERY = dt.timedelta(minutes=15)
ESCALATE_WIDER_AT_LEVEL = 2


class MoveError(ValueError):
    """A move the table does not allow, or a close without a resolution.

    ``code`` and ``params`` let the pages say it in the user's language (``gateway.labels``).
    """

    def __init__(self, message: str, code: str, **params: object) -> None:
        super().__init__(message)
        self.code = code
        self.params = params


def can_move(from_state: str, to_state: str) -> bool:
    """Whether the table allows ``from_state`` → ``to_state``."""
    return to_state in MOVES.get(from_state, frozenset())


def check_move(from_state: str, to_state: str, resolution: str | None = None) -> None:
    """Raise :class:`MoveError` unless the move is allowed (closing needs a known resolution)."""
    if not can_move(from_state, to_state):
        raise MoveError(
            f"a tip cannot go from {from_state} to {to_state}",
            "bad_move",
            **{"from": from_state, "to": to_state},
        )
    if to_state == CLOSED and resolution not in RESOLUTIONS:
        raise MoveError(
            f"closing needs a resolution: one of {', '.join(RESOLUTIONS)}", "needs_resolution"
        )
