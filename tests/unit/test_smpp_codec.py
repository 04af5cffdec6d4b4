"""The SMPP codec: parts agree with the composer's count, inbound parts read back exactly."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from campaigns import encoding
from campaigns.sending import Effect, Outcome
from gateway.providers.smpp_codec import (
    COMMAND_STATUSES,
    GSM_DEFAULT,
    UCS2,
    UDHI,
    Concat,
    command_status,
    decode,
    gsm_decode,
    gsm_encode,
    parse_receipt,
    read_short_message,
    submit_parts,
)
from tests.factories import OFFICIAL_TEXT


def reassemble(text: str, long_messages: str = "udh") -> str:
    parts = submit_parts(text, 42, long_messages=long_messages)
    payloads = []
    for p in parts:
        concat, payload = read_short_message(p.short_message, p.esm_class, p.data_coding)
        if len(parts) > 1 and long_messages == "udh":
            assert concat is not None and (concat.ref, concat.total) == (42, len(parts))
        payloads.append(p.message_payload or payload)
    result = decode(b"".join(payloads), parts[0].data_coding)
    assert result is not None
    return result


def test_the_official_text_is_four_ucs2_parts() -> None:
    """Invariant 10: with diacritics, 4 parts of at most 67 characters, 8-bit reference UDH."""
    parts = submit_parts(OFFICIAL_TEXT, 7)
    assert len(parts) == 4 == encoding.analyze(OFFICIAL_TEXT).segments
    assert {p.data_coding for p in parts} == {UCS2} and {p.esm_class for p in parts} == {UDHI}
    assert [p.short_message[:6] for p in parts] == [bytes([5, 0, 3, 7, 4, n]) for n in (1, 2, 3, 4)]
    assert all(len(p.short_message) <= 140 for p in parts)
    assert reassemble(OFFICIAL_TEXT) == OFFICIAL_TEXT


def test_short_texts_are_one_part_without_a_header() -> None:
    """A text that fits one SMS has no UDH; without diacritics it is GSM (data_coding 0)."""
    (part,) = submit_parts("Goi 111 [mien phi] €", 1)
    assert (part.esm_class, part.data_coding) == (0, GSM_DEFAULT)
    assert part.short_message == gsm_encode("Goi 111 [mien phi] €")
    assert b"\x1b" in part.short_message  # [ ] and € are escapes


def test_payload_mode_is_one_pdu() -> None:
    (part,) = submit_parts(OFFICIAL_TEXT, 1, long_messages="payload")
    assert part.short_message == b"" and part.message_payload == OFFICIAL_TEXT.encode("utf-16-be")


texts = st.text(
    alphabet=st.sampled_from(list("aăâbcdđeêghiklmnoôơpqrstuưvxyàảãáạ ,.!?0123456789€[]{}\n😀")),
    max_size=600,
)


@given(texts)
def test_any_text_round_trips_and_matches_the_segment_count(text: str) -> None:
    """Split, send, read back: the exact (NFC) text, in as many parts as the composer says."""
    parts = submit_parts(text, 9)
    assert len(parts) == max(1, encoding.analyze(text).segments)
    assert reassemble(text) == "".join(encoding.split_segments(text))  # the NFC text


@pytest.mark.parametrize(
    ("short_message", "esm", "sar", "expected"),
    [
        (bytes([5, 0, 3, 200, 3, 2]) + b"ab", UDHI, None, (Concat(200, 3, 2), b"ab")),
        (bytes([6, 8, 4, 0x12, 0x34, 2, 1]) + b"xy", UDHI, None, (Concat(0x1234, 2, 1), b"xy")),
        # another IE (a port address) before the concatenation one is skipped
        (bytes([11, 5, 4, 0, 0, 0, 0, 0, 3, 9, 2, 2]) + b"z", UDHI, None, (Concat(9, 2, 2), b"z")),
        (b"plain", 0, None, (None, b"plain")),
        (b"sar", 0, (77, 3, 1), (Concat(77, 3, 1), b"sar")),
        (bytes([5, 0, 3, 1, 2, 5]) + b"bad", UDHI, None, (None, b"bad")),  # seq 5 of 2
    ],
    ids=["8-bit", "16-bit", "other-ie-first", "whole", "sar", "nonsense-header"],
)
def test_read_short_message(
    short_message: bytes, esm: int, sar: tuple[int, int, int] | None, expected: object
) -> None:
    assert read_short_message(short_message, esm, 8, sar) == expected


@pytest.mark.parametrize(
    ("data", "coding", "text"),
    [
        ("Cứu".encode("utf-16-be"), 8, "Cứu"),
        (gsm_encode("Hi @ £ €"), 0, "Hi @ £ €"),
        (b"hello", 1, "hello"),
        ("café".encode("latin-1"), 3, "café"),
        (b"\xff\xfe", 4, None),  # 8-bit binary: not text
        (b"\x80", 0, None),  # not a septet
        (b"\xd8\x00", 8, None),  # a lone surrogate
    ],
)
def test_decode(data: bytes, coding: int, text: str | None) -> None:
    assert decode(data, coding) == text


def test_gsm_rejects_what_it_cannot_carry() -> None:
    with pytest.raises(UnicodeEncodeError):
        gsm_encode("Cứu")
    assert gsm_decode(gsm_encode("{}")) == "{}"


@pytest.mark.parametrize(
    ("text", "tlv", "expected"),
    [
        ("id:M1 sub:001 dlvrd:001 submit date:2607300800 done date:2607300801 stat:DELIVRD err:000 text:x", {}, ("M1", "DELIVRD", "000", "delivered")),
        (b"id:M2 stat:UNDELIV err:001", {}, ("M2", "UNDELIV", "001", "undelivered")),
        ("id:M3 stat:EXPIRED err:002", {}, ("M3", "EXPIRED", "002", "undelivered")),
        ("id:M4 stat:REJECTD err:069", {}, ("M4", "REJECTD", "069", "failed")),
        ("id:M5 stat:ENROUTE", {}, ("M5", "ENROUTE", None, "sent")),
        ("", {"receipted_message_id": "M6", "message_state": 2}, ("M6", "DELIVRD", None, "delivered")),
        ("id:old stat:UNDELIV", {"receipted_message_id": "M7", "message_state": 2}, ("M7", "DELIVRD", None, "delivered")),
    ],
)  # fmt: skip
def test_parse_receipt(
    text: str | bytes, tlv: dict[str, object], expected: tuple[object, ...]
) -> None:
    r = parse_receipt(text, **tlv)  # type: ignore[arg-type]
    assert r is not None and (r.message_id, r.stat, r.err, r.status) == expected


@pytest.mark.parametrize("text", ["Cứu với", "stat:DELIVRD", "id:M1 stat:WHATEVER", ""])
def test_not_a_receipt(text: str) -> None:
    assert parse_receipt(text) is None


@pytest.mark.parametrize("code", sorted(COMMAND_STATUSES))
def test_every_command_status_has_one_meaning(code: int) -> None:
    """Only ROK accepts; throttles and system errors retry; the rest fail, sender errors halt."""
    verdict = command_status(code)
    assert verdict.name.startswith("ESME_")
    if code == 0:
        assert verdict.outcome is Outcome.ACCEPTED
    elif code in (0x08, 0x14, 0x45, 0x58, 0x64):
        assert verdict.outcome is Outcome.RETRY
    else:
        assert verdict.outcome is Outcome.FAILED
    if code in (0x0A, 0x0D, 0x0E, 0x0F):
        assert verdict.effect is Effect.HALT


def test_an_unknown_status_fails_by_its_number() -> None:
    assert (command_status(0x400).outcome, command_status(0x400).name) == (
        Outcome.FAILED,
        "0x00000400",
    )
