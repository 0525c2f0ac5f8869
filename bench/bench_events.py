"""Event log throughput and latency (printed numbers, not a pass/fail test).

Measures, on a file-backed store in a temp dir:
- single appends: one event per committed transaction, throughput and p50/p99 latency
  (latency = call to return, i.e. until the commit is done);
- batched appends: ``append_many`` of BATCH events per transaction, events/s.

Targets (issue 2): >= 20,000 events/s batched; p99 of one committed append < 5 ms.
Usage: python bench/bench_events.py [--single N] [--batches N] [--batch-size N]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from engine.models import EventType, NewEvent
from engine.store import EventLog, Store


def _event(i: int) -> NewEvent:
    return NewEvent(
        type=EventType.DISCORD_MESSAGE_CREATED,
        source="bench",
        ts=datetime.now(UTC),
        channel_id="450688080542695436",
        author_id=f"user{i % 50}",
        payload={"content": f"benchmark message number {i} with a little text", "i": i},
    )


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--single", type=int, default=3000)
    parser.add_argument("--batches", type=int, default=50)
    parser.add_argument("--batch-size", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        store = Store(Path(tmp) / "bench.duckdb")
        log = EventLog(store)
        for i in range(200):  # warm up
            log.append(_event(i))

        single_rates, p50s, p99s, batch_rates = [], [], [], []
        for _ in range(args.rounds):
            latencies = []
            events = [_event(i) for i in range(args.single)]
            start = time.perf_counter()
            for event in events:
                t0 = time.perf_counter()
                log.append(event)
                latencies.append((time.perf_counter() - t0) * 1000)
            single_rates.append(args.single / (time.perf_counter() - start))
            p50s.append(percentile(latencies, 0.50))
            p99s.append(percentile(latencies, 0.99))

            batches = [
                [_event(b * args.batch_size + i) for i in range(args.batch_size)]
                for b in range(args.batches)
            ]
            start = time.perf_counter()
            for batch in batches:
                log.append_many(batch)
            batch_rates.append(args.batches * args.batch_size / (time.perf_counter() - start))
        total = log.count()
        store.close()

    print(f"events stored: {total:,}  rounds: {args.rounds} (medians of rounds shown)")
    print(f"single append (1 event / commit): {statistics.median(single_rates):>10,.0f} events/s")
    print(f"  committed append latency p50:  {statistics.median(p50s):>10.3f} ms")
    print(f"  committed append latency p99:  {statistics.median(p99s):>10.3f} ms  (target < 5)")
    print(
        f"batched append ({args.batch_size} / commit):  "
        f"{statistics.median(batch_rates):>10,.0f} events/s  (target >= 20,000)"
    )


if __name__ == "__main__":
    main()
