"""Admin pages of contacts, lists, imports and opt-outs: roles, masking, import results."""

from __future__ import annotations

import csv
import io
from typing import Any

import pytest
from sqlalchemy import select

from campaigns.models import Contact, ContactImport, OptOut
from campaigns.phones import mask
from gateway.models import AuditEvent
from tests.factories import create_contact, create_list

ROLES = ("admin", "editor", "approver", "police", "border_guard", "hotline_111")
PAGES = {
    "/contacts": {"admin", "editor", "approver"},
    "/lists": {"admin", "editor", "approver"},
    "/contacts/import": {"admin", "editor"},
    "/optouts": {"admin", "editor", "police", "border_guard", "hotline_111"},
}


@pytest.mark.parametrize("role", ROLES)
def test_pages_by_role(client: Any, auth: Any, role: str) -> None:
    """Each page answers 200 to the roles that hold its permission and 403 to the others."""
    auth.login(role)  # once per role: logging in (argon2) is the slow part
    got = {path: client.get(path).status_code for path in PAGES}
    assert got == {path: 200 if role in who else 403 for path, who in PAGES.items()}


@pytest.mark.parametrize("path", sorted(PAGES))
def test_pages_need_login(client: Any, path: str) -> None:
    """An anonymous visitor is sent to the login page."""
    resp = client.get(path)
    assert resp.status_code == 302
    assert "/login" in resp.headers["Location"]


@pytest.mark.parametrize(("role", "full"), [("admin", True), ("editor", True), ("approver", False)])
def test_numbers_masked_unless_contact_manager(
    client: Any, auth: Any, role: str, full: bool
) -> None:
    """Admins and editors see full numbers; an approver sees them masked."""
    contact = create_contact(name="Trần Thị B")
    auth.login(role)
    page = client.get("/contacts").get_data(as_text=True)
    assert "Trần Thị B" in page
    assert (contact.phone in page) is full
    assert (mask(contact.phone) in page) is not full


def test_search_by_national_number_and_list_filter(client: Any, auth: Any) -> None:
    """Searching 0 98… finds the +8498… contact; the list filter keeps only members."""
    inside = create_list("Kế Sách 2024", size=2)
    outsider = create_contact(phone="+84911111111", name="Người ngoài")
    auth.login("editor")
    page = client.get("/contacts", query_string={"q": "0911 111 111"}).get_data(as_text=True)
    assert outsider.phone in page
    listed = client.get("/contacts", query_string={"list": inside.id}).get_data(as_text=True)
    assert outsider.phone not in listed
    assert listed.count("+8498") == 2
    assert client.get("/lists").get_data(as_text=True).count("Kế Sách 2024") == 1


CSV_FILE = (
    "Số điện thoại,Họ tên,Huyện\n"
    "0981000001,Nguyễn Văn A,Kế Sách\n"
    "0981000002,Lê Thị C,\n"
    "0981000001,Nguyễn Văn A,Kế Sách\n"  # line 4: duplicate
    "12345,Sai số,\n"  # line 5: short code
    "02993123456,Cố định,\n"  # line 6: landline
    "0981000003,Từ chối,\n"
)


def _upload(client: Any, content: bytes, name: str = "ds.csv", list_name: str = "Thử") -> Any:
    return client.post(
        "/contacts/import",
        data={"file": (io.BytesIO(content), name), "list_name": list_name},
        content_type="multipart/form-data",
    )


def test_import_form_shows_counts_rejected_rows_and_csv(
    client: Any, auth: Any, session: Any
) -> None:
    """The result page lists added, duplicates, opted out and every rejected row; CSV too."""
    session.add(OptOut(phone="+84981000003", channel="sms"))
    session.commit()
    auth.login("editor")
    resp = _upload(client, CSV_FILE.encode())
    assert resp.status_code == 302
    page = client.get(resp.headers["Location"]).get_data(as_text=True)
    for key, value in {"added": 3, "duplicates": 1, "opted_out": 1, "rejected": 2}.items():
        assert f'data-count="{key}">{value}<' in page
    assert '<td class="num">5</td><td>12345</td>' in page
    assert '<td class="num">6</td><td>02993123456</td>' in page
    assert "số cố định" in page
    download = client.get(resp.headers["Location"] + "/rejected.csv")
    assert download.status_code == 200
    assert download.mimetype == "text/csv"
    rows = list(csv.reader(io.StringIO(download.get_data(as_text=True).lstrip("\ufeff"))))
    assert rows[0][:3] == ["line", "value", "reason"]
    assert [r[:3] for r in rows[1:]] == [
        ["5", "12345", "short_code"],
        ["6", "02993123456", "landline"],
    ]
    assert session.scalar(select(Contact).where(Contact.phone == "+84981000001")).name == (
        "Nguyễn Văn A"
    )
    actions = set(session.scalars(select(AuditEvent.action)))
    assert {"contacts.import", "contacts.rejects_download"} <= actions


