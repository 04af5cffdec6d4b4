"""API tokens: expiry, one-by-one revocation, `loa tokens list/revoke`, and the admin pages."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from campaigns.db import utcnow
from gateway.auth import create_token
from gateway.models import ApiToken, AuditEvent
from tests.factories import create_user


def _get_tips(client: Any, token: str) -> int:
    resp = client.get("/api/v1/tips", headers={"Authorization": f"Bearer {token}"})
    return int(resp.status_code)


def _latest(session: Session) -> ApiToken:
    """The newest token, as the database holds it now."""
    session.expire_all()
    row = session.scalars(select(ApiToken).order_by(ApiToken.id.desc())).first()
    assert row is not None
    return row


def test_tokens_expire_after_90_days_by_default(app: Any, session: Session) -> None:
    """A new token expires in 90 days unless asked otherwise; 0 days means never."""
    user = create_user("admin")
    create_token(user)
    row = _latest(session)
    assert row.expires_at is not None
    assert abs(row.expires_at - (utcnow() + dt.timedelta(days=90))) < dt.timedelta(minutes=1)
    create_token(user, expires_days=0)
    assert _latest(session).expires_at is None


def test_an_expired_token_is_401(client: Any, session: Session) -> None:
    """A token past its expiry opens nothing; the same token before it did."""
    token = create_token(create_user("admin"), expires_days=1)
    assert _get_tips(client, token) == 200
    row = _latest(session)
    row.expires_at = utcnow() - dt.timedelta(seconds=1)
    session.commit()
    assert _get_tips(client, token) == 401


def test_a_revoked_token_is_401_while_another_still_works(
    runner: Any, client: Any, session: Session
) -> None:
    """Revoking one token of a user leaves their other tokens working."""
    user = create_user("admin")
    kept, revoked = create_token(user, "kept"), create_token(user, "revoked")
    assert _get_tips(client, revoked) == 200
    result = runner.invoke(args=["tokens", "revoke", str(_latest(session).id)])
    assert result.exit_code == 0, result.output
    assert _get_tips(client, revoked) == 401
    assert _get_tips(client, kept) == 200


def test_last_used_is_written_at_most_once_a_minute(client: Any, session: Session) -> None:
    """A second call within a minute leaves last_used_at alone; one after a minute moves it."""
    token = create_token(create_user("admin"))
    assert _get_tips(client, token) == 200
    first = _latest(session).last_used_at
    assert first is not None
    assert _get_tips(client, token) == 200
    assert _latest(session).last_used_at == first
    row = _latest(session)
    row.last_used_at = first - dt.timedelta(minutes=2)
    session.commit()
    assert _get_tips(client, token) == 200
    assert _latest(session).last_used_at > first  # type: ignore[operator]


def test_cli_create_audits_and_warns_about_never(runner: Any, session: Session) -> None:
    """`loa tokens create --expires-days 0` warns, and every creation is audited."""
    create_user("editor", email="api@loa.test")
    result = runner.invoke(args=["tokens", "create", "api@loa.test", "--expires-days", "0"])
    assert result.exit_code == 0, result.output
    assert "never expires" in result.output
    row = _latest(session)
    assert row.expires_at is None
    event = session.scalar(select(AuditEvent).where(AuditEvent.action == "token.create"))
    assert event is not None and event.object_id == str(row.id)
    assert (
        runner.invoke(args=["tokens", "create", "api@loa.test", "--expires-days", "-1"]).exit_code
        == 2
    )


def test_cli_list_shows_states_never_secrets(runner: Any, session: Session) -> None:
    """`loa tokens list` shows each token's user, name and state, and neither secret nor hash."""
    user = create_user("editor", email="list@loa.test")
    other = create_user("editor", email="other@loa.test")
    secrets = [create_token(user, n) for n in ("live", "gone", "old")]
    create_token(other, "theirs")
    rows = session.scalars(select(ApiToken).order_by(ApiToken.id)).all()
    rows[1].revoked_at = utcnow()
    rows[2].expires_at = utcnow() - dt.timedelta(days=1)
    session.commit()
    result = runner.invoke(args=["tokens", "list", "list@loa.test"])
    assert result.exit_code == 0, result.output
    lines = [line.split("\t") for line in result.output.splitlines()[1:]]
    assert [(f[1], f[2], f[6]) for f in lines] == [
        ("list@loa.test", "live", "active"),
        ("list@loa.test", "gone", "revoked"),
        ("list@loa.test", "old", "expired"),
    ]
    everyone = runner.invoke(args=["tokens", "list"]).output
    assert "theirs" in everyone
    for secret in secrets:
        assert secret not in everyone and secret[4:] not in everyone
    for row in rows:
        assert row.token_hash not in everyone


