"""Audiences: lists OR'ed, place and tag filters AND'ed, invalid excluded, opt-outs kept."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from campaigns import audiences, optouts
from campaigns.areas import AreaIndex, load_soc_trang_2024
from campaigns.models import Area, Contact, ContactList, ListMember


@pytest.fixture
def world(session: Session) -> dict[str, Any]:
    """Two lists over five contacts in three districts, one ward, one invalid, one opted out."""
    load_soc_trang_2024(session)
    index = AreaIndex.load(session)
    ke_sach, tran_de, vinh_chau = (index.find(n) for n in ("Kế Sách", "Trần Đề", "Vĩnh Châu"))
    assert ke_sach and tran_de and vinh_chau
    ward = Area(name="Phường 1 Vĩnh Châu", kind="ward", parent_id=vinh_chau.id, aliases=["P1 VC"])
    session.add(ward)
    session.flush()
    people = {
        "a": Contact(
            phone="+84912000001", district_id=ke_sach.id, carrier="VinaPhone", tags=",ngư dân,"
        ),
        "b": Contact(
            phone="+84982000002", district_id=tran_de.id, carrier="Viettel", tags=",học sinh,"
        ),
        "c": Contact(phone="+84902000003", ward_id=ward.id, carrier="MobiFone", tags=""),
        "d": Contact(
            phone="+84912000004", district_id=ke_sach.id, carrier="VinaPhone", invalid=True
        ),
        "e": Contact(phone="+84982000005", carrier="Viettel", tags=",ngư dân,"),
    }
    session.add_all(people.values())
    first, second = ContactList(name="Danh sách 1"), ContactList(name="Danh sách 2")
    session.add_all([first, second])
    session.flush()
    for key in "abd":
        session.add(ListMember(list_id=first.id, contact_id=people[key].id))
    for key in "bce":
        session.add(ListMember(list_id=second.id, contact_id=people[key].id))
    optouts.opt_out(session, "0982000002", optouts.SMS, "TC")
    session.commit()
    return {"ids": {k: c.id for k, c in people.items()}, "lists": (first, second), "ward": ward}


def _members(session: Session, spec: dict[str, Any], world: dict[str, Any]) -> set[str]:
    by_id = {v: k for k, v in world["ids"].items()}
    rows = session.execute(audiences.audience_select(session, spec)).all()
    return {by_id[contact_id] for contact_id, _phone, _invalid in rows}


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ({"lists": ["Danh sách 1"]}, {"a", "b"}),  # d is invalid
        ({"lists": ["Danh sách 1", "Danh sách 2"]}, {"a", "b", "c", "e"}),  # union
        ({"lists": ["Danh sách 1", "Danh sách 2"], "districts": ["ke sach"]}, {"a"}),
        ({"lists": ["Danh sách 2"], "districts": ["Thị xã Vĩnh Châu"]}, {"c"}),  # via its ward
        ({"lists": ["Danh sách 2"], "wards": ["p1 vc"]}, {"c"}),
        (
            {"lists": ["Danh sách 1", "Danh sách 2"], "districts": ["Trần Đề"], "wards": ["P1 VC"]},
            {"b", "c"},
        ),
        ({"lists": ["Danh sách 1", "Danh sách 2"], "tags": ["Ngư Dân"]}, {"a", "e"}),
        ({"lists": ["Danh sách 2"], "tags": ["ngư dân", "học sinh"]}, {"b", "e"}),
        ({"all": True, "tags": ["ngư dân"]}, {"a", "e"}),
        ({}, set()),  # an empty spec is nobody, never everybody
        ({"lists": ["Danh sách 1"], "tags": ["n%"]}, set()),  # LIKE wildcards are escaped
    ],
)
def test_audience_select(
    session: Session, world: dict[str, Any], spec: dict[str, Any], expected: set[str]
) -> None:
    """The SELECT yields exactly the expected contacts; opted-out b stays in."""
    assert _members(session, spec, world) == expected


def test_lists_by_id(session: Session, world: dict[str, Any]) -> None:
    """Lists may be given by id as well as by name."""
    assert _members(session, {"lists": [world["lists"][0].id]}, world) == {"a", "b"}


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"lists": ["Không có"]}, "Không có danh sách: Không có"),
        ({"lists": ["Danh sách 1"], "districts": ["Atlantis"]}, "Không có địa bàn: Atlantis"),
        ({"lists": "Danh sách 1", "districts": {"x": 1}}, "phải là một danh sách"),
    ],
)
def test_bad_specs(
    session: Session, world: dict[str, Any], spec: dict[str, Any], message: str
) -> None:
    """Unknown lists or areas and malformed specs raise AudienceError naming them."""
    with pytest.raises(audiences.AudienceError, match=message):
        audiences.audience_select(session, spec)


def test_insert_select_usable(session: Session, world: dict[str, Any]) -> None:
    """The SELECT's columns are contact_id, phone and invalid, for the engine's INSERT…SELECT."""
    stmt = audiences.audience_select(session, {"lists": ["Danh sách 2"]})
    assert [c.name for c in stmt.selected_columns] == ["contact_id", "phone", "invalid"]
    phones = {p for _i, p, _inv in session.execute(stmt)}
    assert phones == set(
        session.scalars(
            select(Contact.phone).where(Contact.id.in_([world["ids"][k] for k in "bce"]))
        )
    )


def test_preview(session: Session, world: dict[str, Any]) -> None:
    """The preview counts the total, the opted out and the breakdowns by district and carrier."""
    result = audiences.preview(session, {"lists": ["Danh sách 1", "Danh sách 2"]})
    assert (result["total"], result["opted_out"], result["sendable"]) == (4, 1, 3)
    assert result["by_district"] == {"Kế Sách": 1, "Trần Đề": 1, "unknown": 2}
    assert result["by_carrier"] == {"Viettel": 2, "MobiFone": 1, "VinaPhone": 1}
    assert sum(result["by_carrier"].values()) == result["total"]
    assert audiences.size(session, {"lists": ["Danh sách 1"]}) == 2
