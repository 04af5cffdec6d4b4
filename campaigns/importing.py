"""Contact import from CSV and XLSX, streamed, written in bulk upserts.

A file of 1.2 million rows never sits in memory: CSV is decoded and parsed incrementally from the
file object, XLSX is read with openpyxl's read-only mode, and rows go to SQL in chunks of
:data:`CHUNK_ROWS` with one executemany upsert (``INSERT … ON CONFLICT (phone) DO UPDATE``) per
chunk, never one ORM object per row. Each chunk is committed so a long import never holds the
SQLite write lock for minutes (the upsert makes a re-run after a failure safe).

Accepted text: UTF-8 with or without BOM, UTF-16 with BOM (Excel's "Unicode text", tab
separated), or a legacy Windows-1258 / Windows-1252 file; separators `,` `;` or tab, sniffed
from the first lines. The header row may be Vietnamese or English (matched folded); a file whose
first row is already a phone number has no header and is read as phone, name, district, ward,
tags.

Counting (what the result means):
- `added`: numbers new to Loa; `updated`: numbers Loa knew (their name, area, tags refreshed
  when the file gives them); `duplicates`: rows repeating a number seen earlier in the same file
  (the first wins); `already_in_list`: known numbers that were in the list before;
  `opted_out`: imported numbers that are on the suppression list (they stay in the list and
  dispatch skips them); `rejected`: rows without a usable mobile number, with line and reason.

Memory: the only structure that grows with the file is the set of numbers seen (for in-file
duplicates), kept as ints: about 70 MB for 1.2 million numbers.
"""

from __future__ import annotations

import codecs
import csv
import io
import re
import sqlite3
import time
import warnings
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import IO, Any

from sqlalchemy import Dialect, Table, bindparam, case, func, literal_column, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from campaigns.areas import AreaIndex
from campaigns.audiences import normalize_tag
from campaigns.db import utcnow
from campaigns.models import Area, Contact, ContactList, ListMember
from campaigns.phones import normalize
from campaigns.text import fold, nfc

CHUNK_ROWS = 5000
INLINE_REJECTS = 1000  # rejected rows kept in the result; every one goes to `rejects`
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
_TAG_SPLIT = re.compile(r"[,;|]")


class ImportFailed(ValueError):
    """The file cannot be read at all (no phone column, not CSV/XLSX, unreadable)."""


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


# --- reading ------------------------------------------------------------------------------


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


def _csv_rows(stream: IO[bytes]) -> tuple[Iterator[tuple[int, list[Any]]], str, str]:
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

    def rows() -> Iterator[tuple[int, list[Any]]]:
        line = 1
        try:
            for row in reader:
                yield line, row
                line = reader.line_num + 1
        except csv.Error as exc:
            raise ImportFailed(f"Tệp CSV hỏng ở dòng {reader.line_num}: {exc}") from None

    return rows(), encoding, separator


def _cell(value: Any) -> str:
    if value.__class__ is str:
        text: str = value.strip()
    elif value is None:
        return ""
    elif isinstance(value, float) and value.is_integer():
        text = str(int(value))  # a phone column typed as number in Excel
    else:
        text = str(value).strip()
    return (text if text.isascii() else nfc(text))[:_MAX_CELL]


def _blank(cells: list[Any]) -> bool:
    return all(c is None or (c.__class__ is str and not c.strip()) for c in cells)


def _xlsx_rows(stream: IO[bytes]) -> Iterator[tuple[int, list[Any]]]:
    from openpyxl import load_workbook

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


def open_rows(
    stream: IO[bytes], filename: str = ""
) -> tuple[Iterator[tuple[int, list[Any]]], str, str]:
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


def header_columns(row: Iterable[Any]) -> dict[str, int]:
    """Map recognised header cells to fields; the first column of each field wins."""
    columns: dict[str, int] = {}
    for index, value in enumerate(row):
        key = _NON_ALNUM.sub(" ", fold(_cell(value))).strip()
        field_name = HEADER_ALIASES.get(key)
        if field_name is not None and field_name not in columns:
            columns[field_name] = index
    return columns


# --- writing ------------------------------------------------------------------------------


_SQLITE_PARAMS = 900 if sqlite3.sqlite_version_info < (3, 32) else 30_000


# In the table's column order, which is the order of the compiled INSERT's parameters.
_CONTACT_PARAMS = (
    "phone",
    "name",
    "district_id",
    "ward_id",
    "carrier",
    "tags",
    "invalid",
    "created_at",
    "updated_at",
)


def _contacts_upsert(dialect: Dialect) -> Any:
    """The chunk upsert, compiled once: `INSERT … ON CONFLICT (phone) DO UPDATE`."""
    table = Contact.__table__
    assert isinstance(table, Table)
    insert = postgresql.insert if dialect.name == "postgresql" else sqlite.insert
    stmt = insert(table).values({n: bindparam(n) for n in _CONTACT_PARAMS})
    ex = stmt.excluded
    return stmt.on_conflict_do_update(
        index_elements=[table.c.phone],
        set_={
            # A blank cell keeps what Loa knew; a filled one replaces it.
            "name": func.coalesce(ex.name, table.c.name),
            "district_id": func.coalesce(ex.district_id, table.c.district_id),
            "ward_id": func.coalesce(ex.ward_id, table.c.ward_id),
            "carrier": ex.carrier,
            # A literal, not a bound parameter: the driver-level rows carry only row values.
            "tags": case((ex.tags == literal_column("''"), table.c.tags), else_=ex.tags),
            "updated_at": ex.updated_at,
        },
    ).compile(dialect=dialect)


