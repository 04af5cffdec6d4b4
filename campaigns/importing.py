"""Contact import from CSV and XLSX, streamed, written in bulk upserts.

A file of 1.2 million rows never sits in memory: :mod:`campaigns.contact_files` reads it row by
row (and maps its header to fields), and rows go to SQL in chunks of :data:`CHUNK_ROWS`, one
bulk upsert per chunk, through :mod:`campaigns.contact_upserts`. Each chunk is committed so a long
import never holds the SQLite write lock for minutes (the upsert makes a re-run after a failure
safe). The rows of :data:`WINDOW_ROWS` are read ahead and sorted by number before their chunks
are written: each chunk then covers a narrow stretch of the phone index, so its commit writes a
few of the index's pages instead of most of them.

Counting (what the result means):
- `added`: numbers new to Loa; `updated`: numbers Loa knew (their name, area, tags refreshed
  when the file gives them); `duplicates`: rows repeating a number seen earlier in the same file
  (the first wins); `already_in_list`: known numbers that were in the list before;
  `opted_out`: imported numbers that are on the suppression list (they stay in the list and
  dispatch skips them); `rejected`: rows without a usable mobile number, with line and reason
  (also a CSV line that cannot be parsed, "unreadable", and a row whose text did not decode,
  "bad_encoding": reported, never stored garbled; the rest of the file imports).

Memory: the only structure that grows with the file is the set of numbers seen (for in-file
duplicates), kept as ints: about 70 MB for 1.2 million numbers; the window read ahead holds
about 20 MB.
"""

from __future__ import annotations

import csv
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from operator import attrgetter
from typing import IO, Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from campaigns.areas import AreaIndex
from campaigns.audiences import normalize_tag
from campaigns.contact_files import (
    DISTRICT,
    HEADER_ALIASES,
    HEADERLESS,
    NAME,
    PHONE,
    SNIFF_BYTES,
    TAGS,
    WARD,
    ImportFailed,
    UnreadableRow,
    cell_text,
    detect_encoding,
    header_columns,
    is_blank,
    open_rows,
    sniff_separator,
)
from campaigns.contact_upserts import ChunkCounts, ChunkWriter, ContactRow
from campaigns.models import Area, ContactList
from campaigns.phones import normalize
from campaigns.text import nfc, spreadsheet_safe

# The reading names are re-exported: callers have always imported them from here.
__all__ = [
    "CHUNK_ROWS",
    "DISTRICT",
    "HEADERLESS",
    "HEADER_ALIASES",
    "INLINE_REJECTS",
    "NAME",
    "PHONE",
    "SNIFF_BYTES",
    "TAGS",
    "WARD",
    "ImportFailed",
    "ImportResult",
    "Rejected",
    "detect_encoding",
    "get_or_create_list",
    "header_columns",
    "import_contacts",
    "open_rows",
    "rows_per_second",
    "sniff_separator",
]

CHUNK_ROWS = 5000
# Rows read ahead and sorted by number before they are written in chunks. A 1,200,000-row import
# into SQLite: its writes took 20.7 s with each chunk sorted on its own, 10.5 s with windows of
# 100,000 (a chunk of a sorted window dirties a twentieth of the index's pages), 9.8 s with the
# whole file sorted.
WINDOW_ROWS = 100_000
INLINE_REJECTS = 1000  # rejected rows kept in the result; every one goes to `rejects`
_TAG_SPLIT = re.compile(r"[,;|]")
_PHONE = attrgetter("phone")


@dataclass(frozen=True, slots=True)
class Rejected:
    """A row that was not imported."""

    line: int
    value: str
    reason: str

    def as_dict(self) -> dict[str, object]:
        """Return {"line", "value", "reason"}."""
        return {"line": self.line, "value": self.value, "reason": self.reason}


