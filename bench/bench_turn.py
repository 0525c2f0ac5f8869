"""Per-stage latency of a whole turn, model call excluded (printed numbers, not a test).

    .venv/bin/python bench/bench_turn.py                      # 1k, 10k and 100k memories
    .venv/bin/python bench/bench_turn.py --sizes 1000 --turns 10

Per size, in a temp data dir: N synthetic memories (clustered low-rank vectors and
Zipf texts that agree on topic, bench/synthetic.py) are written straight into DuckDB
and the vector index is built once, as bench_memory does. Then a real ``Engine`` on
that data dir (the embedded int8 MiniLM embedder, BM25, the f16 USearch index, the
policy's defaults) runs T operator turns against a scripted provider that answers
after ``--model-ms`` (default 200, a fast hosted model's whole reply). Each turn is
measured where the engine measures it (``TurnOutcome.timings_ms``), plus ``submit``
for intake:

- intake: the input event and its candidate, committed in one transaction;
- attention: transcript, novelty/relevance/charge per pending candidate and the
  decision (the transaction that opens the turn runs during the model call);
- context: identity injection, the query embedding, hybrid search, budgets;
- gut: both centroids, the delta and its nearest memories (on a stage thread while
  the model generates);
- act: the generate/act loop, the model's own time taken out (its overhead only);
- gates: the exit gate, minting (embedding the turn's products);
- commit: the turn's one transaction (what is left of it after the gates: its
  context part was written during the model call, its act part beside the gates),
  then its vectors.

Memory vectors are synthetic; every query the turns make is embedded for real. Printed,
per size, p50 and p95 of each stage, of their sum ("work": the gut counted though it
overlaps the model) and of the latency a turn adds to its model call ("all but the
model": from ``submit`` to the ``turn.committed`` signal, when the reply goes out,
minus the model's time), and the housekeeping after it.
"""

from __future__ import annotations

import argparse
import gc
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
from engine.gc_tuning import freeze_startup_objects
from engine.llm.scripted import ScriptedProvider, ScriptedReply
from engine.signals import TurnCommitted
from engine.store import Store

STAGES = ["intake", "attention", "context", "gut", "act", "gates", "commit"]
WORK, LATENCY = "work (sum of stages)", "ALL but the model"
AFTER = "after the reply"
"""Housekeeping once the turn is committed and its reply out (scratch flush, a gut
candidate); it delays only an input that is already waiting."""
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


def run_turns(turns: int, warmup: int, model_ms: float = 200.0) -> dict[str, list[float]]:
    """Run warmup + turns operator turns on the data dir.

    Returns:
        Per stage, and for WORK and LATENCY, the ms of each measured turn.
    """
    settings = load_settings()
    policy = load_policy().policy
    samples: dict[str, list[float]] = {stage: [] for stage in [*STAGES, WORK, LATENCY, AFTER]}
    modelled: list[float] = []

    def model_time(seconds: float) -> None:
        t0 = time.perf_counter()
        time.sleep(seconds)
        modelled.append((time.perf_counter() - t0) * 1000)

    replies = [
        ScriptedReply(text=f"Noted, reply {i}.", delay_s=model_ms / 1000)
        for i in range(warmup + turns)
    ]
    provider = ScriptedProvider(replies, sleep=model_time)
    committed: list[float] = []
    with Engine(settings, policy, provider=provider) as engine:
        freeze_startup_objects()  # as the TUI, the daemon and chat do once the engine is up
        engine.bus.subscribe(
            lambda signal: (
                committed.append(time.perf_counter()) if isinstance(signal, TurnCommitted) else None
            )
        )
        for i in range(warmup + turns):
            text = f"{QUESTIONS[i % len(QUESTIONS)]} (#{i})"
            modelled.clear()
            t0 = time.perf_counter()
            engine.submit(text)
            intake = (time.perf_counter() - t0) * 1000
            outcome = engine.step()
            done = time.perf_counter()
            wall = (committed[-1] - t0) * 1000
            if outcome is None or outcome.status != "committed":
                raise SystemExit(f"turn {i} did not commit: {outcome}")
            if i < warmup:
                continue
            model = sum(modelled)
            timings = {**outcome.timings_ms, "intake": intake}
            timings["act"] = timings.get("act", 0.0) - model
            for stage in STAGES:
                samples[stage].append(timings.get(stage, 0.0))
            samples[WORK].append(sum(timings.get(stage, 0.0) for stage in STAGES))
            samples[LATENCY].append(wall - model)
            samples[AFTER].append((done - committed[-1]) * 1000)
    gc.unfreeze()  # let the engine's native objects go the ordinary way at exit
    return samples


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,10000,100000", help="memory counts")
    parser.add_argument("--turns", type=int, default=30, help="measured turns per size")
    parser.add_argument("--warmup", type=int, default=3, help="unmeasured turns first")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--model-ms", type=float, default=200.0, help="how long the scripted model takes"
    )
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    rows: list[list[str]] = []
    for n in sizes:
        with tempfile.TemporaryDirectory(prefix="bench-turn-") as tmp:
            os.environ["CEPHALON_HOME"] = tmp
            built = populate(Path(tmp), n, args.seed)
            print(f"[{n:>7,}] {n:,} memories written and indexed in {built:.1f}s", flush=True)
            samples = run_turns(args.turns, args.warmup, args.model_ms)
        for stage in [*STAGES, WORK, LATENCY, AFTER]:
            rows.append(
                [
                    f"{n:,}",
                    stage,
                    f"{pct(samples[stage], 50):.1f}",
                    f"{pct(samples[stage], 95):.1f}",
                ]
            )
        latency = samples[LATENCY]
        print(
            f"[{n:>7,}] all but the model: p50 {statistics.median(latency):.1f} ms, "
            f"p95 {pct(latency, 95):.1f} ms over {args.turns} turns",
            flush=True,
        )
    print()
    print_table(["memories", "stage", "p50 ms", "p95 ms"], rows)


if __name__ == "__main__":
    main()
