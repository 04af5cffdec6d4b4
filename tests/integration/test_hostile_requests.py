"""Oversized and malformed requests, forged and repeated webhooks, and hostile tip bodies.

Decisions the tests hold: a request past LOA_MAX_REQUEST_BYTES is 413 and stores nothing;
invalid UTF-8 or malformed JSON is a 4xx, never a 500; control characters in a received tip are
stripped (tab and line breaks kept; a NUL would not even fit PostgreSQL), never refused; SQL and
HTML in a tip are stored byte-exact (after NFC) and shown escaped everywhere.
"""

from __future__ import annotations

import io
import unicodedata
from typing import Any

import pytest
from markupsafe import escape
from openpyxl import load_workbook
from pydantic import SecretStr
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from twilio.request_validator import RequestValidator

from gateway.auth import create_token
from gateway.settings import Settings
from gateway.tips.models import Tip
from tests.factories import create_tip, create_user

TOKEN = "twilio-token-for-hostile-tests"
BASE = "https://loa.example.gov.vn"
SMS = "/webhooks/twilio/sms"
LIMIT = 4096


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """Twilio credentials, a public URL, and a small request limit."""
    return settings.model_copy(
        update={
            "twilio_account_sid": "AC" + "1" * 32,
            "twilio_auth_token": SecretStr(TOKEN),
            "public_base_url": BASE,
            "max_request_bytes": LIMIT,
        }
    )


def _sms(body: str, sid: str = "SM" + "a" * 32) -> dict[str, str]:
    return {"MessageSid": sid, "From": "+84981230001", "To": "+84900000000", "Body": body}


def _signed(client: Any, params: dict[str, str], token: str = TOKEN) -> Any:
    sig = RequestValidator(token).compute_signature(BASE + SMS, params)
    return client.post(SMS, data=params, headers={"X-Twilio-Signature": sig})


def _tips(session: Session) -> list[Tip]:
    session.expire_all()
    return list(session.scalars(select(Tip).order_by(Tip.id)))


def _api(role: str = "admin") -> dict[str, str]:
    return {"Authorization": f"Bearer {create_token(create_user(role))}"}


# --- size -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "kind"),
    [
        (SMS, "form"),
        ("/bao-tin", "form"),
        ("/api/v1/campaigns", "json"),
        ("/api/v1/contacts/import", "multipart"),
        ("/webhooks/simulator/status/1", "form"),
    ],
    ids=["twilio-sms", "public-form", "api-json", "api-upload", "simulator-status"],
)
def test_oversized_request_is_413_and_stores_nothing(
    client: Any, session: Session, path: str, kind: str
) -> None:
    """Past the limit, every entry point answers 413 before reading, and no tip appears."""
    big = "x" * (LIMIT * 2)
    headers = _api("editor") if path.startswith("/api") else {}
    if kind == "json":
        resp = client.post(path, json={"name": big}, headers=headers)
    elif kind == "multipart":
        data = {"file": (io.BytesIO(big.encode()), "a.csv"), "list": "x"}
        resp = client.post(path, data=data, headers=headers)
    else:
        resp = client.post(path, data={"Body": big, "body": big}, headers=headers)
    assert resp.status_code == 413
    assert _tips(session) == []


def test_oversized_admin_form_is_413(client: Any, login_as: Any) -> None:
    """An admin form (the campaign editor) past the limit is 413 too."""
    login_as("editor")
    resp = client.post("/campaigns/new", data={"body": "x" * (LIMIT * 2)})
    assert resp.status_code == 413


# --- forged and repeated webhooks ----------------------------------------------------------


def test_forged_webhook_is_403_and_changes_nothing(client: Any, session: Session) -> None:
    """A webhook signed with another token, or with none, stores no tip."""
    assert _signed(client, _sms("giả mạo"), token="not-the-token").status_code == 403
    assert client.post(SMS, data=_sms("không ký")).status_code == 403
    assert _tips(session) == []


def test_duplicate_webhook_is_stored_once(client: Any, session: Session) -> None:
    """The same MessageSid twice is one tip, and both answers are 200."""
    assert _signed(client, _sms("Có người lạ")).status_code == 200
    assert _signed(client, _sms("Có người lạ")).status_code == 200
    assert [t.body for t in _tips(session)] == ["Có người lạ"]


# --- malformed bodies --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "content_type"),
    [
        (b'{"name": "\xff\xfe"}', "application/json"),
        (b'{"name": ', "application/json"),
        (b"[1, 2, 3]", "application/json"),
        (b"\x00\x01\x02", "application/json"),
        (b"name=x", "application/x-www-form-urlencoded"),
    ],
    ids=["invalid-utf8", "truncated", "not-an-object", "binary", "form"],
)
def test_malformed_api_body_is_4xx(client: Any, data: bytes, content_type: str) -> None:
    """Invalid UTF-8, truncated JSON, a JSON array or a form: a JSON 4xx, never a 500."""
    resp = client.post(
        "/api/v1/campaigns", data=data, content_type=content_type, headers=_api("editor")
    )
    assert 400 <= resp.status_code < 500, resp.status_code
    assert resp.is_json and resp.json["error"]


