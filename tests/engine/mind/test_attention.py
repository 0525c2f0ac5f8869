"""Attention: salience arithmetic, the winner, decaying losers, the durable queue."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from engine.clock import FrozenClock
from engine.config import load_policy
from engine.llm.base import ChatMessage
from engine.memory.records import NewMemory
from engine.memory.service import MemoryService
from engine.mind.attention import Attention, Candidate
from engine.mind.candidate_queue import CandidateQueue
from engine.mind.gut import GutReading
from engine.mind.salience import make_salience_inputs
from engine.policy import Policy
from engine.signals import SalienceParts, signal_from_json, signal_to_json
from engine.store import Store

POLICY = load_policy().policy
T0 = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


def with_attention(policy: Policy, **values: Any) -> Policy:
    """A copy of the policy with some ``attention`` values changed."""
    return policy.model_copy(update={"attention": policy.attention.model_copy(update=values)})


def per_text(table: dict[str, float], default: float = 0.0) -> Callable[[str], float]:
    return lambda text: table.get(text, default)


def cand(
    cid: int, source: str, text: str, urgency: float | None = None, age_s: int = 0
) -> Candidate:
    u = urgency if urgency is not None else float(getattr(POLICY.attention.urgency, source))
    return Candidate(cid, source, text, T0 - timedelta(seconds=age_s), u)


def flat(novelty: float = 0.0, relevance: float = 0.0, charge: float = 0.0) -> Attention:
    return Attention(POLICY, lambda _: novelty, lambda _: relevance, lambda: charge)


def test_salience_is_the_weighted_sum_with_the_policy_weights() -> None:
    attention = flat(novelty=0.5, relevance=0.25, charge=0.4)
    decision = attention.decide([cand(1, "operator", "hello there")])
    assert decision.winner is not None
    w = POLICY.attention.salience
    assert (w.novelty, w.relevance, w.charge, w.urgency) == (0.3, 0.3, 0.2, 0.2)
    assert decision.winner.parts == SalienceParts(
        novelty=0.5, relevance=0.25, charge=0.4, urgency=0.8
    )
    assert decision.winner.salience == pytest.approx(0.3 * 0.5 + 0.3 * 0.25 + 0.2 * 0.4 + 0.2 * 0.8)
    other = with_attention(
        POLICY, salience=w.model_copy(update={"novelty": 1.0, "relevance": 0.0, "urgency": 0.0})
    )
    again = Attention(other, lambda _: 0.5, lambda _: 0.25, lambda: 0.4).decide(
        [cand(1, "operator", "hello there")]
    )
    assert again.winner is not None
    assert again.winner.salience == pytest.approx(1.0 * 0.5 + 0.2 * 0.4)


def test_parts_are_clipped_to_the_unit_interval() -> None:
    decision = flat(novelty=1.7, relevance=-0.3, charge=2.0).decide([cand(1, "dmn", "musing")])
    assert decision.winner is not None
    assert decision.winner.parts == SalienceParts(novelty=1, relevance=0, charge=1, urgency=0.2)


def test_operator_beats_dmn_at_equal_other_parts_and_the_report_says_why() -> None:
    attention = flat(novelty=0.6, relevance=0.4, charge=0.1)
    decision = attention.decide(
        [
            cand(1, "dmn", "an idle thought about gardens", age_s=60),
            cand(2, "operator", "what time is it?"),
        ]
    )
    assert decision.winner is not None and decision.winner.candidate.id == 2
    assert [s.candidate.id for s in decision.ranked] == [2, 1]
    assert "operator message won" in decision.reason and "urgency" in decision.reason
    report = decision.report.splitlines()
    assert report[0] == "[COGNITIVE STATE]"
    assert any('operator message: "what time is it?" (salience 0.' in line for line in report)
    assert any("idle thought" in line for line in report)
    assert report[-1] == f"Winner: {decision.reason}"
    signal = attention.signal(decision, T0, turn_id=7)
    assert signal.winner_id == 2 and signal.turn_id == 7
    assert [(c.id, c.winner) for c in signal.candidates] == [(2, True), (1, False)]
    assert signal_from_json(signal_to_json(signal)) == signal


def test_a_far_more_novel_and_relevant_thought_beats_a_dull_operator_message() -> None:
    attention = Attention(
        POLICY,
        per_text({"contradiction in my notes": 1.0}),
        per_text({"contradiction in my notes": 1.0}),
        lambda: 0.0,
    )
    decision = attention.decide(
        [cand(1, "operator", "ok"), cand(2, "dmn", "contradiction in my notes")]
    )
    assert decision.winner is not None and decision.winner.candidate.source == "dmn"
    assert decision.queued[0].id == 1  # the operator's message waits, it is never dropped


def test_ties_go_to_the_more_urgent_then_the_older() -> None:
    dyadic = with_attention(  # exact binary fractions: the two saliences are equal exactly
        POLICY,
        salience=POLICY.attention.salience.model_copy(
            update={"novelty": 0.5, "relevance": 0.25, "charge": 0.0, "urgency": 0.25}
        ),
    )
    attention = Attention(dyadic, per_text({"novel": 0.5}), lambda _: 0.0, lambda: 0.0)
    decision = attention.decide(
        [
            cand(1, "channel", "novel", urgency=0.0, age_s=100),
            cand(2, "operator", "dull", urgency=1.0),
        ]
    )
    assert decision.ranked[0].salience == decision.ranked[1].salience == 0.25
    assert decision.winner is not None and decision.winner.candidate.id == 2
    assert "tied" in decision.reason
    same = attention.decide(
        [cand(3, "dmn", "dull", urgency=0.5), cand(4, "dmn", "dull", urgency=0.5, age_s=5)]
    )
    assert same.winner is not None and same.winner.candidate.id == 4  # the older


def test_losers_decay_by_the_policy_factor_each_turn_and_leave_below_the_threshold() -> None:
    assert POLICY.attention.loser_urgency_decay == 0.8
    assert POLICY.attention.drop_below == 0.05
    attention = flat()  # salience = 0.2 x urgency alone
    waiting = cand(1, "channel", "a message from a channel")  # urgency 0.5
    seen: list[tuple[float, int]] = []
    for turn in range(10):
        decision = attention.decide([waiting, cand(100 + turn, "operator", f"question {turn}")])
        assert decision.winner is not None and decision.winner.candidate.source == "operator"
        if decision.dropped:
            assert [d.candidate.id for d in decision.dropped] == [1]
            assert decision.rescored[1] < 0.05
            break
        (waiting,) = decision.queued
        seen.append((round(waiting.urgency, 6), waiting.waited))
    assert seen == [(0.4, 1), (0.32, 2), (0.256, 3)]  # 0.2 x 0.2048 = 0.041 < 0.05: dropped
    assert turn == 3


def test_the_operator_is_never_dropped_and_the_queue_is_capped() -> None:
    attention = Attention(
        with_attention(POLICY, max_queue=2), lambda _: 0.0, lambda _: 0.0, lambda: 0.0
    )
    pending = [
        cand(1, "operator", "first", urgency=0.01),
        cand(2, "job", "tick", urgency=1.0),
        cand(3, "channel", "chatter", urgency=0.6),
        cand(4, "channel", "more chatter", urgency=0.7),
        cand(5, "operator", "second", urgency=1.0, age_s=1),
    ]
    decision = attention.decide(pending)
    assert decision.winner is not None and decision.winner.candidate.id == 5
    assert {c.id for c in decision.queued} == {1, 2}  # operator kept though weakest
    assert {d.candidate.id for d in decision.dropped} == {3, 4}
    assert decision.queued[0].waited == 1


def test_nothing_pending_means_no_winner() -> None:
    decision = flat().decide([])
    assert decision.winner is None and decision.ranked == [] and "(none)" in decision.report


def test_the_queue_persists_decisions_across_a_store_reopen(
    tmp_path: Path, clock: FrozenClock
) -> None:
    path = tmp_path / "q.duckdb"
    attention = flat(novelty=0.1)
    with Store(path, clock=clock) as store:
        queue = CandidateQueue(store)
        ids = [
            queue.add(source="operator", text="hello", urgency=0.8, source_tag="operator"),
            queue.add(
                source="channel", text="chat", urgency=0.5, source_tag="channel", channel_id="c1"
            ),
            queue.add(source="dmn", text="musing", urgency=0.01, source_tag="dmn"),
        ]
        assert queue.depth() == 3
        decision = attention.decide(queue.pending())
        queue.apply(decision, turn_id=42)
    with Store(path, clock=clock) as store:
        queue = CandidateQueue(store)
        (left,) = queue.pending()
        assert (left.id, left.source, left.channel_id) == (ids[1], "channel", "c1")
        assert left.urgency == pytest.approx(0.4) and left.waited == 1
        rows = (
            store.reader()
            .execute(
                "SELECT id, status, turn_id, salience IS NOT NULL, round(urgency, 6), waited, "
                "decided_at IS NOT NULL FROM candidates ORDER BY id"
            )
            .fetchall()
        )
        assert rows == [
            (ids[0], "won", 42, True, 0.8, 0, True),
            (ids[1], "pending", None, True, 0.4, 1, False),
            (ids[2], "dropped", None, True, 0.01, 0, True),
        ]
        assert queue.depth() == 1


def test_queue_insert_runs_inside_the_callers_transaction(store: Store) -> None:
    queue = CandidateQueue(store)

    def job(cur: Any) -> int:
        cid = queue.insert(
            cur, source="job", text="tick", created_at=T0, urgency=0.3, source_tag="job"
        )
        raise RuntimeError(f"rolled back {cid}")

    with pytest.raises(RuntimeError):
        store.write(job)
    assert queue.pending() == []


def test_salience_inputs_from_memory_goals_and_gut(service: MemoryService) -> None:
    novelty, relevance, charge = make_salience_inputs(service, None, [])
    assert novelty("anything at all") == 1.0  # empty memory
    assert relevance("anything") == 0.0 and charge() == 0.0
    service.add([NewMemory(kind="message", content="the deploy runs every friday at noon")])
    transcript = [
        ChatMessage(role="user", content="how do I bake sourdough bread"),
        ChatMessage(role="assistant", content="with a starter"),
    ]
    novelty, relevance, charge = make_salience_inputs(
        service, GutReading(0.8, 0.6, [], "m"), transcript
    )
    assert novelty("the deploy runs every friday at noon") == pytest.approx(0.0, abs=0.01)
    assert novelty("zebra") > 0.9
    assert relevance("sourdough bread needs a starter") > relevance("the deploy runs on friday")
    assert relevance("how do I bake sourdough bread") == pytest.approx(1.0, abs=1e-5)
    assert charge() == 0.6


def test_a_lone_winner_is_recorded_like_any_other(tmp_path: Path, clock: FrozenClock) -> None:
    with Store(tmp_path / "q.duckdb", clock=clock) as store:
        queue = CandidateQueue(store)
        cid = queue.add(source="operator", text="hello", urgency=0.8, source_tag="operator")
        decision = flat(novelty=0.1).decide(queue.pending())
        queue.apply(decision, turn_id=7)
        assert queue.pending() == [] == CandidateQueue(store).pending()
        row = (
            store.reader()
            .execute(
                "SELECT status, turn_id, round(salience, 6), parts IS NOT NULL, urgency, waited, "
                "decided_at IS NOT NULL FROM candidates WHERE id = ?",
                [cid],
            )
            .fetchone()
        )
        assert decision.winner is not None
        assert row == ("won", 7, round(decision.winner.salience, 6), True, 0.8, 0, True)
