"""Opt-out and opt-in keywords, matched on the WHOLE message only.

A message is a keyword when, after folding case and diacritics (``HỦY`` → ``huy``) and dropping
punctuation and extra spaces, it equals one of the lists below. A tip that merely contains
``dừng`` or ``stop`` is a tip: a citizen writing "họ không cho tôi dừng lại" must not be unsubscribed.
"""

from __future__ import annotations

import re

from campaigns.text import fold, nfc

OPT_OUT = "opt_out"
OPT_IN = "opt_in"

# Folded forms. Vietnamese carriers' customary words first, then the international ones.
OPT_OUT_WORDS = frozenset(
    {
        "huy",
        "huy dang ky",
        "huy dk",
        "tu choi",
        "tu choi nhan",
        "khong nhan",
        "khong nhan tin",
        "dung",
        "dung lai",
        "ngung",
        "ngung nhan",
        "stop",
        "stopall",
        "stop all",
        "unsubscribe",
        "cancel",
        "end",
        "quit",
        "optout",
        "opt out",
    }
)
OPT_IN_WORDS = frozenset(
    {
        "start",
        "dang ky",
        "dk",
        "bat dau",
        "nhan lai",
        "unstop",
        "subscribe",
        "optin",
        "opt in",
    }
)

# Anything that is not a letter or digit separates words ("HỦY!", "tu-choi", " STOP. ").
_NOT_WORD = re.compile(r"[\W_]+")
_LONGEST = max(len(w) for w in OPT_OUT_WORDS | OPT_IN_WORDS)


def keyword_form(text: str) -> str:
    """The message folded for keyword matching: ``" Hủy!! "`` → ``"huy"``."""
    # Long messages are never keywords; skip folding them at all.
    if len(text) > _LONGEST * 3:
        return ""
    return " ".join(_NOT_WORD.sub(" ", fold(nfc(text))).split())


def classify(text: str) -> str | None:
    """``"opt_out"``, ``"opt_in"`` or None (a tip) for an inbound message body."""
    form = keyword_form(text)
    if form in OPT_OUT_WORDS:
        return OPT_OUT
    if form in OPT_IN_WORDS:
        return OPT_IN
    return None
