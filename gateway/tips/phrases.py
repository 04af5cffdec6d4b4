"""Words and phrases: how a tip's text and a rule's phrase are compared (``tips.routing`` tells
the rules of it: whole words, diacritics folded, shorthand spelled out, number tests).

:class:`PhraseIndex` finds every phrase of a list in one pass over a text: each phrase is filed
under its first word, so a text position is compared only with the phrases that can start
there, and each candidate with the same word test that :func:`occurrences` applies.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Set
from dataclasses import dataclass

from campaigns.text import fold, nfc

_WORD = re.compile(r"\d+|[^\W\d_]+")
_NUMBER_TEST = re.compile(r"^\{n(<=|>=|<|>|=)(\d+)\}$")
_HELD_DOWN = re.compile(r"([^\W\d_])\1{2,}")
_REPEATS = re.compile(r"(.)\1+")

# SMS shorthand, by folded word → what it stands for (the words the phrases are written in).
ABBREVIATIONS: dict[str, str] = {
    "ko": "không", "k": "không", "hok": "không", "hong": "không", "khong": "không", "kh": "không",
    "khg": "không", "kg": "không", "dc": "được", "dk": "được", "duoc": "được", "j": "gì",
    "sdt": "số điện thoại", "dt": "điện thoại", "ng": "người", "nguoi": "người", "cty": "công ty",
    "bn": "bạn", "vs": "với", "tq": "trung quốc", "cpc": "campuchia", "mn": "mọi người",
    "ntn": "như thế nào", "bt": "biết", "trc": "trước", "ns": "nói", "ck": "chồng", "vk": "vợ",
    "e": "em", "a": "anh", "tp": "thành phố", "tx": "thị xã", "ubnd": "ủy ban nhân dân",
}  # fmt: skip


@dataclass(frozen=True, slots=True)
class Words:
    exact: tuple[str, ...]  # lowercased NFC words ({n<18} tests kept as written)
    folded: tuple[str, ...]
    held: tuple[bool, ...] = ()  # a letter was held down (cuuuu): compared squeezed
    keys: tuple[str, ...] = ()  # folded and squeezed: where PhraseIndex looks phrases up
    # Indexes b where words b-1 and b were one written word, letters against digits ("be2023",
    # "14t"): no phrase may start or end there with a word of letters (see _matches_at).
    glued: frozenset[int] = frozenset()


def squeeze(word: str) -> str:
    """``word`` with every repeated letter once (cuu → cu): how a held-down word compares."""
    return _REPEATS.sub(r"\1", word)


def _spelled_out(pieces: list[tuple[str, int]]) -> list[tuple[str, bool, int]]:
    """Each piece spelled out: ``(word, held down, number of the written word it came from)``."""
    out: list[tuple[str, bool, int]] = []
    for w, chunk in pieces:
        held = bool(_HELD_DOWN.search(w))
        w = _HELD_DOWN.sub(r"\1", w)
        full = ABBREVIATIONS.get(fold(w)) if not held else None
        if full:
            out.extend((x, False, chunk) for x in full.split())
        else:
            out.append((w, held, chunk))
    return out


def words(text: str) -> Words:
    """A text's words, lowercased, shorthand spelled out (the tip and every phrase alike)."""
    pieces: list[tuple[str, int]] = []  # (piece, number of the written word it was cut from)
    for c, chunk in enumerate(nfc(text).lower().split()):
        if _NUMBER_TEST.match(chunk):
            pieces.append((chunk, c))
        else:
            pieces.extend((p, c) for p in _WORD.findall(chunk))
    spelled = _spelled_out(pieces)
    exact = tuple(w for w, _, _ in spelled)
    folded = tuple(fold(w) for w in exact)
    glued = frozenset(
        b
        for b in range(1, len(spelled))
        if spelled[b][2] == spelled[b - 1][2] and exact[b].isdecimal() != exact[b - 1].isdecimal()
    )
    held = tuple(h for _, h, _ in spelled)
    return Words(exact, folded, held, tuple(map(squeeze, folded)), glued)