@dataclass
class ImportResult:
    """What an import did; see the module docstring for the meaning of each count."""

    list_id: int
    list_name: str
    rows: int = 0
    added: int = 0
    updated: int = 0
    duplicates: int = 0
    already_in_list: int = 0
    opted_out: int = 0
    rejected: list[Rejected] = field(default_factory=list)
    rejected_count: int = 0
    unknown_areas: dict[str, int] = field(default_factory=dict)
    encoding: str = ""
    separator: str = ""
    columns: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0

    def as_dict(self) -> dict[str, object]:
        """A JSON-ready dict; `rejected` holds at most :data:`INLINE_REJECTS` rows."""
        return {
            "list": {"id": self.list_id, "name": self.list_name},
            "rows": self.rows,
            "added": self.added,
            "updated": self.updated,
            "duplicates": self.duplicates,
            "already_in_list": self.already_in_list,
            "opted_out": self.opted_out,
            "rejected": [r.as_dict() for r in self.rejected],
            "rejected_count": self.rejected_count,
            "rejected_truncated": self.rejected_count > len(self.rejected),
            "unknown_areas": dict(self.unknown_areas),
            "encoding": self.encoding,
            "separator": self.separator,
            "columns": dict(self.columns),
            "seconds": round(self.seconds, 3),
        }

    def add_chunk(self, counts: ChunkCounts) -> None:
        """Add what one written chunk did to the totals."""
        self.added += counts.added
        self.updated += counts.updated
        self.opted_out += counts.opted_out
        self.already_in_list += counts.already_in_list


# --- the import ---------------------------------------------------------------------------


def _tags(cell: str) -> str:
    if not cell:
        return ""
    tags = [normalize_tag(t) for t in _TAG_SPLIT.split(cell)]
    tags = list(dict.fromkeys(t for t in tags if t))
    return "," + ",".join(tags) + "," if tags else ""


class _TagCache(dict[str, str]):
    """Stored tags by the cell written in a file: a file repeats a few tag cells on most rows,
    and each distinct one is split and folded once (at most 100,000 are kept)."""

    def __missing__(self, cell: str) -> str:
        stored = _tags(cell)
        if len(self) < 100_000:
            self[cell] = stored
        return stored


class _AreaCache:
    """District and ward ids by the names written in a file; each distinct name is folded once."""

    def __init__(self, index: AreaIndex, result: ImportResult) -> None:
        self.index = index
        self.result = result
        self.cache: dict[str, Area | None] = {}

    def _find(self, name: str) -> Area | None:
        if name not in self.cache:
            self.cache[name] = self.index.find(name) if len(self.cache) < 100_000 else None
        found = self.cache[name]
        unknown = self.result.unknown_areas
        if found is None and (name in unknown or len(unknown) < 1000):
            unknown[name] = unknown.get(name, 0) + 1
        return found

    def ids(self, district_name: str, ward_name: str) -> tuple[int | None, int | None]:
        district = self._find(district_name) if district_name else None
        ward = self._find(ward_name) if ward_name else None
        district_id = district.id if district is not None else None
        if district_id is None and ward is not None:
            district_id = ward.parent_id  # the ward tells which district
        return district_id, ward.id if ward is not None else None


def get_or_create_list(session: Session, name: str, created_by: int | None = None) -> ContactList:
    """The list called `name`, created (and flushed) when missing.

    Raises:
        ImportFailed: for an empty name.
    """
    name = nfc(name).strip()
    if not name:
        raise ImportFailed("Tên danh sách đang trống.")
    found = session.scalar(select(ContactList).where(ContactList.name == name))
    if found is not None:
        return found
    created = ContactList(name=name[:200], created_by_id=created_by)
    session.add(created)
    session.flush()
    return created


