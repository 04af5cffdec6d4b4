"""Routing rules: data that decides a tip's queue, who else sees it, and its priority.

Matching works on words. The text and each phrase are NFC-normalised, lowercased and cut into
words at anything that is not a letter or digit; a phrase matches a run of whole words, so
``biển`` never matches inside another word. Each word is compared with diacritics folded
(``tre em`` = ``Trẻ Em`` = ``TRE EM``), except when BOTH words carry diacritics and they differ:
then they are different words (``biến mất``, "disappeared", is not ``biển``, "sea"), while a
citizen typing without accents still matches every phrase.

People text without accents, in abbreviations and with letters held down: before matching,
SMS shorthand is spelled out (:data:`phrases.ABBREVIATIONS`: ``ko`` → ``không``, ``dc`` → ``được``,
``ng`` → ``người`` …), a letter typed three times or more counts once (``cuuuu`` → ``cuu``),
and digits are cut from letters (``14t`` → ``14 t``), though letters written onto a number
count only with it: "lop8" is "lớp 8" and "be5t" holds "5 tuổi", but a Zalo name "be2023"
holds no "bé" and "cuu123" no "cứu". A phrase may hold a number test in
braces: ``{n<18} tuổi`` matches "15 tuổi", "15 tuoi" and "15t"; ``lớp {n<=12}`` matches "lớp
8". A rule's ``exclusions`` are phrases whose words do not count for it: the border rule's
``biển`` matches "ra biển" but not "biển số xe" (a licence plate).

Precedence: every rule has a ``rank``; the matched rule with a queue and the lowest rank gives
the primary queue (defaults: 111 for children 10, border 20, district police 30), otherwise
``police_province``. Every other matched queue is shared, so a district's police also see a
child case from their district. Any matched rule with ``priority="urgent"`` makes the tip urgent.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from sqlalchemy import Text, cast, select, update
from sqlalchemy.orm import Session

from campaigns.areas import police_queue_for
from campaigns.models import Area
from campaigns.text import nfc
from gateway.tips import phrases
from gateway.tips.models import RoutingRule, RoutingVersion
from gateway.tips.phrases import PhraseIndex, Words
from gateway.tips.states import NORMAL, URGENT

DEFAULT_QUEUE = "police_province"
KINDS = ("keyword", "district", "urgency")


class RuleLike(Protocol):
    id: Any
    name: str
    version: int
    kind: str
    phrases: list[str]
    exclusions: list[str]
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


class AreaLike(Protocol):
    id: Any
    name: str
    kind: str
    aliases: list[str]
    police_queue: str | None


@dataclass(frozen=True, slots=True)
class _Rule:
    """A rule as the router uses it: its phrases and exclusions indexed."""

    ref: RuleRef
    kind: str
    queue: str | None
    priority: str | None
    share: bool
    rank: int
    phrases: PhraseIndex
    exclusions: PhraseIndex


@dataclass(frozen=True, slots=True)
class _Place:
    """One name (an area's name or an alias) that the district rule looks for."""

    area_id: Any
    name: str  # as written: what the tip's ``phrases`` show
    area_name: str
    police_queue: str | None


class Router:
    """Rules and areas compiled once to route many texts (see :func:`router_for`).

    Holds no database objects: what it needs of each rule and area is copied when it is built.
    """

    def __init__(self, rules: Iterable[RuleLike], areas: Iterable[AreaLike]) -> None:
        self._rules = tuple(
            _Rule(
                ref=RuleRef(rule.id, rule.name, rule.version),
                kind=rule.kind,
                queue=rule.queue,
                priority=rule.priority,
                share=bool(rule.share),
                rank=rule.rank,
                phrases=PhraseIndex(rule.phrases or ()),
                exclusions=PhraseIndex(getattr(rule, "exclusions", None) or ()),
            )
            for rule in sorted(rules, key=lambda r: (r.rank, r.name))
        )
        places = [
            _Place(area.id, name, area.name, area.police_queue)
            for area in areas
            if area.kind != "province"
            for name in (area.name, *(area.aliases or ()))
        ]
        self._places = tuple(places)
        self._place_index = PhraseIndex(p.name.replace(".", " ") for p in places)

    def _district(self, words: Words) -> _Place | None:
        """The place named earliest in the text (the longest name at the same word, then the
        first area and name in their order)."""
        best: tuple[int, int, int] | None = None
        for k, ats in self._place_index.occurrences(words).items():
            key = (ats[0], -len(self._place_index.phrases[k][1].exact), k)
            if best is None or key < best:
                best = key
        return None if best is None else self._places[best[2]]

    def route(self, text: str) -> RouteResult:
        """Decide where a tip goes (see :func:`route`)."""
        words = phrases.words(text)
        matched: list[tuple[int, RuleRef, str | None, bool]] = []  # rank, ref, queue, share-only
        priority = NORMAL
        district_id = None
        found: dict[str, list[str]] = {}
        place: _Place | None = None
        district_done = False
        for rule in self._rules:
            queue = rule.queue
            if rule.kind == "district":
                if not district_done:
                    place, district_done = self._district(words), True
                if place is None:
                    continue
                district_id = place.area_id
                queue = place.police_queue or police_queue_for(place.area_name)
                found[rule.ref.name] = [place.name]
            else:
                covered = rule.exclusions.covered(words) if rule.exclusions else set()
                hit = rule.phrases.earliest(words, covered)
                if hit is None:
                    continue
                found[rule.ref.name] = [rule.phrases.phrases[hit[1]][0]]
            matched.append((rule.rank, rule.ref, queue, rule.share))
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


def route(text: str, rules: Sequence[RuleLike], areas: Iterable[AreaLike]) -> RouteResult:
    """Decide where a tip goes. Pure: reads nothing but its arguments.

    Args:
        text: the tip's body, as received.
        rules: the active rules (any objects with RoutingRule's attributes).
        areas: the areas; the ``district`` rule matches their names and aliases.
    Returns:
        the primary queue, the shared queues, the priority and every rule that matched.
    """
    return Router(rules, areas).route(text)


# --- the router of the database, cached per process ------------------------------------------


@dataclass(slots=True)
class _RuleRow:
    id: Any
    name: str
    version: int
    kind: str
    phrases: list[str]
    exclusions: list[str]
    queue: str | None
    priority: str | None
    share: bool
    rank: int


@dataclass(slots=True)
class _AreaRow:
    id: Any
    name: str
    kind: str
    aliases: list[str]
    police_queue: str | None


# Phrases and aliases are read as the JSON text stored: the rows themselves are the cache key.
_RULE_ROWS = select(
    RoutingRule.id,
    RoutingRule.name,
    RoutingRule.version,
    RoutingRule.kind,
    cast(RoutingRule.phrases, Text),
    cast(RoutingRule.exclusions, Text),
    RoutingRule.queue,
    RoutingRule.priority,
    RoutingRule.share,
    RoutingRule.rank,
).where(RoutingRule.active.is_(True))
_AREA_ROWS = select(
    Area.id, Area.name, Area.kind, cast(Area.aliases, Text), Area.police_queue
).order_by(Area.id)


def _json_list(text: str | None) -> list[str]:
    return list(json.loads(text) or ()) if text else []


@functools.lru_cache(maxsize=8)  # one entry per database content; a few for tests' databases
def _compiled(rules: tuple[tuple[Any, ...], ...], areas: tuple[tuple[Any, ...], ...]) -> Router:
    return Router(
        [
            _RuleRow(r[0], r[1], r[2], r[3], _json_list(r[4]), _json_list(r[5]), *r[6:10])
            for r in rules
        ],
        [_AreaRow(a[0], a[1], a[2], _json_list(a[3]), a[4]) for a in areas],
    )


_TOKEN = select(RoutingVersion.token).where(RoutingVersion.id == 1)
# (database, routing token) -> the router compiled from the rows the database held with it.
_BY_TOKEN: dict[tuple[Any, int | None], Router] = {}


def router_for(session: Session) -> Router:
    """The router of the active rules and the areas in the database, compiled once per process.

    Every call reads the database's routing token (one row, changed by triggers with any rule or
    area: :mod:`gateway.tips.routing_version`), so a rule edited or an area renamed, by any
    process, routes the very next tip. Only when the token is new are the rows read (two small
    queries, no ORM objects), and the router compiled from exactly those rows found or built.
    """
    token = session.scalar(_TOKEN)
    key = (session.get_bind().engine.url, token)
    if token is not None and key in _BY_TOKEN:
        return _BY_TOKEN[key]
    # Read after the token: rows at least as new as it, never older, are cached under it.
    rules = tuple(tuple(r) for r in session.execute(_RULE_ROWS))
    areas = tuple(tuple(a) for a in session.execute(_AREA_ROWS))
    router = _compiled(rules, areas)
    if token is not None:
        if len(_BY_TOKEN) >= 8:  # one entry per database in use; a few for tests' databases
            _BY_TOKEN.clear()
        _BY_TOKEN[key] = router
    return router


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
    return router_for(session).route(text)


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
    fields["exclusions"] = _clean_phrases(fields.get("exclusions", ()))
    rule = RoutingRule(name=name, kind=kind, version=1, active=True, created_by_id=by, **fields)
    session.add(rule)
    session.flush()
    return rule


def edit_rule(
    session: Session, rule: RoutingRule, *, by: int | None = None, **changes: Any
) -> RoutingRule:
    """Save an edit as a new version and deactivate the old one; returns the new version.

    ``changes`` may hold ``phrases``, ``exclusions``, ``queue``, ``priority``, ``share``,
    ``rank``, ``active`` (``active=False`` retires the rule: the new version is inactive).
    The caller commits.
    """
    allowed = {"phrases", "exclusions", "queue", "priority", "share", "rank", "active"}
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
    values["exclusions"] = _clean_phrases(values.get("exclusions") or ())
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
    "chưa đủ 16 tuổi", "chưa đủ 18 tuổi", "chưa đủ 18", "chưa đủ tuổi", "trẻ mồ côi",
    "{n<18} tuổi", "{n<18} t", "{n<18} tủi", "lớp {n<=12}", "học lớp", "đang đi học",
    "con gái tôi", "con gái em", "con gái mình", "con gái nhà", "con trai tôi", "con tôi",
    "em gái", "mấy em gái", "các em gái", "em gái tôi", "cháu gái", "cháu trai", "con bé",
    "thằng bé", "đứa bé", "đứa nhỏ", "đứa trẻ", "mấy đứa nhỏ", "bé", "cô bé", "cậu bé",
    "trẻ", "mẹ con", "sơ sinh", "bán con", "bán trẻ",
)  # fmt: skip
# An adult's age, a grown daughter: the family words then speak of an adult.
CHILDREN_EXCLUSIONS = (
    "con gái tôi {n>=18}", "con gái tôi đã lớn", "em gái tôi {n>=18}", "trẻ tuổi",
    "trẻ đẹp", "người trẻ", "thanh niên trẻ", "còn trẻ", "trẻ khỏe", "bé nhỏ",
)  # fmt: skip
BORDER = (
    "tàu cá", "biển", "ngoài biển", "trên biển", "biên giới", "vượt biên", "ra khơi", "cửa khẩu",
    "trên tàu", "ghe cào", "đi ghe", "đánh bắt xa bờ", "campuchia", "trung quốc", "sang lào",
    "qua lào", "nước lào", "malaysia", "thái lan", "đường dây xuất cảnh", "xuất cảnh trái phép", "cửa sông",
    "cửa biển", "bãi biển", "tàu", "thuyền", "ghe đánh cá", "đi biển", "bám biển",
)  # fmt: skip
# "biển" is also a sign or a licence plate; "tàu" also a train; a foreign city is no border.
BORDER_EXCLUSIONS = (
    "biển số", "biển số xe", "biển kiểm soát", "biển quảng cáo", "biển báo", "biển hiệu",
    "biển tên", "biển cấm", "tàu hỏa", "tàu lửa", "tàu điện", "nhà hàng biển",
)  # fmt: skip
URGENT_WORDS = (
    "cứu", "cứu tôi", "cứu với", "cứu em", "bị giam", "bị nhốt", "đang bị đưa đi", "khẩn cấp",
    "bị bắt cóc", "bắt cóc", "bị ép", "bị đánh", "sos", "nguy hiểm", "cần gấp", "giúp gấp",
    "đến gấp", "rất gấp", "khẩn",
    "ngay bây giờ", "ngay lập tức", "đang bị", "tối nay", "đêm nay", "sắp bị",
    "sắp đưa", "đang đưa", "bị khóa", "bị trói", "bị giữ", "không cho ra", "không cho về",
    "giúp với", "giúp em", "giúp tôi", "cứu giúp", "mất tích",
)  # fmt: skip
URGENT_EXCLUSIONS = ("gấp đôi", "gấp ba", "gấp nhiều lần", "cứu trợ", "cứu hộ xe", "tương cứu")
# A victim who needs support: 111 is shared whatever queue leads (Decree 162/2025).
VICTIM_WORDS = (
    "bị bán", "bị lừa bán", "bán sang", "bán qua", "bị giam", "bị nhốt", "bị giữ", "bị ép",
    "ép làm", "bị đánh", "bị bắt", "bị lừa", "bị dụ", "nạn nhân", "bị cưỡng", "cưỡng bức",
    "bị xâm hại", "không cho về", "không cho liên lạc", "mất liên lạc", "giữ giấy tờ",
    "lấy hết giấy tờ", "giữ hộ chiếu", "trốn về", "trốn ra", "cứu", "bị bóc lột", "bị hành hạ",
    "bị đưa đi", "bị bắt cóc", "bắt cóc", "làm không công", "trả nợ", "mất tích", "bị trói",
    "bị khóa", "đưa lên xe", "đưa lên tàu", "đưa lên thuyền", "sẽ đưa",
)  # fmt: skip

