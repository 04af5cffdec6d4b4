"""The public tip form: CSRF on, rate limit per client, 413, text stored and shown escaped."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from gateway import create_app, db
from gateway.public_form import MAX_BODY_CHARS, RATE_LIMIT
from gateway.settings import Settings
from gateway.tips.models import Reply, Tip

TOKEN = re.compile(rb'name="csrf_token" value="([^"]+)"')


@pytest.fixture
def csrf_app(settings: Settings, db_engine: Any, redis_conn: Any) -> Iterator[Any]:
    """The app with CSRF protection ON, as in production."""
    application = create_app(settings, TESTING=True, WTF_CSRF_ENABLED=True)
    with application.app_context():
        yield application
    application.extensions["loa.engine"].dispose()


def _token(client: Any, path: str = "/bao-tin") -> str:
    resp = client.get(path)
    assert resp.status_code == 200
    match = TOKEN.search(resp.data)
    assert match is not None
    return match.group(1).decode()


def _count(model: Any) -> int:
    s = db.session()
    s.expire_all()
    return int(s.scalar(select(func.count()).select_from(model)) or 0)


@pytest.mark.parametrize("path", ["/bao-tin", "/report"])
def test_anonymous_tip_with_csrf_token(csrf_app: Any, path: str) -> None:
    """Without login, a post with the form's token stores an anonymous web tip."""
    client = csrf_app.test_client()
    resp = client.post(path, data={"csrf_token": _token(client, path), "body": "Có người lạ"})
    assert resp.status_code == 302
    thanks = client.get(resp.headers["Location"])
    assert b"111" in thanks.data and b"113" in thanks.data
    tip = db.session().scalar(select(Tip))
    assert tip is not None and (tip.channel, tip.sender, tip.body) == ("web", None, "Có người lạ")


def test_post_without_csrf_token_is_refused(csrf_app: Any) -> None:
    """A cross-site post (no token) stores nothing."""
    resp = csrf_app.test_client().post("/bao-tin", data={"body": "giả mạo"})
    assert resp.status_code == 400
    assert _count(Tip) == 0


def test_form_is_tiny_and_has_no_script(client: Any) -> None:
    """The page works on a cheap phone: small and without JavaScript."""
    resp = client.get("/bao-tin")
    assert resp.status_code == 200
    assert b"<script" not in resp.data
    assert len(resp.data) < 8 * 1024


def test_contact_number_and_confirmation_sms(client: Any, session: Session) -> None:
    """A given number is stored in E.164; an SMS confirmation is queued only when asked."""
    client.post("/bao-tin", data={"body": "tin một", "phone": "0981 230 001"})
    client.post("/bao-tin", data={"body": "tin hai", "phone": "0981230001", "confirm_sms": "1"})
    tips = list(session.scalars(select(Tip).order_by(Tip.id)))
    # Given by the tipster, unverified: never the sender (issue 8 item 5).
    assert [(t.sender, t.given_phone) for t in tips] == [(None, "+84981230001")] * 2
    reply = session.scalar(select(Reply))
    assert reply is not None and reply.tip_id == tips[1].id and "111" in reply.body
    assert _count(Reply) == 1


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"body": ""}, "Vui lòng nhập"),
        ({"body": "x" * (MAX_BODY_CHARS + 1)}, "quá dài"),
        ({"body": "tin", "phone": "abc"}, "không hợp lệ"),
    ],
)
def test_bad_input_is_400_and_keeps_the_text(
    client: Any, data: dict[str, str], message: str
) -> None:
    """Invalid input answers 400 with the reason, keeps what was typed, stores nothing."""
    resp = client.post("/bao-tin", data=data)
    assert resp.status_code == 400
    assert message in resp.get_data(as_text=True)
    assert data["body"][:50] in resp.get_data(as_text=True)
    assert _count(Tip) == 0


def test_script_is_stored_as_text_and_shown_escaped(client: Any, session: Session) -> None:
    """Markup is data: stored verbatim, escaped when the form shows it again."""
    body = "<script>alert(1)</script>"
    resp = client.post("/bao-tin", data={"body": body, "phone": "not a phone"})
    assert resp.status_code == 400
    assert b"<script>alert(1)</script>" not in resp.data
    assert b"&lt;script&gt;alert(1)&lt;/script&gt;" in resp.data
    client.post("/bao-tin", data={"body": body})
    assert session.scalar(select(Tip.body)) == body


def test_too_large_request_is_413(client: Any) -> None:
    """A body larger than the form allows is refused before it is read."""
    resp = client.post("/bao-tin", data={"body": "x" * 40_000})
    assert resp.status_code == 413
    assert _count(Tip) == 0


