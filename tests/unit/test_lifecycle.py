"""The campaign state machine: every (state, action) pair, guards, approval hash, schedules."""

from __future__ import annotations

import datetime as dt
import itertools
from dataclasses import dataclass

import pytest
from sqlalchemy.orm import Session

from campaigns import lifecycle as lc
from campaigns.models import Campaign
from gateway.models import User

NOW = dt.datetime(2025, 7, 1, 3, 0, tzinfo=dt.UTC)
FUTURE = dt.datetime(2025, 7, 30, 1, 0, tzinfo=dt.UTC)  # 08:00 in Asia/Ho_Chi_Minh

# Written out by hand, independently of lc.TRANSITIONS: the legal moves of the brief.
EXPECTED = {
    ("draft", "submit"): "pending_approval",
    ("draft", "edit"): "draft",
    ("draft", "cancel"): "cancelled",
    ("pending_approval", "approve"): "approved",
    ("pending_approval", "reject"): "rejected",
    ("pending_approval", "edit"): "draft",
    ("pending_approval", "cancel"): "cancelled",
    ("approved", "schedule"): "scheduled",
    ("approved", "launch"): "running",
    ("approved", "edit"): "draft",
    ("approved", "cancel"): "cancelled",
    ("scheduled", "launch"): "running",
    ("scheduled", "edit"): "draft",
    ("scheduled", "cancel"): "cancelled",
    ("running", "pause"): "paused",
    ("running", "complete"): "completed",
    ("running", "cancel"): "cancelled",
    ("paused", "resume"): "running",
    ("paused", "cancel"): "cancelled",
    ("rejected", "edit"): "draft",
    ("rejected", "cancel"): "cancelled",
    # a campaign the mobile operators send (campaigns.delegation)
    ("approved", "request"): "requested",
    ("requested", "complete"): "completed",
    ("requested", "cancel"): "cancelled",
}
DELEGATED = {"route": "operators", "audience": {"all": True, "operators": ["viettel"]}}


@dataclass
class People:
    editor: User
    approver: User
    other_editor: User


def _user(session: Session, role: str, n: int) -> User:
    user = User(email=f"{role}{n}@loa.test", role=role, password_hash="x")
    session.add(user)
    session.flush()
    return user


@pytest.fixture
def people(new_session: Session) -> People:
    people = People(
        _user(new_session, "editor", 1),
        _user(new_session, "approver", 2),
        _user(new_session, "editor", 3),
    )
    new_session.commit()
    return people


def _campaign(session: Session, people: People, status: str = "draft", **kw: object) -> Campaign:
    values: dict[str, object] = {
        "name": "30/7",
        "body": "Toàn dân tích cực tham gia phòng, chống mua bán người.",
        "audience": {"lists": ["all-province"]},
        "created_by_id": people.editor.id,
        "scheduled_at": FUTURE,
        "status": status,
    }
    values.update(kw)
    campaign = Campaign(**values)
    session.add(campaign)
    session.flush()
    if status in ("approved", "scheduled", "running", "paused", "requested"):
        campaign.approval_hash = lc.approval_hash(campaign)
        campaign.approved_by_id = people.approver.id
    session.commit()
    return campaign


def test_table_matches_the_brief() -> None:
    """The transition table is exactly the expected one."""
    assert lc.TRANSITIONS == EXPECTED


@pytest.mark.parametrize(("state", "action"), list(itertools.product(lc.STATES, lc.ACTIONS)))
def test_every_state_and_action(
    new_session: Session, people: People, state: str, action: str
) -> None:
    """Each pair either moves to the expected state or raises IllegalTransition and changes nothing.
    The operators' route (state "requested", action "request") is tried on a delegated campaign."""
    delegated = "request" in (state, action) or state == "requested"
    campaign = _campaign(new_session, people, state, **(DELEGATED if delegated else {}))
    actor = people.approver if action in ("approve", "reject") else people.editor
    target = EXPECTED.get((state, action))
    if target is None:
        with pytest.raises(lc.IllegalTransition):
            lc.transition(new_session, campaign, action, actor, now=NOW)
        new_session.rollback()
        assert new_session.get(Campaign, campaign.id).status == state  # type: ignore[union-attr]
    else:
        lc.transition(new_session, campaign, action, actor, reason="r", now=NOW)
        new_session.commit()
        assert campaign.status == target