def _members_insert(dialect: Dialect) -> Any:
    table = ListMember.__table__
    assert isinstance(table, Table)
    insert = postgresql.insert if dialect.name == "postgresql" else sqlite.insert
    stmt = insert(table).values(list_id=bindparam("list_id"), contact_id=bindparam("contact_id"))
    return stmt.on_conflict_do_nothing().compile(dialect=dialect)


@dataclass
class _Row:
    phone: str
    carrier: str | None
    name: str | None
    district_id: int | None
    ward_id: int | None
    tags: str


class _Writer:
    """Writes chunks of rows and counts what happened.

    The statements are compiled once and run with the driver's executemany, with the parameters
    already in driver form: SQLAlchemy's per-row parameter processing cost more than the
    database itself (about 2/3 of the time on SQLite). New rows are told from updated ones by
    `created_at`, which is this chunk's own timestamp only on rows the chunk inserted.
    """

    def __init__(self, session: Session, result: ImportResult, commit: bool) -> None:
        self.session = session
        self.result = result
        self.commit = commit
        self.dialect = session.get_bind().dialect
        self.contacts = _contacts_upsert(self.dialect)
        self.members = _members_insert(self.dialect)
        time_type = Contact.__table__.c.created_at.type
        self.to_driver_time = time_type.dialect_impl(self.dialect).bind_processor(self.dialect)
        self.mark = "?" if self.dialect.paramstyle == "qmark" else "%s"
        self.in_size = _SQLITE_PARAMS if self.dialect.name == "sqlite" else 10_000

    def _run(self, compiled: Any, names: tuple[str, ...], rows: list[tuple[Any, ...]]) -> int:
        """Executemany `compiled` with `rows`, tuples of the parameters `names` in order."""
        params: list[Any]
        if not compiled.positional:
            params = [dict(zip(names, r, strict=True)) for r in rows]
        elif tuple(compiled.positiontup) == names:
            params = rows
        else:
            order = [names.index(k) for k in compiled.positiontup]
            params = [tuple(r[i] for i in order) for r in rows]
        result = self.session.connection().exec_driver_sql(compiled.string, params)
        return int(result.rowcount or 0)

    def _select_in(self, sql: str, values: list[Any]) -> list[Any]:
        out: list[Any] = []
        conn = self.session.connection()
        for start in range(0, len(values), self.in_size):
            part = values[start : start + self.in_size]
            marks = ",".join([self.mark] * len(part))
            out.extend(conn.exec_driver_sql(sql.format(marks), tuple(part)).fetchall())
        return out

    def write(self, rows: list[_Row]) -> None:
        result = self.result
        now = utcnow()
        marker = self.to_driver_time(now) if self.to_driver_time else now
        self._run(
            self.contacts,
            _CONTACT_PARAMS,
            [
                (
                    r.phone,
                    r.name,
                    r.district_id,
                    r.ward_id,
                    r.carrier,
                    r.tags,
                    False,
                    marker,
                    marker,
                )
                for r in rows
            ],
        )
        phones = [r.phone for r in rows]
        found = self._select_in("SELECT id, created_at FROM contacts WHERE phone IN ({})", phones)
        added = sum(1 for _id, created in found if created == marker)
        opted = self._select_in("SELECT phone FROM opt_outs WHERE phone IN ({})", phones)
        inserted = self._run(
            self.members, ("list_id", "contact_id"), [(result.list_id, i) for i, _c in found]
        )
        if self.commit:
            self.session.commit()
        result.added += added
        result.updated += len(rows) - added
        result.opted_out += len(opted)
        result.already_in_list += len(found) - inserted


# --- the import ---------------------------------------------------------------------------


def _tags(cell: str) -> str:
    if not cell:
        return ""
    tags = [normalize_tag(t) for t in _TAG_SPLIT.split(cell)]
    tags = list(dict.fromkeys(t for t in tags if t))
    return "," + ",".join(tags) + "," if tags else ""


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
        chunk_rows: rows per bulk upsert.
        commit: commit after each chunk (False leaves the whole import to the caller).

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
        if first[1] and normalize(_cell(first[1][0])).valid:
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
            reject_writer.writerow([line, value, reason])

    areas = _AreaCache(AreaIndex.load(session), result)
    writer = _Writer(session, result, commit)
    seen: set[int] = set()
    chunk: list[_Row] = []
    positions = [columns.get(f, -1) for f in (PHONE, NAME, DISTRICT, WARD, TAGS)]

    def all_rows() -> Iterator[tuple[int, list[Any]]]:
        yield from pending
        yield from rows

    for line, cells in all_rows():
        if _blank(cells):
            continue  # blank lines are not rows
        result.rows += 1
        width = len(cells)
        raw, name, district, ward, tags = (
            _cell(cells[i]) if 0 <= i < width else "" for i in positions
        )
        phone = normalize(raw)
        if not phone.valid or phone.e164 is None:
            reject(line, raw[:64], phone.reason or "invalid")
            continue
        key = int(phone.e164[1:])
        if key in seen:
            result.duplicates += 1
            continue
        seen.add(key)
        district_id, ward_id = areas.ids(district, ward)
        chunk.append(
            _Row(phone.e164, phone.carrier, name or None, district_id, ward_id, _tags(tags))
        )
        if len(chunk) >= chunk_rows:
            writer.write(chunk)
            chunk = []
    if chunk:
        writer.write(chunk)
    if commit:
        session.commit()
    result.seconds = time.perf_counter() - started
    return result


def rows_per_second(result: ImportResult) -> float:
    """Throughput of an import (rows read per second)."""
    return result.rows / result.seconds if result.seconds > 0 else 0.0
