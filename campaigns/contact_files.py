"""Reading contact files: CSV/TXT and XLSX, row by row, with their header mapped to fields.

Nothing here holds the whole file: CSV is decoded and parsed incrementally from the file
object, XLSX is read with openpyxl's read-only mode.

Accepted text: UTF-8 with or without BOM, UTF-16 with BOM (Excel's "Unicode text", tab
separated), or a legacy Windows-1258 / Windows-1252 file; separators `,` `;` or tab, sniffed
from the first lines. The header row may be Vietnamese or English (matched folded); a file whose
first row is already a phone number has no header and is read as :data:`HEADERLESS`.
"""

from __future__ import annotations

import codecs
import csv
import io
import re
import warnings
import zipfile
from collections.abc import Iterable, Iterator
from typing import IO, Any

from campaigns.text import fold, nfc

SNIFF_BYTES = 64 * 1024
_MAX_CELL = 200

PHONE, NAME, DISTRICT, WARD, TAGS = "phone", "name", "district", "ward", "tags"
# Folded header names (lowercase, no diacritics, punctuation as spaces) → field.
HEADER_ALIASES: dict[str, str] = {
    **dict.fromkeys(
        (
            "phone",
            "phone number",
            "mobile",
            "mobile phone",
            "tel",
            "telephone",
            "msisdn",
            "so dien thoai",
            "sdt",
            "so dt",
            "dien thoai",
            "dt",
            "di dong",
            "so di dong",
            "so thue bao",
            "thue bao",
        ),
        PHONE,
    ),
    **dict.fromkeys(("name", "full name", "ho ten", "ho va ten", "ten", "khach hang"), NAME),
    **dict.fromkeys(
        (
            "district",
            "huyen",
            "quan",
            "quan huyen",
            "huyen quan",
            "huyen thi xa",
            "quan huyen thi xa",
            "thi xa",
        ),
        DISTRICT,
    ),
    **dict.fromkeys(
        ("ward", "commune", "xa", "phuong", "xa phuong", "phuong xa", "xa phuong thi tran"),
        WARD,
    ),
    **dict.fromkeys(("tags", "tag", "nhan", "the", "nhom"), TAGS),
}
HEADERLESS = (PHONE, NAME, DISTRICT, WARD, TAGS)
_NON_ALNUM = re.compile(r"[^0-9a-z]+")

Rows = Iterator[tuple[int, list[Any]]]
"""(line number, cells) pairs, read lazily."""


class ImportFailed(ValueError):
    """The file cannot be read at all (no phone column, not CSV/XLSX, unreadable)."""


class UnreadableRow(list[Any]):
    """The cells of a CSV row that could not be parsed (a field past the size limit, a stray
    quote at the end): no cells, and why. The importer reports it with its line number and reads
    on, so one broken line never loses the rest of the file."""

    def __init__(self, reason: str) -> None:
        super().__init__()
        self.reason = reason


# A zip bomb disguised as XLSX is refused from the zip's directory, before anything is inflated.
# zipfile never inflates a member past the size its directory declares, so the check holds. The
# total allows a sheet of a few million rows; the ratio is far above real spreadsheets (10-30:1).
XLSX_MAX_UNCOMPRESSED = 1024 * 1024 * 1024
XLSX_MAX_RATIO = 200
XLSX_RATIO_FLOOR = 1024 * 1024  # members smaller than this are never called bombs


class _Prefixed(io.RawIOBase):
    """A binary stream that replays `head` and then reads the rest of `raw`."""

    def __init__(self, head: bytes, raw: IO[bytes]) -> None:
        self._head = memoryview(head)
        self._raw = raw

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        if self._head:
            n = min(len(view), len(self._head))
            view[:n] = self._head[:n]
            self._head = self._head[n:]
            return n
        data = self._raw.read(len(view))
        view[: len(data)] = data
        return len(data)


def detect_encoding(head: bytes) -> str:
    """The encoding of a text file from its first bytes.

    Returns:
        "utf-8-sig", "utf-16" (BOM present), "utf-16-le"/"utf-16-be" (no BOM, NUL pattern),
        "utf-8", "cp1258" or "cp1252".
    """
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    sample = head[:4096]
    if len(sample) >= 4 and sample.count(0) * 3 > len(sample):
        # ASCII text in UTF-16 has a NUL in every other byte.
        return "utf-16-le" if sample[1::2].count(0) > sample[0::2].count(0) else "utf-16-be"
    try:
        codecs.getincrementaldecoder("utf-8")().decode(head, final=False)
        return "utf-8"
    except UnicodeDecodeError:
        pass
    for legacy in ("cp1258", "cp1252"):
        try:
            head.decode(legacy)
            return legacy
        except UnicodeDecodeError:
            continue
    return "cp1252"


def sniff_separator(lines: list[str]) -> str:
    """Choose `,`, `;` or tab from the first lines: the one splitting them most consistently."""
    best, best_score = ",", (0.0, 0)
    for sep in ("\t", ";", ","):
        rows = [r for r in csv.reader(lines, delimiter=sep) if any(c.strip() for c in r)]
        if not rows:
            continue
        width = len(rows[0])
        if width < 2:
            continue
        consistent = sum(1 for r in rows if len(r) == width) / len(rows)
        score = (consistent, width)
        if score > best_score:
            best, best_score = sep, score
    return best