# Rules' phrases are the same on every tip: their words are worked out once (Words is frozen).
phrase_words = functools.lru_cache(maxsize=8192)(words)


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


def occurrences(text: Words, phrase: Words) -> list[int]:
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
        if _matches_at(text, i, phrase):
            found.append(i)
    return found


def _matches_at(text: Words, i: int, phrase: Words) -> bool:
    n = len(phrase.exact)
    # Letters written onto a number count only with it: "lop8" is "lớp 8", "14t" and "be5t"
    # hold "14 tuổi" and "5 tuổi", but a Zalo name "be2023" or a code "BE12345" holds no "bé".
    if text.glued and (
        (i in text.glued and not text.exact[i].isdecimal())
        or (i + n in text.glued and not text.exact[i + n - 1].isdecimal())
    ):
        return False
    return all(_matches(text, i + j, phrase, j) for j in range(n))


def _matches(text: Words, i: int, phrase: Words, j: int) -> bool:
    if text.held and text.held[i] and not phrase.exact[j].startswith("{"):
        return squeeze(text.folded[i]) == squeeze(phrase.folded[j])
    return _same_word(text.exact[i], text.folded[i], phrase.exact[j], phrase.folded[j])


def find(text: Words, phrase: Words) -> int | None:
    """The index of the first word where ``phrase`` occurs in ``text`` as whole words, or None."""
    found = occurrences(text, phrase)
    return found[0] if found else None


class PhraseIndex:
    """A list of phrases filed by first word; finds what :func:`occurrences` finds, in one pass.

    A phrase's first word can match a text word only when both squeeze to the same folded word
    (equal folded words squeeze alike; a held-down word is compared squeezed), so that is the
    key; a phrase starting with a number test is tried at every word.
    """

    __slots__ = ("_anywhere", "_by_first", "phrases")

    def __init__(self, phrases: Iterable[str]) -> None:
        self.phrases: tuple[tuple[str, Words], ...] = tuple((p, phrase_words(p)) for p in phrases)
        by_first: dict[str, list[int]] = {}
        anywhere: list[int] = []
        for k, (_, w) in enumerate(self.phrases):
            if not w.exact:
                continue  # an empty phrase matches nothing
            if w.exact[0].startswith("{"):
                anywhere.append(k)
            else:
                by_first.setdefault(squeeze(w.folded[0]), []).append(k)
        self._by_first = {key: tuple(ks) for key, ks in by_first.items()}
        self._anywhere = tuple(anywhere)

    def __bool__(self) -> bool:
        return bool(self.phrases)

    def occurrences(self, text: Words) -> dict[int, list[int]]:
        """Phrase number (its place in the list) → every index where it occurs, ascending."""
        found: dict[int, list[int]] = {}
        if not self.phrases:
            return found
        size = len(text.exact)
        for i, key in enumerate(text.keys):
            for k in self._by_first.get(key, ()) + self._anywhere:
                phrase = self.phrases[k][1]
                if i + len(phrase.exact) <= size and _matches_at(text, i, phrase):
                    found.setdefault(k, []).append(i)
        return found

    def covered(self, text: Words) -> set[int]:
        """The word indexes covered by any occurrence of any phrase (a rule's exclusions)."""
        out: set[int] = set()
        for k, ats in self.occurrences(text).items():
            n = len(self.phrases[k][1].exact)
            for at in ats:
                out.update(range(at, at + n))
        return out

    def earliest(self, text: Words, covered: Set[int] = frozenset()) -> tuple[int, int] | None:
        """``(index, phrase number)`` of the phrase found earliest outside ``covered`` (at the
        same index, the phrase listed first), or None."""
        best: tuple[int, int] | None = None
        for k, ats in self.occurrences(text).items():
            n = len(self.phrases[k][1].exact)
            for at in ats:
                if covered and not covered.isdisjoint(range(at, at + n)):
                    continue
                if best is None or (at, k) < best:
                    best = (at, k)
                break
        return best
