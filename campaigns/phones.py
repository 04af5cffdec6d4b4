"""Phone number normalisation for SMS: E.164, validity, carrier and masking.

Vietnamese mobiles are judged by Loa's own prefix table (phonenumbers 9.0.x rejects most Wintel
055 numbers, labels iTel 087 "Vinaphone" and accepts prefixes nobody has been assigned). Old
11-digit mobile numbers (before the 2018 change) are converted, never rejected. Everything else
(landlines, service numbers, foreign numbers) is judged by phonenumbers.

The clean common forms (`0912345678`, `84912345678`, `+84912345678`, `0084912345678`) take a
precompiled-regex fast path that never calls phonenumbers; contact imports of a million rows are
almost entirely such numbers.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import phonenumbers
from phonenumbers import PhoneNumberType, ValidationResult, carrier

VN_REGION = "VN"
VN_CODE = "84"
MAX_INPUT_LENGTH = 64
_MAX_E164_DIGITS = 15

# Original operator by the first two digits of the 9-digit national number (numbers can be
# ported, so this is the operator that issued the number). Source: vietnam-sms.md.
VN_MOBILE_CARRIERS: dict[str, str] = {
    **dict.fromkeys(
        ("86", "96", "97", "98", "32", "33", "34", "35", "36", "37", "38", "39"), "Viettel"
    ),
    **dict.fromkeys(("88", "91", "94", "81", "82", "83", "84", "85"), "VinaPhone"),
    **dict.fromkeys(("89", "90", "93", "70", "76", "77", "78", "79"), "MobiFone"),
    **dict.fromkeys(("92", "52", "56", "58"), "Vietnamobile"),
    **dict.fromkeys(("99", "59"), "Gmobile"),
    "87": "iTel",
    "55": "Wintel",
}

# The 2018 change: old 10-digit national number prefix (without the trunk 0) -> new prefix; the
# last seven digits are kept.
# fmt: off
VN_OLD_PREFIXES: dict[str, str] = {
    "120": "70", "121": "79", "122": "77", "126": "76", "128": "78",
    "123": "83", "124": "84", "125": "85", "127": "81", "129": "82",
    **{f"16{d}": f"3{d}" for d in "23456789"},
    "186": "56", "188": "58", "199": "59",
}
# fmt: on
_OLD_RANGES = frozenset(old[:2] for old in VN_OLD_PREFIXES)

# The clean common forms; group 1 is the national number, new (9 digits) or old (10 digits).
_FAST_VN = re.compile(r"(?:\+84|0084|84|0)([35789][0-9]{8}|1[0-9]{9})")
_FAST_PLUS84 = re.compile(r"\+84([35789][0-9]{8}|1[0-9]{9})")
# The separators people put in a clean number ("0912 345 678", "0912.345.678"): deleting them
# before the fast path gives what cleaning would, without its per-character Unicode checks.
_ASCII_SEPARATORS = str.maketrans("", "", " .-")
_TRUNK_IN_BRACKETS = re.compile(r"\(\s*0\s*\)")
# Ignorable while cleaning: common separators and Unicode dashes; spaces and format characters
# (zero-width space, BOM, direction marks) are recognised by category instead.
_SEPARATORS = frozenset(".-()/[]\u2010\u2011\u2012\u2013\u2014\u2015\u2212")
# What spreadsheets and CSV exports write in an empty cell.
_NULL_TOKENS = frozenset({"none", "null", "nan", "n/a", "na", "nil", "-", "--"})
_SHORT_CODE_DIGITS = range(3, 6)

_TYPE_NAMES: dict[int, str] = {
    PhoneNumberType.FIXED_LINE: "landline",
    PhoneNumberType.MOBILE: "mobile",
    PhoneNumberType.FIXED_LINE_OR_MOBILE: "fixed_line_or_mobile",
    PhoneNumberType.TOLL_FREE: "toll_free",
    PhoneNumberType.PREMIUM_RATE: "premium_rate",
    PhoneNumberType.SHARED_COST: "shared_cost",
    PhoneNumberType.VOIP: "voip",
    PhoneNumberType.PERSONAL_NUMBER: "personal_number",
    PhoneNumberType.PAGER: "pager",
    PhoneNumberType.UAN: "uan",
    PhoneNumberType.VOICEMAIL: "voicemail",
}
_SMS_TYPES = frozenset({PhoneNumberType.MOBILE, PhoneNumberType.FIXED_LINE_OR_MOBILE})
_PARSE_REASONS: dict[int, str] = {
    phonenumbers.NumberParseException.INVALID_COUNTRY_CODE: "invalid_country_code",
    phonenumbers.NumberParseException.NOT_A_NUMBER: "not_a_number",
    phonenumbers.NumberParseException.TOO_SHORT_AFTER_IDD: "too_short",
    phonenumbers.NumberParseException.TOO_SHORT_NSN: "too_short",
    phonenumbers.NumberParseException.TOO_LONG: "too_long",
}


@dataclass(frozen=True, slots=True)
class PhoneResult:
    """The outcome of normalising one phone number."""

    input: str
    e164: str | None  # "+84912345678" when parseable as a number, else None
    valid: bool  # True only if usable for SMS (a mobile number)
    type: str | None  # "mobile", "landline", "short_code", "unknown", ...
    carrier: str | None  # original operator for VN mobiles; phonenumbers' name abroad
    reason: str | None  # machine-readable reason when not valid, else None

    def as_dict(self) -> dict[str, object]:
        """Return the fields as a JSON-ready dict.

        Returns:
            A dict with exactly the keys input, e164, valid, type, carrier, reason.
        """
        return {
            "input": self.input,
            "e164": self.e164,
            "valid": self.valid,
            "type": self.type,
            "carrier": self.carrier,
            "reason": self.reason,
        }


def _rejected(
    raw: str, reason: str, e164: str | None = None, kind: str | None = None
) -> PhoneResult:
    return PhoneResult(raw, e164, False, kind, None, reason)


def _convert_old(nsn: str) -> str | None:
    """Return the 9-digit form of an old 10-digit mobile national number, else None."""
    new_prefix = VN_OLD_PREFIXES.get(nsn[:3]) if len(nsn) == 10 else None
    return None if new_prefix is None else new_prefix + nsn[3:]


def _clean(raw: str) -> str | None:
    """Reduce `raw` to an optional leading `+` and ASCII digits; None if anything else is there."""
    text = unicodedata.normalize("NFKC", raw).strip()
    if text[:4].lower() == "tel:":
        text = text[4:]
    text = _TRUNK_IN_BRACKETS.sub("", text)
    out: list[str] = []
    for ch in text:
        if ch.isdecimal():
            out.append(str(unicodedata.decimal(ch)))
        elif ch == "+" and not out:
            out.append(ch)
        elif not (ch in _SEPARATORS or ch.isspace() or unicodedata.category(ch) == "Cf"):
            return None
    return "".join(out)


def _vn_national(cleaned: str, region: str) -> str | None:
    """The VN national significant number in `cleaned`, or None if it is not a VN number."""
    if cleaned.startswith("+"):
        international = cleaned[1:]
    elif region == VN_REGION and cleaned.startswith("00"):
        international = cleaned[2:]
    elif region != VN_REGION:
        return None
    elif cleaned.startswith("0"):
        return cleaned[1:]
    elif cleaned.startswith(VN_CODE) and len(cleaned) >= 11:
        return cleaned[2:]
    else:
        return cleaned  # national number written without its trunk 0
    if not international.startswith(VN_CODE):
        return None
    nsn = international[2:]
    # "+84 0912..." is a common slip: VN numbers never start with 0 after the country code.
    return nsn[1:] if nsn.startswith("0") else nsn


def _judge_vn(raw: str, nsn: str) -> PhoneResult:
    """Judge a VN national significant number: mobile table first, phonenumbers for the rest."""
    nsn = _convert_old(nsn) or nsn
    if not nsn or nsn.startswith("0"):
        return _rejected(raw, "too_short" if not nsn else "invalid")
    if len(nsn) > _MAX_E164_DIGITS - len(VN_CODE):
        return _rejected(raw, "too_long")
    e164 = "+84" + nsn
    name = VN_MOBILE_CARRIERS.get(nsn[:2]) if len(nsn) == 9 else None
    if name is not None:
        return PhoneResult(raw, e164, True, "mobile", name, None)
    number = phonenumbers.PhoneNumber(country_code=84, national_number=int(nsn))
    if phonenumbers.is_valid_number(number):
        kind = phonenumbers.number_type(number)
        if kind == PhoneNumberType.MOBILE:  # phonenumbers knows more ranges than operators use
            return _rejected(raw, "invalid_prefix", e164, "mobile")
        name = _TYPE_NAMES.get(kind, "unknown")
        return _rejected(raw, "landline" if name == "landline" else "not_mobile", e164, name)
    if nsn[0] in "35789" and len(nsn) != 9:  # mobile ranges, always 9 digits
        return _rejected(raw, "too_short" if len(nsn) < 9 else "too_long", e164, "unknown")
    if (len(nsn) == 9 and nsn[0] != "2") or (len(nsn) == 10 and nsn[:2] in _OLD_RANGES):
        return _rejected(raw, "invalid_prefix", e164, "unknown")
    return _rejected(raw, _length_reason(number), e164, "unknown")


def _length_reason(number: phonenumbers.PhoneNumber) -> str:
    """Reason for an invalid number, from its length where that explains it."""
    possible = phonenumbers.is_possible_number_with_reason(number)
    if possible in (ValidationResult.TOO_SHORT, ValidationResult.IS_POSSIBLE_LOCAL_ONLY):
        return "too_short"
    if possible == ValidationResult.TOO_LONG:
        return "too_long"
    return "invalid"


def _judge_foreign(raw: str, cleaned: str, region: str) -> PhoneResult:
    """Let phonenumbers judge a number outside Vietnam."""
    try:
        number = phonenumbers.parse(cleaned, region)
    except phonenumbers.NumberParseException as exc:
        return _rejected(raw, _PARSE_REASONS.get(exc.error_type, "invalid"))
    e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    if len(e164) > _MAX_E164_DIGITS + 1:
        return _rejected(raw, "too_long")
    if not phonenumbers.is_valid_number(number):
        return _rejected(raw, _length_reason(number), e164, "unknown")
    kind = phonenumbers.number_type(number)
    name = carrier.name_for_number(number, "en") or None
    type_name = _TYPE_NAMES.get(kind, "unknown")
    if kind in _SMS_TYPES:
        return PhoneResult(raw, e164, True, type_name, name, None)
    reason = "landline" if type_name == "landline" else "not_mobile"
    return PhoneResult(raw, e164, False, type_name, name, reason)


def _normalize_unusual(raw: str, region: str) -> PhoneResult:
    if not raw or raw.isspace() or raw.strip().lower() in _NULL_TOKENS:
        return _rejected(raw, "empty")
    if len(raw) > MAX_INPUT_LENGTH:
        return _rejected(raw, "too_long")
    cleaned = _clean(raw)
    if not cleaned or cleaned == "+":
        return _rejected(raw, "not_a_number")
    if not cleaned.startswith(("+", "0")) and len(cleaned) in _SHORT_CODE_DIGITS:
        return _rejected(raw, "short_code", None, "short_code")
    nsn = _vn_national(cleaned, region)
    if nsn is not None:
        return _judge_vn(raw, nsn)
    return _judge_foreign(raw, cleaned, region)


def normalize(raw: str, default_region: str = VN_REGION) -> PhoneResult:
    """Normalise one phone number for SMS. Never raises.

    Args:
        raw: the number as typed or imported, in any common format.
        default_region: ISO 3166 region for numbers written without a country code.

    Returns:
        The PhoneResult; `valid` is True only for a number that can receive SMS.
    """
    region = VN_REGION if default_region == VN_REGION else str(default_region).upper()
    if not isinstance(raw, str):
        return _normalize_non_str(raw, region)
    try:
        fast = _FAST_VN if region == VN_REGION else _FAST_PLUS84
        match = fast.fullmatch(raw)
        if match is None and len(raw) <= MAX_INPUT_LENGTH:
            match = fast.fullmatch(raw.translate(_ASCII_SEPARATORS))
        if match is not None:  # the fast path: no cleaning, no phonenumbers for known prefixes
            return _judge_vn(raw, match[1])
        return _normalize_unusual(raw, region)
    except Exception:  # a malformed number must never break an import of a million rows
        return _rejected(raw, "invalid")


def _normalize_non_str(raw: object, region: str) -> PhoneResult:
    """Callers are typed but spreadsheets are not: None is empty, an int is read as digits."""
    if raw is None:
        return _rejected("", "empty")
    if isinstance(raw, int) and not isinstance(raw, bool):
        return normalize(str(raw), region)
    return _rejected(repr(raw)[:MAX_INPUT_LENGTH], "not_a_number")


def normalize_many(raws: Iterable[str], default_region: str = VN_REGION) -> Iterator[PhoneResult]:
    """Normalise numbers lazily, one result per input, in order.

    Args:
        raws: the numbers, e.g. a column streamed from an import file.
        default_region: as for `normalize`.

    Returns:
        An iterator of PhoneResult.
    """
    for raw in raws:
        yield normalize(raw, default_region)


def carrier_of(e164: str) -> str | None:
    """Name the original operator of a number.

    Args:
        e164: a number, best in E.164 form.

    Returns:
        The carrier name (Loa's table for VN mobiles, phonenumbers' English name abroad), or None
        when unknown.
    """
    return normalize(e164).carrier


def _country_code(digits: str) -> str:
    """The leading ITU country code of international `digits`, or "" if none is known."""
    for size in (1, 2, 3):
        head = digits[:size]
        if len(head) == size and int(head) in phonenumbers.COUNTRY_CODE_TO_REGION_CODE:
            return head
    return ""


def mask(e164: str) -> str:
    """Hide most digits of a number for logs and screens.

    At most the country code, the first two national digits and the last three are shown; short
    national numbers show fewer (under 8 digits no head, under 6 nothing).

    Args:
        e164: a number, best in E.164 form; any text is accepted.

    Returns:
        For example "+84 91x xxx 678" for "+84912345678".
    """
    text = e164 if isinstance(e164, str) else ""
    digits = "".join(ch for ch in text[:MAX_INPUT_LENGTH] if ch.isascii() and ch.isdigit())
    code = _country_code(digits) if text.lstrip().startswith("+") else ""
    national = digits[len(code) :]
    size = len(national)
    head = 2 if size >= 8 else 0
    tail = 3 if size >= 6 else 0
    hidden = national[:head] + "x" * (size - head - tail) + national[size - tail :]
    if size >= 7:
        hidden = f"{hidden[:3]} {hidden[3:-3]} {hidden[-3:]}"
    if not code:
        return hidden
    return f"+{code} {hidden}" if hidden else f"+{code}"
