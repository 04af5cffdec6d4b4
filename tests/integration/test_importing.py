"""Contact import: encodings, separators, headers, XLSX, bad rows, duplicates, opt-outs, 413."""

from __future__ import annotations

import codecs
import io
import unicodedata
from collections.abc import Callable, Sequence
from typing import Any

import pytest
from openpyxl import Workbook
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from campaigns import optouts
from campaigns.areas import load_soc_trang_2024
from campaigns.importing import ImportFailed, import_contacts
from campaigns.models import Area, Contact, ContactImport, ListMember
from gateway import create_app

ROWS = [
    ("0912345678", "Nguyễn Thị Hồng", "Kế Sách", "ngư dân"),
    ("+84 98 765 4321", "Trần Văn Đức", "Huyện Trần Đề", ""),
    ("84333444555", "Lâm Sa Rươne", "vinh chau", "học sinh;phụ huynh"),
]
HEADERS = {
    "vi": ("Số điện thoại", "Họ tên", "Huyện", "Nhãn"),
    "vi_short": ("SĐT", "Tên", "Quận/Huyện", "tags"),
    "ascii": ("so dien thoai", "ho ten", "huyen", "tag"),
    "en": ("Phone", "Name", "District", "Tags"),
}


def _cp1258(text: str) -> bytes:
    """Encode Vietnamese as Windows-1258 does: base letters precomposed, tones combining."""
    out = bytearray()
    for ch in text:
        try:
            out += ch.encode("cp1258")
            continue
        except UnicodeEncodeError:
            pass
        decomposed = unicodedata.normalize("NFD", ch)
        tones = "".join(c for c in decomposed if c in "\u0300\u0301\u0303\u0309\u0323")
        base = unicodedata.normalize("NFC", "".join(c for c in decomposed if c not in tones))
        out += (base + tones).encode("cp1258")
    return bytes(out)


def _csv(
    rows: Sequence[tuple[str, ...]], sep: str = ",", header: tuple[str, ...] = HEADERS["vi"]
) -> str:
    lines = [sep.join(header)] + [sep.join(f'"{c}"' if sep in c else c for c in r) for r in rows]
    return "\r\n".join(lines) + "\r\n"


ENCODINGS: dict[str, Callable[[str], bytes]] = {
    "utf-8": lambda t: t.encode("utf-8"),
    "utf-8-bom": lambda t: codecs.BOM_UTF8 + t.encode("utf-8"),
    "utf-16-bom": lambda t: t.encode("utf-16"),  # Python writes the BOM
    "utf-16-le-bom": lambda t: codecs.BOM_UTF16_LE + t.encode("utf-16-le"),
    "cp1258": _cp1258,
    "utf-8-nfd": lambda t: unicodedata.normalize("NFD", t).encode("utf-8"),
}


@pytest.fixture
def areas(session: Session) -> None:
    load_soc_trang_2024(session)
    session.commit()


def _import(session: Session, data: bytes, name: str = "test", **kw: Any) -> Any:
    return import_contacts(session, io.BytesIO(data), name, **kw)


def _names(session: Session) -> dict[str, tuple[str | None, str | None, str]]:
    rows = session.execute(
        select(Contact.phone, Contact.name, Area.name, Contact.tags).outerjoin(
            Area, Area.id == Contact.district_id
        )
    )
    return {p: (n, a, t) for p, n, a, t in rows}


EXPECTED = {
    "+84912345678": ("Nguyễn Thị Hồng", "Kế Sách", ",ngư dân,"),
    "+84987654321": ("Trần Văn Đức", "Trần Đề", ""),
    "+84333444555": ("Lâm Sa Rươne", "Vĩnh Châu", ",học sinh,phụ huynh,"),
}


@pytest.mark.parametrize("encoding", list(ENCODINGS))
@pytest.mark.parametrize("sep", [",", ";", "\t"])
def test_encodings_and_separators(session: Session, areas: None, encoding: str, sep: str) -> None:
    """Every accepted encoding and separator gives the same contacts, names in NFC."""
    data = ENCODINGS[encoding](_csv(ROWS, sep))
    result = _import(session, data)
    assert (result.added, result.rejected_count, result.separator) == (3, 0, sep)
    assert _names(session) == EXPECTED