def test_approve_stores_hash_and_approver(new_session: Session, people: People) -> None:
    """Approval records who approved, when, and the SHA-256 of what was approved."""
    campaign = _campaign(new_session, people, "pending_approval")
    lc.transition(new_session, campaign, "approve", people.approver, now=NOW)
    assert campaign.approved_by_id == people.approver.id
    assert campaign.approved_at == NOW
    assert campaign.approval_hash == lc.approval_hash(campaign)
    assert len(campaign.approval_hash or "") == 64


@pytest.mark.parametrize(
    ("who", "reason_word"), [("editor", "tự duyệt"), ("other_editor", "phê duyệt")]
)
def test_approve_refused(new_session: Session, people: People, who: str, reason_word: str) -> None:
    """The creator cannot approve their own draft; an editor cannot approve at all."""
    campaign = _campaign(new_session, people, "pending_approval")
    with pytest.raises(lc.IllegalTransition) as info:
        lc.transition(new_session, campaign, "approve", getattr(people, who), now=NOW)
    assert info.value.code == "forbidden"
    assert reason_word in info.value.reason


def test_approver_who_created_cannot_approve(new_session: Session, people: People) -> None:
    """An approver who drafted a campaign still needs another approver."""
    campaign = _campaign(new_session, people, "pending_approval", created_by_id=people.approver.id)
    with pytest.raises(lc.IllegalTransition, match="tự duyệt"):
        lc.transition(new_session, campaign, "approve", people.approver, now=NOW)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("body", "Nội dung khác"),
        ("audience", {"lists": ["other"]}),
        ("senders", ["OTHER"]),
        ("rate_per_second", 50.0),
        ("window_end", "21:00"),
        ("scheduled_at", FUTURE + dt.timedelta(hours=1)),
    ],
)
def test_change_after_approval_blocks_launch(
    new_session: Session, people: People, field: str, value: object
) -> None:
    """Any change to text, audience or settings after approval makes launch refuse."""
    campaign = _campaign(new_session, people, "approved")
    setattr(campaign, field, value)
    with pytest.raises(lc.IllegalTransition) as info:
        lc.transition(new_session, campaign, "launch", people.editor, now=NOW)
    assert info.value.code == "approval_void"


def test_edit_voids_approval(new_session: Session, people: People) -> None:
    """Editing an approved campaign returns it to draft without its approval."""
    campaign = _campaign(new_session, people, "scheduled")
    lc.edit(new_session, campaign, people.editor, {"body": "Sửa nội dung"})
    new_session.commit()
    assert (campaign.status, campaign.approval_hash, campaign.approved_by_id) == (
        "draft",
        None,
        None,
    )
    assert campaign.body == "Sửa nội dung"


def test_edit_refused_while_running(new_session: Session, people: People) -> None:
    """A running campaign cannot be edited."""
    campaign = _campaign(new_session, people, "running")
    with pytest.raises(lc.IllegalTransition):
        lc.edit(new_session, campaign, people.editor, {"body": "x"})


@pytest.mark.parametrize(
    ("changes", "message"),
    [({"body": "  "}, "trống"), ({"audience": {}}, "danh sách")],
)
def test_submit_needs_body_and_audience(
    new_session: Session, people: People, changes: dict[str, object], message: str
) -> None:
    """A draft without text or without lists cannot be submitted."""
    campaign = _campaign(new_session, people, "draft", **changes)
    with pytest.raises(lc.IllegalTransition, match=message):
        lc.transition(new_session, campaign, "submit", people.editor, now=NOW)


def test_schedule_needs_future_time(new_session: Session, people: People) -> None:
    """Scheduling refuses a missing or past time."""
    campaign = _campaign(new_session, people, "approved", scheduled_at=None)
    with pytest.raises(lc.IllegalTransition, match="thời điểm"):
        lc.transition(new_session, campaign, "schedule", people.editor, now=NOW)
    past = _campaign(new_session, people, "approved", scheduled_at=NOW - dt.timedelta(hours=1))
    with pytest.raises(lc.IllegalTransition, match="đã qua"):
        lc.transition(new_session, past, "schedule", people.editor, now=NOW)


