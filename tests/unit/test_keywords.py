"""Opt-out and opt-in keywords match the whole message only, with case and diacritics folded."""

from __future__ import annotations

import pytest

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
