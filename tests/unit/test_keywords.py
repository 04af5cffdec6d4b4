"""Opt-out and opt-in keywords match the whole message only, with case and diacritics folded."""

from __future__ import annotations

import unicodedata

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from campaigns.text import fold, to_ascii_variant
from gateway.tips.keywords import OPT_IN, OPT_OUT, classify, keyword_form


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("STOP", OPT_OUT),
        ("stop", OPT_OUT),
        ("  Stop!!  ", OPT_OUT),
        ("HUY", OPT_OUT),
        ("HỦY", OPT_OUT),
        ("hủy.", OPT_OUT),
        ("Hủy", OPT_OUT),  # decomposed (NFD) input
        ("TU CHOI", OPT_OUT),
        ("TỪ CHỐI", OPT_OUT),
        ("từ-chối", OPT_OUT),
        ("KHONG NHAN", OPT_OUT),
        ("không   nhận", OPT_OUT),
        ("DUNG", OPT_OUT),
        ("Dừng", OPT_OUT),
        ("UNSUBSCRIBE", OPT_OUT),
        ("START", OPT_IN),
        ("DANG KY", OPT_IN),
        ("Đăng ký", OPT_IN),
        ("BẮT ĐẦU", OPT_IN),
        ("bat dau!", OPT_IN),
    ],
)
def test_whole_message_keywords(text: str, expected: str) -> None:
    """Each keyword, in any case, with or without diacritics and punctuation, is recognised."""
    assert classify(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "Họ không cho tôi dừng lại, cứu tôi",
        "STOP buôn người ở Kế Sách",
        "huy ơi có người lạ ở chợ",
        "Tôi từ chối đi nhưng họ ép",
        "bắt đầu từ hôm qua có xe lạ",
        "",
        "!!!",
        "dung " * 50,
    ],
)
def test_a_tip_containing_a_keyword_is_a_tip(text: str) -> None:
    """A message that merely contains a keyword is not an opt-out or opt-in."""
    assert classify(text) is None


def test_keyword_form_folds_and_trims() -> None:
    """The folded form drops marks, case, punctuation and extra spaces."""
    assert keyword_form("  TỪ   CHỐI!! ") == "tu choi"


VIETNAMESE = "aàáảãạăằắẳẵặâầấẩẫậdđeèéẻẽẹêềếểễệiìíỉĩịoòóỏõọôồốổỗộơờớởỡợuùúủũụưừứửữựyỳýỷỹỵ"
vn_text = st.text(alphabet=VIETNAMESE + VIETNAMESE.upper() + " .,!?-0123456789", max_size=80)
KEYWORDS = [("TỪ CHỐI", OPT_OUT), ("HỦY", OPT_OUT), ("DỪNG", OPT_OUT), ("ĐĂNG KÝ", OPT_IN)]


@settings(deadline=None, max_examples=300)
@given(vn_text)
def test_folding_ignores_case_and_diacritics_and_is_nfc_stable(text: str) -> None:
    """fold is idempotent, blind to case, and gives the same for NFC and NFD input."""
    folded = fold(text)
    assert fold(folded) == folded
    assert fold(text.upper()) == fold(text.lower()) == folded
    assert fold(unicodedata.normalize("NFD", text)) == folded
    assert folded.isascii()


@settings(deadline=None, max_examples=300)
@given(vn_text)
def test_classify_is_blind_to_case_diacritics_and_normal_form(text: str) -> None:
    """A message and its upper-case, folded and NFD forms are classified alike."""
    expected = classify(text)
    assert classify(text.upper()) == expected
    assert classify(to_ascii_variant(text)) == expected
    assert classify(unicodedata.normalize("NFD", text)) == expected
    assert keyword_form(keyword_form(text)) == keyword_form(text)


@settings(deadline=None, max_examples=200)
@given(
    st.sampled_from(KEYWORDS),
    st.lists(st.booleans(), min_size=12, max_size=12),
    st.sampled_from(["", " ", "!", ".", "  "]),
    st.booleans(),
)
def test_a_keyword_in_any_dress_is_recognised(
    keyword: tuple[str, str], upper: list[bool], trail: str, plain: bool
) -> None:
    """Any mix of case, with or without marks, with trailing punctuation: the same keyword."""
    word, expected = keyword
    word = to_ascii_variant(word) if plain else word
    dressed = "".join(c.upper() if u else c.lower() for c, u in zip(word, upper, strict=False))
    assert classify(dressed + trail) == expected
