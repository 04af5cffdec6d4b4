"""Routing rules: data that decides a tip's queue, who else sees it, and its priority.

Matching works on words. The text and each phrase are NFC-normalised, lowercased and cut into
words at anything that is not a letter or digit; a phrase matches a run of whole words, so
``biển`` never matches inside another word. Each word is compared with diacritics folded
(``tre em`` = ``Trẻ Em`` = ``TRE EM``), except when BOTH words carry diacritics and they differ:
then they are different words (``biến mất``, "disappeared", is not ``biển``, "sea"), while a
citizen typing without accents still matches every phrase.

Precedence: every rule has a ``rank``; the matched rule with a queue and the lowest rank gives
the primary queue (defaults: 111 for children 10, border 20, district police 30), otherwise
``police_province``. Every other matched queue is shared, so a district's police also see a
child case from their district. Any matched rule with ``priority="urgent"`` makes the tip urgent.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from campaigns.areas import police_queue_for
from campaigns.models import Area
from campaigns.text import fold, nfc
from gateway.tips.models import RoutingRule
from gateway.tips.states import NORMAL, URGENT

DEFAULT_QUEUE = "police_province"
KINDS = ("keyword", "district", "urgency")
_WORD = re.compile(r"[^\W_]+")


class RuleLike(Protocol):
    id: Any
    name: str
    version: int
    kind: str
    phrases: list[str]
    queue: str | None
    priority: str | None
    share: bool
    rank: int


@dataclass(frozen=True, slots=True)
class RuleRef:
    """Which version of which rule matched (stored on the tip as a dict)."""

    id: int | None
    name: str
    version: int

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "version": self.version}


@dataclass(frozen=True, slots=True)
class RouteResult:
    """Where a tip goes. ``rule`` is the rule that chose ``queue`` (None for the default)."""

    queue: str
    shared_with: list[str]
    priority: str
    matched: list[RuleRef]
    rule: RuleRef | None = None
    district_id: int | None = None
    phrases: dict[str, list[str]] = field(default_factory=dict)  # rule name → phrases found


@dataclass(frozen=True, slots=True)
class _Words:
    exact: tuple[str, ...]  # lowercased NFC words
    folded: tuple[str, ...]


def _words(text: str) -> _Words:
    exact = tuple(_WORD.findall(nfc(text).lower()))
    return _Words(exact, tuple(fold(w) for w in exact))


def _same_word(text_word: str, text_folded: str, phrase_word: str, phrase_folded: str) -> bool:
    if text_folded != phrase_folded:
        return False
    # Both written with marks and different marks: different words (biến ≠ biển).
    return text_word in (text_folded, phrase_word) or phrase_word == phrase_folded


def find(text: _Words, phrase: _Words) -> int | None:
    """The index of the first word where ``phrase`` occurs in ``text`` as whole words, or None."""
    n = len(phrase.exact)
    if n == 0:
        return None
    first = phrase.folded[0]
    for i in range(len(text.exact) - n + 1):
        if text.folded[i] != first:
            continue
        if all(
            _same_word(text.exact[i + j], text.folded[i + j], phrase.exact[j], phrase.folded[j])
            for j in range(n)
        ):
            return i
    return None


def _first_phrase(text: _Words, phrases: Iterable[str]) -> tuple[int, str] | None:
    best: tuple[int, str] | None = None
    for phrase in phrases:
        at = find(text, _words(phrase))
        if at is not None and (best is None or at < best[0]):
            best = (at, phrase)
    return best


def _district(text: _Words, areas: Iterable[Area]) -> tuple[Area, str] | None:
    """The area named earliest in the text (longest name first at the same place)."""
    best: tuple[int, int, Area, str] | None = None
    for area in areas:
        if area.kind == "province":
            continue
        for name in (area.name, *(area.aliases or ())):
            words = _words(name.replace(".", " "))
            at = find(text, words)
            if at is None:
                continue
            key = (at, -len(words.exact))
            if best is None or key < best[:2]:
                best = (at, -len(words.exact), area, name)
    return None if best is None else (best[2], best[3])


def route(text: str, rules: Sequence[RuleLike], areas: Iterable[Area]) -> RouteResult:
    """Decide where a tip goes. Pure: reads nothing but its arguments.

    Args:
        text: the tip's body, as received.
        rules: the active rules (any objects with RoutingRule's attributes).
        areas: the areas; the ``district`` rule matches their names and aliases.
    Returns:
        the primary queue, the shared queues, the priority and every rule that matched.
    """
    words = _words(text)
    area_list = list(areas)
    matched: list[tuple[int, RuleRef, str | None, bool]] = []  # rank, ref, queue, share-only
    priority = NORMAL
    district_id = None
    found: dict[str, list[str]] = {}
    for rule in sorted(rules, key=lambda r: (r.rank, r.name)):
        ref = RuleRef(rule.id, rule.name, rule.version)
        queue = rule.queue
        if rule.kind == "district":
            hit = _district(words, area_list)
            if hit is None:
                continue
            area, name = hit
            district_id = area.id
            queue = area.police_queue or police_queue_for(area.name)
            found[rule.name] = [name]
        else:
            phrase = _first_phrase(words, rule.phrases or ())
            if phrase is None:
                continue
            found[rule.name] = [phrase[1]]
        matched.append((rule.rank, ref, queue, bool(rule.share)))
        if rule.priority == URGENT:
            priority = URGENT
    primary = next(((ref, q) for _, ref, q, share in matched if q and not share), None)
    queue = primary[1] if primary and primary[1] else DEFAULT_QUEUE
    shared: list[str] = []
    for _, _, q, _ in matched:
        if q and q != queue and q not in shared:
            shared.append(q)
    return RouteResult(
        queue=queue,
        shared_with=shared,
        priority=priority,
        matched=[ref for _, ref, _, _ in matched],
        rule=primary[0] if primary else None,
        district_id=district_id,
        phrases=found,
    )


# --- rules as data ------------------------------------------------------------------------


def active_rules(session: Session) -> list[RoutingRule]:
    """The active version of every rule, in precedence order."""
    return list(
        session.scalars(
            select(RoutingRule)
            .where(RoutingRule.active.is_(True))
            .order_by(RoutingRule.rank, RoutingRule.name)
        )
    )


def route_tip_text(session: Session, text: str) -> RouteResult:
    """Route ``text`` with the rules and areas of the database (the test bench calls this)."""
    return route(text, active_rules(session), session.scalars(select(Area)))


def _clean_phrases(phrases: Iterable[str]) -> list[str]:
    out: list[str] = []
    for p in phrases:
        p = " ".join(nfc(str(p)).split())[:100]
        if p and p not in out:
            out.append(p)
    return out


def create_rule(
    session: Session, *, name: str, kind: str, by: int | None = None, **fields: Any
) -> RoutingRule:
    """Add version 1 of a new rule (the caller commits).

    Raises:
        ValueError: for an unknown kind or a name in use.
    """
    if kind not in KINDS:
        raise ValueError(f"unknown rule kind {kind!r}; choose one of {', '.join(KINDS)}")
    name = " ".join(name.split())[:100]
    if not name:
        raise ValueError("a rule needs a name")
    if session.scalar(select(RoutingRule.id).where(RoutingRule.name == name)) is not None:
        raise ValueError(f"a rule named {name!r} exists already")
    fields["phrases"] = _clean_phrases(fields.get("phrases", ()))
    rule = RoutingRule(name=name, kind=kind, version=1, active=True, created_by_id=by, **fields)
    session.add(rule)
    session.flush()
    return rule


def edit_rule(
    session: Session, rule: RoutingRule, *, by: int | None = None, **changes: Any
) -> RoutingRule:
    """Save an edit as a new version and deactivate the old one; returns the new version.

    ``changes`` may hold ``phrases``, ``queue``, ``priority``, ``share``, ``rank``, ``active``
    (``active=False`` retires the rule: the new version is inactive). The caller commits.
    """
    allowed = {"phrases", "queue", "priority", "share", "rank", "active"}
    unknown = set(changes) - allowed
    if unknown:
        raise ValueError(f"cannot change {', '.join(sorted(unknown))}")
    latest = session.scalar(
        select(RoutingRule)
        .where(RoutingRule.name == rule.name)
        .order_by(RoutingRule.version.desc())
    )
    assert latest is not None
    values = {k: getattr(latest, k) for k in allowed}
    values.update(changes)
    values["phrases"] = _clean_phrases(values["phrases"])
    session.execute(update(RoutingRule).where(RoutingRule.name == rule.name).values(active=False))
    new = RoutingRule(
        name=latest.name, kind=latest.kind, version=latest.version + 1, created_by_id=by, **values
    )
    session.add(new)
    session.flush()
    return new


CHILDREN = (
    "trẻ em", "trẻ nhỏ", "cháu bé", "con nít", "con nhỏ", "học sinh", "bé gái", "bé trai",
    "em bé", "trẻ vị thành niên", "vị thành niên", "dưới 16 tuổi", "dưới 18 tuổi",
    "chưa đủ 16 tuổi", "chưa đủ 18 tuổi", "trẻ mồ côi",
)  # fmt: skip
BORDER = (
    "tàu cá", "biển", "ngoài biển", "biên giới", "vượt biên", "ra khơi", "cửa khẩu",
    "trên tàu", "ghe cào", "đánh bắt xa bờ", "campuchia", "trung quốc", "đường dây xuất cảnh",
)  # fmt: skip
URGENT_WORDS = (
    "cứu", "cứu tôi", "cứu với", "cứu em", "bị giam", "bị nhốt", "đang bị đưa đi", "khẩn cấp",
    "bị bắt cóc", "bắt cóc", "bị ép", "bị đánh", "sos", "nguy hiểm",
)  # fmt: skip

DEFAULT_RULES: tuple[dict[str, Any], ...] = (
    {"name": "Trẻ em → 111", "kind": "keyword", "phrases": CHILDREN, "queue": "hotline_111", "rank": 10},
    {"name": "Biển, biên giới → Biên phòng", "kind": "keyword", "phrases": BORDER, "queue": "border_guard", "rank": 20},
    {"name": "Huyện, thị xã → Công an huyện", "kind": "district", "phrases": (), "queue": None, "rank": 30},
    {"name": "Khẩn cấp", "kind": "urgency", "phrases": URGENT_WORDS, "queue": None, "priority": URGENT, "rank": 90},
)  # fmt: skip


def default_rule_rows() -> list[dict[str, Any]]:
    """The default rules as rows of ``routing_rules`` (version 1, active), for the data
    migration that gives a fresh database its routing."""
    rows = []
    for spec in DEFAULT_RULES:
        row = {"priority": None, "share": False, **spec}
        row["phrases"] = _clean_phrases(spec.get("phrases", ()))
        rows.append({**row, "version": 1, "active": True})
    return rows


def seed_default_rules(session: Session) -> int:
    """Create the provincial plan's default rules that do not exist yet; returns how many.

    The district rule reads the areas from the database: load them (``campaigns.areas``) too.
    """
    created = 0
    for spec in DEFAULT_RULES:
        if session.scalar(select(RoutingRule.id).where(RoutingRule.name == spec["name"])):
            continue
        create_rule(session, **spec)
        created += 1
    return created
