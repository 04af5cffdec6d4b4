"""Loading areas from a preset or a CSV file, all or nothing.

The file format (UTF-8, ``#`` lines are comments), one area per row::

    name,kind,parent,aliases,police_queue,coastal
    Kế Sách,district,Sóc Trăng,Huyện Kế Sách,police_ke_sach,0
    Xã Đại Hải,commune,Kế Sách,Đại Hải,police_ke_sach,0

``parent`` names another row or an area already loaded; ``aliases`` are separated by ``|``;
``police_queue`` is ``police_`` + lowercase ASCII letters, digits and ``_`` (empty: derived from
the name); ``coastal`` is 1/0. Names and aliases are compared folded (case, diacritics and
punctuation ignored), so two areas may not share one. A file with any problem (unknown parent,
duplicate name or alias, a loop of parents, a bad kind or queue) is refused whole, with every
problem listed; nothing is written. The presets are files under ``campaigns/area_presets/``,
generated from maintained libraries by ``scripts/build_area_presets.py``.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from campaigns.areas import KINDS, area_key, police_queue_for, valid_queue
from campaigns.models import Area

PRESET_DIR = Path(__file__).parent / "area_presets"
PRESETS = {p.stem: p for p in sorted(PRESET_DIR.glob("*.csv"))}
COLUMNS = ("name", "kind", "parent", "aliases", "police_queue", "coastal")


class AreaFileError(ValueError):
    """The file was refused; ``problems`` lists every reason, each with its line."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


@dataclass
class AreaRow:
    line: int
    name: str
    kind: str
    parent: str | None
    aliases: list[str]
    police_queue: str | None
    coastal: bool


@dataclass
class LoadReport:
    """What a load did: names of areas added and changed, and how many were already so."""

    added: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    unchanged: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {"added": self.added, "changed": self.changed, "unchanged": self.unchanged}


def read_source(source: str) -> str:
    """The text of a preset (by name) or of a file (by path).

    Raises:
        AreaFileError: neither a preset nor a readable UTF-8 file.
    """
    path = PRESETS.get(source) or Path(source)
    try:
        return path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        presets = ", ".join(PRESETS)
        raise AreaFileError(
            [f"{source}: not a preset ({presets}) nor a readable UTF-8 file ({exc})"]
        ) from None


def parse(text: str) -> tuple[list[AreaRow], list[str]]:
    """Rows and the problems of each row on its own (columns, kind, queue)."""
    lines = [
        (n, ln) for n, ln in enumerate(text.splitlines(), 1) if not ln.lstrip().startswith("#")
    ]
    if not lines:
        return [], ["the file is empty"]
    numbers = [n for n, _ in lines]
    reader = csv.DictReader(io.StringIO("\n".join(ln for _, ln in lines)))
    missing = [c for c in ("name", "kind") if c not in (reader.fieldnames or [])]
    if missing:
        return [], [
            f"line {numbers[0]}: missing column(s) {', '.join(missing)}; columns: {', '.join(COLUMNS)}"
        ]
    rows: list[AreaRow] = []
    problems: list[str] = []
    for i, raw in enumerate(reader, 1):
        line = numbers[i] if i < len(numbers) else numbers[-1]
        cell = {k: " ".join(str(v or "").split()) for k, v in raw.items() if k}
        name, kind = cell.get("name", ""), cell.get("kind", "").lower()
        if not name:
            problems.append(f"line {line}: no name")
            continue
        if kind not in KINDS:
            problems.append(
                f"line {line}: {name}: unknown kind {kind!r}; choose one of {', '.join(KINDS)}"
            )
        queue = cell.get("police_queue") or None
        if queue is not None and not valid_queue(queue):
            problems.append(
                f"line {line}: {name}: police queue {queue!r} is not police_ + a-z, 0-9, _"
            )
        aliases = [a.strip() for a in cell.get("aliases", "").split("|") if a.strip()]
        coastal = cell.get("coastal", "").lower() in ("1", "true", "yes", "x", "có")
        rows.append(
            AreaRow(line, name[:120], kind, cell.get("parent") or None, aliases, queue, coastal)
        )
    return rows, problems


def _check(session: Session, rows: list[AreaRow]) -> list[str]:
    """Problems across rows and with the areas already loaded."""
    problems: list[str] = []
    existing = {a.name: a for a in session.scalars(select(Area))}
    in_file = {r.name: r for r in rows}
    owner: dict[str, str] = {}  # folded name or alias → the area it finds
    for area in existing.values():
        if area.name in in_file:
            continue  # the file's row replaces this area's names
        for n in (area.name, *(area.aliases or ())):
            owner.setdefault(area_key(n), area.name)
    seen: set[str] = set()
    for row in rows:
        if row.name in seen:
            problems.append(f"line {row.line}: {row.name}: named twice in the file")
            continue
        seen.add(row.name)
        for n in (row.name, *row.aliases):
            k = area_key(n)
            other = owner.setdefault(k, row.name)
            if other != row.name:
                problems.append(
                    f"line {row.line}: {row.name}: duplicate alias {n!r} (also {other})"
                )
        if row.parent and row.parent not in in_file and row.parent not in existing:
            problems.append(f"line {row.line}: {row.name}: unknown parent {row.parent!r}")
    parents = {n: a.parent_id for n, a in existing.items()}
    by_id = {a.id: n for n, a in existing.items()}
    parent_of = {n: by_id.get(pid) if pid else None for n, pid in parents.items()}
    parent_of.update({r.name: r.parent for r in rows})
    reported: set[str] = set()
    for row in rows:
        chain = [row.name]
        node = parent_of.get(row.name)
        while node is not None and node not in chain and len(chain) < 100:
            chain.append(node)
            node = parent_of.get(node)
        if node is not None and node in chain and not reported & set(chain):
            loop = [*chain[chain.index(node) :], node]
            problems.append(f"line {row.line}: loop of parents: {' → '.join(loop)}")
            reported.update(chain)
    return problems


def load(session: Session, source: str) -> LoadReport:
    """Load a preset or a file: validate everything, then add or update every area.

    The caller commits. Raises:
        AreaFileError: with every problem; the session is left unchanged.
    """
    rows, problems = parse(read_source(source))
    problems += _check(session, rows)
    if problems:
        raise AreaFileError(problems)
    return apply(session, rows)


def apply(session: Session, rows: list[AreaRow]) -> LoadReport:
    """Write checked ``rows`` (parents before children, whatever their order in the file)."""
    report = LoadReport()
    by_name = {a.name: a for a in session.scalars(select(Area))}
    for row in rows:
        area = by_name.get(row.name)
        queue = row.police_queue or (
            "police_province" if row.kind == "province" else police_queue_for(row.name)
        )
        values = {
            "kind": row.kind,
            "aliases": row.aliases,
            "police_queue": queue,
            "coastal": row.coastal,
        }
        if area is None:
            area = Area(name=row.name, **values)
            session.add(area)
            by_name[row.name] = area
            report.added.append(row.name)
        elif any(getattr(area, k) != v for k, v in values.items()):
            for k, v in values.items():
                setattr(area, k, v)
            report.changed.append(row.name)
        else:
            report.unchanged += 1
    session.flush()
    for row in rows:
        area = by_name[row.name]
        parent_id = by_name[row.parent].id if row.parent else None
        if area.parent_id != parent_id:
            area.parent_id = parent_id
            if row.name not in report.added and row.name not in report.changed:
                report.changed.append(row.name)
                report.unchanged -= 1
    session.flush()
    return report