def test_rate_limited_per_client(client: Any) -> None:
    """The sixth tip in the window from one address gets 429 (text kept); another address passes."""
    for i in range(RATE_LIMIT):
        assert client.post("/bao-tin", data={"body": f"tin {i}"}).status_code == 302
    resp = client.post("/bao-tin", data={"body": "tin thừa"})
    assert resp.status_code == 429
    assert "tin thừa" in resp.get_data(as_text=True) and "113" in resp.get_data(as_text=True)
    other = client.post("/bao-tin", data={"body": "tin"}, environ_base={"REMOTE_ADDR": "10.0.0.9"})
    assert other.status_code == 302
    assert _count(Tip) == RATE_LIMIT + 1


def test_redis_down_form_still_accepts(settings: Settings, db_engine: Any, redis_conn: Any) -> None:
    """With Redis down the rate limiter allows and the tip is stored."""
    dead = settings.model_copy(update={"redis_url": "redis://127.0.0.1:1/0"})
    application = create_app(dead, TESTING=True, WTF_CSRF_ENABLED=False)
    with application.app_context():
        resp = application.test_client().post("/bao-tin", data={"body": "khẩn cấp cứu tôi"})
        assert resp.status_code == 302
        assert _count(Tip) == 1
    application.extensions["loa.engine"].dispose()


# --- a call logged by an operator -------------------------------------------------------------


def test_operator_logs_a_call(client: Any, auth: Any, session: Session) -> None:
    """A 111 operator logs a call: channel call, the operator as author, audited."""
    from gateway.models import AuditEvent

    user = auth.login("hotline_111")
    assert client.get("/tips/calls/new").status_code == 200
    resp = client.post(
        "/tips/calls/new",
        data={"body": "Mẹ gọi báo con gái 15 tuổi mất tích", "phone": "0981230001",
              "received_at": "2025-07-30T08:15"},
    )  # fmt: skip
    assert resp.status_code == 302
    tip = session.scalar(select(Tip))
    assert tip is not None
    assert (tip.channel, tip.author_id, tip.sender, tip.given_phone) == (
        "call", user.id, None, "+84981230001",
    )  # fmt: skip
    assert tip.received_at.isoformat() == "2025-07-30T01:15:00+00:00"  # entered in local time
    assert session.scalar(select(AuditEvent.action).where(AuditEvent.object_id == str(tip.id)))
    assert _count(Reply) == 0  # no confirmation unless asked


@pytest.mark.parametrize(("role", "status"), [("editor", 403), ("approver", 403), ("police", 200)])
def test_call_page_roles(client: Any, auth: Any, role: str, status: int) -> None:
    """Only tip-line roles may log calls."""
    auth.login(role)
    assert client.get("/tips/calls/new").status_code == status


def test_call_page_needs_login(client: Any) -> None:
    """Anonymous users are sent to the login page."""
    resp = client.get("/tips/calls/new")
    assert resp.status_code == 302 and "/login" in resp.headers["Location"]


def test_call_with_bad_time_is_400(client: Any, auth: Any) -> None:
    """A malformed call time is a 400 with the text kept."""
    auth.login("police")
    resp = client.post("/tips/calls/new", data={"body": "nội dung", "received_at": "hôm qua"})
    assert resp.status_code == 400 and "nội dung" in resp.get_data(as_text=True)
    assert _count(Tip) == 0


def test_call_page_too_large_is_413(client: Any, auth: Any) -> None:
    """An oversized call log is refused with 413, nothing stored."""
    auth.login("police")
    resp = client.post("/tips/calls/new", data={"body": "x" * 100_000})
    assert resp.status_code == 413
    assert _count(Tip) == 0


def test_a_typed_in_number_is_not_a_sender(client: Any, session: Session) -> None:
    """A number typed into the form is never joined to that number's SMS thread, never linked
    to a campaign it received, and carries no do-not-contact over; the ack needs the box."""
    import datetime as dt

    from campaigns import statuses
    from campaigns.db import utcnow
    from campaigns.models import Delivery
    from gateway.tips.models import SenderFlag
    from tests.factories import create_campaign, create_tip

    number = "+84981230001"
    sms = create_tip("tin qua SMS", channel="sms", sender=number, queue="police_province")
    campaign = create_campaign()
    session.add(
        Delivery(
            campaign_id=campaign.id, phone=number, status=statuses.DELIVERED,
            sent_at=utcnow() - dt.timedelta(days=1),
        )
    )  # fmt: skip
    session.add(SenderFlag(phone=number, do_not_contact=True, reason="nguy hiểm"))
    session.commit()
    resp = client.post(
        "/bao-tin", data={"body": "Có người bị giữ ở Kế Sách", "phone": "0981230001"}
    )
    assert resp.status_code == 302
    web = session.scalar(select(Tip).where(Tip.channel == "web"))
    assert web is not None
    assert (web.sender, web.given_phone, web.campaign_id) == (None, number, None)
    thread = session.scalars(select(Tip.id).where(Tip.sender == number)).all()
    assert thread == [sms.id]  # the SMS thread holds the SMS tip only
    assert _count(Reply) == 0  # no box ticked: nothing sent
