"""Every route of ``app.url_map`` against every role: who may open it, from a table written by
hand (not from ``gateway.roles``), so a new route without an entry fails with its name.

Each endpoint is requested once per rule and role: GET when the rule takes GET, else its one
method with an empty body (CSRF off). A role that may not gets 403 (anonymous: 401 on the API
and /metrics, a redirect to /login elsewhere); a role that may gets anything but 401, 403, 500
or the login page. Which queue a tip-line user sees is test_role_matrix's business: here each
role asks for a tip of its own queue.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine
from werkzeug.routing import Rule

from campaigns import delegation
from campaigns.models import ContactImport, Delivery
from gateway import db
from tests.factories import create_campaign
from tests.integration.html_controls import Controls
from tests.integration.test_role_matrix import WHO, World, open_world

PUBLIC = "public"  # anyone, signed in or not
SIGNED = "signed"  # anyone, but only with the provider's signature: a forged request gets 403

ADMIN = {"admin"}
CAMPAIGNS = {"admin", "editor", "approver"}
EDITORS = {"admin", "editor"}
APPROVERS = {"approver"}  # approval is four-eyes: an admin does not approve
KILL_SWITCH = {"admin", "approver"}
REPORTS = {"admin", "approver"}  # figures across every queue: the admin and the department's leader
TIPS = {"admin", "police_province", "police_ke_sach", "border_guard", "hotline_111"}
EVERYONE = set(WHO) - {"anonymous"}
# Opt-outs are kept by the campaign team and by tip-line staff (a citizen asks them to stop
# messages); an approver has no business there.
OPTOUTS = EVERYONE - {"approver"}

EXPECTED: dict[str, str | set[str]] = {
    # public pages, health, login
    "home.index": PUBLIC,
    "home.security_txt": PUBLIC,
    "home.favicon": PUBLIC,
    "home.healthz": PUBLIC,
    "home.readyz": PUBLIC,
    "auth.login": PUBLIC,
    "auth.login_code": PUBLIC,
    "auth.login_enrol": PUBLIC,
    "auth.logout": PUBLIC,
    "tips_public.form": PUBLIC,
    "tips_public.thanks": PUBLIC,
    "api.openapi": PUBLIC,
    # provider webhooks
    "webhooks.twilio_sms": SIGNED,
    "webhooks.twilio_status": SIGNED,
    "webhooks.simulator_status": SIGNED,
    "webhooks.http_mo": SIGNED,
    "webhooks.http_status": SIGNED,
    # one's own account
    "account.account": EVERYONE,
    "account.two_factor": EVERYONE,
    "account.change_password": EVERYONE,
    "account.recovery_codes": EVERYONE,
    # campaigns (admin pages)
    "campaigns.index": CAMPAIGNS,
    "campaigns.show": CAMPAIGNS,
    "campaigns.act": EDITORS,  # asked with action "submit"
    "campaigns.deliveries_csv": CAMPAIGNS,
    "campaigns.edit": EDITORS,
    "campaigns.update": EDITORS,
    "campaigns.progress": CAMPAIGNS,
    "campaigns.progress_json": CAMPAIGNS,
    "campaigns.change_rate": CAMPAIGNS,
    "campaigns.report": CAMPAIGNS,
    "campaigns.test_send": EDITORS,
    "campaigns.letter": CAMPAIGNS,
    "campaigns.follow_up": CAMPAIGNS,
    "campaigns.import_report": CAMPAIGNS,
    "reports.results_page": REPORTS,
    "reports.results_file": REPORTS,
    "api.report_results": REPORTS,
    "campaigns.letter_template": EDITORS,
    "campaigns.approvals": CAMPAIGNS,
    "campaigns.kill_switch": KILL_SWITCH,
    "campaigns.new": EDITORS,
    "campaigns.create": EDITORS,
    "campaigns.sms_info": CAMPAIGNS,
    # contacts, lists, opt-outs
    "contacts.contacts_index": CAMPAIGNS,
    "contacts.lists_index": CAMPAIGNS,
    "contacts.import_form": EDITORS,
    "contacts.import_upload": EDITORS,
    "contacts.import_result": EDITORS,
    "contacts.import_progress": EDITORS,
    "contacts.import_rejects": EDITORS,  # unmasked numbers
    "contacts.optouts_index": OPTOUTS,
    "contacts.optout_add": OPTOUTS,
    "contacts.optout_remove": OPTOUTS,
    # tips
    "inbox.tip_list": TIPS,
    "inbox.tip_detail": TIPS,
    "inbox.tip_assign": TIPS,
    "inbox.tip_do_not_contact": TIPS,
    "inbox.tip_legal_hold": TIPS,
    "inbox.tip_hand_off": TIPS,
    "inbox.tip_handoff": TIPS,
    "inbox.tip_merge": TIPS,
    "inbox.tip_note": TIPS,
    "inbox.tip_packet": TIPS,
    "inbox.tip_reply": TIPS,
    "inbox.tip_reveal": TIPS,
    "inbox.tip_transition": TIPS,
    "inbox.tip_unread": TIPS,
    "inbox.count_json": TIPS,
    "inbox.dashboard": TIPS,
    "tips_calls.new": TIPS,
    "rules.rule_list": TIPS,
    "rules.rule_detail": TIPS,
    "rules.rule_test": TIPS,
    "rules.rule_activate": ADMIN,
    "rules.rule_deactivate": ADMIN,
    "rules.rule_edit": ADMIN,
    "rules.rule_create": ADMIN,
    # administration
    "users.user_list": ADMIN,
    "users.user_create": ADMIN,
    "users.user_activate": ADMIN,
    "users.user_deactivate": ADMIN,
    "users.user_reset_2fa": ADMIN,
    "users.user_reset_password": ADMIN,
    "users.user_sign_out": ADMIN,
    "users.token_list": ADMIN,
    "users.token_create": ADMIN,
    "users.token_revoke": ADMIN,
    "users.roster_list": ADMIN,
    "users.roster_delete": ADMIN,
    "areas.area_list": ADMIN,
    "areas.area_edit": ADMIN,
    "audit_log.audit_list": ADMIN,
    "metrics.metrics": ADMIN,
    "simulator.phone": ADMIN,
    "simulator.send": ADMIN,
    # the JSON API
    "api.audience_preview": CAMPAIGNS,
    "api.list_campaigns": CAMPAIGNS,
    "api.create_campaign": EDITORS,
    "api.get_campaign": CAMPAIGNS,
    "api.edit_campaign": EDITORS,
    "api.campaign_submit": EDITORS,
    "api.campaign_approve": APPROVERS,
    "api.campaign_reject": APPROVERS,
    "api.campaign_schedule": CAMPAIGNS,
    "api.campaign_launch": CAMPAIGNS,
    "api.campaign_request": CAMPAIGNS,
    "api.campaign_pause": CAMPAIGNS,
    "api.campaign_resume": CAMPAIGNS,
    "api.campaign_cancel": CAMPAIGNS,
    "api.change_rate": CAMPAIGNS,
    "api.list_deliveries": CAMPAIGNS,
    "api.import_file": EDITORS,
    "api.rejected_rows": EDITORS,
    "api.import_status": EDITORS,
    "api.list_lists": CAMPAIGNS,
    "api.add_optout": OPTOUTS,
    "api.remove_optout": OPTOUTS,
    "api.list_tips": TIPS,
    "api.get_tip": TIPS,
}
BEARER = {"metrics.metrics"}  # outside /api/v1 but answers 401 to anonymous, like the API
OWN_QUEUE = {
    "police_province": "police_province",
    "police_ke_sach": "police_ke_sach",
    "border_guard": "border_guard",
    "hotline_111": "hotline_111",
}
_seq = itertools.count(1)


@pytest.fixture(scope="module")
def world(
    engine: Engine, database_url: str, redis_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[World]:
    yield from open_world(engine, database_url, redis_url, tmp_path_factory)


def _objects(world: World, who: str) -> dict[str, str]:
    """A value for each rule argument: fresh objects, the tip in a queue ``who`` works."""
    objs = world.make(OWN_QUEUE.get(who, "police_province"))
    with world.app.app_context():
        s = db.session()
        n = next(_seq)
        # A delegated campaign with one letter: every campaign page must serve one too.
        delegation.seed_operators(s)
        campaign = create_campaign(
            route="operators", audience={"all": True, "operators": ["viettel"]}
        )
        (letter,) = delegation.prepare_letters(s, campaign)
        delivery = Delivery(campaign_id=campaign.id, phone=f"+8490{n:07d}")
        imported = ContactImport(token=f"coverage{n}", rejected_csv="line,value,reason\r\n")
        s.add_all([delivery, imported])
        s.commit()
        return {
            "tip_id": objs["tip"],
            "user_id": objs["target"],
            "token_id": objs["token"],
            "roster_id": objs["roster"],
            "rule_id": objs["rule"],
            "area_id": objs["area"],
            "campaign_id": str(campaign.id),
            "request_id": str(letter.id),
            "kind": "docx",
            "delivery_id": str(delivery.id),
            "token": imported.token,  # a contact import's; a forged one for webhooks
            "action": "submit",
        }


def _path(rule: Rule, objs: dict[str, str]) -> str:
    missing = rule.arguments - set(objs)
    assert not missing, f"{rule.endpoint}: no test value for {sorted(missing)}; add one"
    built = rule.build({a: objs[a] for a in rule.arguments})
    assert built is not None, rule.endpoint
    return built[1]


def _method(rule: Rule) -> str:
    """GET when the rule takes it, else POST, else its one method; webhooks are POSTed (the
    aggregator profile's method is POST, so GET would only say 405)."""
    methods = (rule.methods or set()) - {"HEAD", "OPTIONS"}
    if EXPECTED[str(rule.endpoint)] == SIGNED and "POST" in methods:
        return "POST"
    if "GET" in methods:
        return "GET"
    if "POST" in methods:
        return "POST"
    (only,) = methods
    return only


def _rules(world: World, endpoint: str) -> list[Rule]:
    rules = [r for r in world.app.url_map.iter_rules() if r.endpoint == endpoint]
    assert rules, f"{endpoint} is in EXPECTED but no longer a route; remove it"
    return rules


def test_every_route_has_an_expectation(world: World) -> None:
    """A route missing from EXPECTED fails here, by name (add it with the roles that may)."""
    endpoints = {r.endpoint for r in world.app.url_map.iter_rules()} - {"static"}
    assert sorted(endpoints - set(EXPECTED)) == [], "routes without an entry in EXPECTED"
    assert sorted(set(EXPECTED) - endpoints) == [], "EXPECTED names routes that are gone"


@pytest.mark.parametrize("who", list(WHO))
@pytest.mark.parametrize("endpoint", sorted(EXPECTED))
def test_route_answers_each_role(world: World, endpoint: str, who: str) -> None:
    """Each role gets in where EXPECTED says it may, and a refusal where it may not."""
    may = EXPECTED[endpoint]
    api = endpoint.startswith("api.") or endpoint in BEARER
    for rule in _rules(world, endpoint):
        path = _path(rule, _objects(world, who))
        client = world.client(who, api)
        method = _method(rule)
        resp = client.open(path, method=method, headers=world.headers(who, api))
        status, where = resp.status_code, resp.headers.get("Location", "")
        case = f"{who} {method} {path} → {status}"
        if may == SIGNED:
            assert status == 403, case
        elif may == PUBLIC or who in may:
            assert status not in (401, 403) and status < 500, case
            assert may == PUBLIC or "/login" not in where, case
        elif who == "anonymous" and api:
            assert status == 401, case
        elif who == "anonymous":
            assert status in (302, 303) and "/login" in where, case
        else:
            assert status == 403, case


def _reader(endpoint: str) -> str:
    """Who opens a page for the label check: anyone for a public page, else an admin when
    allowed, else the first role that may."""
    may = EXPECTED[endpoint]
    if may == PUBLIC:
        return "anonymous"
    assert isinstance(may, set)
    return "admin" if "admin" in may else sorted(may)[0]


PAGES = sorted(
    e
    for e, may in EXPECTED.items()
    if may != SIGNED and not e.startswith("api.") and e not in BEARER
)


@pytest.mark.parametrize("endpoint", PAGES)
def test_every_control_has_a_label(world: World, endpoint: str) -> None:
    """Issue 12 (accessibility): every input, select and textarea on an HTML page has a label
    a screen reader can read."""
    who = _reader(endpoint)
    for rule in _rules(world, endpoint):
        if "GET" not in (rule.methods or set()):
            continue
        path = _path(rule, _objects(world, who))
        resp = world.client(who, False).get(path, headers=world.headers(who, False))
        if resp.status_code != 200 or resp.mimetype != "text/html":
            continue
        controls = Controls()
        controls.feed(resp.get_data(as_text=True))
        assert controls.unlabelled() == [], f"{who} GET {path}"
