"""The role matrix: every inbox, rules, users and audit view and the tips API, for every role
and scope, against tips in every queue: who may (2xx/3xx) and who may not (403, or login).

Expectations come from the tables below, written out by hand, not from ``gateway.roles``: the
test must fail if the code's idea of scope drifts from the brief. One app and one set of users
serve the whole module (logging in through the session, not argon2) to keep ~700 cases fast;
each case makes its own tips, so cases never see each other's changes.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine

from campaigns.db import utcnow
from campaigns.models import Area
from gateway import create_app, db
from gateway.auth import create_token, new_token
from gateway.models import User
from gateway.settings import Settings
from gateway.tips.models import Roster, RoutingRule, Tip
from tests.conftest import _wipe
from tests.factories import sign_in

QUEUES = ("police_province", "police_ke_sach", "police_my_tu", "border_guard", "hotline_111")
ALL = set(QUEUES)
POLICE = {"police_province", "police_ke_sach", "police_my_tu"}

# (role, scope) → the queues whose tips that user may see; None: the role sees no tips at all.
WHO: dict[str, tuple[str | None, str | None, set[str] | None]] = {
    "anonymous": (None, None, None),
    "admin": ("admin", None, ALL),
    "editor": ("editor", None, None),
    "approver": ("approver", None, None),
    "police_province": ("police", "police_province", POLICE),
    "police_ke_sach": ("police", "police_ke_sach", {"police_ke_sach"}),
    "border_guard": ("border_guard", "border_guard", {"border_guard"}),
    "hotline_111": ("hotline_111", "hotline_111", {"hotline_111"}),
}
TIP_ROLE_KEYS = {k for k, (_, _, seen) in WHO.items() if seen is not None}

# Tip views: method, path, form data, the answer when allowed.
TIP_URLS: tuple[tuple[str, str, dict[str, str], int], ...] = (
    ("GET", "/inbox/{tip}", {}, 200),
    ("GET", "/inbox/{tip}/handoff", {}, 200),
    ("GET", "/inbox/{tip}/packet.xlsx", {}, 200),
    ("POST", "/inbox/{tip}/packet.xlsx", {"reason": "chuyển giao hồ sơ"}, 200),
    ("POST", "/inbox/{tip}/transition", {"to": "acknowledged"}, 303),
    ("POST", "/inbox/{tip}/assign", {"user_id": ""}, 303),
    ("POST", "/inbox/{tip}/notes", {"body": "ghi chú"}, 303),
    ("POST", "/inbox/{tip}/reply", {"body": "Cảm ơn bạn."}, 303),
    ("POST", "/inbox/{tip}/reveal", {"reason": "xác minh vụ việc"}, 200),
    ("POST", "/inbox/{tip}/do-not-contact", {"value": "1"}, 303),
    ("POST", "/inbox/{tip}/legal-hold", {"value": "1", "reason": "vụ án 12/2026"}, 303),
    ("POST", "/inbox/{tip}/unread", {}, 303),
    ("POST", "/inbox/{tip}/merge", {"primary_id": "{other}"}, 303),
    ("POST", "/inbox/{tip}/hand-off", {"recipient": "Đồn Công an"}, 303),
)
API_TIP_URLS: tuple[tuple[str, str, dict[str, str], int], ...] = (
    ("GET", "/api/v1/tips/{tip}", {}, 200),
)

# Other views: method, path, form data, the roles that may, the answer when allowed.
TIPS = TIP_ROLE_KEYS
ADMIN = {"admin"}
EVERYONE = set(WHO) - {"anonymous"}
PAGE_URLS: tuple[tuple[str, str, dict[str, str], set[str], int], ...] = (
    ("GET", "/simulator", {}, ADMIN, 200),
    ("GET", "/simulator?m={tip}", {}, ADMIN, 200),
    ("POST", "/simulator/send", {"phone": "0912345678", "body": "tin thử"}, ADMIN, 302),
    ("GET", "/inbox/", {}, TIPS, 200),
    ("GET", "/inbox/count.json", {}, TIPS, 200),
    ("GET", "/inbox/dashboard", {}, TIPS, 200),
    ("GET", "/rules/", {}, TIPS, 200),
    ("GET", "/rules/{rule}", {}, TIPS, 200),
    ("GET", "/rules/test", {}, TIPS, 200),
    ("POST", "/rules/test", {"text": "trẻ em ở Kế Sách"}, TIPS, 200),
    ("GET", "/rules/new", {}, ADMIN, 200),
    ("POST", "/rules/new", {"name": "{unique}", "kind": "urgency", "phrases": "cứu"}, ADMIN, 303),
    ("GET", "/rules/{rule}/edit", {}, ADMIN, 200),
    ("POST", "/rules/{rule}/deactivate", {}, ADMIN, 303),
    ("POST", "/rules/{rule}/activate", {}, ADMIN, 303),
    ("GET", "/users/", {}, ADMIN, 200),
    ("GET", "/users/new", {}, ADMIN, 200),
    ("POST", "/users/new", {"email": "{unique}@loa.test", "role": "editor"}, ADMIN, 200),
    ("POST", "/users/{target}/deactivate", {}, ADMIN, 303),
    ("POST", "/users/{target}/sign-out", {}, ADMIN, 303),
    ("POST", "/users/{target}/activate", {}, ADMIN, 303),
    ("POST", "/users/{target}/reset-password", {}, ADMIN, 200),
    ("POST", "/users/{target}/reset-2fa", {}, ADMIN, 303),
    ("GET", "/users/{target}/tokens", {}, ADMIN, 200),
    ("POST", "/users/{target}/tokens/new", {"name": "matrix"}, ADMIN, 200),
    ("POST", "/users/{target}/tokens/{token}/revoke", {}, ADMIN, 303),
    ("GET", "/account/", {}, EVERYONE, 200),
    ("GET", "/account/2fa", {}, EVERYONE, 200),
    ("POST", "/account/password", {"password": "wrong"}, EVERYONE, 303),
    ("POST", "/account/recovery-codes", {}, EVERYONE, 303),
    ("GET", "/users/rosters", {}, ADMIN, 200),
    ("POST", "/users/rosters/{roster}/delete", {}, ADMIN, 303),
    ("GET", "/audit/", {}, ADMIN, 200),
    ("GET", "/areas/", {}, ADMIN, 200),
    ("GET", "/areas/?q=ke+sach", {}, ADMIN, 200),
    ("GET", "/areas/{area}/edit", {}, ADMIN, 200),
    (
        "POST",
        "/areas/{area}/edit",
        {"aliases": "Huyện Kế Sách", "police_queue": "police_ke_sach"},
        ADMIN,
        303,
    ),
)
API_PAGE_URLS: tuple[tuple[str, str, dict[str, str], set[str], int], ...] = (
    ("GET", "/api/v1/tips", {}, TIPS, 200),
)

_seq = itertools.count(1)


def _tip_expected(who: str, queue: str, allowed_status: int, api: bool) -> int:
    seen = WHO[who][2]
    if who == "anonymous":
        return 401 if api else 302
    if seen is None or queue not in seen:
        return 403
    return allowed_status


def _page_expected(who: str, roles: set[str], allowed_status: int, api: bool) -> int:
    if who == "anonymous":
        return 401 if api else 302
    return allowed_status if who in roles else 403


TIP_CASES = [
    pytest.param(
        who,
        queue,
        method,
        url,
        data,
        _tip_expected(who, queue, ok, api),
        id=f"{who}-{queue}-{method}-{url}",
    )
    for who in WHO
    for queue in QUEUES
    for api, urls in ((False, TIP_URLS), (True, API_TIP_URLS))
    for method, url, data, ok in urls
]
PAGE_CASES = [
    pytest.param(
        who, method, url, data, _page_expected(who, roles, ok, api), id=f"{who}-{method}-{url}"
    )
    for who in WHO
    for api, urls in ((False, PAGE_URLS), (True, API_PAGE_URLS))
    for method, url, data, roles, ok in urls
]


class World:
    """One app, one user per row of :data:`WHO`, one routing rule."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.users: dict[str, int] = {}
        self.tokens: dict[str, str] = {}
        with app.app_context():
            s = db.session()
            for who, (role, scope, _) in WHO.items():
                if role is None:
                    continue
                user = User(email=f"{who}@matrix.test", role=role, scope=scope, password_hash="-")
                s.add(user)
                s.commit()
                self.users[who] = user.id
                self.tokens[who] = create_token(user)
            rule = RoutingRule(name="matrix", kind="urgency", phrases=["cứu"], priority="urgent")
            area = Area(name="Kế Sách", kind="district", aliases=[], police_queue="police_ke_sach")
            s.add_all([rule, area])
            s.commit()
            self.rule = rule.id
            self.area = area.id

    def client(self, who: str, api: bool) -> Any:
        client = self.app.test_client()
        if who in self.users and not api:
            with self.app.app_context():
                sign_in(client, self.users[who])
        return client

    def headers(self, who: str, api: bool) -> dict[str, str]:
        if api and who in self.tokens:
            return {"Authorization": f"Bearer {self.tokens[who]}"}
        return {}

    def make(self, queue: str) -> dict[str, str]:
        """Fresh objects for one case: a tip, a merge partner, a target user and a roster."""
        with self.app.app_context():
            s = db.session()
            n = next(_seq)
            # A number per case: the do-not-contact case must not silence the reply case.
            tip = Tip(channel="sms", body="tin báo", queue=queue, sender=f"+8498{n:07d}")
            other = Tip(channel="web", body="tin trùng", queue=queue)
            target = User(email=f"target{n}@matrix.test", role="editor", password_hash="-")
            s.add_all([tip, other, target])
            s.flush()
            now = utcnow()
            roster = Roster(
                queue="hotline_111",
                user_id=self.users["hotline_111"],
                starts_at=now,
                ends_at=now + dt.timedelta(hours=8),
            )
            s.add(roster)
            s.commit()
            token, _ = new_token(target, "matrix")
            s.commit()
            return {
                "tip": str(tip.id),
                "other": str(other.id),
                "target": str(target.id),
                "roster": str(roster.id),
                "token": str(token.id),
                "rule": str(self.rule),
                "area": str(self.area),
                "unique": f"matrix{n}",
            }