def test_two_clicks_one_winner(new_session: Session, db_engine: object, people: People) -> None:
    """Two sessions launching the same campaign: exactly one wins, the other gets a conflict."""
    from campaigns.db import make_sessionmaker

    campaign = _campaign(new_session, people, "approved")
    other = make_sessionmaker(db_engine)()  # type: ignore[arg-type]
    try:
        twin = other.get(Campaign, campaign.id)
        assert twin is not None and twin.status == "approved"
        lc.transition(new_session, campaign, "launch", people.editor, now=NOW)
        new_session.commit()
        with pytest.raises(lc.IllegalTransition) as info:
            lc.transition(other, twin, "launch", people.editor, now=NOW)
        assert info.value.code == "conflict"
        other.rollback()
    finally:
        other.close()
    assert campaign.status == "running"


def test_reject_keeps_reason_and_edit_clears_nothing_else(
    new_session: Session, people: People
) -> None:
    """A rejection stores its reason; a resubmission clears it."""
    campaign = _campaign(new_session, people, "pending_approval")
    lc.transition(new_session, campaign, "reject", people.approver, reason="Sai số tổng đài")
    assert campaign.rejection_reason == "Sai số tổng đài"
    lc.transition(new_session, campaign, "edit", people.editor)
    lc.transition(new_session, campaign, "submit", people.editor)
    assert campaign.rejection_reason is None


def test_unknown_action(new_session: Session, people: People) -> None:
    """An action that does not exist is refused, not ignored."""
    campaign = _campaign(new_session, people)
    with pytest.raises(lc.IllegalTransition, match="không tồn tại"):
        lc.transition(new_session, campaign, "explode", people.editor)


def test_actions_from_lists_buttons() -> None:
    """The buttons of a paused campaign are resume and cancel."""
    assert lc.actions_from("paused") == ["resume", "cancel"]
    assert lc.actions_from("completed") == []


@pytest.mark.parametrize(
    ("at", "after", "expected"),
    [
        # A repetition is never `at` itself, even when `after` is earlier.
        (FUTURE, NOW, dt.datetime(2026, 7, 30, 1, 0, tzinfo=dt.UTC)),
        # After the 2025 run -> 2026, same local time.
        (FUTURE, FUTURE, dt.datetime(2026, 7, 30, 1, 0, tzinfo=dt.UTC)),
        # Late in the year -> next year.
        (
            FUTURE,
            dt.datetime(2025, 12, 31, tzinfo=dt.UTC),
            dt.datetime(2026, 7, 30, 1, 0, tzinfo=dt.UTC),
        ),
        # 29 February falls back to 28 February in a common year.
        (
            dt.datetime(2024, 2, 29, 1, 0, tzinfo=dt.UTC),
            dt.datetime(2024, 3, 1, tzinfo=dt.UTC),
            dt.datetime(2025, 2, 28, 1, 0, tzinfo=dt.UTC),
        ),
        # Local midnight crossing: 30 July 00:30 local is 29 July 17:30 UTC.
        (
            dt.datetime(2025, 7, 29, 17, 30, tzinfo=dt.UTC),
            dt.datetime(2025, 8, 1, tzinfo=dt.UTC),
            dt.datetime(2026, 7, 29, 17, 30, tzinfo=dt.UTC),
        ),
    ],
)
def test_next_occurrence(at: dt.datetime, after: dt.datetime, expected: dt.datetime) -> None:
    """Yearly repetition keeps the local month, day and time."""
    assert lc.next_occurrence(at, after) == expected


def test_next_run_and_due(new_session: Session, people: People) -> None:
    """A scheduled campaign is due once its time passes; a launched yearly one runs next year."""
    campaign = _campaign(new_session, people, "scheduled", recurrence="yearly")
    assert lc.next_run(campaign, NOW) == FUTURE
    assert not lc.is_due(campaign, NOW)
    assert lc.is_due(campaign, FUTURE)
    campaign.launched_at = FUTURE
    assert lc.next_run(campaign, FUTURE) == dt.datetime(2026, 7, 30, 1, 0, tzinfo=dt.UTC)
    one_off = _campaign(new_session, people, "running", launched_at=FUTURE)
    assert lc.next_run(one_off, FUTURE) is None


def test_yearly_copy_keeps_approval(new_session: Session, people: People) -> None:
    """Next year's copy of a yearly campaign is scheduled and its approval still matches."""
    campaign = _campaign(new_session, people, "scheduled", recurrence="yearly")
    copy = lc.copy_for_next_year(new_session, campaign, FUTURE)
    assert copy.status == "scheduled"
    assert copy.scheduled_at == dt.datetime(2026, 7, 30, 1, 0, tzinfo=dt.UTC)
    assert lc.approval_valid(copy)
