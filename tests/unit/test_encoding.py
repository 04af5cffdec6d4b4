"""Tests for campaigns.encoding: GSM 03.38 / UCS-2 detection and segmentation."""

from __future__ import annotations

import itertools
import unicodedata

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from campaigns.encoding import (
    GSM7_BASIC,
    GSM7_EXTENSION,
    analyze,
    is_gsm7,
    split_segments,
)
from campaigns.text import nfc

OFFICIAL_TEXT = (
    "Toàn dân tích cực tham gia phòng, chống mua bán người. Khi phát hiện dấu hiệu liên quan "
    "đến mua bán người hãy thông báo ngay đến cơ quan Công an nơi gần nhất hoặc Tổng đài quốc "
    "gia 111 để được tư vấn, hỗ trợ, hướng dẫn kịp thời"
)
# Written out independently of the module: the 127 usable basic characters and the extension.
BASIC = (
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
EXTENSION = "\f^{}\\[~]|€"
VI = "ạ"  # a Vietnamese letter outside GSM-7, one UTF-16 unit
EMOJI = "😀"  # outside the BMP, two UTF-16 units


def septets(text: str) -> int:
    """GSM-7 cost of text, counted independently of the module."""
    return sum(2 if ch in EXTENSION else 1 for ch in text)


def utf16_units(text: str) -> int:
    """UCS-2 cost of text, counted independently of the module."""
    return len(text.encode("utf-16-le")) // 2


def test_alphabet_tables() -> None:
    """The tables hold exactly the 127 basic characters (no ESC) and the 10 extension ones."""
    assert len(BASIC) == 127
    assert set(BASIC) == GSM7_BASIC
    assert set(EXTENSION) == GSM7_EXTENSION
    assert "\x1b" not in GSM7_BASIC


@pytest.mark.parametrize("char", list(BASIC + EXTENSION))
def test_every_gsm_character_is_gsm7(char: str) -> None:
    """Each basic and extension character keeps a message in GSM-7."""
    assert is_gsm7(f"a{char}b")


@pytest.mark.parametrize(
    "char", ["ạ", "ế", "đ", "Đ", "ç", "`", "á", "À", "\x1b", "\t", "’", "“", "…", EMOJI, "中"]
)
def test_non_gsm_characters_force_ucs2(char: str) -> None:
    """A character outside both tables makes the message UCS-2 and is reported."""
    info = analyze(f"abc {char}")
    assert not is_gsm7(char)
    assert info.encoding == "UCS-2"
    assert info.non_gsm == char


@pytest.mark.parametrize(
    ("text", "encoding", "segments", "units"),
    [
        ("a" * 160, "GSM-7", 1, 160),
        ("a" * 161, "GSM-7", 2, 161),
        ("a" * 306, "GSM-7", 2, 306),
        ("a" * 307, "GSM-7", 3, 307),
        ("a" * 153 * 5, "GSM-7", 5, 765),
        ("a" * 159 + "€", "GSM-7", 2, 161),
        ("€" * 80, "GSM-7", 1, 160),
        ("€" * 81, "GSM-7", 2, 162),
        (VI * 70, "UCS-2", 1, 70),
        (VI * 71, "UCS-2", 2, 71),
        (VI * 134, "UCS-2", 2, 134),
        (VI * 135, "UCS-2", 3, 135),
        (VI * 67 * 4, "UCS-2", 4, 268),
        (VI * 67 * 4 + "a", "UCS-2", 5, 269),
        (VI * 68 + EMOJI, "UCS-2", 1, 70),
        (VI * 69 + EMOJI, "UCS-2", 2, 71),
        (EMOJI * 35, "UCS-2", 1, 70),
        (EMOJI * 36, "UCS-2", 2, 72),
        ("Ω", "GSM-7", 1, 1),  # the ohm sign U+2126 is Ω after NFC
        ("\u212b", "GSM-7", 1, 1),  # the angstrom sign U+212B is Å after NFC
    ],
)
def test_boundaries(text: str, encoding: str, segments: int, units: int) -> None:
    """Single-part and multipart limits: 160/153 septets, 70/67 UTF-16 units."""
    info = analyze(text)
    assert (info.encoding, info.segments, info.units) == (encoding, segments, units)
    assert len(split_segments(text)) == segments


@pytest.mark.parametrize(
    ("text", "lengths"),
    [
        ("a" * 152 + "€" + "a" * 10, [152, 11]),  # € would need septets 153 and 154
        ("a" * 151 + "€" + "a" * 10, [152, 10]),  # € fits exactly in septets 152-153
        ("a" * 153 + "{" + "a" * 10, [153, 11]),
        (VI * 66 + EMOJI + VI * 10, [66, 11]),  # the surrogate pair would need units 67 and 68
        (VI * 65 + EMOJI + VI * 10, [66, 10]),  # the pair fits exactly in units 66-67
    ],
)
def test_pairs_are_never_split_across_parts(text: str, lengths: list[int]) -> None:
    """An escape pair or a surrogate pair at a part boundary moves whole to the next part."""
    parts = split_segments(text)
    assert [len(part) for part in parts] == lengths
    assert "".join(parts) == text
    assert analyze(text).segments == len(lengths)


def test_empty_text_is_zero_segments() -> None:
    """Empty text costs nothing: GSM-7, 0 segments, no parts (Loa never sends an empty body)."""
    info = analyze("")
    assert (info.encoding, info.segments, info.characters, info.units) == ("GSM-7", 0, 0, 0)
    assert info.ascii_variant_segments == 0
    assert split_segments("") == []
    assert is_gsm7("")


def test_official_text() -> None:
    """The provincial plan's text is 227 characters, UCS-2 in 4 parts, 2 parts without accents."""
    info = analyze(OFFICIAL_TEXT)
    assert info.characters == 227
    assert info.encoding == "UCS-2"
    assert info.segments == 4
    assert info.ascii_variant_segments == 2
    assert info.units == 227
    assert info.non_gsm.startswith("âíựố")
    assert "à" not in info.non_gsm  # à is in the GSM basic table
    assert "".join(split_segments(OFFICIAL_TEXT)) == OFFICIAL_TEXT


@pytest.mark.parametrize("text", [OFFICIAL_TEXT, "Người", VI * 71, "Hỗ trợ kịp thời 😀"])
def test_nfd_input_costs_the_same_as_nfc(text: str) -> None:
    """Decomposed input is normalised first, so it analyses and splits like NFC."""
    decomposed = unicodedata.normalize("NFD", text)
    assert decomposed != text
    assert analyze(decomposed) == analyze(text)
    assert split_segments(decomposed) == split_segments(text)


def test_non_gsm_lists_distinct_characters_in_order() -> None:
    """non_gsm names each offending character once, in order of first appearance."""
    assert analyze("xin chào bạn, cảm ơn bạn 😀 ạ").non_gsm == "ạảơ😀"
    assert analyze("plain ASCII {with} €").non_gsm == ""


def test_as_dict() -> None:
    """as_dict exposes the fields under their names."""
    info = analyze("Xin chào")
    assert info.as_dict() == {
        "encoding": "GSM-7",
        "segments": 1,
        "characters": 8,
        "non_gsm": "",
        "ascii_variant_segments": 1,
        "units": 8,
    }


gsm_text = st.text(alphabet=BASIC + EXTENSION, max_size=700)
mixed_text = st.text(alphabet=BASIC + EXTENSION + "ạếđ" + EMOJI, max_size=500)
any_text = st.one_of(st.text(max_size=400), gsm_text, mixed_text)


@settings(deadline=None)
@given(any_text)
def test_split_properties(text: str) -> None:
    """Parts rebuild the NFC text, fit their budget, are as few as greedy packing allows."""
    info = analyze(text)
    parts = split_segments(text)
    normal = nfc(text)
    assert "".join(parts) == normal
    assert info.segments == len(parts)
    assert info.characters == len(normal)
    assert all(parts)
    if info.encoding == "GSM-7":
        cost, single, part = septets, 160, 153
        assert info.non_gsm == ""
    else:
        cost, single, part = utf16_units, 70, 67
        assert info.non_gsm
    assert info.units == cost(normal)
    budget = single if len(parts) == 1 else part
    assert all(cost(p) <= budget for p in parts)
    if normal and cost(normal) <= single:
        assert len(parts) == 1
    for current, following in itertools.pairwise(parts):
        assert cost(current) + cost(following[0]) > part  # no part was closed early


VIETNAMESE = "aàáảãạăằắẳẵặâầấẩẫậdđeèéẻẽẹêềếểễệiìíỉĩịoòóỏõọôồốổỗộơờớởỡợuùúủũụưừứửữựyỳýỷỹỵ"


@settings(deadline=None)
@given(st.text(alphabet=VIETNAMESE + VIETNAMESE.upper() + " .,0123456789", max_size=700))
def test_ascii_variant_never_costs_more_for_vietnamese(text: str) -> None:
    """Vietnamese text without diacritics never takes more segments than with them."""
    info = analyze(text)
    assert info.ascii_variant_segments <= info.segments


@settings(deadline=None)
@given(gsm_text)
def test_ascii_variant_of_gsm_text_costs_the_same(text: str) -> None:
    """GSM-7 text gains nothing from the ASCII variant."""
    info = analyze(text)
    assert info.ascii_variant_segments == info.segments


@settings(deadline=None, max_examples=200)
@given(any_text)
def test_segment_count_follows_the_published_limits(text: str) -> None:
    """One SMS holds 160 septets or 70 UTF-16 units; past that, parts of 153 or 67 (one less at
    most, when an escape or surrogate pair cannot be split): vietnam-sms.md's rules."""
    info = analyze(text)
    single, part = (160, 153) if info.encoding == "GSM-7" else (70, 67)
    if info.units == 0:
        assert info.segments == 0
    elif info.units <= single:
        assert info.segments == 1
    else:
        assert -(-info.units // part) <= info.segments <= -(-info.units // (part - 1))


@settings(deadline=None, max_examples=200)
@given(st.text(alphabet=VIETNAMESE + VIETNAMESE.upper() + " .,", min_size=1, max_size=300))
def test_vietnamese_with_diacritics_is_ucs2(text: str) -> None:
    """Any text with a Vietnamese diacritic is UCS-2; its NFD form costs the same."""
    info = analyze(text)
    if any(ord(c) > 0x7F and c not in "àèéìòùÀÉ" for c in nfc(text)):
        assert info.encoding == "UCS-2"
    assert analyze(unicodedata.normalize("NFD", text)) == info
