"""Work on tips through gateway.tips.casework and the inbox forms: moves, assignment, notes,
replies, do-not-contact, merging, hand-off, the sender's thread, and scope in SQL."""

from __future__ import annotations

import itertools
from typing import Any

import pytest
from sqlalchemy import select

from gateway.models import User
from gateway.roles import may_see_queue
from gateway.tips import casework, states
from gateway.tips.models import Reply, SenderFlag, Tip, TipEvent, TipNote
from tests.factories import create_tip

SENDER = "+84912345678"
QUEUES = ("police_province", "police_ke_sach", "police_my_tu", "border_guard", "hotline_111")
USERS = (
    ("admin", None),
    ("police", None),
    ("police", "police_province"),
    ("police", "police_ke_sach"),
    ("border_guard", None),
    ("hotline_111", None),
    ("editor", None),
    ("approver", None),
)


def _staff(session: Any, role: str, scope: str | None = None) -> User:
    """A user without a real password hash: these tests never log in (argon2 is slow by design)."""
    user = User(email=f"{role}-{next(_seq)}@loa.test", role=role, scope=scope, password_hash="-")
    session.add(user)
    session.commit()
    return user


_seq = itertools.count(1)


def _reload(session: Any, tip: Tip) -> Tip:
    session.expire_all()
    fresh: Tip = session.get(Tip, tip.id)
    return fresh


@pytest.mark.parametrize(("start", "to"), list(itertools.product(states.STATES, states.STATES)))
def test_every_move_follows_the_state_table(session: Any, start: str, to: str) -> None:
    """transition() allows exactly the moves of states.MOVES (closing with a resolution)."""
    user = _staff(session, "admin")
    tip = create_tip(status=start, queue="police_province")
    resolution = "no_action" if to == states.CLOSED else None
    if states.can_move(start, to):
        casework.transition(session, tip, to, user, resolution)
        session.commit()
        assert _reload(session, tip).status == to
    else:
        with pytest.raises(casework.CaseworkError):
            casework.transition(session, tip, to, user, resolution)


def test_close_needs_a_resolution_and_reopen_clears_it(session: Any) -> None:
    """Closing without a resolution fails; closing sets closed_at; reopening clears both."""
    user = _staff(session, "admin")
    tip = create_tip(queue="police_province")
    with pytest.raises(casework.CaseworkError):
        casework.transition(session, tip, states.CLOSED, user)
    casework.transition(session, tip, states.CLOSED, user, "referred_111")
    session.commit()
    assert (tip.resolution, tip.closed_at is not None, tip.acknowledged_at is not None) == (
        "referred_111",
        True,
        True,
    )
    casework.transition(session, tip, states.IN_PROGRESS, user)
    session.commit()
    assert (tip.resolution, tip.closed_at) == (None, None)
    kinds = session.scalars(select(TipEvent.to_status).where(TipEvent.tip_id == tip.id)).all()
    assert kinds == ["closed", "in_progress"]


def test_the_form_refuses_a_forbidden_move_with_422(client: Any, login_as: Any) -> None:
    """Posting a move the table forbids answers 422 and changes nothing."""
    tip = create_tip(queue="police_province", status="in_progress")
    login_as("admin")
    assert client.post(f"/inbox/{tip.id}/transition", data={"to": "new"}).status_code == 422
    assert client.post(f"/inbox/{tip.id}/transition", data={"to": "closed"}).status_code == 422
    resp = client.post(f"/inbox/{tip.id}/transition", data={"to": "closed", "resolution": "spam"})
    assert resp.status_code == 303


def test_assign_only_to_someone_who_can_see_the_tip(session: Any) -> None:
    """An officer of another district cannot be assigned; one of the tip's queue can."""
    boss = _staff(session, "police")
    here = _staff(session, "police", "police_ke_sach")
    there = _staff(session, "police", "police_my_tu")
    tip = create_tip(queue="police_ke_sach")
    with pytest.raises(casework.CaseworkError):
        casework.assign(session, tip, there, boss)
    casework.assign(session, tip, here, boss)
    session.commit()
    assert _reload(session, tip).assigned_to_id == here.id


