"""The labelled corpus of realistic tips, and how well a set of rules routes it.

``tests/data/tip_corpus.csv`` holds tips written as citizens write them (with and without
diacritics, in SMS shorthand), each with the queue, the shared queues and the priority a duty
officer would give it. The build fails when the default rules route it worse than
:data:`MIN_QUEUE_ACCURACY` / :data:`MIN_URGENT_RECALL`; the admin's test bench runs it against
edited rules before they are saved.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from gateway.settings import ROOT
from gateway.tips.routing import AreaLike, Router, RuleLike
from gateway.tips.states import URGENT

CORPUS = ROOT / "tests" / "data" / "tip_corpus.csv"
MIN_QUEUE_ACCURACY = 0.95
MIN_URGENT_RECALL = 0.98


@dataclass(frozen=True, slots=True)
class Example:
    """One labelled tip."""

    line: int
    text: str
    queue: str
    shared: tuple[str, ...]
    priority: str


@dataclass(frozen=True, slots=True)
class Miss:
    """A tip the rules route otherwise than its label says."""

    example: Example
    queue: str
    shared: tuple[str, ...]
    priority: str


@dataclass
class Scores:
    """How a set of rules routes the corpus."""

    total: int = 0
    queue_right: int = 0
    shared_right: int = 0
    urgent: int = 0
    urgent_found: int = 0
    false_urgent: int = 0
    misses: list[Miss] = field(default_factory=list)

    @property
    def queue_accuracy(self) -> float:
        return self.queue_right / self.total if self.total else 0.0

    @property
    def shared_accuracy(self) -> float:
        return self.shared_right / self.total if self.total else 0.0

    @property
    def urgent_recall(self) -> float:
        return self.urgent_found / self.urgent if self.urgent else 1.0

    @property
    def good_enough(self) -> bool:
        """Whether the build's thresholds hold."""
        return self.queue_accuracy >= MIN_QUEUE_ACCURACY and self.urgent_recall >= MIN_URGENT_RECALL


def load(path: Path = CORPUS) -> list[Example]:
    """The examples of the corpus file (``text,queue,shared,priority,note``); [] when absent."""
    if not path.exists():
        return []
    with path.open(encoding="utf-8-sig", newline="") as f:
        return [
            Example(
                line=n,
                text=row["text"],
                queue=row["queue"].strip(),
                shared=tuple(sorted(q for q in row.get("shared", "").split("|") if q.strip())),
                priority=row["priority"].strip(),
            )
            for n, row in enumerate(csv.DictReader(f), start=2)
        ]


def evaluate(
    rules: Sequence[RuleLike], areas: Iterable[AreaLike], examples: Iterable[Example]
) -> Scores:
    """Route every example with ``rules`` and ``areas``; count what matches its label."""
    router = Router(rules, areas)
    scores = Scores()
    for ex in examples:
        result = router.route(ex.text)
        shared = tuple(sorted(result.shared_with))
        scores.total += 1
        queue_ok = result.queue == ex.queue
        scores.queue_right += queue_ok
        scores.shared_right += shared == ex.shared
        if ex.priority == URGENT:
            scores.urgent += 1
            scores.urgent_found += result.priority == URGENT
        elif result.priority == URGENT:
            scores.false_urgent += 1
        if not queue_ok or (ex.priority == URGENT) != (result.priority == URGENT):
            scores.misses.append(Miss(ex, result.queue, shared, result.priority))
    return scores