@pytest.mark.parametrize("header", list(HEADERS))
def test_header_variants(session: Session, areas: None, header: str) -> None:
    """Vietnamese, unaccented and English headers are recognised."""
    result = _import(session, _csv(ROWS, ",", HEADERS[header]).encode())
    assert result.added == 3
    assert set(result.columns) == {"phone", "name", "district", "tags"}
    assert _names(session) == EXPECTED


def test_columns_in_any_order_with_extras(session: Session, areas: None) -> None:
    """Extra columns are ignored and order does not matter."""
    text = "STT,Họ và tên,Ghi chú,Điện thoại,Xã/Phường\r\n1,Lan,x,0912345678,\r\n"
    result = _import(session, text.encode())
    assert result.added == 1
    assert _names(session)["+84912345678"][0] == "Lan"


def test_headerless_file(session: Session) -> None:
    """A file starting with a number has no header: phone, name, ... by position."""
    result = _import(session, b"0912345678,Lan\n0987654321,Minh\n")
    assert (result.added, result.rows) == (2, 2)
    assert _names(session)["+84987654321"][0] == "Minh"


def test_bad_rows_with_line_numbers(session: Session) -> None:
    """Rejected rows carry their physical line number (multi-line cells counted), value and reason."""
    text = (
        "phone,name\n"
        "0912345678,Lan\n"  # line 2
        "abc,Bad\n"  # line 3
        '0987654321,"Hai\ndòng"\n'  # lines 4-5
        ",Trống\n"  # line 6
        "\n"  # line 7: blank, ignored
        "02993822222,Cơ quan\n"  # line 8: landline
        "091234,Ngắn\n"  # line 9
    )
    rejects = io.StringIO()
    result = _import(session, text.encode(), rejects=rejects)
    assert result.added == 2
    got = [(r.line, r.value, r.reason) for r in result.rejected]
    assert got == [
        (3, "abc", "not_a_number"),
        (6, "", "empty"),
        (8, "02993822222", "landline"),
        (9, "091234", "too_short"),
    ]
    lines = rejects.getvalue().splitlines()
    assert lines[0] == "line,value,reason" and lines[1] == "3,abc,not_a_number"
    assert len(lines) == 5


def test_duplicates_updates_and_optouts(session: Session) -> None:
    """In-file repeats, known numbers and opted-out numbers are each counted."""
    optouts.opt_out(session, "0911111111", optouts.SMS, "TC")
    session.commit()
    first = _import(session, b"phone,name\n0912345678,A\n0911111111,B\n", name="L1")
    assert (first.added, first.updated, first.opted_out) == (2, 0, 1)
    second = _import(
        session,
        b"phone,name\n0912345678,A2\n+84912345678,dup\n0987654321,C\n0911111111,\n",
        name="L1",
    )
    assert (second.added, second.updated, second.duplicates) == (1, 2, 1)
    assert (second.already_in_list, second.opted_out) == (2, 1)
    names = _names(session)
    assert names["+84912345678"][0] == "A2"  # the first row of the file wins and updates
    assert names["+84911111111"][0] == "B"  # a blank cell keeps what was known
    members = session.scalar(select(func.count()).select_from(ListMember))
    assert members == 3


@pytest.mark.parametrize(
    ("raw", "e164", "carrier"),
    [
        ("01212345678", "+84792345678", "MobiFone"),
        ("0168 234 5678", "+84382345678", "Viettel"),
        ("+841232345678", "+84832345678", "VinaPhone"),
        ("01882345678", "+84582345678", "Vietnamobile"),
    ],
)
def test_2018_prefixes(session: Session, raw: str, e164: str, carrier: str) -> None:
    """Old 11-digit mobile numbers are converted, not rejected."""
    result = _import(session, f"sđt\n{raw}\n".encode())
    assert result.added == 1
    contact = session.scalar(select(Contact))
    assert contact is not None and (contact.phone, contact.carrier) == (e164, carrier)


