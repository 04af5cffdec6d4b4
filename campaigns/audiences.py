"""Audiences: who a campaign goes to, as one SQL SELECT the dispatch engine inserts from.

A spec is a dict::

    {"lists": ["Kế Sách 2024", ...],   # names or ids; the union of their members
     "all": false,                     # true: every contact instead of lists
     "districts": ["Kế Sách", 7],      # area names (any alias, folded) or ids
     "wards": ["Phường 5"],
     "tags": ["ngư dân"]}

Decisions:
- Lists are OR'ed (a contact in any list is in); the place filter and the tag filter are AND'ed
  with the lists when given. Within the place filter districts and wards are OR'ed (a contact in
  any named district or any named ward), since a ward lies inside a district and AND would be
  empty or redundant. Within tags, any tag matches.
- A district also matches contacts whose ward lies in it (imports may only know the ward).
- An empty spec selects nobody: "everyone" must be asked for with `"all": true`.
- Invalid contacts (the provider said so) are excluded; opt-outs are NOT excluded here: the
  dispatch engine materialises them as `skipped / opted_out` so every recipient is accounted for
  (invariant 3), and checks again at send time (invariant 6).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy import ColumnElement, Select, false, func, or_, select
from sqlalchemy.orm import Session

from campaigns.areas import AreaIndex
from campaigns.models import Area, Contact, ContactList, ListMember, OptOut
from campaigns.text import nfc

UNKNOWN = "unknown"  # the key for contacts without a district or carrier in previews


class AudienceError(ValueError):
    """The spec names a list or an area that does not exist, or is malformed."""


def normalize_tag(tag: str) -> str:
    """Tags are compared in NFC lowercase with inner spaces collapsed; commas are not allowed."""
    return " ".join(nfc(tag).lower().replace(",", " ").split())


def _names(spec: Mapping[str, Any], key: str) -> list[Any]:
    value = spec.get(key) or []
    if isinstance(value, (str, int)):
        value = [value]
    if not isinstance(value, list):
        raise AudienceError(f"'{key}' phải là một danh sách")
    return value


_MAX_ID = 2**31 - 1  # the largest Integer id in both databases


def resolve_lists(session: Session, refs: Iterable[Any]) -> list[int]:
    """The ids of lists given by name or id.

    Raises:
        AudienceError: naming every list that does not exist.
    """
    refs = list(refs)
    ids = {r for r in refs if isinstance(r, int) and not isinstance(r, bool)}
    names = {str(r).strip() for r in refs if not isinstance(r, int)}
    found: dict[Any, int] = {}
    if ids or names:
        rows = session.execute(
            select(ContactList.id, ContactList.name).where(
                # an id past SQL's integer cannot exist, and PostgreSQL refuses to compare it
                or_(
                    ContactList.id.in_({i for i in ids if 0 < i <= _MAX_ID}),
                    ContactList.name.in_(names),
                )
            )
        )
        for list_id, name in rows:
            found[list_id] = list_id
            found[name] = list_id
    missing = [str(r) for r in refs if (r if isinstance(r, int) else str(r).strip()) not in found]
    if missing:
        raise AudienceError(f"Không có danh sách: {', '.join(missing)}")
    return sorted(set(found[r if isinstance(r, int) else str(r).strip()] for r in refs))


def resolve_areas(
    session: Session, refs: Iterable[Any], index: AreaIndex | None = None
) -> list[int]:
    """The ids of areas given by name (any alias, folded) or id.

    Raises:
        AudienceError: naming every area that does not exist.
    """
    refs = list(refs)
    if not refs:
        return []
    index = index or AreaIndex.load(session)
    known_ids = {a.id for a in index.by_key.values()}
    ids: list[int] = []
    missing: list[str] = []
    for ref in refs:
        if isinstance(ref, int) and not isinstance(ref, bool):
            if ref in known_ids:
                ids.append(ref)
            else:
                missing.append(str(ref))
            continue
        area = index.find(str(ref))
        if area is None:
            missing.append(str(ref))
        else:
            ids.append(area.id)
    if missing:
        raise AudienceError(f"Không có địa bàn: {', '.join(str(m) for m in missing)}")
    return sorted(set(ids))


def _conditions(
    session: Session, spec: Mapping[str, Any], include_invalid: bool = False
) -> list[ColumnElement[bool]]:
    if not isinstance(spec, Mapping):
        raise AudienceError("đối tượng nhận phải là một object")
    conds: list[ColumnElement[bool]] = [] if include_invalid else [Contact.invalid.is_(False)]
    list_ids = resolve_lists(session, _names(spec, "lists"))
    if list_ids:
        members = select(ListMember.contact_id).where(ListMember.list_id.in_(list_ids))
        conds.append(Contact.id.in_(members))
    elif not spec.get("all"):
        conds.append(false())
    districts = _names(spec, "districts")
    wards = _names(spec, "wards")
    if districts or wards:
        index = AreaIndex.load(session)
        district_ids = resolve_areas(session, districts, index)
        ward_ids = resolve_areas(session, wards, index)
        place: list[ColumnElement[bool]] = []
        if district_ids:
            place.append(Contact.district_id.in_(district_ids))
            inside = select(Area.id).where(Area.parent_id.in_(district_ids))
            place.append(Contact.ward_id.in_(inside))
        if ward_ids:
            place.append(Contact.ward_id.in_(ward_ids))
        conds.append(or_(*place))
    tags = [normalize_tag(str(t)) for t in _names(spec, "tags")]
    tags = [t for t in tags if t]
    if tags:
        conds.append(or_(*(Contact.tags.contains(f",{t},", autoescape=True) for t in tags)))
    return conds


def audience_select(
    session: Session, spec: Mapping[str, Any], include_invalid: bool = False
) -> Select[int, str, bool]:
    """The SELECT of an audience's (contact_id, phone, invalid), for INSERT…SELECT.

    Args:
        session: used to resolve list and area names (the SELECT itself is not executed).
        spec: the audience spec (see the module docstring).
        include_invalid: keep contacts marked invalid (the dispatch engine counts them as
            skipped, so every member of the audience is accounted for).

    Returns:
        `SELECT contacts.id AS contact_id, contacts.phone, contacts.invalid ...`, one row per
        contact, opted-out contacts included.

    Raises:
        AudienceError: for an unknown list or area, or a malformed spec.
    """
    return select(Contact.id.label("contact_id"), Contact.phone, Contact.invalid).where(
        *_conditions(session, spec, include_invalid)
    )


def size(session: Session, spec: Mapping[str, Any]) -> int:
    """How many contacts an audience has (opted-out ones included)."""
    sub = audience_select(session, spec).subquery()
    return int(session.scalar(select(func.count()).select_from(sub)) or 0)


def preview(session: Session, spec: Mapping[str, Any]) -> dict[str, Any]:
    """An audience's size by district and carrier.

    Args:
        session: any session.
        spec: the audience spec.

    Returns:
        `{"total", "opted_out", "sendable", "by_district": {name: n}, "by_carrier": {name: n}}`;
        the breakdowns count every contact of `total` ("unknown" for a missing district or
        carrier), `sendable = total - opted_out`.

    Raises:
        AudienceError: for an unknown list or area, or a malformed spec.
    """
    conds = _conditions(session, spec)
    total = int(session.scalar(select(func.count(Contact.id)).where(*conds)) or 0)
    opted_out = int(
        session.scalar(
            select(func.count(Contact.id)).join(OptOut, OptOut.phone == Contact.phone).where(*conds)
        )
        or 0
    )
    by_district: dict[str, int] = {}
    district_rows = session.execute(
        select(Area.name, func.count(Contact.id))
        .select_from(Contact)
        .outerjoin(Area, Area.id == Contact.district_id)
        .where(*conds)
        .group_by(Area.name)
    )
    for name, count in district_rows:
        by_district[name or UNKNOWN] = by_district.get(name or UNKNOWN, 0) + int(count)
    by_carrier: dict[str, int] = {}
    carrier_rows = session.execute(
        select(Contact.carrier, func.count(Contact.id)).where(*conds).group_by(Contact.carrier)
    )
    for carrier, count in carrier_rows:
        by_carrier[carrier or UNKNOWN] = by_carrier.get(carrier or UNKNOWN, 0) + int(count)
    return {
        "total": total,
        "opted_out": opted_out,
        "sendable": total - opted_out,
        "by_district": dict(sorted(by_district.items(), key=lambda kv: (-kv[1], kv[0]))),
        "by_carrier": dict(sorted(by_carrier.items(), key=lambda kv: (-kv[1], kv[0]))),
    }