@pytest.fixture(scope="module")
def world(
    engine: Engine, database_url: str, redis_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[World]:
    yield from open_world(engine, database_url, redis_url, tmp_path_factory)


def open_world(
    engine: Engine, database_url: str, redis_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[World]:
    """The module's world on a wiped database and Redis, wiped again after (also used by
    test_route_coverage)."""
    from redis import Redis

    from tests.fakes import aggregator_server as fake_aggregator
    from workers import runtime

    settings = Settings(  # type: ignore[call-arg]
        env="test",
        database_url=database_url,
        redis_url=redis_url,
        var_dir=Path(tmp_path_factory.mktemp("matrix")),
        secret_key="matrix-secret-not-for-production",  # type: ignore[arg-type]
        public_base_url="http://loa.test",
        # an aggregator profile, so its webhooks answer (test_route_coverage forges them)
        http_profile=str(fake_aggregator.FAKE_PROFILE),
        http_webhook_secret=fake_aggregator.WEBHOOK_SECRET,  # type: ignore[arg-type]
    )
    _wipe(engine)
    r = Redis.from_url(redis_url)
    r.flushdb()
    app = create_app(settings, TESTING=True, WTF_CSRF_ENABLED=False)
    runtime.configure(settings)
    yield World(app)
    app.extensions["loa.engine"].dispose()  # psycopg warns about connections left to the GC
    runtime.reset()
    r.flushdb()
    r.close()
    _wipe(engine)


def _call(
    world: World, who: str, method: str, url: str, data: dict[str, str], objs: dict[str, str]
) -> int:
    api = url.startswith("/api/")
    client = world.client(who, api)
    path = url.format(**objs)
    form = {k: v.format(**objs) for k, v in data.items()}
    resp = client.open(path, method=method, data=form or None, headers=world.headers(who, api))
    return int(resp.status_code)


@pytest.mark.parametrize(("who", "queue", "method", "url", "data", "expected"), TIP_CASES)
def test_tip_views(
    world: World, who: str, queue: str, method: str, url: str, data: dict[str, str], expected: int
) -> None:
    """Each role and scope gets exactly the expected answer on a tip of each queue."""
    objs = world.make(queue)
    assert _call(world, who, method, url, data, objs) == expected


@pytest.mark.parametrize(("who", "method", "url", "data", "expected"), PAGE_CASES)
def test_pages(
    world: World, who: str, method: str, url: str, data: dict[str, str], expected: int
) -> None:
    """Each role gets exactly the expected answer on each list, admin and API page."""
    objs = world.make("police_province")
    assert _call(world, who, method, url, data, objs) == expected


PLACEHOLDERS = {
    "{tip}": "<int:tip_id>",
    "{rule}": "<int:rule_id>",
    "{area}": "<int:area_id>",
    "{target}": "<int:user_id>",
    "{roster}": "<int:roster_id>",
    "{token}": "<int:token_id>",
}


def _as_route(url: str) -> str:
    for placeholder, converter in PLACEHOLDERS.items():
        url = url.replace(placeholder, converter)
    return url


def test_matrix_covers_every_inbox_rules_users_and_audit_route(world: World) -> None:
    """No route of these areas is missing from the matrix (a new view must be added here)."""
    tables: list[tuple[Any, ...]] = [*TIP_URLS, *API_TIP_URLS, *PAGE_URLS, *API_PAGE_URLS]
    covered = {_as_route(str(entry[1]).split("?")[0]) for entry in tables}
    prefixes = (
        "/inbox",
        "/rules",
        "/users",
        "/account",
        "/audit",
        "/areas",
        "/simulator",
        "/api/v1/tips",
    )
    routes = {r.rule for r in world.app.url_map.iter_rules() if r.rule.startswith(prefixes)}
    assert routes - covered == set()
