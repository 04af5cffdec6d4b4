"""An operator's report of the subscribers it reached, read from its own spreadsheet.

Operators answer with a CSV or XLSX file of their own shape: one row per district (or commune),
a column naming the area and a column with the subscribers reached, often a "Tổng cộng" row.
Which two columns those are is remembered per operator (``MobileOperator.column_map``, header
names as written), so the department maps an operator's file once.

Decisions:
- Columns are found by the remembered header names, else guessed from common Vietnamese and
  English headers; when neither works the caller shows the file's headers to choose from.
- An area is matched by any of its names and aliases, case and diacritics ignored. A row whose
  area is unknown is reported with its line number and still counts in the total (the operator
  did reach those subscribers); a row without a readable number is reported and skipped.
- The total is the file's own total row when it has one, else the sum of its rows.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import IO, Any

from campaigns.areas import AreaIndex
from campaigns.contact_files import ImportFailed, UnreadableRow, cell_text, is_blank, open_rows
from campaigns.delegation import RequestError, read_count
from campaigns.text import fold

AREA, REACHED = "area", "reached"
_NON_ALNUM = re.compile(r"[^0-9a-z]+")
TOTAL_WORDS = frozenset({"tong", "tong cong", "cong", "total", "toan tinh", "tong so"})
GUESSES: dict[str, tuple[str, ...]] = {
    AREA: ("dia ban", "huyen", "quan", "thi xa", "xa", "phuong", "khu vuc", "district", "area"),
    REACHED: ("thue bao", "so luong", "so tb", "da nhan", "subscribers", "reached", "so tin"),
}
MAX_PROBLEMS = 50


class ReportFileError(ValueError):
    """The file cannot be read, or its two columns cannot be found: ``headers`` lists the
    file's header cells for a person to choose from (empty when the file is unreadable)."""

    def __init__(self, message: str, headers: list[str] | None = None) -> None:
        super().__init__(message)
        self.headers = headers or []


@dataclass
class OperatorReport:
    """What an operator's file says: subscribers reached in total and by area id."""

    total: int = 0
    by_area: dict[int, int] = field(default_factory=dict)
    rows: int = 0
    problems: list[str] = field(default_factory=list)
    mapping: dict[str, str] = field(default_factory=dict)

    def problem(self, line: int, text: str) -> None:
        if len(self.problems) < MAX_PROBLEMS:
            self.problems.append(f"dòng {line}: {text}")


def _key(text: str) -> str:
    return _NON_ALNUM.sub(" ", fold(text)).strip()


def _column(headers: list[str], wanted: str | None, kind: str) -> int | None:
    keys = [_key(h) for h in headers]
    if wanted and _key(wanted) in keys:
        return keys.index(_key(wanted))
    for guess in GUESSES[kind]:
        for i, k in enumerate(keys):
            if k == guess or k.startswith(guess + " ") or f" {guess}" in f" {k}":
                return i
    return None


def read_report(
    stream: IO[bytes],
    filename: str,
    index: AreaIndex,
    mapping: Mapping[str, str] | None = None,
) -> OperatorReport:
    """Read an operator's report file.

    Args:
        stream: the uploaded file (XLSX needs it seekable).
        filename: its name (recognises ".xlsx").
        index: the areas, to match the area column.
        mapping: ``{"area": header, "reached": header}`` chosen by a person or remembered.

    Raises:
        ReportFileError: unreadable, empty, or the columns cannot be found.
    """
    try:
        rows, _encoding, _separator = open_rows(stream, filename)
        numbered = iter(rows)
        headers: list[str] = []
        for _line, cells in numbered:
            if not isinstance(cells, UnreadableRow) and not is_blank(cells):
                headers = [cell_text(c) for c in cells]
                break
        if not headers:
            raise ReportFileError("Tệp trống.")
        area_col = _column(headers, (mapping or {}).get(AREA), AREA)
        reached_col = _column(headers, (mapping or {}).get(REACHED), REACHED)
        if area_col is None or reached_col is None or area_col == reached_col:
            raise ReportFileError(
                "Chưa rõ cột nào là địa bàn, cột nào là số thuê bao: hãy chọn.", headers
            )
        report = OperatorReport(mapping={AREA: headers[area_col], REACHED: headers[reached_col]})
        _read_rows(numbered, area_col, reached_col, index, report)
    except ImportFailed as exc:
        raise ReportFileError(str(exc)) from exc
    if report.rows == 0:
        raise ReportFileError("Tệp không có dòng số liệu nào.", headers)
    return report


def _read_rows(
    rows: Iterator[tuple[int, list[Any]]],
    area_col: int,
    reached_col: int,
    index: AreaIndex,
    report: OperatorReport,
) -> None:
    stated_total: int | None = None
    counted = 0
    for line, cells in rows:
        if isinstance(cells, UnreadableRow):
            report.problem(line, cells.reason)
            continue
        if is_blank(cells):
            continue
        name = cell_text(cells[area_col]) if area_col < len(cells) else ""
        raw = cells[reached_col] if reached_col < len(cells) else None
        try:
            n = (
                raw
                if isinstance(raw, int) and not isinstance(raw, bool)
                else read_count(cell_text(raw))
            )
        except RequestError:
            n = None
        if n is None or n < 0:
            report.problem(line, f"không đọc được số thuê bao “{cell_text(raw)}”")
            continue
        report.rows += 1
        if _key(name) in TOTAL_WORDS:
            stated_total = n
            continue
        counted += n
        area = index.find(name)
        if area is None:
            report.problem(line, f"không nhận ra địa bàn “{name}” (vẫn tính vào tổng)")
            continue
        report.by_area[area.id] = report.by_area.get(area.id, 0) + n
    report.total = stated_total if stated_total is not None else counted
