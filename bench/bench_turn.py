"""Per-stage latency of a whole turn, model call excluded (printed numbers, not a test).

    .venv/bin/python bench/bench_turn.py                      # 1k, 10k and 100k memories
    .venv/bin/python bench/bench_turn.py --sizes 1000 --turns 10

Per size, in a temp data dir: N synthetic memories (clustered low-rank vectors and
Zipf texts that agree on topic, bench/synthetic.py) are written straight into DuckDB
and the vector index is built once, as bench_memory does. Then a real ``Engine`` on
that data dir (the embedded int8 MiniLM embedder, BM25, the f16 USearch index, the
policy's defaults) runs T operator turns against a zero-latency scripted provider, so
the "act" stage is only the loop around the model call. Each turn is measured where
the engine measures it (``TurnOutcome.timings_ms``), plus ``submit`` for intake:

- intake: the input event and its candidate, committed in one transaction;
- attention: transcript, novelty/relevance/charge per pending candidate, the decision
  and opening the turn;
- context: identity injection, the query embedding, hybrid search, budgets;
- gut: both centroids, the delta and its nearest memories;
- act: the generate/act loop with an instant model (its overhead only);
- gates: the exit gate, minting (embedding the turn's products);
- commit: the turn's one transaction, then its vectors.

Memory vectors are synthetic; every query the turns make is embedded for real. Printed:
p50 and p95 per stage and of their sum ("all but the model"), per size.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.bench_memory import insert_synthetic
from bench.memory_probes import pct
from bench.synthetic import ZipfTexts, clustered_vectors_labeled, print_table
from engine.config import load_policy, load_settings
from engine.engine import Engine
from engine.factory import build_memory
from engine.llm.scripted import ScriptedProvider
from engine.store import Store

STAGES = ["intake", "attention", "context", "gut", "act", "gates", "commit"]
QUESTIONS = [
    "What did we decide about the garden shed last week?",
    "Remind me how the deploy pipeline handles a failed migration.",
    "Which billing invoices are still open?",
    "What was the recipe we talked about in the kitchen channel?",
    "How far did the rocket telemetry work get?",
    "Any music recommendations from earlier?",
    "What are the travel plans for next month?",
    "Why was the python upgrade postponed?",
]


def populate(home: Path, n: int, seed: int) -> float:
    """Write n synthetic memories and build their vector index; returns seconds taken."""
    settings = load_settings()
    policy = load_policy().policy
    rng = np.random.default_rng(seed)
    t0 = time.perf_counter()
    vectors, labels, subs = clustered_vectors_labeled(n, 384, rng)
    texts = ZipfTexts(int(labels.max()) + 1, rng).texts(labels, subs, rng)
    with Store(settings.data_dir.db_path) as store:
        memory = build_memory(settings, policy, store)
        insert_synthetic(store, memory, vectors, texts, rng, batch=5000)
        memory.open()  # builds and saves the index the engine will load
        memory.close()
    return time.perf_counter() - t0


def run_turns(turns: int, warmup: int) -> dict[str, list[float]]:
    """Run warmup + turns operator turns on the data dir; per-stage ms of the measured ones."""
    settings = load_settings()
    policy = load_policy().policy
    samples: dict[str, list[float]] = {stage: [] for stage in STAGES}
    provider = ScriptedProvider(echo_when_exhausted=True)
    with Engine(settings, policy, provider=provider) as engine:
        for i in range(warmup + turns):
            text = f"{QUESTIONS[i % len(QUESTIONS)]} (#{i})"
            t0 = time.perf_counter()
            engine.submit(text)
            intake = (time.perf_counter() - t0) * 1000
            outcome = engine.step()
            if outcome is None or outcome.status != "committed":
                raise SystemExit(f"turn {i} did not commit: {outcome}")
            if i < warmup:
                continue
            samples["intake"].append(intake)
            for stage in STAGES[1:]:
                samples[stage].append(outcome.timings_ms.get(stage, 0.0))
    return samples


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,10000,100000", help="memory counts")
    parser.add_argument("--turns", type=int, default=30, help="measured turns per size")
    parser.add_argument("--warmup", type=int, default=3, help="unmeasured turns first")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    rows: list[list[str]] = []
    for n in sizes:
        with tempfile.TemporaryDirectory(prefix="bench-turn-") as tmp:
            os.environ["CEPHALON_HOME"] = tmp
            built = populate(Path(tmp), n, args.seed)
            print(f"[{n:>7,}] {n:,} memories written and indexed in {built:.1f}s", flush=True)
            samples = run_turns(args.turns, args.warmup)
        totals = [sum(samples[s][i] for s in STAGES) for i in range(args.turns)]
        for stage in STAGES:
            rows.append([f"{n:,}", stage, f"{pct(samples[stage], 50):.1f}",
                         f"{pct(samples[stage], 95):.1f}"])
        rows.append([f"{n:,}", "ALL but the model", f"{statistics.median(totals):.1f}",
                     f"{pct(totals, 95):.1f}"])
        print(f"[{n:>7,}] all but the model: p50 {statistics.median(totals):.1f} ms, "
              f"p95 {pct(totals, 95):.1f} ms over {args.turns} turns", flush=True)
    print()
    print_table(["memories", "stage", "p50 ms", "p95 ms"], rows)


if __name__ == "__main__":
    main()
