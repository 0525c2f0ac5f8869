"""Dedupe throughput, false merges on meaningful numbers, and recall on templated spam.

Printed numbers, not a pass/fail test. Measures, on one core (one Python thread):

- normalize + exact hash + simhash64 + family matching over a mixed stream (templated
  bot spam, unique bot messages with prices, human chatter; humans are fingerprinted
  but not matched, as in the aggregator), messages/s, median of ``--rounds`` (the
  simhash token cache is cleared before each round, so every round starts cold);
  normalize + hashes alone are shown too;
- false merges on ``--pairs`` labelled pairs of near-identical bot messages that differ
  in one meaningful number (amount, version, score, percent, count, price, level...),
  each pair 5 s apart in one channel; and how many of those pairs simhash alone
  (Hamming <= threshold) would have merged, i.e. what the number signature prevents;
- recall on templated spam: the share of messages after the first of each stream that
  collapse into a family (``exact``: differing only in volatile parts; ``near``: a long
  text with one ordinary word changed);
- the full aggregator on DuckDB (fingerprints, families, aggregate memories embedded
  with the hashing embedder) over a synthetic export, events/s, median of rounds.

Targets (issue 7): >= 10,000 messages/s on one core; 0 false merges in 1,000 pairs.
The labelled data comes from ``tests/engine/janitor/labelled_pairs.py`` (seeded).
Usage: python bench/bench_dedupe.py [--messages N] [--rounds N] [--pairs N] [--seed N]
       [--db-per-family N]
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import engine  # noqa: F401  (preloads native libraries before anything else)
import engine.memory.normalize as normalize_module
from engine.clock import FrozenClock
from engine.config import load_policy
from engine.ingest import ingest_export, load_export
from engine.janitor import Aggregator
from engine.janitor.dedupe import FamilyMatcher
from engine.memory.embed import HashingEmbedder
from engine.memory.normalize import Normalizer, hamming
from engine.memory.service import MemoryService
from engine.policy import Policy
from engine.store import Store
from tests.engine.janitor.labelled_pairs import START, number_pairs, spam_streams
from tests.engine.janitor.synthetic_export import make_export

Stream = list[tuple[bool, str, float, str]]
_CHATTER_TEXT = (
    "anyone tried the new build yet I think the parser fix landed but the deploy still "
    "looks slow on my side maybe we check the logs after lunch tomorrow works for me"
)
_CHATTER = _CHATTER_TEXT.split()


def mixed_stream(n: int, seed: int) -> Stream:
    """About 70% templated spam, 10% unique price messages, 20% human chatter."""
    rng = random.Random(seed)
    spam = spam_streams(per_family=max(2, int(n * 0.7) // 7), seed=seed)
    out: Stream = [(True, "spam", ts, text) for _, _, ts, text in spam]
    end = max(ts for _, _, ts, _ in out)
    base = START.timestamp()
    for cents in rng.sample(range(1_000_000, 90_000_000), int(n * 0.1)):
        out.append((True, "prices", rng.uniform(base, end), f"BTC/USD {cents / 100:,.2f}"))
    for _ in range(n - len(out)):
        words = " ".join(rng.choice(_CHATTER) for _ in range(rng.randint(3, 20)))
        out.append((False, "chat", rng.uniform(base, end), words))
    out.sort(key=lambda item: item[2])
    return out


def _matcher(policy: Policy) -> FamilyMatcher:
    ids = iter(range(1, 10**9))
    return FamilyMatcher(policy.dedupe, lambda: next(ids))


def throughput(policy: Policy, stream: Stream, *, match: bool) -> tuple[float, float]:
    """(messages per CPU second of this thread, messages per wall-clock second)."""
    normalize_module._spread_cache.clear()
    normalizer = Normalizer(policy.normalize)
    matcher = _matcher(policy)
    cpu, wall = time.thread_time(), time.perf_counter()
    for event_id, (bot, channel, ts, text) in enumerate(stream, start=1):
        fp = normalizer.fingerprint(text)
        if match and bot and fp.normalized:
            matcher.observe(event_id, channel, ts, fp)
    return len(stream) / (time.thread_time() - cpu), len(stream) / (time.perf_counter() - wall)


def false_merges(policy: Policy, n: int, seed: int) -> tuple[int, int, Counter[str]]:
    normalizer = Normalizer(policy.normalize)
    merged, close = 0, Counter[str]()
    for pair in number_pairs(n, seed=seed):
        a, b = normalizer.fingerprint(pair.first), normalizer.fingerprint(pair.second)
        matcher = _matcher(policy)
        matcher.observe(1, "c", 0.0, a)
        merged += matcher.observe(2, "c", 5.0, b).family_id is not None
        if hamming(a.simhash, b.simhash) <= policy.dedupe.simhash_hamming_threshold:
            close[pair.category] += 1
    return merged, sum(close.values()), close


def recall(policy: Policy, seed: int) -> dict[str, tuple[int, int]]:
    normalizer = Normalizer(policy.normalize)
    matcher = _matcher(policy)
    started: set[int] = set()
    hits: dict[str, list[int]] = {}
    for event_id, (family, kind, ts, text) in enumerate(spam_streams(200, seed=seed), start=1):
        match = matcher.observe(event_id, "c", ts, normalizer.fingerprint(text))
        if family in started:
            counts = hits.setdefault(kind, [0, 0])
            counts[0] += match.family_id is not None
            counts[1] += 1
        started.add(family)
    return {kind: (c[0], c[1]) for kind, c in hits.items()}


def aggregator_rate(policy: Policy, per_family: int, seed: int) -> tuple[float, float, int]:
    """(events per wall-clock second, per process CPU second (all threads), events)."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "export.json"
        expected = make_export(path, seed=seed, per_family=per_family, humans=per_family // 2)
        clock = FrozenClock()
        with Store(Path(tmp) / "db.duckdb", clock=clock) as store:
            ingest_export(store, load_export(path))
            memory = MemoryService(store, HashingEmbedder(), policy, clock, Path(tmp) / "ix")
            memory.open()
            cpu, wall = time.process_time(), time.perf_counter()
            report = Aggregator(store, memory, policy, clock).process_pending()
            wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
            assert report.duplicates_collapsed == expected["duplicates_collapsed"]
            return report.events_seen / wall, report.events_seen / cpu, report.events_seen


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--messages", type=int, default=50_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--pairs", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--db-per-family", type=int, default=2500)
    args = parser.parse_args()
    policy = load_policy().policy
    load = os.getloadavg()[0]

    stream = mixed_stream(args.messages, args.seed)
    bots = sum(1 for bot, *_ in stream if bot)
    full = [throughput(policy, stream, match=True) for _ in range(args.rounds)]
    hashes = [throughput(policy, stream, match=False) for _ in range(args.rounds)]
    merged, close, by_category = false_merges(policy, args.pairs, args.seed)
    caught = recall(policy, args.seed)
    db = [aggregator_rate(policy, args.db_per_family, args.seed) for _ in range(args.rounds)]

    print(f"stream: {len(stream):,} messages ({bots:,} from bots), rounds: {args.rounds} (medians)")
    print(f"load average (1 min) before the runs: {load:.2f} on {os.cpu_count()} cores")
    for name, rates in (
        ("normalize+hash+simhash+dedupe", full),
        ("normalize+hash+simhash only", hashes),
    ):
        per_cpu = [r for r, _ in rates]
        print(
            f"{name + ':':<31}{statistics.median(per_cpu):>9,.0f} msgs per CPU-second "
            f"({statistics.median(w for _, w in rates):,.0f}/s wall clock; rounds "
            f"{', '.join(f'{r:,.0f}' for r in per_cpu)}; target >= 10,000 on one core)"
        )
    categories = ", ".join(f"{k} {v}" for k, v in by_category.most_common())
    print(
        f"false merges: {merged} / {args.pairs} number-differing pairs (target 0); "
        f"simhash alone would merge {close} ({categories})"
    )
    for kind, (hit, total) in sorted(caught.items()):
        print(f"recall on templated spam ({kind}): {hit}/{total} = {hit / total:.1%}")
    print(
        f"aggregator end to end (DuckDB, hashing embedder) over {db[0][2]:,} events: "
        f"{statistics.median(r for r, _, _ in db):,.0f} events/s wall clock, "
        f"{statistics.median(c for _, c, _ in db):,.0f} per process CPU-second"
    )


if __name__ == "__main__":
    main()
