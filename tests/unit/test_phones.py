"""Tests for campaigns.phones: normalisation to E.164, carriers, the 2018 change and masking."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from campaigns.phones import PhoneResult, carrier_of, mask, normalize, normalize_many

# Written out from vietnam-sms.md, independently of the module's table.
CARRIER_PREFIXES = {
    "Viettel": ["086", "096", "097", "098", "032", "033", "034", "035", "036", "037", "038", "039"],
    "VinaPhone": ["088", "091", "094", "081", "082", "083", "084", "085"],
    "MobiFone": ["089", "090", "093", "070", "076", "077", "078", "079"],
    "Vietnamobile": ["092", "052", "056", "058"],
    "Gmobile": ["099", "059"],
    "iTel": ["087"],
    "Wintel": ["055"],
}
PREFIX_CARRIER = [(p, name) for name, prefixes in CARRIER_PREFIXES.items() for p in prefixes]
OLD_TO_NEW = [
    ("0120", "070", "MobiFone"),
    ("0121", "079", "MobiFone"),
    ("0122", "077", "MobiFone"),
    ("0126", "076", "MobiFone"),
    ("0128", "078", "MobiFone"),
    ("0123", "083", "VinaPhone"),
    ("0124", "084", "VinaPhone"),
    ("0125", "085", "VinaPhone"),
    ("0127", "081", "VinaPhone"),
    ("0129", "082", "VinaPhone"),
    *[(f"016{d}", f"03{d}", "Viettel") for d in "23456789"],
    ("0186", "056", "Vietnamobile"),
    ("0188", "058", "Vietnamobile"),
    ("0199", "059", "Gmobile"),
]
FULLWIDTH = str.maketrans("0123456789+", "０１２３４５６７８９＋")


def test_tables_cover_the_reference() -> None:
    """36 mobile prefixes and 21 old prefixes, none twice."""
    assert len(PREFIX_CARRIER) == 36 == len({p for p, _ in PREFIX_CARRIER})
    assert len(OLD_TO_NEW) == 21 == len({old for old, _, _ in OLD_TO_NEW})


@pytest.mark.parametrize(("prefix", "carrier"), PREFIX_CARRIER)
def test_every_carrier_prefix(prefix: str, carrier: str) -> None:
    """Each mobile prefix is a valid mobile of its original operator, in every plain form."""
    for raw in (f"{prefix}5550123", f"+84{prefix[1:]}5550123", f"84{prefix[1:]}5550123"):
        result = normalize(raw)
        assert result == PhoneResult(raw, f"+84{prefix[1:]}5550123", True, "mobile", carrier, None)
    assert carrier_of(f"+84{prefix[1:]}5550123") == carrier


@pytest.mark.parametrize(("old", "new", "carrier"), OLD_TO_NEW)
def test_every_2018_prefix_is_converted(old: str, new: str, carrier: str) -> None:
    """An 11-digit number keeps its last seven digits behind the new three-digit prefix."""
    expected = f"+84{new[1:]}1234567"
    for raw in (
        f"{old}1234567",
        f"+84{old[1:]}1234567",
        f"84{old[1:]}1234567",
        f"0084{old[1:]}1234567",
        f"{old} 123 4567",
        f"+84 {old[1:]} 123 4567",
    ):
        result = normalize(raw)
        assert (result.e164, result.valid, result.carrier) == (expected, True, carrier), raw


@pytest.mark.parametrize(
    "raw",
    [
        "0912345678",
        "84912345678",
        "+84912345678",
        "+84 (0)912 345 678",
        "+84(0)912345678",
        "0084912345678",
        "0084 912 345 678",
        "0912 345 678",
        "091 234 5678",
        "091.234.5678",
        "091-234-5678",
        "(091) 234-5678",
        "(+84) 912 345 678",
        "+84-91-234-5678",
        "  0912345678\t",
        "0912345678\n",
        "０９１２３４５６７８",
        "＋８４９１２３４５６７８",
        "0912\u00a0345\u00a0678",
        "\ufeff0912345678",
        "\u200b0912\u200b345678",
        "091–234–5678",
        "٠٩١٢٣٤٥٦٧٨",
        "tel:+84912345678",
        "+840912345678",
        "912345678",
    ],
)
def test_accepted_formats(raw: str) -> None:
    """Spaces, dots, dashes, brackets, (0), 0084, full-width digits and NBSP all normalise."""
    assert normalize(raw) == PhoneResult(raw, "+84912345678", True, "mobile", "VinaPhone", None)


@pytest.mark.parametrize(
    ("raw", "e164"),
    [
        ("02838123456", "+842838123456"),  # Ho Chi Minh City
        ("024 3825 1234", "+842438251234"),  # Hanoi
        ("0299 3821 234", "+842993821234"),  # Soc Trang
        ("+84 292 3821 234", "+842923821234"),  # Can Tho
    ],
)
def test_vietnamese_landlines_are_not_valid_for_sms(raw: str, e164: str) -> None:
    """A landline parses to E.164 but cannot receive SMS."""
    assert normalize(raw) == PhoneResult(raw, e164, False, "landline", None, "landline")


@pytest.mark.parametrize(
    ("raw", "e164", "valid", "kind", "carrier", "reason"),
    [
        ("+1 415 555 2671", "+14155552671", True, "fixed_line_or_mobile", None, None),
        ("+1 (202) 555-0143", "+12025550143", True, "fixed_line_or_mobile", None, None),
        ("+44 7911 123456", "+447911123456", True, "mobile", "JT", None),
        ("0044 7911 123456", "+447911123456", True, "mobile", "JT", None),
        ("+33 6 12 34 56 78", "+33612345678", True, "mobile", "SFR", None),
        ("+86 138 0013 8000", "+8613800138000", True, "mobile", "China Mobile", None),
        ("+855 12 345 678", "+85512345678", True, "mobile", "Cellcard", None),
        ("+44 20 7946 0958", "+442079460958", False, "landline", None, "landline"),
        ("+33 1 42 68 53 00", "+33142685300", False, "landline", None, "landline"),
        ("+44 7911", "+447911", False, "unknown", None, "too_short"),
        ("+999 1234567", None, False, None, None, "invalid_country_code"),
    ],
)
def test_foreign_numbers(
    raw: str,
    e164: str | None,
    valid: bool,
    kind: str | None,
    carrier: str | None,
    reason: str | None,
) -> None:
    """phonenumbers judges foreign numbers: mobiles (or fixed-or-mobile) are valid."""
    assert normalize(raw) == PhoneResult(raw, e164, valid, kind, carrier, reason)


def test_default_region() -> None:
    """Numbers without a country code are read in the default region; +84 works everywhere."""
    assert normalize("2025550143", "US").e164 == "+12025550143"
    assert normalize("2025550143", "us").valid
    assert normalize("+84912345678", "US").carrier == "VinaPhone"
    assert normalize("+84 1688 123 456", "GB").e164 == "+84388123456"
    assert not normalize("0912345678", "US").valid
    assert normalize("0912345678", "").reason == "invalid_country_code"


@pytest.mark.parametrize(
    ("raw", "e164", "kind", "reason"),
    [
        ("0951234567", "+84951234567", "mobile", "invalid_prefix"),  # ex-S-Fone, unassigned
        ("0301234567", "+84301234567", "mobile", "invalid_prefix"),
        ("0401234567", "+84401234567", "unknown", "invalid_prefix"),
        ("01301234567", "+841301234567", "unknown", "invalid"),
        ("01601234567", "+841601234567", "unknown", "invalid_prefix"),  # 0160 was never used
        ("091234567", "+8491234567", "unknown", "too_short"),
        ("09123456789", "+849123456789", "unknown", "too_long"),
        ("+84 91", "+8491", "unknown", "too_short"),
        ("18001234", "+8418001234", "toll_free", "not_mobile"),
        ("19001234", "+8419001234", "premium_rate", "not_mobile"),
        ("111", None, "short_code", "short_code"),
        ("113", None, "short_code", "short_code"),
        ("5656", None, "short_code", "short_code"),
    ],
)
def test_unusable_vietnamese_numbers(raw: str, e164: str | None, kind: str, reason: str) -> None:
    """Unassigned prefixes, wrong lengths, service and short numbers are not valid for SMS."""
    assert normalize(raw) == PhoneResult(raw, e164, False, kind, None, reason)


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("", "empty"),
        ("   ", "empty"),
        ("\t\n", "empty"),
        ("None", "empty"),
        ("null", "empty"),
        ("NaN", "empty"),
        ("N/A", "empty"),
        ("-", "empty"),
        ("abc", "not_a_number"),
        ("0912abc345", "not_a_number"),
        ("0912345678 ext 5", "not_a_number"),
        ("😀", "not_a_number"),
        ("0912😀345678", "not_a_number"),
        ("+", "not_a_number"),
        ("()", "not_a_number"),
        ("++84912345678", "not_a_number"),
        ("84+912345678", "not_a_number"),
        ("0", "too_short"),
        ("00", "too_short"),
        ("+84", "too_short"),
        ("x" * 10_000, "too_long"),
        ("9" * 65, "too_long"),
        ("0912345678" + " " * 60, "too_long"),
        ("\x00\x01\x02", "not_a_number"),
        ("\ud800", "not_a_number"),
    ],
)
def test_junk_is_rejected_without_raising(raw: str, reason: str) -> None:
    """Junk gets a reason, never an exception."""
    result = normalize(raw)
    assert (result.valid, result.reason, result.carrier) == (False, reason, None)


@pytest.mark.parametrize(("raw", "reason"), [(None, "empty"), (3.5, "not_a_number")])
def test_untyped_input_does_not_raise(raw: object, reason: str) -> None:
    """Values from untyped sources (None, floats) are rejected, not raised on."""
    assert normalize(raw).reason == reason  # type: ignore[arg-type]


def test_integer_from_a_spreadsheet_is_read_as_digits() -> None:
    """An int cell (leading 0 lost) is still a VN mobile."""
    assert normalize(912345678).e164 == "+84912345678"  # type: ignore[arg-type]


def test_as_dict_keys() -> None:
    """as_dict has exactly the six documented keys."""
    assert normalize("0912345678").as_dict() == {
        "input": "0912345678",
        "e164": "+84912345678",
        "valid": True,
        "type": "mobile",
        "carrier": "VinaPhone",
        "reason": None,
    }


def test_normalize_many_is_lazy_and_ordered() -> None:
    """normalize_many yields one result per input, in order, without reading ahead."""
    consumed: list[str] = []

    def source() -> Iterator[str]:
        for raw in ("0912345678", "abc", "01688123456"):
            consumed.append(raw)
            yield raw

    results = normalize_many(source())
    assert next(results).e164 == "+84912345678"
    assert consumed == ["0912345678"]
    assert [r.reason for r in results] == ["not_a_number", None]


@pytest.mark.parametrize(
    ("e164", "masked"),
    [
        ("+84912345678", "+84 91x xxx 678"),
        ("+842838123456", "+84 28x xxxx 456"),
        ("+14155552671", "+1 41x xxxx 671"),
        ("+447911123456", "+44 79x xxxx 456"),
        ("+8613800138000", "+86 13x xxxxx 000"),
        ("+849123456", "+84 xxx x 456"),
        ("+8491234", "+84 xxxxx"),
        ("+84912", "+84 xxx"),
        ("+84", "+84"),
        ("0912345678", "09x xxxx 678"),
        ("", ""),
        ("garbage", ""),
    ],
)
def test_mask(e164: str, masked: str) -> None:
    """mask keeps the country code, two leading and three trailing national digits at most."""
    assert mask(e164) == masked


@pytest.mark.parametrize(
    "raw",
    ["+84 (0)912 345 678", "+44 20 7946 0958", "+84 111", "1234", "x" * 10_000, "+" + "9" * 40],
)
def test_mask_never_raises(raw: str) -> None:
    """mask accepts any text and never shows more than five national digits."""
    masked = mask(raw)
    assert len(re.findall(r"[0-9]", masked)) <= 3 + 5


def test_carrier_of_unknown() -> None:
    """carrier_of is None for landlines, junk and numbers phonenumbers has no carrier for."""
    assert carrier_of("+842838123456") is None
    assert carrier_of("junk") is None
    assert carrier_of("+14155552671") is None
    assert carrier_of("+447911123456") == "JT"


# --- properties -------------------------------------------------------------------------------

NEW_PREFIXES = [p for p, _ in PREFIX_CARRIER]
SEPARATORS = [" ", ".", "-", "\u00a0", "  ", " - "]


@st.composite
def vn_mobiles(draw: st.DrawFn) -> tuple[str, str, str]:
    """A VN mobile written in any accepted format, with its canonical E.164 and carrier."""
    tail = draw(st.text(alphabet="0123456789", min_size=7, max_size=7))
    if draw(st.booleans()):
        old, new, carrier = draw(st.sampled_from(OLD_TO_NEW))
        national, canonical = old + tail, new + tail
    else:
        prefix, carrier = draw(st.sampled_from(PREFIX_CARRIER))
        national = canonical = prefix + tail
    lead = draw(st.sampled_from(["0", "84", "+84", "0084", "+84 (0)", "(+84) ", "+84 "]))
    body = national[1:]  # every lead replaces the trunk 0
    # A separator may follow any digit but the last.
    cuts = draw(
        st.lists(
            st.sampled_from(SEPARATORS + [""] * 6), min_size=len(body) - 1, max_size=len(body) - 1
        )
    )
    written = lead + "".join(d + s for d, s in zip(body, [*cuts, ""], strict=True))
    if draw(st.booleans()):
        written = written.translate(FULLWIDTH)
    padding = draw(st.sampled_from(["", " ", "\t", "\u200b"]))
    return padding + written + padding, "+84" + canonical[1:], carrier


@settings(deadline=None, max_examples=400)
@given(vn_mobiles())
def test_any_accepted_format_gives_the_canonical_e164(case: tuple[str, str, str]) -> None:
    """A valid VN mobile in any accepted format normalises to its canonical E.164 and carrier."""
    raw, e164, carrier = case
    assert normalize(raw) == PhoneResult(raw, e164, True, "mobile", carrier, None)
    assert mask(e164) == f"+84 {e164[3:5]}x xxx {e164[-3:]}"


def check_invariants(result: PhoneResult, raw: str) -> None:
    """Consistency every result must keep."""
    assert result.input == raw
    assert isinstance(result.valid, bool)
    if result.valid:
        assert result.reason is None
        assert result.e164 is not None
        assert result.type in {"mobile", "fixed_line_or_mobile"}
    else:
        assert result.reason
    if result.e164 is not None:
        assert re.fullmatch(r"\+[1-9][0-9]{1,18}", result.e164)
    assert set(result.as_dict()) == {"input", "e164", "valid", "type", "carrier", "reason"}


@settings(deadline=None)
@given(st.text())
def test_normalize_never_raises_on_any_text(raw: str) -> None:
    """normalize returns a consistent result for arbitrary text."""
    check_invariants(normalize(raw), raw)
    mask(raw)


@settings(deadline=None, max_examples=300)
@given(
    st.text(alphabet="0123456789+ ()-.\u00a0０９", max_size=40),
    st.sampled_from(["VN", "US", "GB", "FR", "", "ZZ", "vn"]),
)
def test_normalize_never_raises_on_number_like_text(raw: str, region: str) -> None:
    """Digit soup in any default region gives a consistent result, never an exception."""
    result = normalize(raw, region)
    check_invariants(result, raw)
    if result.e164 is not None:
        assert mask(result.e164).startswith("+")


@settings(deadline=None, max_examples=200)
@given(vn_mobiles())
def test_normalising_is_idempotent(case: tuple[str, str, str]) -> None:
    """The E.164 a number normalises to normalises to itself, with the same carrier."""
    raw, _, _ = case
    first = normalize(raw)
    assert first.e164 is not None
    again = normalize(first.e164)
    assert (again.e164, again.valid, again.carrier) == (first.e164, True, first.carrier)


@settings(deadline=None, max_examples=300)
@given(st.text(alphabet="0123456789+ ()-.", max_size=20))
def test_a_valid_result_is_a_fixed_point(raw: str) -> None:
    """Whatever the input, a valid result's E.164 is already normal."""
    result = normalize(raw)
    if result.valid:
        assert result.e164 is not None
        assert normalize(result.e164).e164 == result.e164
