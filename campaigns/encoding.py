"""SMS encoding and segmentation (GSM 03.38 / 3GPP TS 23.038).

A message is sent in the GSM 7-bit default alphabet when every character is in its basic table or
its extension table (extension characters take an escape septet, so two septets each); otherwise
the whole message goes as UCS-2 (UTF-16 code units). A single SMS holds 160 septets or 70 units;
a concatenated message loses room to its header and holds 153 septets or 67 units per part.

Decisions:
- Text is normalised to NFC first: decomposed Vietnamese would otherwise cost two code points
  per accented letter.
- Parts are cut between code points; an escape pair (GSM-7) or a surrogate pair (UCS-2) is never
  cut. Grapheme clusters (flag emoji, ZWJ sequences) may be cut, as phones do.
- National language shift tables are not used: no Vietnamese table exists and many handsets
  ignore them.
- Empty text is 0 segments and `split_segments("") == []`: Loa never sends an empty body (Twilio
  refuses one), so it costs nothing. Callers must reject empty messages themselves.
"""

from __future__ import annotations

from dataclasses import dataclass

from campaigns.text import nfc, to_ascii_variant

GSM7 = "GSM-7"
UCS2 = "UCS-2"

# The GSM 03.38 basic table in code order, 0x00-0x7F, without 0x1B (ESC, not a character).
GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅå"
    "Δ_ΦΓΛΩΠΨΣΘΞÆæßÉ"  # 0x1B (ESC) sits between Ξ and Æ
    " !\"#¤%&'()*+,-./"
    "0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§"
    "¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
# The extension table: each character is sent as ESC + code, two septets.
GSM7_EXTENSION = frozenset("\f^{}\\[~]|€")

GSM7_SINGLE = 160
GSM7_PART = 153
UCS2_SINGLE = 70
UCS2_PART = 67


@dataclass(frozen=True, slots=True)
class SmsInfo:
    """What a text costs as SMS."""

    encoding: str  # GSM7 or UCS2
    segments: int
    characters: int  # code points after NFC
    non_gsm: str  # distinct characters forcing UCS-2, in order of first appearance
    ascii_variant_segments: int  # segments of to_ascii_variant(text)
    units: int  # septets (GSM-7) or UTF-16 code units (UCS-2)

    def as_dict(self) -> dict[str, object]:
        """Return the fields as a JSON-ready dict.

        Returns:
            A dict with keys encoding, segments, characters, non_gsm, ascii_variant_segments,
            units.
        """
        return {
            "encoding": self.encoding,
            "segments": self.segments,
            "characters": self.characters,
            "non_gsm": self.non_gsm,
            "ascii_variant_segments": self.ascii_variant_segments,
            "units": self.units,
        }


def _non_gsm(text: str) -> str:
    """Return the distinct characters of NFC `text` outside GSM-7, in order of first appearance."""
    outside = dict.fromkeys(ch for ch in text if ch not in GSM7_BASIC and ch not in GSM7_EXTENSION)
    return "".join(outside)


def _gsm7_cost(ch: str) -> int:
    return 2 if ch in GSM7_EXTENSION else 1


def _ucs2_cost(ch: str) -> int:
    return 2 if ord(ch) > 0xFFFF else 1


def _costs(text: str, gsm: bool) -> list[int]:
    """Cost of each code point of NFC `text` in the chosen encoding."""
    cost = _gsm7_cost if gsm else _ucs2_cost
    return [cost(ch) for ch in text]


def _part_ends(costs: list[int], budget: int) -> list[int]:
    """Greedy cut points (exclusive end indexes) so that no part exceeds `budget`."""
    ends: list[int] = []
    used = 0
    for index, cost in enumerate(costs):
        if used + cost > budget:
            ends.append(index)
            used = 0
        used += cost
    ends.append(len(costs))
    return ends


def _layout(text: str) -> tuple[str, str, int, list[int]]:
    """Encoding, non-GSM characters, total units and part end indexes for NFC `text`."""
    non_gsm = _non_gsm(text)
    gsm = not non_gsm
    costs = _costs(text, gsm)
    if not costs:
        return GSM7, "", 0, []
    units = sum(costs)
    single, part = (GSM7_SINGLE, GSM7_PART) if gsm else (UCS2_SINGLE, UCS2_PART)
    ends = [len(text)] if units <= single else _part_ends(costs, part)
    return (GSM7 if gsm else UCS2), non_gsm, units, ends


def is_gsm7(text: str) -> bool:
    """Tell whether `text` can be sent in the GSM 7-bit alphabet.

    Args:
        text: the message text (normalised to NFC first).

    Returns:
        True when every character is in the GSM 03.38 basic or extension table.
    """
    return not _non_gsm(nfc(text))


def analyze(text: str) -> SmsInfo:
    """Describe the encoding and segment count of a message.

    Args:
        text: the message text, any normalisation form.

    Returns:
        The SmsInfo of the NFC text; empty text gives GSM-7 with 0 segments.
    """
    normal = nfc(text)
    encoding, non_gsm, units, ends = _layout(normal)
    ascii_ends = _layout(nfc(to_ascii_variant(normal)))[3]
    return SmsInfo(
        encoding=encoding,
        segments=len(ends),
        characters=len(normal),
        non_gsm=non_gsm,
        ascii_variant_segments=len(ascii_ends),
        units=units,
    )


def split_segments(text: str) -> list[str]:
    """Split a message into the parts a phone would send.

    Args:
        text: the message text, any normalisation form.

    Returns:
        The parts of the NFC text, in order; joined they give the NFC text. Empty text gives [].
    """
    normal = nfc(text)
    ends = _layout(normal)[3]
    # Each part starts where the previous one ended; the extra start after the last end is unused.
    return [normal[start:end] for start, end in zip([0, *ends], ends, strict=False)]
