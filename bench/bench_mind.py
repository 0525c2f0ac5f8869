"""Latency of the mind's per-turn work (printed numbers, not a pass/fail test).

On N synthetic memories (hashing embedder by default, ``--minilm`` for the real
one), measures per call, p50 and max over ROUNDS rounds:
- gut.measure (subconscious centroid over the heaviest gut.max_memories memories,
  attention centroid over 6 context texts, nearest memories to the delta);
- attention.decide over Q pending candidates (novelty, relevance per candidate);
- context assembly (identity rolls, hybrid search, budgets) for a 4096-token window;
- exit judge on one reply text.

Usage: python bench/bench_mind.py [--memories N] [--queue Q] [--rounds R] [--minilm]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np

from engine.clock import SystemClock
from engine.config import load_policy
from engine.llm.base import ChatMessage
from engine.memory.embed import Embedder, HashingEmbedder
from engine.memory.records import NewMemory
from engine.memory.service import MemoryService
from engine.mind.attention import Attention, Candidate
from engine.mind.gates import ExitGate
from engine.mind.gut import Gut
from engine.mind.salience import ExitJudge, SalienceInputs
from engine.pipeline.context import ContextAssembler
from engine.pipeline.tokens import EstimateTokenCounter
from engine.store import Store

TOPICS = ["garden", "deploy", "billing", "kitchen", "rocket", "music", "travel", "python"]


def timed(fn: Callable[[], object], rounds: int) -> tuple[float, float]:
    samples = []
    for _ in range(rounds):
        t0 = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - t0) * 1000)
    return statistics.median(samples), max(samples)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--memories", type=int, default=20000)
    parser.add_argument("--queue", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--minilm", action="store_true")
    args = parser.parse_args()
    policy = load_policy().policy
    embedder: Embedder = HashingEmbedder()
    if args.minilm:
        from engine.memory.embed_onnx import OnnxMiniLMEmbedder

        embedder = OnnxMiniLMEmbedder()
    rng = np.random.default_rng(0)
    with tempfile.TemporaryDirectory() as tmp, Store(Path(tmp) / "db.duckdb") as store:
        memory = MemoryService(store, embedder, policy, SystemClock(), Path(tmp) / "ix")
        memory.open()
        kinds = ["message", "assistant_message", "fact", "preference", "identity"]
        items = [
            NewMemory(
                kind=kinds[i % len(kinds)],
                content=f"note {i} about the {TOPICS[i % len(TOPICS)]}: "
                + " ".join(TOPICS[int(j)] for j in rng.integers(0, len(TOPICS), 12)),
            )
            for i in range(args.memories)
        ]
        t0 = time.perf_counter()
        for start in range(0, len(items), 2000):
            memory.add(items[start : start + 2000])
        print(
            f"{args.memories} memories ({embedder.name}) stored in {time.perf_counter() - t0:.1f} s"
        )
        transcript = [
            ChatMessage(role="user" if i % 2 == 0 else "assistant", content=f"about the {t} again")
            for i, t in enumerate(TOPICS[:6])
        ]
        gut = Gut(memory, policy.gut)
        first = timed(lambda: gut.measure([m.content for m in transcript]), 1)
        print(f"gut.measure first call (vector cache cold): {first[0]:.1f} ms")
        p50, worst = timed(lambda: gut.measure([m.content for m in transcript]), args.rounds)
        print(f"gut.measure: p50 {p50:.1f} ms, max {worst:.1f} ms")
        now = datetime.now(UTC)
        pending = [
            Candidate(i, "channel", f"channel chatter {i} about the {TOPICS[i % 8]}", now, 0.5)
            for i in range(args.queue)
        ]

        def decide() -> None:
            inputs = SalienceInputs(memory, gut, transcript)
            inputs.prime([c.text for c in pending] + inputs.goals)
            Attention(policy, inputs.novelty, inputs.relevance, inputs.charge).decide(pending)

        p50, worst = timed(decide, args.rounds)
        print(f"attention.decide ({args.queue} candidates): p50 {p50:.1f} ms, max {worst:.1f} ms")
        assembler = ContextAssembler(
            policy, memory, np.random.default_rng(1), EstimateTokenCounter.from_policy(policy)
        )
        p50, worst = timed(
            lambda: assembler.assemble("tell me about the garden", transcript, "system", "", 4096),
            args.rounds,
        )
        print(f"context.assemble (4096 tokens): p50 {p50:.1f} ms, max {worst:.1f} ms")
        judge = ExitJudge(
            ExitGate(policy.gates.exit, np.random.default_rng(2)),
            SalienceInputs(memory, gut, transcript),
            policy,
        )
        p50, worst = timed(
            lambda: judge("the garden needs water and the deploy is late"), args.rounds
        )
        print(f"exit judge (one text): p50 {p50:.1f} ms, max {worst:.1f} ms")
        memory.close()


if __name__ == "__main__":
    main()
