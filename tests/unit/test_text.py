"""Tests for campaigns.text: NFC, folding and the ASCII variant of Vietnamese text."""

from __future__ import annotations

import unicodedata
from typing import Literal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from campaigns.text import fold, nfc, to_ascii_variant

VIETNAMESE_LOWER = (
    "aàáảãạăằắẳẵặâầấẩẫậbcdđeèéẻẽẹêềếểễệghiìíỉĩịklmnoòóỏõọôồốổỗộơờớởỡợpqrstuùúủũụưừứửữựvxyỳýỷỹỵ"
)
VIETNAMESE_UPPER = VIETNAMESE_LOWER.upper()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", ""),
        ("Mua Bán Người", "mua ban nguoi"),
        ("ĐƯỜNG DÂY NÓNG", "duong day nong"),
        ("Tổng đài 111", "tong dai 111"),
        ("Sóc Trăng", "soc trang"),
        ("Trần Đề", "tran de"),
        ("Vĩnh Châu", "vinh chau"),
        ("Cù Lao Dung", "cu lao dung"),
        ("buôn người", "buon nguoi"),
        ("already plain", "already plain"),
        ("İstanbul", "istanbul"),
        ("Ωmega 😀", "ωmega 😀"),
    ],
)
def test_fold(text: str, expected: str) -> None:
    """fold lowercases and removes every diacritic, mapping đ to d."""
    assert fold(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", ""),
        ("Tổng đài 111", "Tong dai 111"),
        ("ĐỒNG THÁP", "DONG THAP"),
        ("Hướng dẫn kịp thời", "Huong dan kip thoi"),
        ("“Phòng, chống” – mua bán người…", '"Phong, chong" - mua ban nguoi...'),
        ("‘a’ — b\u00a0c", "'a' - b c"),
        ("Bảo vệ 😀", "Bao ve 😀"),
        ("ภาษาไทย", "ภาษาไทย"),
    ],
)
def test_to_ascii_variant(text: str, expected: str) -> None:
    """to_ascii_variant removes tones and modifiers, keeps case and plain-ASCIIs punctuation."""
    assert to_ascii_variant(text) == expected


def test_every_vietnamese_letter_has_an_ascii_variant() -> None:
    """All 134 Vietnamese letters (both cases) become ASCII letters, one for one."""
    for letters in (VIETNAMESE_LOWER, VIETNAMESE_UPPER):
        variant = to_ascii_variant(letters)
        assert variant.isascii()
        assert variant.isalpha()
        assert len(variant) == len(letters)
    assert to_ascii_variant(VIETNAMESE_UPPER).isupper()
    assert fold(VIETNAMESE_UPPER) == to_ascii_variant(VIETNAMESE_LOWER)


@pytest.mark.parametrize("form", ["NFC", "NFD", "NFKC", "NFKD"])
def test_any_normalisation_form_gives_the_same_result(
    form: Literal["NFC", "NFD", "NFKC", "NFKD"],
) -> None:
    """Decomposed input folds and converts exactly like precomposed input."""
    text = "Khi phát hiện dấu hiệu liên quan đến mua bán người"
    other = unicodedata.normalize(form, text)
    assert nfc(other) == text
    assert fold(other) == fold(text)
    assert to_ascii_variant(other) == to_ascii_variant(text)


def test_nfc_returns_normalised_text_unchanged() -> None:
    """nfc leaves NFC text alone and composes NFD text."""
    text = "Người"
    assert nfc(text) is text
    assert nfc(unicodedata.normalize("NFD", text)) == text


@settings(deadline=None)
@given(st.text())
def test_fold_and_variant_properties(text: str) -> None:
    """Both helpers return NFC text, are idempotent and fold equals the lowered variant's fold."""
    folded = fold(text)
    variant = to_ascii_variant(text)
    assert unicodedata.is_normalized("NFC", folded)
    assert unicodedata.is_normalized("NFC", variant)
    assert fold(folded) == folded
    assert to_ascii_variant(variant) == variant


@settings(deadline=None)
@given(st.text(alphabet=VIETNAMESE_LOWER + VIETNAMESE_UPPER + " .,!?0123456789"))
def test_vietnamese_text_becomes_ascii(text: str) -> None:
    """Any Vietnamese text converts to ASCII of the same length and folds to lowercase ASCII."""
    variant = to_ascii_variant(text)
    assert variant.isascii()
    assert len(variant) == len(text)
    assert fold(text) == variant.lower()