def test_notes_are_internal_and_bounded(client: Any, login_as: Any, session: Any) -> None:
    """A note is stored with its author; an empty note answers 422."""
    tip = create_tip(queue="border_guard")
    user = login_as("border_guard")
    assert client.post(f"/inbox/{tip.id}/notes", data={"body": "  "}).status_code == 422
    assert client.post(f"/inbox/{tip.id}/notes", data={"body": "Đã gọi đồn"}).status_code == 303
    note = session.scalar(select(TipNote))
    assert (note.body, note.author_id) == ("Đã gọi đồn", user.id)


def test_reply_is_queued_on_the_replies_lane(
    client: Any, login_as: Any, session: Any, redis_conn: Any
) -> None:
    """A reply becomes a queued Reply row and a job on the replies queue."""
    from gateway import queues

    tip = create_tip(queue="hotline_111", sender=SENDER)
    login_as("hotline_111")
    resp = client.post(f"/inbox/{tip.id}/reply", data={"body": "Cảm ơn, chúng tôi đang xử lý."})
    assert resp.status_code == 303
    reply = session.scalar(select(Reply))
    assert (reply.to_phone, reply.kind, reply.status) == (SENDER, "reply", "queued")
    assert queues.queue("replies", redis_conn).job_ids == [f"reply-{reply.id}"]


def test_reply_refused_for_do_not_contact_and_anonymous(
    client: Any, login_as: Any, session: Any
) -> None:
    """A do-not-contact sender and an anonymous tip get no reply (422, nothing queued)."""
    flagged = create_tip(queue="police_province", sender=SENDER)
    anonymous = create_tip(queue="police_province")
    login_as("police")
    resp = client.post(
        f"/inbox/{flagged.id}/do-not-contact", data={"value": "1", "reason": "nguy hiểm"}
    )
    assert resp.status_code == 303
    assert session.scalar(select(SenderFlag)).do_not_contact is True
    for tip in (flagged, anonymous):
        assert client.post(f"/inbox/{tip.id}/reply", data={"body": "Xin chào"}).status_code == 422
    assert session.scalar(select(Reply)) is None
    client.post(f"/inbox/{flagged.id}/do-not-contact", data={"value": "0"})
    assert client.post(f"/inbox/{flagged.id}/reply", data={"body": "Xin chào"}).status_code == 303


def test_merge_points_to_the_primary_and_closes_as_duplicate(
    client: Any, login_as: Any, session: Any
) -> None:
    """The duplicate points to the primary and is closed with resolution duplicate."""
    primary = create_tip(queue="police_province")
    dup = create_tip(queue="police_province")
    login_as("police")
    assert (
        client.post(f"/inbox/{dup.id}/merge", data={"primary_id": f"#{primary.id}"}).status_code
        == 303
    )
    dup = _reload(session, dup)
    assert (dup.merged_into_id, dup.status, dup.resolution) == (primary.id, "closed", "duplicate")
    page = client.get(f"/inbox/{primary.id}").get_data(as_text=True)
    assert f'href="/inbox/{dup.id}"' in page  # the timeline links the merged duplicate
    # Merging into a merged tip, into itself, or twice is refused.
    third = create_tip(queue="police_province")
    assert (
        client.post(f"/inbox/{third.id}/merge", data={"primary_id": str(dup.id)}).status_code == 422
    )
    assert (
        client.post(f"/inbox/{third.id}/merge", data={"primary_id": str(third.id)}).status_code
        == 422
    )
    assert (
        client.post(f"/inbox/{dup.id}/merge", data={"primary_id": str(third.id)}).status_code == 422
    )