def test_xlsx(session: Session, areas: None) -> None:
    """XLSX is read in read-only mode; numeric phone cells lose their 0 and still work."""
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["Số điện thoại", "Họ tên", "Huyện", "Xã"])
    sheet.append([912345678, "Nguyễn Thị Hồng", "Kế Sách", None])
    sheet.append(["0987654321", "Trần Văn Đức", "Trần Đề", None])
    sheet.append(["sai", "X", None, None])
    buf = io.BytesIO()
    book.save(buf)
    buf.seek(0)
    result = import_contacts(session, buf, "xlsx", filename="danh-sach.xlsx")
    assert (result.added, result.encoding) == (2, "xlsx")
    assert [(r.line, r.value) for r in result.rejected] == [(4, "sai")]
    assert _names(session)["+84912345678"][:2] == ("Nguyễn Thị Hồng", "Kế Sách")


def test_unknown_areas_reported(session: Session, areas: None) -> None:
    """An unknown district keeps the contact (without area) and is counted by name."""
    result = _import(session, "sđt,huyện\n0912345678,Atlantis\n0987654321,Atlantis\n".encode())
    assert result.added == 2
    assert result.unknown_areas == {"Atlantis": 2}


def test_many_chunks(session: Session) -> None:
    """Rows spanning several chunks are all written, duplicates across chunks caught."""
    numbers = [f"09120{n:05d}" for n in range(23)] + ["0912000000"]
    data = ("phone\n" + "\n".join(numbers) + "\n").encode()
    result = _import(session, data, chunk_rows=5)
    assert (result.added, result.duplicates) == (23, 1)
    assert session.scalar(select(func.count()).select_from(Contact)) == 23


def test_repeated_tag_cells_and_chunks_out_of_phone_order(session: Session) -> None:
    """A file repeats a few tag cells on most rows (each distinct cell is folded once) and its
    numbers come in no order (a chunk is written in the phone index's order): every contact
    keeps its own name and tags, and the counts add up across chunks."""
    rows = [
        ("0912000009", "Chín", "Ngư Dân"),
        ("0912000001", "Một", "ngư dân;CB"),
        ("0912000005", "Năm", "Ngư Dân"),
        ("0912000003", "Ba", ""),
        ("0912000007", "Bảy", "ngư dân;CB"),
        ("0912000001", "Một lần nữa", "học sinh"),
        ("0912000002", "Hai", "Ngư Dân"),
    ]
    data = ("sđt,tên,nhãn\n" + "".join(f"{p},{n},{t}\n" for p, n, t in rows)).encode()
    first = _import(session, data, chunk_rows=2)
    assert (first.added, first.updated, first.duplicates) == (6, 0, 1)
    again = _import(session, data, chunk_rows=4)
    assert (again.added, again.updated, again.already_in_list) == (0, 6, 6)
    names = _names(session)
    assert {p: (n, t) for p, (n, _a, t) in names.items()} == {
        "+84912000009": ("Chín", ",ngư dân,"),
        "+84912000001": ("Một", ",ngư dân,cb,"),
        "+84912000005": ("Năm", ",ngư dân,"),
        "+84912000003": ("Ba", ""),
        "+84912000007": ("Bảy", ",ngư dân,cb,"),
        "+84912000002": ("Hai", ",ngư dân,"),
    }