def _csv_rows(stream: IO[bytes]) -> tuple[Rows, str, str]:
    """Rows of a CSV-like text file with their line numbers, plus the encoding and separator."""
    head = stream.read(SNIFF_BYTES)
    encoding = detect_encoding(head)
    text = io.TextIOWrapper(
        io.BufferedReader(_Prefixed(head, stream)),
        encoding=encoding,
        errors="replace",
        newline="",
    )
    sample = codecs.getincrementaldecoder(encoding)(errors="replace").decode(head, final=False)
    sample_lines = sample.splitlines(keepends=True)[:50]
    if len(head) == SNIFF_BYTES and len(sample_lines) > 1:
        sample_lines = sample_lines[:-1]  # the last one may be cut
    separator = sniff_separator(sample_lines)
    reader = csv.reader(text, delimiter=separator)

    def rows() -> Rows:
        line = 1
        while True:
            try:
                row: list[Any] = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                if reader.line_num < line:  # nothing consumed: the reader cannot go on
                    raise ImportFailed(f"Tệp CSV hỏng ở dòng {line}: {exc}") from None
                row = UnreadableRow(str(exc))
            yield line, row
            line = reader.line_num + 1

    return rows(), encoding, separator


def check_zip_sizes(stream: IO[bytes]) -> None:
    """Refuse a zip whose directory declares too much data or a bomb's compression ratio.

    Raises:
        ImportFailed: with the reason, before any member is inflated.
    """
    try:
        with zipfile.ZipFile(stream) as archive:
            members = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise ImportFailed(f"Không đọc được tệp XLSX: {exc}") from None
    finally:
        stream.seek(0)
    total = sum(m.file_size for m in members)
    if total > XLSX_MAX_UNCOMPRESSED:
        raise ImportFailed(
            f"Tệp XLSX giải nén ra {total // (1024 * 1024)} MB, quá giới hạn "
            f"{XLSX_MAX_UNCOMPRESSED // (1024 * 1024)} MB; hãy chia nhỏ hoặc lưu thành CSV."
        )
    for m in members:
        if m.file_size > XLSX_RATIO_FLOOR and m.file_size > XLSX_MAX_RATIO * max(
            m.compress_size, 1
        ):
            raise ImportFailed(
                f"Tệp XLSX bất thường: phần {m.filename!r} nén {m.file_size // max(m.compress_size, 1)}"
                f" lần (giới hạn {XLSX_MAX_RATIO}); có thể là tệp bom nén, không đọc."
            )


def _xlsx_rows(stream: IO[bytes]) -> Rows:
    from openpyxl import load_workbook

    check_zip_sizes(stream)
    try:
        with warnings.catch_warnings():
            # openpyxl warns about styles and data validation it ignores; not our concern.
            warnings.simplefilter("ignore")
            book = load_workbook(stream, read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, OSError, ValueError) as exc:
        raise ImportFailed(f"Không đọc được tệp XLSX: {exc}") from None
    try:
        sheet = book.worksheets[0]
        for number, row in enumerate(sheet.iter_rows(values_only=True), start=1):
            yield number, list(row)
    finally:
        book.close()


def open_rows(stream: IO[bytes], filename: str = "") -> tuple[Rows, str, str]:
    """Rows (line number, cells) of an uploaded CSV/TXT or XLSX file, read lazily.

    Args:
        stream: a binary file object (an upload's stream or an open file). XLSX needs it
            seekable.
        filename: used only to recognise ".xlsx" when the content is ambiguous.

    Returns:
        (rows, encoding, separator); for XLSX the encoding is "xlsx" and the separator "".

    Raises:
        ImportFailed: for an unreadable file.
    """
    head = stream.read(4)
    if head.startswith(b"PK\x03\x04") or filename.lower().endswith((".xlsx", ".xlsm")):
        if not stream.seekable():
            raise ImportFailed("Tệp XLSX phải đọc được từ đầu (seekable).")
        stream.seek(0)
        return _xlsx_rows(stream), "xlsx", ""
    rest = io.BufferedReader(_Prefixed(head, stream))
    return _csv_rows(rest)


def cell_text(value: Any) -> str:
    """A cell as clean text: stripped, NFC, at most 200 characters; "" for an empty cell.

    A whole float (a phone column typed as number in Excel) loses its ".0".
    """
    if value.__class__ is str:
        text: str = value.strip()
    elif value is None:
        return ""
    elif isinstance(value, float) and value.is_integer():
        text = str(int(value))
    else:
        text = str(value).strip()
    return (text if text.isascii() else nfc(text))[:_MAX_CELL]


def is_blank(cells: list[Any]) -> bool:
    """True when every cell of a row is empty or whitespace."""
    return all(c is None or (c.__class__ is str and not c.strip()) for c in cells)


def header_columns(row: Iterable[Any]) -> dict[str, int]:
    """Map recognised header cells to fields; the first column of each field wins."""
    columns: dict[str, int] = {}
    for index, value in enumerate(row):
        key = _NON_ALNUM.sub(" ", fold(cell_text(value))).strip()
        field_name = HEADER_ALIASES.get(key)
        if field_name is not None and field_name not in columns:
            columns[field_name] = index
    return columns