def test_merge_into_a_tip_outside_scope_is_forbidden(client: Any, login_as: Any) -> None:
    """An officer cannot merge into a tip they cannot see."""
    mine = create_tip(queue="police_ke_sach")
    theirs = create_tip(queue="hotline_111")
    login_as("police", scope="police_ke_sach")
    assert (
        client.post(f"/inbox/{mine.id}/merge", data={"primary_id": str(theirs.id)}).status_code
        == 403
    )


def test_hand_off_records_recipient_and_moves_the_queue(
    client: Any, login_as: Any, session: Any
) -> None:
    """A hand-off sets handed_off, records who received it, and the old queue keeps seeing it."""
    tip = create_tip(queue="police_province", status="in_progress")
    login_as("police")
    resp = client.post(
        f"/inbox/{tip.id}/hand-off",
        data={"recipient": "Đại úy Trần Văn B, Công an huyện", "to_queue": "border_guard"},
    )
    assert resp.status_code == 303
    tip = _reload(session, tip)
    assert (tip.status, tip.queue, tip.shared_with) == (
        "handed_off",
        "border_guard",
        ["police_province"],
    )
    event = session.scalar(select(TipEvent).where(TipEvent.kind == "handed_off"))
    assert event.details["recipient"] == "Đại úy Trần Văn B, Công an huyện"
    assert event.to_queue == "border_guard"
    assert client.post(f"/inbox/{tip.id}/hand-off", data={"recipient": ""}).status_code == 422
    assert (
        client.post(
            f"/inbox/{tip.id}/hand-off", data={"recipient": "x", "to_queue": "mars"}
        ).status_code
        == 400
    )


def test_thread_shows_the_senders_tips_within_scope(session: Any) -> None:
    """The thread lists the sender's visible tips and counts the hidden ones."""
    officer = _staff(session, "police", "police_ke_sach")
    first = create_tip(queue="police_ke_sach", sender=SENDER)
    create_tip(queue="hotline_111", sender=SENDER)
    create_tip(queue="police_ke_sach", sender="+84987654321")
    found = casework.thread(session, officer, SENDER)
    assert [t.id for t in found.tips] == [first.id]
    assert found.hidden == 1


@pytest.mark.parametrize(("role", "scope"), USERS)
def test_sql_scope_agrees_with_may_see_queue(session: Any, role: str, scope: str | None) -> None:
    """The inbox query returns exactly the tips roles.may_see_queue allows, shared ones included."""
    user = _staff(session, role, scope)
    tips = [create_tip(queue=q) for q in QUEUES]
    tips += [create_tip(queue="police_my_tu", shared_with=[q]) for q in QUEUES]
    listed = {t.id for t, _ in session.execute(casework.visible_tips_query(session, user))}
    expected = {
        t.id
        for t in tips
        if any(may_see_queue(role, scope, q) for q in [t.queue, *t.shared_with])
        and role not in ("editor", "approver")
    }
    assert listed == expected
    assert {t.id for t in tips if casework.may_see(user, t)} == expected


@pytest.mark.parametrize(("role", "scope"), USERS)
def test_open_counts_agree_with_may_see(session: Any, role: str, scope: str | None) -> None:
    """Each queue's open count is the open tips in it (primary or shared) that the user may see,
    for queues in and out of the user's scope; closed tips never count."""
    user = _staff(session, role, scope)
    tips = [create_tip(queue=q) for q in QUEUES]
    tips += [create_tip(queue="police_my_tu", shared_with=[q]) for q in QUEUES]
    tips += [create_tip(queue="hotline_111", shared_with=["border_guard", "police_ke_sach"])]
    create_tip(queue="police_ke_sach", status="closed", shared_with=["hotline_111"])
    counts = casework.open_counts(session, user, [*QUEUES, "police_my_tu"])
    for q in [*QUEUES, "police_my_tu"]:
        expected = sum(
            1 for t in tips if casework.may_see(user, t) and q in (t.queue, *t.shared_with)
        )
        assert counts[q] == expected, q