def import_contacts(
    session: Session,
    stream: IO[bytes],
    list_name: str,
    filename: str = "",
    created_by: int | None = None,
    rejects: IO[str] | None = None,
    chunk_rows: int = CHUNK_ROWS,
    commit: bool = True,
    progress: Callable[[ImportResult], None] | None = None,
) -> ImportResult:
    """Import a CSV or XLSX file into a list (created when missing).

    Args:
        session: the session to write with; committed after each chunk when `commit`.
        stream: the file, binary (an upload's stream or an open file; seekable for XLSX).
        list_name: the list to add the contacts to.
        filename: the uploaded file's name (recognises ".xlsx").
        created_by: the user id recorded on a new list.
        rejects: when given, every rejected row is written there as CSV (line, value, reason),
            with a header; the result itself keeps the first :data:`INLINE_REJECTS`.
        chunk_rows: rows per bulk upsert (a window of ``WINDOW_ROWS`` rows, at least one
            chunk, is read ahead and sorted by number first).
        commit: commit after each chunk (False leaves the whole import to the caller).
        progress: called with the counts so far after each chunk is written (a worker shows
            them on the import's page).

    Returns:
        The counts (see the module docstring).

    Raises:
        ImportFailed: when the file cannot be read or has no phone column; nothing is written
            then except possibly the new, empty list.
    """
    started = time.perf_counter()
    rows, encoding, separator = open_rows(stream, filename)
    first = next(rows, None)
    if first is None:
        raise ImportFailed("Tệp không có dòng nào.")
    columns = header_columns(first[1])
    pending: list[tuple[int, list[Any]]] = []
    if PHONE not in columns:
        if first[1] and normalize(cell_text(first[1][0])).valid:
            columns = {f: i for i, f in enumerate(HEADERLESS)}
            pending.append(first)  # no header: the first row is data
        else:
            raise ImportFailed(
                "Không tìm thấy cột số điện thoại (phone / số điện thoại / sđt / điện thoại)."
            )
    contact_list = get_or_create_list(session, list_name, created_by)
    result = ImportResult(
        contact_list.id, contact_list.name, encoding=encoding, separator=separator
    )
    result.columns = columns
    reject_writer = csv.writer(rejects) if rejects is not None else None
    if reject_writer is not None:
        reject_writer.writerow(["line", "value", "reason"])

    def reject(line: int, value: str, reason: str) -> None:
        result.rejected_count += 1
        if len(result.rejected) < INLINE_REJECTS:
            result.rejected.append(Rejected(line, value, reason))
        if reject_writer is not None:
            reject_writer.writerow([line, spreadsheet_safe(value), reason])

    areas = _AreaCache(AreaIndex.load(session), result)
    writer = ChunkWriter(session, result.list_id, commit)
    seen: set[int] = set()
    window: list[ContactRow] = []
    window_rows = max(chunk_rows, WINDOW_ROWS)
    positions = [columns.get(f, -1) for f in (PHONE, NAME, DISTRICT, WARD, TAGS)]
    stored_tags = _TagCache()

    def all_rows() -> Iterator[tuple[int, list[Any]]]:
        yield from pending
        yield from rows

    def write(window: list[ContactRow]) -> None:
        window.sort(key=_PHONE)
        for start in range(0, len(window), chunk_rows):
            result.add_chunk(writer.write(window[start : start + chunk_rows]))
            if progress is not None:
                progress(result)

    for line, cells in all_rows():
        if isinstance(cells, UnreadableRow):
            result.rows += 1
            reject(line, "", "unreadable")
            continue
        if is_blank(cells):
            continue  # blank lines are not rows
        result.rows += 1
        width = len(cells)
        raw, name, district, ward, tags = [
            cell_text(cells[i]) if 0 <= i < width else "" for i in positions
        ]
        phone = normalize(raw)
        if not phone.valid or phone.e164 is None:
            reject(line, raw[:64], phone.reason or "invalid")
            continue
        if "\ufffd" in name + district + ward + tags:
            # Bytes the file's encoding could not decode (a UTF-8 file with legacy bytes past
            # the sniffed start): the row is reported, never stored with its Vietnamese garbled.
            reject(line, raw[:64], "bad_encoding")
            continue
        key = int(phone.e164[1:])
        if key in seen:
            result.duplicates += 1
            continue
        seen.add(key)
        district_id, ward_id = areas.ids(district, ward)
        window.append(
            ContactRow(
                phone.e164, phone.carrier, name or None, district_id, ward_id, stored_tags[tags]
            )
        )
        if len(window) >= window_rows:
            write(window)
            window = []
    write(window)
    if commit:
        session.commit()
    result.seconds = time.perf_counter() - started
    return result


def rows_per_second(result: ImportResult) -> float:
    """Throughput of an import (rows read per second)."""
    return result.rows / result.seconds if result.seconds > 0 else 0.0
