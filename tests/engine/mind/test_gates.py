"""Memory gates: entry rates, mechanical output, the exit matrix, negation, noise, scratch."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from engine.clock import FrozenClock
from engine.config import load_policy
from engine.llm.base import ChatMessage
from engine.memory.embed import HashingEmbedder
from engine.memory.records import NewMemory
from engine.memory.service import MemoryService
from engine.mind.gates import EntryGate, ExitDecision, ExitGate, classify, negation_flip
from engine.mind.salience import ExitJudge, SalienceInputs
from engine.mind.scratch import ScratchBuffer, ScratchItem
from engine.store import Store

POLICY = load_policy().policy
ENTRY = POLICY.gates.entry
QUIET_EXIT = POLICY.gates.exit.model_copy(update={"noise_floor": 0.0})

LOG = """2026-01-01 12:00:01 INFO worker started
2026-01-01 12:00:02 WARN queue depth 17
2026-01-01 12:00:03 ERROR connection reset by peer"""
TRACE = """Traceback (most recent call last):
  File "app.py", line 3, in <module>
    main()
ValueError: boom"""
JAVA = """java.lang.IllegalStateException: closed
    at com.acme.Pool.take(Pool.java:42)
    at com.acme.Main.run(Main.java:7)"""


def rates(gate: EntryGate, text: str, source: str = "operator", bot: bool = False) -> Counter[str]:
    return Counter(gate.decide(text, source, bot) for _ in range(1000))


def test_entry_gate_rates_over_1000_seeded_draws_match_the_policy() -> None:
    assert (ENTRY.short_skip_p, ENTRY.mechanical_skip_p) == (0.95, 0.90)
    gate = EntryGate(ENTRY, np.random.default_rng(7))
    short = rates(gate, "ok!")
    assert short["skip"] + short["buffer"] == 1000
    assert abs(short["skip"] / 1000 - 0.95) < 0.025
    mechanical = rates(gate, LOG)
    assert abs(mechanical["skip"] / 1000 - 0.90) < 0.03
    assert rates(gate, "Remember that the staging database moves to Frankfurt in May.") == {
        "buffer": 1000
    }
    assert rates(gate, "(idle thought) reflect on memory #3", source="dmn") == {"pass": 1000}
    again = EntryGate(ENTRY, np.random.default_rng(7))
    assert rates(again, "ok!") == short  # the same seed, the same decisions


@pytest.mark.parametrize(
    ("text", "bot", "expected"),
    [
        ("hi", False, "short"),
        (LOG, False, "mechanical"),
        (TRACE, False, "mechanical"),
        (JAVA, False, "mechanical"),
        ("[INFO] build finished in 3.2s\n[INFO] 12 tests passed", False, "mechanical"),
        ("Beep boop, I am a bot. This action was performed automatically.", True, "mechanical"),
        ("Alice has joined the server", True, "mechanical"),
        ("a3f9 0c11 ffe0 9a9a 7b7b 1234 5678 9abc def0", False, "mechanical"),
        ("Why does my worker say 'connection reset by peer' every morning?", False, "content"),
        ("I think the error handling in the parser could be simpler.", False, "content"),
        (
            "Powered by coffee and stubbornness, I rewrote the whole importer today.",
            False,
            "content",
        ),
    ],
)
def test_mechanical_output_detection(text: str, bot: bool, expected: str) -> None:
    assert classify(text, bot, ENTRY) == expected


@pytest.mark.parametrize(
    ("relevance", "similarity", "contradicts", "action", "cell"),
    [
        (0.9, 0.95, False, "reinforce", ("core", "confirming")),
        (0.9, 0.30, False, "persist", ("core", "novel")),
        (0.9, 0.75, False, "persist", ("core", "novel")),  # the 0.6-0.85 gap counts as novel
        (0.9, 0.80, True, "persist_flag", ("core", "contradicting")),
        (0.9, 0.50, True, "persist", ("core", "novel")),  # opposed but not similar enough
        (0.45, 0.95, False, "drop", ("peripheral", "confirming")),
        (0.45, 0.20, False, "buffer", ("peripheral", "novel")),
        (0.45, 0.90, True, "persist", ("peripheral", "contradicting")),
        (0.10, 0.95, False, "drop", ("irrelevant", "confirming")),
        (0.10, 0.20, False, "drop", ("irrelevant", "novel")),
        (0.10, 0.90, True, "drop", ("irrelevant", "contradicting")),
    ],
)
def test_exit_gate_matrix(
    relevance: float, similarity: float, contradicts: bool, action: str, cell: tuple[str, str]
) -> None:
    decision = ExitGate(QUIET_EXIT, np.random.default_rng(0)).decide(
        relevance, similarity, contradicts
    )
    assert decision.action == action
    assert (decision.relevance_class, decision.novelty_class) == cell
    assert not decision.noise_applied


def test_gut_charge_lifts_relevance_by_the_bonus() -> None:
    gate = ExitGate(QUIET_EXIT, np.random.default_rng(0))
    assert gate.decide(0.5, 0.2, False, charge=0.1).action == "buffer"  # peripheral
    lifted = gate.decide(0.5, 0.2, False, charge=0.5)  # 0.5 + 0.15 > 0.6: core
    assert (lifted.action, lifted.relevance_class) == ("persist", "core")


def test_noise_floor_upgrades_drops_and_buffers_to_persist_with_the_seed() -> None:
    assert POLICY.gates.exit.noise_floor == 0.05

    def run(seed: int) -> list[ExitDecision]:
        gate = ExitGate(POLICY.gates.exit, np.random.default_rng(seed))
        return [gate.decide(0.1, 0.2, False) for _ in range(2000)]

    decisions = run(11)
    noisy = [d for d in decisions if d.noise_applied]
    assert abs(len(noisy) / 2000 - 0.05) < 0.015
    assert {d.action for d in noisy} == {"persist"}
    assert {d.action for d in decisions if not d.noise_applied} == {"drop"}
    assert [d.noise_applied for d in run(11)] == [d.noise_applied for d in decisions]
    first = next(i for i, d in enumerate(decisions) if d.noise_applied)
    again = ExitGate(POLICY.gates.exit, np.random.default_rng(11))
    for _ in range(first):
        again.decide(0.1, 0.2, False)
    assert again.decide(0.1, 0.2, False).action == "persist"
    core = ExitGate(POLICY.gates.exit, np.random.default_rng(11))
    assert {core.decide(0.9, 0.3, False).action for _ in range(500)} == {"persist"}


@pytest.mark.parametrize(
    ("a", "b", "flip"),
    [
        ("I like coffee", "I don't like coffee", True),
        ("The operator lives in Paris", "The operator no longer lives in Paris", True),
        ("The build is green", "The build isn't green", True),
        ("Alice never works on Fridays", "Alice works on Fridays", True),
        ("We can deploy on Sunday", "We can't deploy on Sunday", True),
        ("I like coffee", "I like coffee a lot", False),  # no negation
        ("I don't like coffee", "I do not like coffee", False),  # both negated
        ("I don't like coffee", "The sky is blue today", False),  # nothing shared
        ("Bob is not in the office", "The printer in the hallway jams weekly, Bob says", False),
    ],
)
def test_negation_flip(a: str, b: str, flip: bool) -> None:
    assert negation_flip(a, b) is flip
    assert negation_flip(b, a) is flip


def test_exit_judge_flags_a_contradiction_of_a_stored_memory(service: MemoryService) -> None:
    (old,) = service.add([NewMemory(kind="message", content="The operator lives in Paris")])
    transcript = [ChatMessage(role="user", content="where does the operator live? Paris?")]
    inputs = SalienceInputs(service, None, transcript)
    judge = ExitJudge(ExitGate(QUIET_EXIT, np.random.default_rng(0)), inputs, POLICY)
    flipped = judge("The operator no longer lives in Paris")
    assert flipped.target_id == old
    assert flipped.max_similarity > 0.7 and flipped.novelty_class == "contradicting"
    same = judge("The operator lives in Paris")
    assert same.novelty_class == "confirming" and same.target_id == old


def test_scratch_buffer_flush_persists_survivors_and_expires_old_items(
    service: MemoryService, clock: FrozenClock
) -> None:
    scratch = ScratchBuffer(service.store, POLICY.gates.scratch, clock, service)
    (known,) = service.add([NewMemory(kind="message", content="the backup runs at 3am")])
    stale = service.store.write(lambda cur: scratch.add(cur, "stale note", source="operator"))
    clock.advance(POLICY.gates.scratch.ttl_hours * 3600 + 1)
    texts = ["keep me", "drop me", "hold me", "the backup runs at 3am", "contradict me"]
    ids = service.store.write(
        lambda cur: [scratch.add(cur, t, source="operator", turn_id=9) for t in texts]
    )
    plan: dict[str, ExitDecision] = {
        "keep me": ExitDecision("persist", "core", "novel"),
        "drop me": ExitDecision("drop", "irrelevant", "novel"),
        "hold me": ExitDecision("buffer", "peripheral", "novel"),
        "the backup runs at 3am": ExitDecision("reinforce", "core", "confirming", target_id=known),
        "contradict me": ExitDecision("persist_flag", "core", "contradicting", target_id=known),
    }
    seen: list[str] = []

    def evaluate(item: ScratchItem) -> ExitDecision:
        seen.append(item.content)
        return plan[item.content]

    assert scratch.due(5) and scratch.due(10) and not scratch.due(4) and not scratch.due(0)
    alpha_before = service.get(known).alpha  # type: ignore[union-attr]
    results = scratch.flush(evaluate)
    assert seen == texts  # the expired item never met the gate
    by_text = {r.item.content: r for r in results}
    kept = service.get(by_text["keep me"].memory_id or -1)
    assert kept is not None and kept.content == "keep me"
    assert kept.source_meta["scratch_id"] == ids[0]
    assert kept.source_meta["exit_gate"]["action"] == "persist"
    flagged = service.get(by_text["contradict me"].memory_id or -1)
    assert flagged is not None and flagged.tags == ["flagged", "contradiction"]
    assert flagged.source_meta["contradicts"] == known
    assert by_text["the backup runs at 3am"].memory_id == known
    assert service.get(known).alpha == alpha_before + POLICY.gates.exit.reinforce_alpha  # type: ignore[union-attr]
    assert service.search("keep me", 3, mutate=False).hits[0].content == "keep me"  # indexed
    stored = service.store.reader().execute(
        "SELECT content, status, memory_id, decision->>'action' FROM scratch_items"
    )
    rows = {r[0]: r[1:] for r in stored.fetchall()}
    assert rows == {
        "stale note": ("expired", None, None),
        "keep me": ("persisted", by_text["keep me"].memory_id, "persist"),
        "drop me": ("dropped", None, "drop"),
        "hold me": ("buffered", None, "buffer"),
        "the backup runs at 3am": ("persisted", known, "reinforce"),
        "contradict me": ("persisted", by_text["contradict me"].memory_id, "persist_flag"),
    }
    assert stale not in ids
    seen.clear()
    scratch.flush(evaluate)
    assert seen == ["hold me"]  # a buffered decision waits for the next flush


def test_unflushed_items_are_reevaluated_after_a_restart(
    tmp_path: Path, clock: FrozenClock
) -> None:
    policy = load_policy().policy

    def open_service(store: Store) -> MemoryService:
        svc = MemoryService(store, HashingEmbedder(), policy, clock, tmp_path / "ix")
        svc.open()
        return svc

    with Store(tmp_path / "db.duckdb", clock=clock) as store:
        svc = open_service(store)
        scratch = ScratchBuffer(store, policy.gates.scratch, clock, svc)
        store.write(lambda cur: scratch.add(cur, "the operator's cat is called Miso"))
        svc.close()  # a crash or stop before the flush
    with Store(tmp_path / "db.duckdb", clock=clock) as store:
        svc = open_service(store)
        scratch = ScratchBuffer(store, policy.gates.scratch, clock, svc)
        judge = ExitJudge(
            ExitGate(QUIET_EXIT, np.random.default_rng(0)),
            SalienceInputs(svc, None, [ChatMessage(role="user", content="my cat is called Miso")]),
            policy,
        )
        (result,) = scratch.reevaluate_on_start(judge)
        assert result.decision.relevance_class == "core"
        assert result.status == "persisted" and result.memory_id is not None
        assert svc.get(result.memory_id).content == "the operator's cat is called Miso"  # type: ignore[union-attr]
        assert scratch.buffered() == []
        svc.close()