DEFAULT_RULES: tuple[dict[str, Any], ...] = (
    {"name": "Trẻ em → 111", "kind": "keyword", "phrases": CHILDREN, "exclusions": CHILDREN_EXCLUSIONS, "queue": "hotline_111", "rank": 10},
    {"name": "Biển, biên giới → Biên phòng", "kind": "keyword", "phrases": BORDER, "exclusions": BORDER_EXCLUSIONS, "queue": "border_guard", "rank": 20},
    {"name": "Huyện, thị xã → Công an huyện", "kind": "district", "phrases": (), "queue": None, "rank": 30},
    {"name": "Nạn nhân cần hỗ trợ → chia sẻ 111", "kind": "keyword", "phrases": VICTIM_WORDS, "queue": "hotline_111", "share": True, "rank": 50},
    {"name": "Khẩn cấp", "kind": "urgency", "phrases": URGENT_WORDS, "exclusions": URGENT_EXCLUSIONS, "queue": None, "priority": URGENT, "rank": 90},
)  # fmt: skip


def default_rule_rows() -> list[dict[str, Any]]:
    """The default rules as rows of ``routing_rules`` (version 1, active), for the data
    migration that gives a fresh database its routing."""
    rows = []
    for spec in DEFAULT_RULES:
        row = {"priority": None, "share": False, **spec}
        row["phrases"] = _clean_phrases(spec.get("phrases", ()))
        row["exclusions"] = _clean_phrases(spec.get("exclusions", ()))
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