def test_a_window_of_rows_is_written_in_phone_order(
    session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Rows are read ahead a window at a time and each window is written, chunk after chunk,
    in the phone index's order (new contacts get their ids in that order); the first
    occurrence of a number still wins across windows, and every row is counted once."""
    monkeypatch.setattr("campaigns.importing.WINDOW_ROWS", 6)
    numbers = [9, 3, 7, 1, 8, 2, 6, 0, 4, 5]
    rows = [f"09120000{n:02d},Người {n}" for n in numbers] + ["0912000003,Lần hai"]
    progress: list[int] = []
    result = _import(
        session,
        ("sđt,tên\n" + "\n".join(rows) + "\n").encode(),
        chunk_rows=2,
        progress=lambda r: progress.append(r.added),
    )
    assert (result.rows, result.added, result.duplicates) == (11, 10, 1)
    assert progress == [2, 4, 6, 8, 10]  # after each chunk of each window
    by_id = session.execute(select(Contact.phone, Contact.name).order_by(Contact.id)).all()
    first, second = [p for p, _n in by_id[:6]], [p for p, _n in by_id[6:]]
    assert first == sorted(f"+849120000{n:02d}" for n in numbers[:6])
    assert second == sorted(f"+849120000{n:02d}" for n in numbers[6:])
    assert dict(by_id)["+84912000003"] == "Người 3"


@pytest.mark.parametrize(
    ("data", "message"),
    [(b"", "không có dòng"), (b"name,city\nLan,Hue\n", "cột số điện thoại")],
)
def test_unreadable_files(session: Session, data: bytes, message: str) -> None:
    """A file without rows or without a phone column is refused as a whole."""
    with pytest.raises(ImportFailed, match=message):
        _import(session, data)


def test_api_import(client: Any, session: Session) -> None:
    """The API returns the counts and a download link for the rejected rows."""
    from gateway.auth import create_token
    from tests.factories import create_user

    token = create_token(create_user("editor"))
    headers = {"Authorization": f"Bearer {token}"}
    data = {"file": (io.BytesIO(b"phone\n0912345678\nbad\n"), "a.csv"), "list": "API"}
    resp = client.post("/api/v1/contacts/import", data=data, headers=headers)
    assert resp.status_code == 200, resp.json
    body = resp.json
    assert (body["added"], body["updated"], body["duplicates"], body["opted_out"]) == (1, 0, 0, 0)
    assert body["rejected"] == [{"line": 3, "value": "bad", "reason": "not_a_number"}]
    with client.get(body["rejected_download"], headers=headers) as download:
        assert download.status_code == 200
        assert download.mimetype == "text/csv"
        assert (
            download.get_data(as_text=True) == "\ufeffline,value,reason\r\n3,bad,not_a_number\r\n"
        )


def test_api_import_without_rejects_has_no_download(client: Any, session: Session) -> None:
    """A clean file answers ``rejected_download: null``; its record is still kept in SQL."""
    from gateway.auth import create_token
    from tests.factories import create_user

    headers = {"Authorization": f"Bearer {create_token(create_user('editor'))}"}
    data = {"file": (io.BytesIO(b"phone\n0912345678\n"), "ok.csv"), "list": "API"}
    body = client.post("/api/v1/contacts/import", data=data, headers=headers).json
    assert (body["rejected_count"], body["rejected_download"]) == (0, None)
    record = session.scalar(select(ContactImport))
    assert record is not None and record.counts["added"] == 1


def test_import_results_survive_a_redis_flush(
    client: Any, session: Session, redis_conn: Any, settings: Any
) -> None:
    """Rejected rows live in SQL: after a Redis flush the API and the admin page still serve
    them, the API download is audited, and nothing is written under ``var_dir``."""
    from gateway.auth import create_token
    from gateway.models import AuditEvent
    from tests.factories import create_user

    editor = create_user("editor", password="pw-for-tests")
    headers = {"Authorization": f"Bearer {create_token(editor)}"}
    data = {"file": (io.BytesIO(b"phone\n0912345678\nbad\n12345\n"), "a.csv"), "list": "API"}
    body = client.post("/api/v1/contacts/import", data=data, headers=headers).json
    token = body["rejected_download"].split("/")[-2]
    redis_conn.flushdb()
    with client.get(body["rejected_download"], headers=headers) as api_download:
        assert api_download.status_code == 200
        api_rows = api_download.get_data(as_text=True).splitlines()
    assert api_rows[1:] == ["3,bad,not_a_number", "4,12345,short_code"]
    client.post("/login", data={"email": editor.email, "password": "pw-for-tests"})
    admin_download = client.get(f"/contacts/imports/{token}/rejected.csv")
    assert admin_download.status_code == 200
    assert "4,12345,short_code," in admin_download.get_data(as_text=True)
    downloads = session.scalars(
        select(AuditEvent).where(AuditEvent.action == "contacts.rejects_download")
    ).all()
    assert [e.details["result"] for e in downloads] == [token, token]
    assert not (settings.var_dir / "imports").exists()


def test_api_rejected_rows_unknown_token_and_roles(client: Any, session: Session) -> None:
    """An unknown token is 404; roles that edit contacts may download, others get 403."""
    from gateway.auth import create_token
    from tests.factories import create_user

    def get(url: str, role: str) -> int:
        headers = {"Authorization": f"Bearer {create_token(create_user(role))}"}
        with client.get(url, headers=headers) as resp:
            return int(resp.status_code)

    editor = {"Authorization": f"Bearer {create_token(create_user('editor'))}"}
    data = {"file": (io.BytesIO(b"phone\nbad\n"), "a.csv"), "list": "API"}
    url = client.post("/api/v1/contacts/import", data=data, headers=editor).json[
        "rejected_download"
    ]
    assert get(url, "admin") == 200
    assert get(url, "approver") == 403
    assert get(url, "police") == 403
    assert get("/api/v1/contacts/imports/" + "x" * 32 + "/rejected.csv", "editor") == 404
    assert get("/api/v1/contacts/imports/nope/rejected.csv", "editor") == 404


def test_api_import_refusals(client: Any, session: Session) -> None:
    """No token is 401, an approver is 403, a file without phone column is 422."""
    from gateway.auth import create_token
    from tests.factories import create_user

    def post(headers: dict[str, str]) -> Any:
        data = {"file": (io.BytesIO(b"name\nLan\n"), "a.csv"), "list": "x"}
        return client.post("/api/v1/contacts/import", data=data, headers=headers)

    assert post({}).status_code == 401
    approver = create_token(create_user("approver"))
    assert post({"Authorization": f"Bearer {approver}"}).status_code == 403
    editor = create_token(create_user("editor"))
    resp = post({"Authorization": f"Bearer {editor}"})
    assert resp.status_code == 422
    assert "số điện thoại" in resp.json["detail"]


def test_oversize_upload_is_413(settings: Any, db_engine: Any, redis_conn: Any) -> None:
    """A file above LOA_MAX_REQUEST_BYTES is refused with 413 before it is read."""
    small = create_app(
        settings.model_copy(update={"max_request_bytes": 2048}),
        TESTING=True,
        WTF_CSRF_ENABLED=False,
    )
    with small.app_context():
        from gateway.auth import create_token
        from tests.factories import create_user

        token = create_token(create_user("editor"))
    client = small.test_client()
    big = b"phone\n" + b"0912345678\n" * 1000
    try:
        resp = client.post(
            "/api/v1/contacts/import",
            data={"file": (io.BytesIO(big), "big.csv"), "list": "big"},
            headers={"Authorization": f"Bearer {token}"},
        )
    finally:
        small.extensions["loa.engine"].dispose()
    assert resp.status_code == 413
    assert resp.is_json


def test_api_import_keeps_a_nul_in_a_rejected_cell(client: Any, session: Session) -> None:
    """A NUL byte in a bad cell (PostgreSQL text cannot hold one) does not fail the import."""
    from gateway.auth import create_token
    from tests.factories import create_user

    headers = {"Authorization": f"Bearer {create_token(create_user('editor'))}"}
    data = {"file": (io.BytesIO(b"phone\n0912345678\nb\x00d\n"), "a.csv"), "list": "API"}
    resp = client.post("/api/v1/contacts/import", data=data, headers=headers)
    assert resp.status_code == 200, resp.json
    assert resp.json["rejected_count"] == 1
    with client.get(resp.json["rejected_download"], headers=headers) as download:
        assert download.get_data(as_text=True).splitlines()[1] == "3,b\ufffdd,not_a_number"
