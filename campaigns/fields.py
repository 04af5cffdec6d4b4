"""What a campaign's fields must be: one rule for the composer form and the API alike.

Each reader takes a raw value as it arrives (text from a form, JSON from the API) and returns
the value the ``Campaign`` column stores, or raises :class:`Invalid` naming the field and a
problem code. The gateway turns the code into words (``gateway.labels.CAMPAIGN_FIELD_PROBLEMS``),
so the form and the API say the same thing in the user's language. Decisions:

- Text is NFC-normalised, line ends become ``\\n`` and the body is trimmed: trailing spaces
  cost characters and can push a message into one more segment.
- A window is whatever :class:`campaigns.windows.Window` accepts: ``24:00`` closes at the end
  of the day and an end before the start spans midnight (a 24-hour test window is
  ``00:00``–``24:00``). The composer warns about hours outside 07:00–22:00; it does not refuse.
- A time without an offset is local (:mod:`campaigns.localtime`), stored in UTC.
- A yearly campaign needs its first time.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from typing import Any

from campaigns import localtime
from campaigns.text import nfc
from campaigns.windows import DEFAULT_END, DEFAULT_START, Window

NAME_MAX = 200
BODY_MAX = 2000  # about 30 UCS-2 segments: far beyond any sensible broadcast
SENDER_MAX = 40
MAX_RATE = 10_000.0  # segments per second per sender
RECURRENCES = ("none", "yearly")

# Problem codes (their words are in gateway.labels.CAMPAIGN_FIELD_PROBLEMS).
REQUIRED = "required"
TOO_LONG = "too_long"
NOT_A_NUMBER = "not_a_number"
RATE_RANGE = "rate_range"
BAD_WINDOW = "bad_window"
BAD_TIME = "bad_time"
BAD_RECURRENCE = "bad_recurrence"
YEARLY_NEEDS_TIME = "yearly_needs_time"
BAD_SENDER = "bad_sender"
BAD_PROVIDERS = "bad_providers"
BAD_DATE = "bad_date"


class Invalid(ValueError):
    """A field's value is refused: ``field`` names it, ``code`` says why, ``params`` fill in."""

    def __init__(self, field: str, code: str, **params: Any) -> None:
        super().__init__(f"{field}: {code}")
        self.field = field
        self.code = code
        self.params = params


def text(field: str, value: Any, limit: int) -> str:
    """A required text, NFC, trimmed, with ``\\n`` line ends, at most ``limit`` characters."""
    if not isinstance(value, str):
        raise Invalid(field, REQUIRED)
    clean = nfc(value.replace("\r\n", "\n")).strip()
    if not clean:
        raise Invalid(field, REQUIRED)
    if len(clean) > limit:
        raise Invalid(field, TOO_LONG, limit=limit)
    return clean


def name(value: Any) -> str:
    """The campaign's name: required, at most :data:`NAME_MAX` characters."""
    return text("name", value, NAME_MAX)


def body(value: Any) -> str:
    """The message template: required, at most :data:`BODY_MAX` characters."""
    return text("body", value, BODY_MAX)


def rate(value: Any) -> float | None:
    """Segments per second per sender, above 0 and at most :data:`MAX_RATE`; None or "" for
    the default. Text may use a decimal comma ("2,5")."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, str):
        try:
            value = float(value.strip().replace(",", "."))
        except ValueError:
            raise Invalid("rate_per_second", NOT_A_NUMBER) from None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise Invalid("rate_per_second", NOT_A_NUMBER)
    if not 0 < value <= MAX_RATE:
        raise Invalid("rate_per_second", RATE_RANGE, max=MAX_RATE)
    return float(value)


def window(start: Any, end: Any) -> tuple[str, str]:
    """The daily window as stored (``HH:MM`` texts); empty means the 07:00–22:00 default."""
    start = DEFAULT_START if start is None or start == "" else start
    end = DEFAULT_END if end is None or end == "" else end
    if not isinstance(start, str) or not isinstance(end, str):
        raise Invalid("window", BAD_WINDOW)
    try:
        Window.parse(start.strip(), end.strip())
    except ValueError:
        raise Invalid("window", BAD_WINDOW) from None
    return start.strip(), end.strip()


def scheduled_at(value: Any) -> dt.datetime | None:
    """An ISO 8601 time (local when it has no offset) in UTC; None or "" for none."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if not isinstance(value, str):
        raise Invalid("scheduled_at", BAD_TIME)
    try:
        when = dt.datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        raise Invalid("scheduled_at", BAD_TIME) from None
    return localtime.to_utc(when)


def recurrence(value: Any, when: dt.datetime | None) -> str:
    """``none`` or ``yearly`` (which needs a first time)."""
    value = value or "none"
    if value not in RECURRENCES:
        raise Invalid("recurrence", BAD_RECURRENCE)
    if value == "yearly" and when is None:
        raise Invalid("scheduled_at", YEARLY_NEEDS_TIME)
    return str(value)


def senders(values: Iterable[Any]) -> list[str]:
    """Sender ids, trimmed, each 1–:data:`SENDER_MAX` characters, deduplicated in order."""
    out: list[str] = []
    for value in values:
        if not isinstance(value, str) or not 1 <= len(value.strip()) <= SENDER_MAX:
            raise Invalid("senders", BAD_SENDER, limit=SENDER_MAX)
        out.append(value.strip())
    return list(dict.fromkeys(out))


def providers(values: Sequence[Any], known: Sequence[str]) -> str:
    """Distinct provider names in failover order, as the campaign stores them (``"http,smpp"``)."""
    if not all(isinstance(v, str) for v in values):
        raise Invalid("providers", BAD_PROVIDERS, known=", ".join(known))
    names = [v.strip() for v in values if v.strip()]
    if any(n not in known for n in names) or len(set(names)) != len(names):
        raise Invalid("providers", BAD_PROVIDERS, known=", ".join(known))
    return ",".join(names)
