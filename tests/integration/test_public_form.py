"""The public tip form: CSRF on, a wait (never a refusal) past the limit, 413, text stored and
shown escaped."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from typing import Any

import pytest
from itsdangerous import TimestampSigner, URLSafeTimedSerializer
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from gateway import create_app, db, public_form
from gateway.public_form import MAX_BODY_CHARS, RATE_LIMIT, TOKEN_MAX_AGE, WAIT_SALT
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


WAIT_TOKEN = re.compile(rb'name="wait_token" value="([^"]+)"')


def _wait_token(resp: Any) -> str:
    match = WAIT_TOKEN.search(resp.data)
    assert match is not None, "no wait token in the answer"
    return match.group(1).decode()


def _fill_the_limit(client: Any) -> None:
    for i in range(RATE_LIMIT):
        assert client.post("/bao-tin", data={"body": f"tin {i}"}).status_code == 302


def _waited(app: Any) -> None:
    """As if the wait had passed: the app now asks for none."""
    settings = app.config["LOA_SETTINGS"]
    app.config["LOA_SETTINGS"] = settings.model_copy(update={"tip_form_wait_seconds": 0})


def test_over_the_limit_the_form_asks_to_wait(client: Any) -> None:
    """The sixth tip in the window from one address is not refused: the form comes back with
    what was typed, a wait token and the wait; another address passes."""
    _fill_the_limit(client)
    data = {"body": "tin thừa", "phone": "0981230001", "confirm_sms": "1"}
    resp = client.post("/bao-tin", data=data)
    text = resp.get_data(as_text=True)
    assert resp.status_code == 429 and resp.headers["Retry-After"] == "10"
    assert "đợi 10 giây" in text and "Gửi lại" in text and "<script" not in text
    assert "tin thừa" in text and 'value="0981230001"' in text and " checked>" in text
    assert _wait_token(resp)
    other = client.post("/bao-tin", data={"body": "tin"}, environ_base={"REMOTE_ADDR": "10.0.0.9"})
    assert other.status_code == 302
    assert _count(Tip) == RATE_LIMIT + 1


def test_a_waited_token_stores_the_tip_once(app: Any, client: Any, session: Session) -> None:
    """Sent again at once, the token still waits (and comes back unchanged); after the wait it
    stores the tip; the same token again waits and stores nothing."""
    _fill_the_limit(client)
    token = _wait_token(client.post("/bao-tin", data={"body": "tin thừa"}))
    early = client.post("/bao-tin", data={"body": "tin thừa", "wait_token": token})
    assert early.status_code == 429 and _wait_token(early) == token
    assert _count(Tip) == RATE_LIMIT
    _waited(app)
    assert (
        client.post("/bao-tin", data={"body": "tin thừa", "wait_token": token}).status_code == 302
    )
    assert _count(Tip) == RATE_LIMIT + 1
    assert session.scalars(select(Tip.body).where(Tip.body == "tin thừa")).all() == ["tin thừa"]
    replay = client.post("/bao-tin", data={"body": "tin lặp", "wait_token": token})
    assert replay.status_code == 429 and "tin lặp" in replay.get_data(as_text=True)
    fresh = _wait_token(replay)
    assert fresh != token
    assert _count(Tip) == RATE_LIMIT + 1
    assert client.post("/bao-tin", data={"body": "tin lặp", "wait_token": fresh}).status_code == 302
    assert _count(Tip) == RATE_LIMIT + 2


@pytest.mark.parametrize(
    "token",
    [
        "",
        "rác",
        URLSafeTimedSerializer("another-key", salt=WAIT_SALT).dumps({"n": "x"}),
        URLSafeTimedSerializer("test-secret-key-not-for-production", salt="x").dumps({"n": "x"}),
    ],
    # Fixed ids: the signed tokens hold the time, and xdist's workers must collect the same.
    ids=["empty", "junk", "other-key", "other-salt"],
)
def test_a_bad_token_waits_with_a_new_one(app: Any, client: Any, token: str) -> None:
    """A token not signed by us for this form never passes, even with no wait to serve."""
    _fill_the_limit(client)
    _waited(app)
    resp = client.post("/bao-tin", data={"body": "tin thừa", "wait_token": token})
    assert resp.status_code == 429 and _wait_token(resp) != token
    assert "tin thừa" in resp.get_data(as_text=True)
    assert _count(Tip) == RATE_LIMIT


def test_a_stale_token_waits_with_a_new_one(app: Any, client: Any) -> None:
    """A token older than an hour earns a new one."""
    _fill_the_limit(client)
    _waited(app)
    backdated = _backdated(TOKEN_MAX_AGE + 5)
    signer = URLSafeTimedSerializer(app.config["SECRET_KEY"], salt=WAIT_SALT, signer=backdated)
    token = signer.dumps({"n": "old"})
    resp = client.post("/bao-tin", data={"body": "tin thừa", "wait_token": token})
    assert resp.status_code == 429 and _wait_token(resp) != token
    assert _count(Tip) == RATE_LIMIT


def _backdated(seconds: int) -> Any:
    class Backdated(TimestampSigner):
        def get_timestamp(self) -> int:
            return int(time.time()) - seconds

    return Backdated


def test_a_flood_makes_everybody_wait(app: Any, client: Any, monkeypatch: Any) -> None:
    """Past the form's overall limit even a first post from a new address waits (nothing
    refused), and gets through with a waited token."""
    monkeypatch.setattr(public_form, "FLOOD_LIMIT", 3)
    for i in range(3):
        resp = client.post(
            "/bao-tin", data={"body": "tin"}, environ_base={"REMOTE_ADDR": f"10.0.1.{i}"}
        )
        assert resp.status_code == 302
    newcomer = {"REMOTE_ADDR": "10.0.2.1"}
    resp = client.post("/bao-tin", data={"body": "tin mới"}, environ_base=newcomer)
    assert resp.status_code == 429 and "tin mới" in resp.get_data(as_text=True)
    assert _count(Tip) == 3
    _waited(app)
    data = {"body": "tin mới", "wait_token": _wait_token(resp)}
    assert client.post("/bao-tin", data=data, environ_base=newcomer).status_code == 302
    assert _count(Tip) == 4


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