def test_cli_revoke_is_idempotent_audited_and_refuses_unknown_ids(
    runner: Any, session: Session
) -> None:
    """Revoking twice is fine (audited once); an unknown id is an error with exit code 1."""
    create_token(create_user("admin"))
    row = _latest(session)
    assert runner.invoke(args=["tokens", "revoke", str(row.id)]).exit_code == 0
    again = runner.invoke(args=["tokens", "revoke", str(row.id)])
    assert again.exit_code == 0 and "already" in again.output
    events = session.scalars(select(AuditEvent).where(AuditEvent.action == "token.revoke")).all()
    assert [e.object_id for e in events] == [str(row.id)]
    unknown = runner.invoke(args=["tokens", "revoke", "999"])
    assert unknown.exit_code == 1
    assert "no token 999" in unknown.output


def test_admin_sees_revokes_and_creates_tokens(
    client: Any, login_as: Any, session: Session
) -> None:
    """An admin lists a user's tokens, revokes one (audited) and creates one shown once."""
    login_as("admin")
    user = create_user("editor", email="owner@loa.test")
    secret = create_token(user, "báo cáo tuần")
    row = _latest(session)
    page = client.get(f"/users/{user.id}/tokens").get_data(as_text=True)
    assert "báo cáo tuần" in page and 'data-state="active"' in page
    assert secret not in page and row.token_hash not in page
    resp = client.post(f"/users/{user.id}/tokens/{row.id}/revoke")
    assert resp.status_code == 303
    assert _latest(session).revoked_at is not None
    event = session.scalar(select(AuditEvent).where(AuditEvent.action == "token.revoke"))
    assert event is not None and event.object_id == str(row.id)
    assert 'data-state="revoked"' in client.get(f"/users/{user.id}/tokens").get_data(as_text=True)
    assert _get_tips(client, secret) in (401, 403)

    resp = client.post(f"/users/{user.id}/tokens/new", data={"name": "n8n", "expires_days": "30"})
    assert resp.status_code == 200 and resp.headers["Cache-Control"] == "no-store"
    shown = re.search(r'<code class="secret">([^<]+)</code>', resp.get_data(as_text=True))
    assert shown is not None
    new = _latest(session)
    assert (new.user_id, new.name) == (user.id, "n8n")
    assert abs(new.expires_at - (utcnow() + dt.timedelta(days=30))) < dt.timedelta(minutes=1)  # type: ignore[operator]
    assert session.scalar(
        select(AuditEvent).where(
            AuditEvent.action == "token.create", AuditEvent.object_id == str(new.id)
        )
    )
    assert shown.group(1) not in client.get(f"/users/{user.id}/tokens").get_data(as_text=True)


def test_admin_cannot_revoke_a_token_through_another_user(
    client: Any, login_as: Any, session: Session
) -> None:
    """A token id under the wrong user is a 404, and the token stays live."""
    login_as("admin")
    owner, other = create_user("editor"), create_user("editor")
    create_token(owner)
    row = _latest(session)
    assert client.post(f"/users/{other.id}/tokens/{row.id}/revoke").status_code == 404
    assert _latest(session).revoked_at is None


@pytest.mark.parametrize("role", ["editor", "approver", "police", "hotline_111"])
def test_non_admins_cannot_reach_token_views(
    client: Any, login_as: Any, session: Session, role: str
) -> None:
    """Token views are for admins only: 403, and nothing changes."""
    login_as(role)
    owner = create_user("admin")
    create_token(owner)
    row = _latest(session)
    assert client.get(f"/users/{owner.id}/tokens").status_code == 403
    assert client.post(f"/users/{owner.id}/tokens/new", data={"name": "x"}).status_code == 403
    assert client.post(f"/users/{owner.id}/tokens/{row.id}/revoke").status_code == 403
    assert _latest(session).revoked_at is None
    assert len(session.scalars(select(ApiToken)).all()) == 1
