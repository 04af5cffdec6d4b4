"""Places are data: areas with aliases (old names keep working) and their police queues.

The demo loads Sóc Trăng's 2024 districts and towns; an admin can load others (e.g. the 2025
communes) with :func:`load_areas`. Lookup folds case and diacritics, so ``ke sach`` finds Kế Sách.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from campaigns.models import Area
from campaigns.text import fold

PROVINCE = "Sóc Trăng"

# name, kind, aliases, coastal. The police queue is "police_" + the folded name, underscored.
SOC_TRANG_2024: tuple[tuple[str, str, tuple[str, ...], bool], ...] = (
    ("TP Sóc Trăng", "city", ("Thành phố Sóc Trăng", "TP. Sóc Trăng", "TPST"), False),
    ("Châu Thành", "district", ("Huyện Châu Thành",), False),
    ("Cù Lao Dung", "district", ("Huyện Cù Lao Dung",), True),
    ("Kế Sách", "district", ("Huyện Kế Sách",), False),
    ("Long Phú", "district", ("Huyện Long Phú",), False),
    ("Mỹ Tú", "district", ("Huyện Mỹ Tú",), False),
    ("Mỹ Xuyên", "district", ("Huyện Mỹ Xuyên",), False),
    ("Thạnh Trị", "district", ("Huyện Thạnh Trị",), False),
    ("Trần Đề", "district", ("Huyện Trần Đề",), True),
    ("Ngã Năm", "town", ("Thị xã Ngã Năm", "TX Ngã Năm"), False),
    ("Vĩnh Châu", "town", ("Thị xã Vĩnh Châu", "TX Vĩnh Châu"), True),
)


def police_queue_for(name: str) -> str:
    """``police_`` + the folded name with underscores: Kế Sách → ``police_ke_sach``."""
    return "police_" + "_".join(fold(name).replace(".", " ").split())


def load_areas(session: Session, rows: Iterable[Mapping[str, Any]]) -> int:
    """Create or update areas from rows with ``name``, ``kind`` and optional ``parent``,
    ``aliases``, ``coastal``, ``police_queue``; returns how many rows were applied.
    """
    by_name = {a.name: a for a in session.scalars(select(Area))}
    count = 0
    for row in rows:
        area = by_name.get(row["name"])
        if area is None:
            area = Area(name=row["name"], kind=row["kind"])
            session.add(area)
            by_name[area.name] = area
        area.kind = row["kind"]
        area.aliases = list(row.get("aliases", ()))
        area.coastal = bool(row.get("coastal", False))
        area.police_queue = row.get("police_queue") or (
            police_queue_for(row["name"]) if row["kind"] != "province" else "police_province"
        )
        parent = row.get("parent")
        if parent:
            session.flush()
            area.parent_id = by_name[parent].id
        count += 1
    session.flush()
    return count


def load_soc_trang_2024(session: Session) -> int:
    """Load the province and the eleven districts and towns of the 2024 plan."""
    rows: list[dict[str, Any]] = [{"name": PROVINCE, "kind": "province", "aliases": ["Soc Trang"]}]
    rows += [
        {"name": n, "kind": k, "aliases": list(a), "coastal": c, "parent": PROVINCE}
        for n, k, a, c in SOC_TRANG_2024
    ]
    return load_areas(session, rows)


class AreaIndex:
    """Finds areas by any of their names, folded; build once per import or request."""

    def __init__(self, areas: Iterable[Area]) -> None:
        self.by_key: dict[str, Area] = {}
        for area in areas:
            for name in (area.name, *area.aliases):
                self.by_key.setdefault(_key(name), area)

    @classmethod
    def load(cls, session: Session) -> AreaIndex:
        return cls(session.scalars(select(Area)))

    def find(self, name: str | None) -> Area | None:
        """The area called ``name`` (any alias, any case, with or without diacritics)."""
        if not name:
            return None
        return self.by_key.get(_key(name))

    def names(self) -> list[tuple[str, Area]]:
        """Every folded name with its area, longest first (for matching inside a text)."""
        return sorted(self.by_key.items(), key=lambda kv: -len(kv[0]))


def _key(name: str) -> str:
    return " ".join(fold(name).replace(".", " ").split())
