"""Places are data: areas with aliases (old names keep working) and their police queues.

Areas come from presets or CSV files (``campaigns.area_files``, ``loa areas load``); the demo
loads the ``soc-trang-2024`` preset. Lookup folds case, diacritics and punctuation, so
``ke sach`` finds Kế Sách and ``Phuong 1, Vinh Chau`` finds ``Phường 1 (Vĩnh Châu)``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from campaigns.models import Area
from campaigns.text import fold

PROVINCE = "Sóc Trăng"
KINDS = ("province", "city", "district", "town", "commune", "ward", "township")
_QUEUE = re.compile(r"police_[a-z0-9_]{1,56}")
_WORD = re.compile(r"[^\W_]+")

# The plan's districts and towns as Loa names them (name, kind, aliases, coastal): the preset's
# generator (scripts/build_area_presets.py) keeps these names, and unit tests route with them.
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
    """``police_`` + the folded name's ASCII words joined by ``_``: Kế Sách → ``police_ke_sach``."""
    return ("police_" + "_".join(re.findall(r"[a-z0-9]+", fold(name).lower())))[:64]


def valid_queue(queue: str) -> bool:
    """Whether ``queue`` is a police queue name that scopes, the inbox and routing accept:
    ``police_`` + lowercase ASCII letters, digits and ``_`` (ASCII, since shared queues are
    searched in JSON text)."""
    return _QUEUE.fullmatch(queue) is not None


def area_key(name: str) -> str:
    """The form names are compared in: folded, lowercase, punctuation dropped."""
    return " ".join(_WORD.findall(fold(name).lower()))


def load_soc_trang_2024(session: Session) -> int:
    """Load the ``soc-trang-2024`` preset (the plan's 11 districts and towns, their communes and
    wards); returns how many areas it added or changed."""
    from campaigns import area_files

    report = area_files.load(session, "soc-trang-2024")
    return len(report.added) + len(report.changed)


class AreaIndex:
    """Finds areas by any of their names, folded; build once per import or request."""

    def __init__(self, areas: Iterable[Area]) -> None:
        self.by_key: dict[str, Area] = {}
        for area in areas:
            for name in (area.name, *area.aliases):
                self.by_key.setdefault(area_key(name), area)

    @classmethod
    def load(cls, session: Session) -> AreaIndex:
        return cls(session.scalars(select(Area)))

    def find(self, name: str | None) -> Area | None:
        """The area called ``name`` (any alias, any case, with or without diacritics)."""
        if not name:
            return None
        return self.by_key.get(area_key(name))

    def names(self) -> list[tuple[str, Area]]:
        """Every folded name with its area, longest first (for matching inside a text)."""
        return sorted(self.by_key.items(), key=lambda kv: -len(kv[0]))


def edit_area(
    session: Session, area: Area, aliases: Iterable[str], police_queue: str
) -> list[tuple[str, str, str]]:
    """Give ``area`` new aliases and police queue unless that would be wrong; the caller commits.

    Returns:
        the problems, empty when applied: ``("queue", queue, "")`` for a bad queue name,
        ``("alias", alias, other_area_name)`` for an alias another area answers to.
    """
    cleaned = list(dict.fromkeys(" ".join(a.split())[:120] for a in aliases if a.strip()))
    problems: list[tuple[str, str, str]] = []
    if not valid_queue(police_queue):
        problems.append(("queue", police_queue, ""))
    taken = {
        area_key(n): other.name
        for other in session.scalars(select(Area).where(Area.id != area.id))
        for n in (other.name, *(other.aliases or ()))
    }
    for alias in cleaned:
        if area_key(alias) in taken:
            problems.append(("alias", alias, taken[area_key(alias)]))
    if not problems:
        area.aliases = cleaned
        area.police_queue = police_queue
        session.flush()
    return problems


def names_by_id(session: Session, ids: Iterable[int]) -> dict[int, str]:
    """The names of the areas ``ids``, in one query (none for no ids)."""
    wanted = set(ids)
    if not wanted:
        return {}
    return dict(session.execute(select(Area.id, Area.name).where(Area.id.in_(wanted))).all())
