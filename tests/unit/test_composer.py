"""Composer warnings: reply to a brandname, unknown variables, UCS-2 with the ASCII alternative."""

from __future__ import annotations

import pytest

from campaigns import composer
from tests.factories import OFFICIAL_TEXT


def _codes(body: str, sender: str | list[str] | None = "LOA-SOCTRANG") -> list[str]:
    return [w.code for w in composer.check(body, sender)]


def test_official_text_warns_ucs2_with_ascii_count() -> None:
    """The official text is UCS-2, 4 segments, 2 without diacritics."""
    (warning,) = composer.check(OFFICIAL_TEXT, "LOA-SOCTRANG")
    assert warning.code == composer.UCS2_ENCODING
    assert warning.details["segments"] == 4
    assert warning.details["ascii_variant_segments"] == 2
    assert "2" in warning.message


@pytest.mark.parametrize(
    "body",
    [
        "Vui long tra loi tin nhan nay",
        "Vui lòng TRẢ LỜI tin nhắn này",
        "Hay nhan tin lai cho chung toi",
        "Soan tin TC gui 8079",
        "Reply STOP to opt out",
    ],
)
def test_reply_to_brandname(body: str) -> None:
    """Asking for a reply from an alphanumeric sender is flagged, with or without diacritics."""
    assert composer.REPLY_TO_BRANDNAME in _codes(body)


@pytest.mark.parametrize("sender", ["+84912345678", "8079", None, []])
def test_reply_to_number_is_fine(sender: str | list[str] | None) -> None:
    """A phone number or short code can receive replies; no sender known means no claim."""
    assert composer.REPLY_TO_BRANDNAME not in _codes("Vui long tra loi", sender)


def test_reply_in_pool_with_one_brandname() -> None:
    """One brandname in a sender pool is enough to warn, and it is named."""
    (warning,) = [
        w for w in composer.check("tra loi", ["8079", "LOA-ST"]) if w.code == "reply_to_brandname"
    ]
    assert warning.details["senders"] == ["LOA-ST"]


def test_no_false_reply_match() -> None:
    """A word merely containing a phrase does not warn."""
    assert composer.REPLY_TO_BRANDNAME not in _codes("Replying is not requested")


def test_unknown_variables_reported() -> None:
    """Unknown variables are named; known ones are not."""
    warnings = composer.check("Chao ban o {huyen}, {phone_masked}", "LOA")
    assert [w.code for w in warnings] == [composer.UNKNOWN_VARIABLES]
    assert warnings[0].details["variables"] == ["huyen"]
    assert "{huyen}" in warnings[0].message


def test_name_variable_counts_as_vietnamese() -> None:
    """{name} is measured with a Vietnamese sample name: names usually force UCS-2."""
    assert _codes("Chao {name}") == [composer.UCS2_ENCODING]


def test_empty_body() -> None:
    """An empty body is one warning and nothing else."""
    assert _codes("   ") == [composer.EMPTY_BODY]


def test_plain_gsm_text_is_quiet() -> None:
    """A short GSM-7 text to anyone has no warning."""
    assert _codes("Goi 111 khi phat hien mua ban nguoi") == []


def test_many_segments() -> None:
    """A very long message is flagged."""
    assert composer.MANY_SEGMENTS in _codes("a" * 153 * 7)


@pytest.mark.parametrize(
    ("sender", "brand"),
    [("LOA-SOCTRANG", True), ("+84912345678", False), ("8079", False), (" ", False), ("BCA", True)],
)
def test_is_brandname(sender: str, brand: bool) -> None:
    """Digits (with an optional +) are numbers; anything with letters is a brandname."""
    assert composer.is_brandname(sender) is brand


@pytest.mark.parametrize(
    ("start", "end", "night"),
    [
        ("07:00", "22:00", False),
        ("08:00", "17:30", False),
        ("00:00", "24:00", True),
        ("20:00", "06:00", True),
        ("06:30", "21:00", True),
        ("07:00", "22:30", True),
    ],
)
def test_night_hours_warned(start: str, end: str, night: bool) -> None:
    """A window reaching outside 07:00–22:00 is allowed but warned about."""
    codes = [w.code for w in composer.check("Xin chao", window=(start, end))]
    assert (composer.NIGHT_HOURS in codes) is night