def test_invalid_utf8_escapes_in_a_signed_webhook_keep_the_tip(
    client: Any, session: Session
) -> None:
    """Percent-escapes that are not UTF-8 stay literal text (werkzeug leaves them undecoded):
    the tip is kept, nothing is turned into U+FFFD."""
    raw = b"MessageSid=SM1&From=%2B84981230001&To=%2B84900000000&Body=Tr%FF%FEn"
    params = {"MessageSid": "SM1", "From": "+84981230001", "To": "+84900000000"}
    params["Body"] = "Tr%FF%FEn"
    sig = RequestValidator(TOKEN).compute_signature(BASE + SMS, params)
    resp = client.post(
        SMS,
        data=raw,
        content_type="application/x-www-form-urlencoded",
        headers={"X-Twilio-Signature": sig},
    )
    assert resp.status_code == 200
    assert [t.body for t in _tips(session)] == ["Tr%FF%FEn"]


@pytest.mark.parametrize(("path", "status"), [(SMS, 403), ("/bao-tin", 400)], ids=["sms", "form"])
def test_raw_invalid_utf8_form_is_4xx(
    client: Any, session: Session, path: str, status: int
) -> None:
    """A form body of raw bytes that are not UTF-8 reads as empty: the webhook's signature
    fails (403), the public form asks for the text (400); nothing is stored."""
    resp = client.post(
        path,
        data=b"Body=Tr\xff\xfen&body=Tr\xff\xfen",
        content_type="application/x-www-form-urlencoded",
    )
    assert resp.status_code == status
    assert _tips(session) == []


# --- control characters --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "stored"),
    [
        ("Có\x00 người\x1b[31m lạ", "Có người[31m lạ"),
        ("dòng một\r\ndòng hai\tcột", "dòng một\r\ndòng hai\tcột"),
        ("\x7f\x85\x9fTin báo", "Tin báo"),
    ],
    ids=["nul-and-escape", "line-breaks-kept", "del-and-c1"],
)
def test_control_characters_are_stripped_from_tips(
    client: Any, session: Session, body: str, stored: str
) -> None:
    """Control characters are stripped (tab and line breaks kept), through the webhook and the
    public form alike; the tip is kept."""
    assert _signed(client, _sms(body)).status_code == 200
    assert client.post("/bao-tin", data={"body": body}).status_code == 302
    assert [t.body for t in _tips(session)] == [stored, stored]


# --- SQL and HTML payloads -----------------------------------------------------------------

PAYLOADS = [
    "'; DROP TABLE tips; --",
    "1' OR '1'='1",
    '<script>alert("x")</script><img src=x onerror=alert(1)>',
    "</textarea><b>đậm</b> &amp; &lt;",
    '=HYPERLINK("http://evil.example","bấm")',
]


@pytest.mark.parametrize("payload", PAYLOADS, ids=["drop", "or", "script", "tags", "formula"])
def test_payload_is_stored_exact_and_shown_escaped(
    client: Any, session: Session, login_as: Any, payload: str
) -> None:
    """Stored byte-exact (NFC); escaped in the inbox, plain text in the API, text in the packet."""
    nfd = unicodedata.normalize("NFD", payload)
    assert _signed(client, _sms(nfd)).status_code == 200
    (tip,) = _tips(session)
    assert tip.body == unicodedata.normalize("NFC", payload)
    assert session.scalar(select(func.count()).select_from(Tip)) == 1  # the table is still there

    api = client.get(f"/api/v1/tips/{tip.id}", headers=_api("admin"))
    assert api.status_code == 200 and api.json["body"] == tip.body

    login_as("admin")
    page = client.get(f"/inbox/{tip.id}").get_data(as_text=True)
    assert escape(tip.body) in page
    if "<" in payload:
        assert tip.body not in page

    packet = client.get(f"/inbox/{tip.id}/packet.xlsx")
    assert packet.status_code == 200
    book = load_workbook(io.BytesIO(packet.data))
    cells = [c for ws in book.worksheets for row in ws.iter_rows() for c in row]
    found = [c for c in cells if c.value == tip.body]
    assert found and all(c.data_type == "s" for c in found)


def test_payload_in_a_tip_created_directly_is_escaped_in_the_list(
    client: Any, login_as: Any
) -> None:
    """The inbox list escapes a body too."""
    create_tip("<script>alert(1)</script> tin")
    login_as("admin")
    page = client.get("/inbox/").get_data(as_text=True)
    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page


@pytest.mark.parametrize(
    "list_id", [2**31, 172130119314, -(2**40)], ids=["2^31", "big", "negative"]
)
def test_list_id_past_sql_integer_is_422(client: Any, list_id: int) -> None:
    """A list id no SQL integer holds is an unknown list (422), not a PostgreSQL overflow (500);
    found by schemathesis on PostgreSQL."""
    resp = client.post(
        "/api/v1/campaigns",
        json={"name": "x", "body": "tin", "lists": [list_id]},
        headers=_api("editor"),
    )
    assert resp.status_code == 422 and str(list_id) in resp.json["detail"]
