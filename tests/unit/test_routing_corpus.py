"""The default rules against the labelled corpus: the build fails below the thresholds."""

from __future__ import annotations

import pytest

from campaigns.areas import SOC_TRANG_2024, police_queue_for
from campaigns.models import Area
from gateway.tips import corpus
from gateway.tips.models import RoutingRule
from gateway.tips.routing import default_rule_rows


def rules() -> list[RoutingRule]:
    return [RoutingRule(id=i, **row) for i, row in enumerate(default_rule_rows(), start=1)]


def areas() -> list[Area]:
    out = [Area(id=1, name="Sóc Trăng", kind="province", aliases=["Soc Trang"])]
    for i, (name, kind, aliases, coastal) in enumerate(SOC_TRANG_2024, start=2):
        out.append(
            Area(id=i, name=name, kind=kind, aliases=list(aliases), coastal=coastal,
                 police_queue=police_queue_for(name))
        )  # fmt: skip
    return out


def test_the_corpus_is_there_and_large() -> None:
    examples = corpus.load()
    assert len(examples) >= 300
    assert sum(e.priority == "urgent" for e in examples) >= 40


def test_the_default_rules_route_the_corpus(capsys: pytest.CaptureFixture[str]) -> None:
    """≥ 95 % of tips in the right queue, ≥ 98 % of urgent tips found; every miss is printed."""
    scores = corpus.evaluate(rules(), areas(), corpus.load())
    with capsys.disabled():
        print(
            f"\ncorpus: {scores.total} tips, queue {scores.queue_accuracy:.1%}, "
            f"shared {scores.shared_accuracy:.1%}, urgent recall {scores.urgent_recall:.1%} "
            f"({scores.urgent_found}/{scores.urgent}), false urgent {scores.false_urgent}"
        )
        for m in scores.misses:
            print(
                f"  line {m.example.line}: {m.queue}/{m.priority} "
                f"(label {m.example.queue}/{m.example.priority}): {m.example.text[:90]}"
            )
    assert scores.queue_accuracy >= corpus.MIN_QUEUE_ACCURACY
    assert scores.urgent_recall >= corpus.MIN_URGENT_RECALL
