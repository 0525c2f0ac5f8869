"""Retrieval quality on the bundled conversation datasets (printed numbers, not a test).

Runs the ``cephalon bench retrieval`` harness (engine.memory.evaluation) with the
baselines on tests/data/locomo_mini.json and tests/data/locomo_alt.json (two sets of
hand-written LoCoMo-layout conversations) and prints recall@5/10/20 and hit@10 of the
full pipeline and of BM25, dense and RRF alone, plus ingest time and query latency.

``--ablations`` also reruns the full pipeline with one mechanism turned off at a time
(policy overrides), to show what each contributes.

Usage: python bench/bench_retrieval.py [--ablations] [--seed N]
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from engine.config import load_policy, load_settings
from engine.factory import build_embedder
from engine.memory.embed import Embedder
from engine.memory.eval_dataset import load_dataset
from engine.memory.evaluation import evaluate_retrieval
from engine.policy import Policy

DATA = Path(__file__).resolve().parent.parent / "tests" / "data"
DATASETS = ("locomo_mini.json", "locomo_alt.json")


def _with(policy: Policy, section: str, **values: Any) -> Policy:
    """A copy of the policy with some values of one (dotted) section replaced."""
    head, _, tail = section.partition(".")
    outer = getattr(policy, head)
    if tail:
        inner = getattr(outer, tail).model_copy(update=values)
        return policy.model_copy(update={head: outer.model_copy(update={tail: inner})})
    return policy.model_copy(update={head: outer.model_copy(update=values)})


ABLATIONS: dict[str, Callable[[Policy], Policy]] = {
    "no contiguity spreading": lambda p: _with(p, "retrieval.contiguity", spread=0.0),
    "rank-only fusion (dense=bm25=0)": lambda p: _with(p, "retrieval.blend", dense=0.0, bm25=0.0),
    "recency weight 0.10": lambda p: _with(p, "retrieval.blend", recency=0.10),
    "no activation noise": lambda p: _with(p, "activation", noise_s=0.0),
    "previous defaults": lambda p: _with(
        _with(p, "retrieval.contiguity", spread=0.0),
        "retrieval.blend",
        rrf=0.35,
        dense=0.0,
        bm25=0.0,
        rerank=0.25,
        activation=0.15,
        weight=0.15,
        recency=0.10,
    ),
}


def _line(label: str, s: dict[str, Any]) -> str:
    return (
        f"  {label:38s} n={s['n']:3d}  r@5 {s['recall@5']:.3f}  r@10 {s['recall@10']:.3f}"
        f"  r@20 {s['recall@20']:.3f}  hit@10 {s['hit@10']:.3f}"
    )


def run(name: str, embedder: Embedder, policy: Policy, ablations: bool, seed: int) -> None:
    """Print the harness numbers for one dataset."""
    dataset = load_dataset(DATA / name)
    doc = evaluate_retrieval(dataset, embedder, policy, baselines=True, seed=seed).to_json()
    latency = doc["latency_ms"]
    print(
        f"== {name}: {doc['samples']} samples, {doc['memories']} memories; ingest "
        f"{doc['ingest_s']:.2f} s; latency p50 {latency['p50']:.1f} ms, p95 {latency['p95']:.1f}"
        f" ms; skipped {doc['skipped']}"
    )
    print(_line("full", doc["overall"]))
    for mode, scores in doc["baselines"].items():
        print(_line(mode, scores))
    for category, scores in doc["by_category"].items():
        print(_line(f"full, category {category}", scores))
    if ablations:
        for label, change in ABLATIONS.items():
            changed = evaluate_retrieval(dataset, embedder, change(policy), seed=seed)
            print(_line(f"full, {label}", changed.to_json()["overall"]))


def main() -> None:
    """Run the benchmark on every bundled dataset."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ablations", action="store_true", help="one mechanism off at a time")
    parser.add_argument("--seed", type=int, default=0, help="activation-noise seed")
    args = parser.parse_args()
    policy = load_policy().policy
    embedder = build_embedder(load_settings(), policy)
    for name in DATASETS:
        run(name, embedder, policy, args.ablations, args.seed)


if __name__ == "__main__":
    main()
