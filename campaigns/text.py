"""Small text helpers shared by encoding, importing and tip routing.

Vietnamese letters carry up to two marks (a vowel modifier such as the circumflex, breve or horn,
and a tone). In NFD every one of them is a combining mark from the Combining Diacritical Marks
block (U+0300-U+036F), so removing that block and recomposing gives the bare Latin letter. `đ`/`Đ`
is a letter of its own (no decomposition) and is mapped explicitly. Marks outside that block
(Thai, Devanagari, ...) are left alone: removing them would corrupt those scripts.
"""

from __future__ import annotations

import unicodedata

# Combining Diacritical Marks block: every Vietnamese tone and vowel modifier lives here.
_COMBINING_MARKS = {code: None for code in range(0x0300, 0x0370)}
_D_STROKE = str.maketrans({"đ": "d", "Đ": "D"})

# Typographic punctuation that word processors put into Vietnamese text. Each one forces UCS-2,
# so the ASCII variant replaces it with its plain counterpart.
_PUNCTUATION = str.maketrans(
    {
        "\u2018": "'",  # left single quotation mark
        "\u2019": "'",  # right single quotation mark
        "\u201a": "'",  # single low-9 quotation mark
        "\u201c": '"',  # left double quotation mark
        "\u201d": '"',  # right double quotation mark
        "\u201e": '"',  # double low-9 quotation mark
        "\u2010": "-",  # hyphen
        "\u2011": "-",  # non-breaking hyphen
        "\u2012": "-",  # figure dash
        "\u2013": "-",  # en dash
        "\u2014": "-",  # em dash
        "\u2212": "-",  # minus sign
        "\u2026": "...",  # horizontal ellipsis
        "\u00a0": " ",  # no-break space
        "\u202f": " ",  # narrow no-break space
    }
)


def nfc(s: str) -> str:
    """Return `s` in Unicode Normalization Form C.

    Args:
        s: any text.

    Returns:
        The NFC form; `s` itself when it is already normalised.
    """
    if unicodedata.is_normalized("NFC", s):
        return s
    return unicodedata.normalize("NFC", s)


def _strip_diacritics(s: str) -> str:
    """Remove Latin combining marks and map đ/Đ, keeping case; returns NFC text."""
    decomposed = unicodedata.normalize("NFD", s)
    bare = decomposed.translate(_COMBINING_MARKS)
    return unicodedata.normalize("NFC", bare).translate(_D_STROKE)


def fold(s: str) -> str:
    """Fold text for matching: NFC, lowercase, diacritics removed, `đ` -> `d`.

    Used to match keywords against messages typed with or without accents.

    Args:
        s: any text.

    Returns:
        The folded text, e.g. `fold("Mua Bán Người") == "mua ban nguoi"`.
    """
    return _strip_diacritics(s.lower())


def to_ascii_variant(s: str) -> str:
    """Write Vietnamese text without diacritics, keeping case (`Đ` -> `D`, tones removed).

    Typographic quotes, dashes, the ellipsis and no-break spaces become their ASCII forms (the
    ellipsis becomes three dots, so the length may change). Characters without an ASCII
    counterpart (emoji, other scripts) are kept, so the result is not always pure ASCII.

    Args:
        s: any text.

    Returns:
        The NFC text without Vietnamese diacritics, e.g. `"Tổng đài 111"` -> `"Tong dai 111"`.
    """
    return _strip_diacritics(s.translate(_PUNCTUATION))


# C0 controls but tab, line feed and carriage return; DEL; C1 controls. None of them is text a
# citizen meant to send; NUL cannot be stored in PostgreSQL at all.
_CONTROLS = {
    c: None for c in (*range(0x00, 0x09), 0x0B, 0x0C, *range(0x0E, 0x20), *range(0x7F, 0xA0))
}


def strip_controls(s: str) -> str:
    """Remove control characters, keeping tab and line breaks.

    Decision: control characters in received text are stripped, never refused, so a tip with a
    stray NUL or escape byte is kept (a tip is never lost for its bytes).

    Args:
        s: any text.

    Returns:
        ``s`` without C0 controls (except ``\t``, ``\n``, ``\r``), DEL and C1 controls.
    """
    return s.translate(_CONTROLS) if not s.isprintable() else s


_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_safe(value: object) -> object:
    """A cell for a CSV that Excel opens: text starting like a formula (``=HYPERLINK(…)``,
    ``@SUM(1)``, ``+cmd``) gets a leading apostrophe, so it stays text. Other values pass.

    Args:
        value: a cell's value.

    Returns:
        The value, neutralised when it is text that a spreadsheet would evaluate.
    """
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def spreadsheet_safe_csv(text: str) -> str:
    """A whole CSV document with every cell made :func:`spreadsheet_safe`."""
    import csv
    import io

    out = io.StringIO()
    writer = csv.writer(out)
    for row in csv.reader(io.StringIO(text)):
        writer.writerow([spreadsheet_safe(cell) for cell in row])
    return out.getvalue()
