"""Routing rules: data that decides a tip's queue, who else sees it, and its priority.

Matching works on words. The text and each phrase are NFC-normalised, lowercased and cut into
words at anything that is not a letter or digit; a phrase matches a run of whole words, so
``biển`` never matches inside another word. Each word is compared with diacritics folded
(``tre em`` = ``Trẻ Em`` = ``TRE EM``), except when BOTH words carry diacritics and they differ:
then they are different words (``biến mất``, "disappeared", is not ``biển``, "sea"), while a
citizen typing without accents still matches every phrase.

People text without accents, in abbreviations and with letters held down: before matching,
SMS shorthand is spelled out (:data:`ABBREVIATIONS`: ``ko`` → ``không``, ``dc`` → ``được``,
``ng`` → ``người`` …), a letter typed three times or more counts once (``cuuuu`` → ``cuu``),
and digits are cut from letters (``14t`` → ``14 t``). A phrase may hold a number test in
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
_WORD = re.compile(r"\d+|[^\W\d_]+")
_NUMBER_TEST = re.compile(r"^\{n(<=|>=|<|>|=)(\d+)\}$")
_HELD_DOWN = re.compile(r"([^\W\d_])\1{2,}")

# SMS shorthand, by folded word → what it stands for (the words the phrases are written in).
ABBREVIATIONS: dict[str, str] = {
    "ko": "không", "k": "không", "hok": "không", "hong": "không", "khong": "không", "kh": "không",
    "khg": "không", "kg": "không", "dc": "được", "dk": "được", "duoc": "được", "j": "gì",
    "sdt": "số điện thoại", "dt": "điện thoại", "ng": "người", "nguoi": "người", "cty": "công ty",
    "bn": "bạn", "vs": "với", "tq": "trung quốc", "cpc": "campuchia", "mn": "mọi người",
    "ntn": "như thế nào", "bt": "biết", "trc": "trước", "ns": "nói", "ck": "chồng", "vk": "vợ",
    "e": "em", "a": "anh", "tp": "thành phố", "tx": "thị xã", "ubnd": "ủy ban nhân dân",
}  # fmt: skip


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


@dataclass(frozen=True, slots=True)
class _Words:
    exact: tuple[str, ...]  # lowercased NFC words ({n<18} tests kept as written)
    folded: tuple[str, ...]
    held: tuple[bool, ...] = ()  # a letter was held down (cuuuu): compared squeezed


def _squeeze(word: str) -> str:
    """``word`` with every repeated letter once (cuu → cu): how a held-down word compares."""
    return re.sub(r"(.)\1+", r"\1", word)


def _spelled_out(words: list[str]) -> list[tuple[str, bool]]:
    out: list[tuple[str, bool]] = []
    for w in words:
        held = bool(_HELD_DOWN.search(w))
        w = _HELD_DOWN.sub(r"\1", w)
        full = ABBREVIATIONS.get(fold(w)) if not held else None
        if full:
            out.extend((x, False) for x in full.split())
        else:
            out.append((w, held))
    return out


def _words(text: str) -> _Words:
    """A text's words, lowercased, shorthand spelled out (the tip and every phrase alike)."""
    pieces: list[str] = []
    for chunk in nfc(text).lower().split():
        if _NUMBER_TEST.match(chunk):
            pieces.append(chunk)
        else:
            pieces.extend(_WORD.findall(chunk))
    spelled = _spelled_out(pieces)
    exact = tuple(w for w, _ in spelled)
    return _Words(exact, tuple(fold(w) for w in exact), tuple(h for _, h in spelled))


# Rules' phrases are the same on every tip: their words are worked out once (_Words is frozen).
_phrase_words = functools.lru_cache(maxsize=8192)(_words)


def _number_ok(test: str, word: str) -> bool:
    m = _NUMBER_TEST.match(test)
    # isdecimal, not isdigit: "¹" or "①" is a digit that int() cannot read
    if m is None or not word.isdecimal() or len(word) > 3:
        return False
    n, limit = int(word), int(m.group(2))
    return {"<": n < limit, "<=": n <= limit, ">": n > limit, ">=": n >= limit, "=": n == limit}[
        m.group(1)
    ]


def _same_word(text_word: str, text_folded: str, phrase_word: str, phrase_folded: str) -> bool:
    if phrase_word.startswith("{"):
        return _number_ok(phrase_word, text_word)
    if text_folded != phrase_folded:
        return False
    # Both written with marks and different marks: different words (biến ≠ biển).
    return text_word in (text_folded, phrase_word) or phrase_word == phrase_folded


def occurrences(text: _Words, phrase: _Words) -> list[int]:
    """Every index where ``phrase`` occurs in ``text`` as whole words."""
    n = len(phrase.exact)
    if n == 0:
        return []
    found = []
    # A cheap test first: the phrase's first word must be in the text (most of a rule's phrases
    # are not); number tests and held-down letters compare otherwise, so they skip it.
    if (
        not phrase.exact[0].startswith("{")
        and not any(text.held)
        and phrase.folded[0] not in text.folded
    ):
        return []
    for i in range(len(text.exact) - n + 1):
        if all(_matches(text, i + j, phrase, j) for j in range(n)):
            found.append(i)
    return found


def _matches(text: _Words, i: int, phrase: _Words, j: int) -> bool:
    if text.held and text.held[i] and not phrase.exact[j].startswith("{"):
        return _squeeze(text.folded[i]) == _squeeze(phrase.folded[j])
    return _same_word(text.exact[i], text.folded[i], phrase.exact[j], phrase.folded[j])


def find(text: _Words, phrase: _Words) -> int | None:
    """The index of the first word where ``phrase`` occurs in ``text`` as whole words, or None."""
    found = occurrences(text, phrase)
    return found[0] if found else None


def _excluded(text: _Words, exclusions: Iterable[str]) -> set[int]:
    """The word indexes covered by any exclusion phrase."""
    covered: set[int] = set()
    for phrase in exclusions:
        words = _phrase_words(phrase)
        for at in occurrences(text, words):
            covered.update(range(at, at + len(words.exact)))
    return covered


def _first_phrase(
    text: _Words, phrases: Iterable[str], exclusions: Iterable[str] = ()
) -> tuple[int, str] | None:
    """The phrase found earliest in ``text``, outside the words an exclusion covers."""
    covered = _excluded(text, exclusions)
    best: tuple[int, str] | None = None
    for phrase in phrases:
        words = _phrase_words(phrase)
        for at in occurrences(text, words):
            if covered.intersection(range(at, at + len(words.exact))):
                continue
            if best is None or at < best[0]:
                best = (at, phrase)
            break
    return best


def _district(text: _Words, areas: Iterable[Area]) -> tuple[Area, str] | None:
    """The area named earliest in the text (longest name first at the same place)."""
    best: tuple[int, int, Area, str] | None = None
    for area in areas:
        if area.kind == "province":
            continue
        for name in (area.name, *(area.aliases or ())):
            words = _phrase_words(name.replace(".", " "))
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
            phrase = _first_phrase(
                words, rule.phrases or (), getattr(rule, "exclusions", None) or ()
            )
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
