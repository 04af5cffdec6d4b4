"""The admin lists that grow with use page by cursor: every row reachable, each once, in order.

Contacts (a province's 1.2 million), opt-outs, the audit log and the campaigns follow "Sau"
(next) links carrying ``after=``, the last row's key, instead of ``?page=`` OFFSETs, which read
every row before their page and stopped at page 10,000 (row 500,000).
"""

from __future__ import annotations

import datetime as dt
import html as html_lib
import re
from collections.abc import Callable
from typing import Any

import pytest

from campaigns.db import utcnow
from campaigns.models import Campaign, Contact, ContactList, ListMember, OptOut
from campaigns.text import fold
from gateway import labels
from gateway.admin import PER_PAGE
from gateway.models import AuditEvent
from tests.factories import mobile

ROWS = PER_PAGE * 2 + 7  # three pages
NEXT = re.compile(r'href="([^"]*after=[^"]*)"[^>]*>[^<]*Sau')


def _walk(client: Any, url: str, marker: str, kept: str) -> list[str]:
    """The markers of every row shown, following "Sau" from ``url``; each link keeps ``kept``."""
    seen: list[str] = []
    next_url: str | None = url
    while next_url:
        resp = client.get(next_url)
        assert resp.status_code == 200, next_url
        page = resp.get_data(as_text=True)
        seen += re.findall(marker, page)
        found = NEXT.search(page)
        next_url = html_lib.unescape(found.group(1)) if found else None
        if next_url:
            assert kept in next_url  # the filters stay in the link
            assert "page=" not in next_url
    return seen


def _contacts(session: Any) -> tuple[str, list[str]]:
    """Contacts named "Người …" in one list among others: the list's, newest first."""
    members = ContactList(name="Ấp Phước Hòa")
    session.add(members)
    session.flush()
    wanted = []
    for i in range(ROWS):
        inside = Contact(phone=mobile(10_000 + i), name=f"Người {i:03d}")
        session.add_all([inside, Contact(phone=mobile(20_000 + i), name=f"Người {i:03d}")])
        session.flush()
        session.add(ListMember(list_id=members.id, contact_id=inside.id))
        wanted.append(inside.name)
    return f"/contacts?q=Ng%C6%B0%E1%BB%9Di&list={members.id}", wanted[::-1]


def _optouts(session: Any) -> tuple[str, list[str]]:
    """Opt-outs whose numbers start 0981…, among others: those, newest first."""
    wanted = []
    for i in range(ROWS):
        session.add(OptOut(phone=f"+84981{i:06d}", channel="sms", reason=f"lý do {i:03d}"))
        session.add(OptOut(phone=f"+84971{i:06d}", channel="sms", reason=f"lý do {i:03d}"))
        wanted.append(f"lý do {i:03d}")
    return "/optouts?q=0981", wanted[::-1]


def _audit(session: Any) -> tuple[str, list[str]]:
    """Views of tips among reveals: the views, newest first."""
    for i in range(ROWS):
        session.add(AuditEvent(action="tip.view", object_type="tip", object_id=str(i)))
        session.add(AuditEvent(action="tip.reveal", object_type="tip", object_id=str(i)))
    return "/audit/?action=tip.view", [str(i) for i in reversed(range(ROWS))]


def _campaigns(session: Any) -> tuple[str, list[str]]:
    """Drafts among scheduled campaigns, some created at the same moment: the drafts, newest
    first (ties broken by id)."""
    base = utcnow() - dt.timedelta(days=3)
    drafts = []
    for i in range(ROWS):
        at = base + dt.timedelta(minutes=i // 3)
        draft = Campaign(name=f"Nháp {i}", body="Gọi 111", status="draft", created_at=at)
        session.add_all([draft, Campaign(name=f"Lịch {i}", body="Gọi 111", status="scheduled")])
        session.flush()
        drafts.append((at, draft.id))
    return "/campaigns/?status=draft", [str(i) for _, i in sorted(drafts, reverse=True)]


LISTS: dict[str, tuple[Callable[[Any], tuple[str, list[str]]], str, str]] = {
    # name: (fill, the marker of a row in the page, a filter the links must keep)
    "contacts": (_contacts, r"<td>(Người \d{3})</td>", "list="),
    "optouts": (_optouts, r"<td>(lý do \d{3})</td>", "q=0981"),
    "audit": (_audit, r" #(\d+)</td>", "action=tip.view"),
    "campaigns": (_campaigns, r'href="/campaigns/(\d+)"', "status=draft"),
}


@pytest.mark.parametrize("name", LISTS)
def test_following_next_shows_every_filtered_row_once_newest_first(
    client: Any, login_as: Any, session: Any, name: str
) -> None:
    fill, marker, kept = LISTS[name]
    url, expected = fill(session)
    session.commit()
    login_as("admin")
    seen = _walk(client, url, marker, kept)
    assert list(dict.fromkeys(seen)) == expected
    assert len(expected) == ROWS


@pytest.mark.parametrize(
    ("path", "cursor"),
    [
        ("/contacts", "x"),
        ("/contacts", "0"),
        ("/contacts", "-5"),
        ("/contacts", "9" * 30),  # past the largest id (and too long for int())
        ("/contacts", "2026-07-30T08:00:00+00:00_3"),  # a cursor of a list paged by time
        ("/optouts", "١٢_3"),
        ("/audit/", "3_"),
        ("/audit/", ""),  # empty: the first page
        ("/campaigns/", "5"),  # this list's cursor has its time too
        ("/campaigns/", "2026-07-30T08:00:00_5"),  # no time zone
    ],
)
def test_a_cursor_the_list_never_gave_out_is_a_400(
    client: Any, login_as: Any, path: str, cursor: str
) -> None:
    login_as("admin")
    status = client.get(path, query_string={"after": cursor}).status_code
    assert status == (200 if cursor == "" else 400)


def test_the_audit_filters_offer_every_labelled_action_without_reading_the_log(
    client: Any, login_as: Any, session: Any
) -> None:
    """The choices come from the label table (the log of a year holds millions of events; the
    page read all of them twice to list the actions it held), in the order of their labels."""
    login_as("admin")
    session.query(AuditEvent).delete()  # the login itself is logged
    session.commit()
    page = client.get("/audit/").get_data(as_text=True)
    select_html = re.search(r'<select name="action">(.*?)</select>', page, flags=re.S)
    assert select_html is not None
    offered = re.findall(r'<option value="([^"]+)"', select_html.group(1))
    assert set(offered) == set(labels.AUDIT_ACTION_LABELS)
    shown = [html_lib.unescape(t) for t in re.findall(r">([^<]+)</option>", select_html.group(1))]
    assert len(shown) == len(offered) + 1  # "— tất cả —" first
    assert shown[1:] == sorted(shown[1:], key=fold)
    kinds = re.search(r'<select name="object_type">(.*?)</select>', page, flags=re.S)
    assert kinds is not None
    assert set(re.findall(r'<option value="([^"]+)"', kinds.group(1))) == set(
        labels.AUDIT_OBJECT_LABELS
    )
