"""What the composer tells an editor before a draft goes for approval: warnings, size and cost.

:func:`check` never raises and never blocks: it returns warnings (a code for machines, a
Vietnamese message for people, details). :func:`message_info` measures a template the way it
will be sent, variables filled with typical values.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from campaigns.encoding import UCS2, SmsInfo, analyze
from campaigns.rendering import KNOWN_VARIABLES, render, sample_variables, unknown_variables
from campaigns.text import fold
from campaigns.windows import DEFAULT_END, DEFAULT_START, Window

EMPTY_BODY = "empty_body"
UNKNOWN_VARIABLES = "unknown_variables"
REPLY_TO_BRANDNAME = "reply_to_brandname"
UCS2_ENCODING = "ucs2"
MANY_SEGMENTS = "many_segments"
NIGHT_HOURS = "night_hours"
DAY_HOURS = Window.parse(DEFAULT_START, DEFAULT_END)  # 07:00–22:00, the legal hours for ads

# Phrases (folded: lowercase, no diacritics) that ask the reader to text back.
REPLY_PHRASES = (
    "tra loi",
    "nhan tin lai",
    "nhan lai",
    "soan tin",
    "phan hoi qua tin nhan",
    "reply",
    "text back",
)
_REPLY = re.compile(r"\b(?:" + "|".join(re.escape(p) for p in REPLY_PHRASES) + r")\b")
_NUMERIC_SENDER = re.compile(r"\+?[0-9]{3,15}")
MANY_SEGMENTS_LIMIT = 6


@dataclass(frozen=True, slots=True)
class DraftWarning:
    """One thing an editor should know before submitting."""

    code: str
    message: str
    details: dict[str, object] = field(default_factory=dict)

    def as_dict(self) -> dict[str, object]:
        """Return a JSON-ready dict with code, message and details."""
        return {"code": self.code, "message": self.message, "details": dict(self.details)}


def is_brandname(sender: str) -> bool:
    """Tell whether a sender is an alphanumeric brandname (which cannot receive replies).

    Args:
        sender: a sender id as configured ("LOA-SOCTRANG", "+84912345678", "8079").

    Returns:
        True unless the sender is a phone number or short code (digits, optional leading +).
    """
    text = sender.strip()
    return bool(text) and _NUMERIC_SENDER.fullmatch(text.replace(" ", "")) is None


def asks_for_reply(body: str) -> str | None:
    """The phrase (folded) by which a text asks people to reply, or None."""
    match = _REPLY.search(fold(body))
    return match.group(0) if match else None


def message_info(body: str) -> SmsInfo:
    """Encoding and segments of a template as sent, variables filled with typical values."""
    return analyze(render(body, sample_variables()))


def check(
    body: str,
    sender: str | Iterable[str] | None = None,
    known_variables: Iterable[str] = KNOWN_VARIABLES,
    window: tuple[str, str] | None = None,
) -> list[DraftWarning]:
    """Warn about a draft. Never raises.

    Args:
        body: the message template.
        sender: the sender, or the pool of senders; None when the default is used and unknown.
        known_variables: the variables contacts can fill.
        window: the daily window (``HH:MM`` start and end), when known.

    Returns:
        Warnings in a stable order: empty body, unknown variables, reply to a brandname,
        UCS-2 encoding (with the no-diacritics segment count), many segments, night hours.
    """
    warnings: list[DraftWarning] = []
    if not body.strip():
        return [DraftWarning(EMPTY_BODY, "Nội dung tin nhắn đang trống.")]
    unknown = sorted(unknown_variables(body, frozenset(known_variables)))
    if unknown:
        names = ", ".join("{" + v + "}" for v in unknown)
        warnings.append(
            DraftWarning(
                UNKNOWN_VARIABLES,
                f"Biến không xác định: {names}. Chúng sẽ được gửi nguyên văn.",
                {"variables": unknown},
            )
        )
    senders = [sender] if isinstance(sender, str) else list(sender or [])
    brandnames = [s for s in senders if is_brandname(s)]
    phrase = asks_for_reply(body)
    if phrase and brandnames:
        warnings.append(
            DraftWarning(
                REPLY_TO_BRANDNAME,
                "Tin nhắn đề nghị người nhận nhắn tin lại, nhưng tên thương hiệu "
                f"({', '.join(brandnames)}) không nhận được tin trả lời.",
                {"phrase": phrase, "senders": brandnames},
            )
        )
    info = message_info(body)
    if info.encoding == UCS2:
        warnings.append(
            DraftWarning(
                UCS2_ENCODING,
                f"Tin có dấu (UCS-2): {info.segments} tin nhắn/người nhận; "
                f"nếu bỏ dấu còn {info.ascii_variant_segments}.",
                {
                    "segments": info.segments,
                    "ascii_variant_segments": info.ascii_variant_segments,
                    "non_gsm": info.non_gsm,
                },
            )
        )
    if info.segments > MANY_SEGMENTS_LIMIT:
        warnings.append(
            DraftWarning(
                MANY_SEGMENTS,
                f"Tin dài {info.segments} phần; một số máy cũ ghép tin không đúng.",
                {"segments": info.segments},
            )
        )
    if window is not None and sends_at_night(*window):
        warnings.append(
            DraftWarning(
                NIGHT_HOURS,
                f"Khung giờ {window[0]}–{window[1]} gửi cả ngoài 07:00–22:00: "
                "tin có thể đến người nhận vào ban đêm.",
                {"start": window[0], "end": window[1]},
            )
        )
    return warnings


def sends_at_night(start: str, end: str) -> bool:
    """Whether a (valid) window reaches outside 07:00–22:00; False for an invalid one."""
    try:
        w = Window.parse(start, end)
    except ValueError:
        return False
    return not (DAY_HOURS.start <= w.start < w.end <= DAY_HOURS.end)
