"""Benchmark the memory vector index (UsearchVectorIndex) on clustered synthetic vectors.

Not a timed test: run it by hand and read the table.

    .venv/bin/python bench/bench_index.py                    # 10k and 100k
    .venv/bin/python bench/bench_index.py --sizes 1000000    # 1M (long: tens of minutes)

Vectors (bench/synthetic.py) are low-rank and clustered, like real sentence embeddings
(uniform random vectors make every ANN look perfect or hopeless, and say nothing about
recall).
Measured per size: multi-threaded rebuild from scratch, ANN search p50/p99 and
recall@10 against exact float32 search for each expansion_search, RSS, file size,
save and open (with sha256 verification) times, then incremental adds into the full
index (one vector per call on one thread; one batch on all threads).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.synthetic import clustered_vectors, exact_top_k, print_table, rss_mb
from engine.memory.vector_index import (
    IndexStatus,
    UsearchVectorIndex,
    file_sha256,
    meta_path_for,
)

MODEL = "bench-synthetic"


def timed_add(index: UsearchVectorIndex, keys: np.ndarray, data: np.ndarray,
              per_call: int, threads: int) -> tuple[float, float]:
    """Add in calls of ``per_call`` vectors; returns (vectors/s, p50 ms per call)."""
    latencies = []
    t0 = time.perf_counter()
    for start in range(0, len(keys), per_call):
        t1 = time.perf_counter()
        index.add(keys[start:start + per_call], data[start:start + per_call], threads=threads)
        latencies.append(time.perf_counter() - t1)
    return len(keys) / (time.perf_counter() - t0), float(np.percentile(latencies, 50)) * 1e3


def bench_size(n: int, args: argparse.Namespace, rows: list[list[str]]) -> None:
    rng = np.random.default_rng(args.seed)
    started = time.perf_counter()
    extra = args.add_sample
    everything = clustered_vectors(n + args.queries + 2 * extra, args.dim, rng)
    data, queries = everything[:n], everything[n:n + args.queries]
    more = everything[n + args.queries:]
    keys = np.arange(n, dtype=np.int64)
    print(f"[{n:,}] generated in {time.perf_counter() - started:.1f}s; exact search...",
          flush=True)
    truth = exact_top_k(data, queries, 10)
    params = dict(connectivity=args.connectivity, expansion_add=args.expansion_add)

    rss_before = rss_mb()
    index = UsearchVectorIndex(model=MODEL, dim=args.dim, rebuild_threads=args.threads, **params)
    last = [time.perf_counter()]

    def progress(done: int, total: int) -> None:
        if time.perf_counter() - last[0] > 15:
            last[0] = time.perf_counter()
            print(f"  rebuild {done:,}/{total:,}", flush=True)

    t0 = time.perf_counter()
    index.rebuild(keys, data, progress)
    rebuild_s = time.perf_counter() - t0
    rss_index = rss_mb() - rss_before
    print(f"[{n:,}] rebuild {rebuild_s:.1f}s ({n / rebuild_s:,.0f}/s)", flush=True)

    for ef in args.ef:
        index.expansion_search = ef
        latencies = np.empty(len(queries))
        hits = 0
        for i, query in enumerate(queries):
            t0 = time.perf_counter()
            found, _ = index.search(query, 10)
            latencies[i] = time.perf_counter() - t0
            hits += len(np.intersect1d(found, truth[i]))
        recall = hits / (10 * len(queries))
        rows.append([f"{n:,}", str(ef), f"{recall:.3f}",
                     f"{np.percentile(latencies, 50) * 1e3:.2f}",
                     f"{np.percentile(latencies, 99) * 1e3:.2f}"])
        print(f"[{n:,}] ef={ef}: recall@10 {recall:.3f}", flush=True)

    with tempfile.TemporaryDirectory(dir=args.tmp) as tmp:
        path = Path(tmp) / "bench.usearch"
        t0 = time.perf_counter()
        index.save(path)
        save_s = time.perf_counter() - t0
        size_mb = path.stat().st_size / 1e6
        t0 = time.perf_counter()
        file_sha256(path)
        sha_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        result = UsearchVectorIndex.open(path, expected_model=MODEL, expected_dim=args.dim,
                                         **params)
        open_s = time.perf_counter() - t0
        assert result.status is IndexStatus.OK, result.detail
        assert meta_path_for(path).is_file()
        del result

    # incremental adds into the full-size index: one vector per call on one thread (a turn's
    # commit), then one batch on all threads
    more_keys = np.arange(n, n + 2 * extra, dtype=np.int64)
    one_rate, one_ms = timed_add(index, more_keys[:extra], more[:extra], 1, threads=1)
    many_rate, _ = timed_add(index, more_keys[extra:], more[extra:], extra, args.threads)
    args.summary.append([
        f"{n:,}", f"{one_rate:,.0f}", f"{one_ms:.2f}", f"{many_rate:,.0f}",
        f"{n / rebuild_s:,.0f}", f"{rebuild_s:.1f}", f"{rss_index:,.0f}",
        f"{index.memory_usage / 1e6:,.0f}", f"{size_mb:,.1f}", f"{save_s:.2f}",
        f"{open_s:.2f}", f"{sha_s:.2f}",
    ])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000", help="comma-separated sizes")
    parser.add_argument("--dim", type=int, default=384)
    parser.add_argument("--queries", type=int, default=500)
    parser.add_argument("--ef", default="64,128,160,192,256", help="expansion_search values")
    parser.add_argument("--connectivity", type=int, default=16)
    parser.add_argument("--expansion-add", type=int, default=128)
    parser.add_argument("--threads", type=int, default=0, help="rebuild threads (0 = all)")
    parser.add_argument("--add-sample", type=int, default=2000,
                        help="vectors added to the full index to time incremental adds")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--tmp", default=None, help="directory for the saved index")
    args = parser.parse_args()
    args.ef = [int(x) for x in args.ef.split(",")]
    args.summary = []
    search_rows: list[list[str]] = []
    for size in (int(x) for x in args.sizes.split(",")):
        bench_size(size, args, search_rows)
    print(f"\ncores: {os.cpu_count()}, dim {args.dim}, f16, cos, M={args.connectivity}, "
          f"ef_add={args.expansion_add}, {args.queries} queries, clustered low-rank data\n")
    print_table(["n", "ef_search", "recall@10", "p50 ms", "p99 ms"], search_rows)
    print()
    print_table(["n", "add/s 1x1", "add ms 1x1", "add/s batch", "rebuild/s", "rebuild s",
                 "RSS +MB", "usearch MB", "file MB", "save s", "open s", "sha256 s"],
                args.summary)
    print("\nadd 1x1: one vector per call, 1 thread, into the full index; add batch: one call "
          "of --add-sample vectors, all threads; rebuild: from scratch, all threads; "
          "open includes the sha256 check.")


if __name__ == "__main__":
    main()