@pytest.mark.parametrize(
    ("content", "name", "list_name", "message"),
    [
        (b"", "", "Thử", "Hãy chọn một tệp"),
        (CSV_FILE.encode(), "ds.csv", "", "Hãy đặt tên danh sách"),
        (b"ten,dia chi\nA,B\n", "ds.csv", "Thử", "Không tìm thấy cột số điện thoại"),
    ],
)
def test_import_bad_input_is_400(
    client: Any, auth: Any, content: bytes, name: str, list_name: str, message: str
) -> None:
    """A missing file, a missing list name or a file without a phone column is a clear 400."""
    auth.login("editor")
    resp = _upload(client, content, name, list_name)
    assert resp.status_code == 400
    assert message in resp.get_data(as_text=True)


def test_unknown_import_result_is_404(client: Any, auth: Any) -> None:
    """An unknown or malformed result token answers 404, not 500."""
    auth.login("editor")
    for token in ("nope", "x" * 32):
        assert client.get(f"/contacts/imports/{token}").status_code == 404
        assert client.get(f"/contacts/imports/{token}/rejected.csv").status_code == 404


def test_import_result_is_in_sql_and_survives_a_redis_flush(
    client: Any, auth: Any, session: Any, redis_conn: Any
) -> None:
    """The result and its rejected rows are one SQL record: a Redis flush loses neither."""
    auth.login("editor")
    resp = _upload(client, CSV_FILE.encode(), name="huyện.csv")
    token = resp.headers["Location"].rsplit("/", 1)[1]
    record = session.scalar(select(ContactImport).where(ContactImport.token == token))
    assert record is not None
    assert (record.filename, record.counts["added"], record.counts["rejected_count"]) == (
        "huyện.csv",
        3,
        2,
    )
    assert record.rejected_csv.splitlines()[0] == "line,value,reason"
    redis_conn.flushdb()
    page = client.get(f"/contacts/imports/{token}").get_data(as_text=True)
    assert 'data-count="rejected">2<' in page
    download = client.get(f"/contacts/imports/{token}/rejected.csv")
    assert download.status_code == 200
    assert "6,02993123456,landline" in download.get_data(as_text=True)


@pytest.mark.parametrize("role", ["approver", "police"])
def test_import_result_needs_contacts_edit(client: Any, auth: Any, role: str) -> None:
    """The result page and its CSV show unmasked values: only contact managers may open them."""
    auth.login("editor")
    token = _upload(client, CSV_FILE.encode()).headers["Location"].rsplit("/", 1)[1]
    auth.logout()
    auth.login(role)
    assert client.get(f"/contacts/imports/{token}").status_code == 403
    assert client.get(f"/contacts/imports/{token}/rejected.csv").status_code == 403


def test_optout_add_and_remove_with_reason(client: Any, auth: Any, session: Any) -> None:
    """A police officer adds a number (channel admin) and removes it, each with a reason; audited."""
    auth.login("police")
    resp = client.post("/optouts", data={"phone": "0912 345 678", "reason": "gọi tổng đài"})
    assert resp.status_code == 302
    row = session.scalar(select(OptOut).where(OptOut.phone == "+84912345678"))
    assert (row.channel, row.reason) == ("admin", "gọi tổng đài")
    assert "+84 91x xxx 678" in client.get("/optouts").get_data(as_text=True)
    client.post("/optouts/remove", data={"phone": "+84912345678", "reason": "đồng ý nhận lại"})
    session.expire_all()
    assert session.scalar(select(OptOut).where(OptOut.phone == "+84912345678")) is None
    events = list(session.scalars(select(AuditEvent).where(AuditEvent.action.like("optout_%"))))
    assert [e.action for e in events] == ["optout.add", "optout.remove"]
    assert all("912345678" not in str(e.details) for e in events)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"phone": "0912345678", "reason": ""}, "Hãy ghi lý do"),
        ({"phone": "không phải số", "reason": "x"}, "Số điện thoại không hợp lệ"),
    ],
)
def test_optout_add_refuses_bad_input(
    client: Any, auth: Any, session: Any, data: dict[str, str], message: str
) -> None:
    """No reason or no number: nothing is added and the editor is told why."""
    auth.login("editor")
    resp = client.post("/optouts", data=data, follow_redirects=True)
    assert message in resp.get_data(as_text=True)
    assert session.scalar(select(OptOut)) is None
