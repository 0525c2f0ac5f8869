"""Benchmark the memory subsystem on synthetic memories (printed numbers, not a timed test).

    .venv/bin/python bench/bench_memory.py                          # 10k and 100k
    .venv/bin/python bench/bench_memory.py --sizes 10000,100000,1000000   # long: see --help
    .venv/bin/python bench/bench_memory.py --sizes 1000000 --no-vector-index  # no ANN

Per size, in a temp dir: clustered low-rank vectors and Zipf texts that agree on topic
(bench/synthetic.py) are written straight into DuckDB through MemoryRepository.insert /
insert_vectors (batches of --batch rows per store.write job), so nothing is embedded,
with the history a searched store has (co-access pairs, access times on 30% of rows);
then ``MemoryService.open`` runs on a store with no index file: the BM25 index and the
scoring cache are loaded from DuckDB and the vector index rebuilt from the stored f16
vectors (2 threads) and saved (the same path as a deleted index file). Then, with the
policy's [index] and [retrieval] settings:

- ANN: recall@10 of ``vectors.search`` against exact search over the stored (f16)
  vectors; latency at k=10 and at k=ann_top_k (what hybrid search asks for);
- hybrid, query embedding EXCLUDED: ``HybridSearcher.search(text, synthetic vector)``;
- hybrid, query embedding INCLUDED: ``MemoryService.search(text, mutate=False)`` with the
  real int8 MiniLM embedder (its vector is not in the synthetic space, so ranks are
  meaningless, but the work is the same; the embed time is the extra);
- a per-stage breakdown (instance-level timing wrappers around each call the pipeline
  makes: bench/memory_probes.py), the scoring cache's heap (tracemalloc) and whether it
  answers what DuckDB answers for each query's top hits (neighbours, co-access partners,
  scoring rows; --no-probes skips the comparison);
- reopen with the index file present (BM25 build + sha256 + load), then incremental adds:
  one vector per call into the full index, and ``MemoryService.add`` one memory per call.

Every memory and query vector is synthetic; the MiniLM embedder is loaded only for the
"embed incl." column and the ``MemoryService.add`` timing. Nothing uses HashingEmbedder.
"""

from __future__ import annotations

import argparse
import gc
import os
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import duckdb
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.memory_probes import (
    Probe,
    cache_matches_sql,
    keyword_index_mb,
    pct,
    scoring_cache_mb,
)
from bench.synthetic import (
    ZipfTexts,
    clustered_vectors_labeled,
    exact_top_k,
    peak_rss_mb,
    print_table,
    rss_mb,
)
from engine.clock import FrozenClock, to_naive_utc
from engine.config import load_policy
from engine.memory.embed_onnx import OnnxMiniLMEmbedder
from engine.memory.records import NewMemory
from engine.memory.service import MemoryService
from engine.policy import Policy
from engine.store import Store

KINDS = np.array(["fact", "episodic", "preference", "reflection", "discord_message", "message",
                  "assistant_message"])
KIND_P = [0.25, 0.15, 0.05, 0.05, 0.15, 0.25, 0.10]
CONVERSATION = frozenset({"discord_message", "message", "assistant_message"})


def log(n: int, text: str) -> None:
    load = os.getloadavg()[0]
    print(f"[{n:,}] {text}  (load {load:.1f}, RSS {rss_mb():,.0f} MB)", flush=True)


def insert_synthetic(store: Store, svc: MemoryService, vectors: np.ndarray, texts: list[str],
                     rng: np.random.Generator, batch: int) -> None:
    """Rows and f16 vectors straight into DuckDB, one store.write job per batch."""
    now = svc.clock.now()
    w = svc.policy.weights
    kinds = rng.choice(KINDS, len(texts), p=KIND_P)
    ages = rng.exponential(60 * 86400, len(texts))
    bots = rng.random(len(texts)) < 0.1
    # chat comes in conversations: 20 consecutive chat rows share a channel (one of 50)
    # and a start time, 90 s apart
    chat = np.isin(kinds, list(CONVERSATION))
    turn = np.cumsum(chat) - 1
    conversation = turn // 20
    starts = ages[np.searchsorted(turn, conversation * 20)]
    ages = np.where(chat, np.maximum(starts - (turn % 20) * 90.0, 1.0), ages)
    for start in range(0, len(texts), batch):
        stop = min(start + batch, len(texts))
        items = [NewMemory(kind=str(kinds[i]), content=texts[i], author_is_bot=bool(bots[i]),
                           event_ts=now - timedelta(seconds=float(ages[i])), source="bench",
                           channel_id=f"chan{conversation[i] % 50}" if chat[i] else None)
                 for i in range(start, stop)]
        block = vectors[start:stop]

        def job(cur: duckdb.DuckDBPyConnection, items: list[NewMemory] = items,
                block: np.ndarray = block) -> list[int]:
            ids = svc.repo.insert(cur, items, now, (w.prior_alpha, w.prior_beta),
                                  (w.immutable_alpha, w.immutable_beta))
            svc.repo.insert_vectors(cur, ids, svc.embedder.name, block, now)
            return ids

        store.write(job)


def seed_history(store: Store, labels: np.ndarray, rng: np.random.Generator, pairs: int) -> int:
    """What a store that has been searched looks like: co-access pairs (same cluster,
    counts 1, 2, 3... geometric) and access times on 30% of the memories."""
    n = len(labels)
    order = np.argsort(labels, kind="stable")  # ids grouped by cluster, random within
    pos = rng.integers(0, n, pairs)
    other = np.clip(pos + rng.integers(1, 50, pairs), 0, n - 1)
    same = labels[order[pos]] == labels[order[other]]
    a, b = order[pos][same] + 1, order[other][same] + 1
    lo, hi = np.minimum(a, b), np.maximum(a, b)
    keep = np.unique(lo * (n + 1) + hi)
    lo, hi = keep // (n + 1), keep % (n + 1)
    counts = rng.geometric(0.5, len(lo))
    now = store.clock.now()

    def job(cur: duckdb.DuckDBPyConnection) -> None:
        cur.execute("INSERT INTO co_access SELECT unnest($1), unnest($2), unnest($3), $4",
                    [lo.tolist(), hi.tolist(), counts.tolist(), to_naive_utc(now)])
        cur.execute("INSERT INTO memory_accesses SELECT id, unnest(list_transform("
                    "range(id % 5 + 1), "
                    "lambda x: $1 - ((id * 7919 + x * 104729) % 2592000)::DOUBLE)) "
                    "FROM memories WHERE id % 10 < 3", [now.timestamp()])

    store.write(job)
    return len(lo)


def open_timed(svc: MemoryService) -> dict[str, float]:
    """``svc.open()`` with the time and RSS at each phase boundary."""
    marks: dict[str, float] = {}
    t0 = time.perf_counter()

    names = {"keyword index": "keyword_s", "scoring cache": "cache_s", "vector index": "vectors_s"}

    def progress(stage: str, done: int, total: int) -> None:
        marks[names.get(stage, stage)] = time.perf_counter() - t0  # when the stage ended

    report = svc.open(progress)
    marks["total_s"] = time.perf_counter() - t0
    print(f"    open: {report}", flush=True)
    return marks


def bench_size(n: int, args: argparse.Namespace, embedder: OnnxMiniLMEmbedder, policy: Policy,
               out: dict[str, list[list[str]]]) -> None:
    rng = np.random.default_rng(args.seed)
    q = args.queries
    t0 = time.perf_counter()
    everything, labels, subs = clustered_vectors_labeled(n + q, 384, rng)
    texts = ZipfTexts(int(labels.max()) + 1, rng).texts(labels, subs, rng)
    data16 = everything.astype(np.float16).astype(np.float32)  # what the index will hold
    data16 /= np.linalg.norm(data16, axis=1, keepdims=True)
    q_vecs, q_texts = everything[n:].copy(), texts[n:]
    truth = exact_top_k(data16[:n], q_vecs, 10) + 1  # memory ids start at 1
    del data16
    log(n, f"generated {n:,} memories + {q} queries in {time.perf_counter() - t0:.1f}s")

    with tempfile.TemporaryDirectory(dir=args.tmp, prefix="bench-memory-") as tmp:
        clock = FrozenClock()
        store = Store(Path(tmp) / "db.duckdb", clock=clock)
        index_dir = Path(tmp) / "index"
        svc = MemoryService(store, embedder, policy, clock, index_dir)
        t0 = time.perf_counter()
        insert_synthetic(store, svc, everything[:n], texts[:n], rng, args.batch)
        insert_s = time.perf_counter() - t0
        pairs = seed_history(store, labels[:n], rng, int(args.co_access * n))
        del everything, texts
        gc.collect()
        store.reader().execute("CHECKPOINT").fetchall()
        db_mb = sum(p.stat().st_size for p in Path(tmp).glob("db.duckdb*")) / 1e6
        log(n, f"inserted in {insert_s:.1f}s ({n / insert_s:,.0f} rows/s), DB {db_mb:,.0f} MB, "
               f"{pairs:,} co-access pairs")

        rss_before_open = rss_mb()
        marks = open_timed(svc)
        cache_s = marks["cache_s"] - marks["keyword_s"]
        rebuild_s = marks["vectors_s"] - marks["cache_s"]
        log(n, f"open (rebuild) {marks['total_s']:.1f}s: BM25 {marks['keyword_s']:.1f}s, "
               f"scoring cache {cache_s:.2f}s, vectors {rebuild_s:.1f}s "
               f"({n / rebuild_s:,.0f}/s, {svc._threads} threads), "
               f"save {marks['total_s'] - marks['vectors_s']:.1f}s")
        rss_open = rss_mb() - rss_before_open
        index_mb = svc.index_path.stat().st_size / 1e6

        # ANN
        ann10, ann50, hits = [], [], 0
        k_ann = policy.retrieval.ann_top_k
        for i, vec in enumerate(q_vecs):
            t1 = time.perf_counter()
            keys, _ = svc.vectors.search(vec, 10)
            ann10.append((time.perf_counter() - t1) * 1e3)
            hits += len(np.intersect1d(keys, truth[i]))
            t1 = time.perf_counter()
            svc.vectors.search(vec, k_ann)
            ann50.append((time.perf_counter() - t1) * 1e3)
        recall = hits / (10 * q)
        log(n, f"ANN recall@10 {recall:.3f} at ef {svc.vectors.expansion_search}")

        # hybrid, embedding excluded / included
        k = policy.retrieval.default_k
        for text, vec in zip(q_texts[:20], q_vecs[:20], strict=True):  # warm-up
            svc.searcher.search(text, vec, k, rng=svc.rng)
            svc.search(text, k, mutate=False)
        excl: list[float] = []
        excl_cpu: list[float] = []
        stages: dict[str, list[float]] = {"bm25": [], "ann": [], "blend": []}
        for text, vec in zip(q_texts, q_vecs, strict=True):
            t1, c1 = time.perf_counter(), time.process_time()
            result = svc.searcher.search(text, vec, k, rng=svc.rng)
            excl.append((time.perf_counter() - t1) * 1e3)
            excl_cpu.append((time.process_time() - c1) * 1e3)
            for name in stages:
                stages[name].append(result.timings_ms[name])
        incl, embed = [], []
        for text in q_texts:
            t1 = time.perf_counter()
            result = svc.search(text, k, mutate=False)
            incl.append((time.perf_counter() - t1) * 1e3)
            embed.append(result.timings_ms["embed"])
        tokens = np.median([embedder.count_tokens(t) for t in q_texts])
        log(n, f"hybrid excl p50 {pct(excl, 50):.1f} ms, incl p50 {pct(incl, 50):.1f} ms "
               f"(queries: median {tokens:.0f} MiniLM tokens)")

        probe = Probe(svc.searcher)
        probe_rows = probe.run(q_texts, q_vecs, k, svc.rng)
        out["stages"] += [[f"{n:,}", name, f"{p50:.2f}", f"{p95:.2f}", note]
                          for name, p50, p95, note in probe_rows]
        if args.probes:  # each query's top hits as seeds, as search uses them
            seeds = [[h.id for h in svc.searcher.search(t, v, k).hits]
                     for t, v in zip(q_texts, q_vecs, strict=True)]
            out["protos"] += [[f"{n:,}", *row] for row in cache_matches_sql(svc, seeds)]
        rss_search = rss_mb()
        usearch_mb = svc.vectors.memory_usage / 1e6
        bm25_mb = keyword_index_mb(svc)
        cache_mb = scoring_cache_mb(svc)
        del svc, probe
        gc.collect()

        # reopen with the index file present, then incremental adds
        svc2 = MemoryService(store, embedder, policy, clock, index_dir)
        reopen = open_timed(svc2)
        add_keys = np.arange(10**9, 10**9 + args.adds, dtype=np.int64)
        add_vecs = q_vecs[np.arange(args.adds) % q] + 1e-3  # a fresh vector per key
        t1 = time.perf_counter()
        for key, vec in zip(add_keys, add_vecs, strict=True):
            svc2.vectors.add([key], vec)
        add_rate = args.adds / (time.perf_counter() - t1)
        svc2.vectors.remove(add_keys)
        add_ms = []
        for text in q_texts[:args.service_adds]:
            t1 = time.perf_counter()
            svc2.add([NewMemory(kind="fact", content=text)])
            add_ms.append((time.perf_counter() - t1) * 1e3)
        store.close()
        del svc2

    out["main"].append([
        f"{n:,}", f"{n / insert_s:,.0f}", f"{marks['keyword_s']:.1f}", f"{cache_s:.2f}",
        f"{rebuild_s:.1f}",
        f"{n / rebuild_s:,.0f}", f"{marks['total_s']:.1f}", f"{reopen['total_s']:.1f}",
        f"{add_rate:,.0f}", f"{pct(add_ms, 50):.1f}", f"{recall:.3f}",
        f"{pct(ann10, 50):.2f}", f"{pct(ann10, 99):.2f}", f"{pct(ann50, 50):.2f}",
        f"{pct(ann50, 99):.2f}",
    ])
    out["search"].append([
        f"{n:,}", f"{pct(excl, 50):.1f}", f"{pct(excl, 95):.1f}", f"{pct(excl, 99):.1f}",
        f"{pct(excl_cpu, 50):.1f}",
        f"{pct(incl, 50):.1f}", f"{pct(incl, 95):.1f}", f"{pct(incl, 99):.1f}",
        f"{pct(embed, 50):.1f}",
        *(f"{pct(stages[s], 50):.2f}" for s in ("bm25", "ann", "blend")),
    ])
    out["memory"].append([
        f"{n:,}", f"{db_mb:,.0f}", f"{index_mb:,.1f}", f"{usearch_mb:,.0f}",
        f"{bm25_mb:,.0f}", f"{cache_mb:,.1f}", f"{rss_open:,.0f}", f"{rss_search:,.0f}",
        f"{peak_rss_mb():,.0f}",
    ])


def without_vectors(n: int, args: argparse.Namespace, embedder: OnnxMiniLMEmbedder,
                    policy: Policy, out: dict[str, list[list[str]]]) -> None:
    """The per-search work that needs no vector index (BM25, the scoring cache, the hits'
    text from DuckDB; the SQL the cache replaced, for reference) on a store of n memories,
    for sizes where a vector rebuild takes too long. Candidates are random ids; BM25
    queries are drawn like the memories."""
    from engine.memory.contiguity import conversation_neighbours
    from engine.memory.scoring_load import load_scoring_cache

    rng = np.random.default_rng(args.seed)
    t0 = time.perf_counter()
    everything, labels, subs = clustered_vectors_labeled(n + args.queries, 384, rng)
    texts = ZipfTexts(int(labels.max()) + 1, rng).texts(labels, subs, rng)
    q_texts, texts, everything, labels = texts[n:], texts[:n], everything[:n], labels[:n]
    log(n, f"generated in {time.perf_counter() - t0:.1f}s")
    with tempfile.TemporaryDirectory(dir=args.tmp, prefix="bench-memory-") as tmp:
        clock = FrozenClock()
        store = Store(Path(tmp) / "db.duckdb", clock=clock)
        svc = MemoryService(store, embedder, policy, clock, Path(tmp) / "index")
        t0 = time.perf_counter()
        insert_synthetic(store, svc, everything, texts, rng, args.batch)
        insert_s = time.perf_counter() - t0
        seed_history(store, labels, rng, int(args.co_access * n))
        del everything, texts
        store.reader().execute("CHECKPOINT").fetchall()
        log(n, f"inserted in {insert_s:.1f}s ({n / insert_s:,.0f} rows/s)")
        t0 = time.perf_counter()
        for batch in svc.repo.iter_texts():
            svc.keyword.add_many(batch)
        log(n, f"BM25 index built in {time.perf_counter() - t0:.1f}s")
        t0 = time.perf_counter()
        load_scoring_cache(svc.scoring, store.reader())
        log(n, f"scoring cache loaded in {time.perf_counter() - t0:.1f}s, "
               f"{scoring_cache_mb(svc):,.1f} MB (tracemalloc)")
        bm25 = iter(q_texts * 2)
        cur = store.reader()
        chat = [r[0] for r in cur.execute(
            "SELECT id FROM memories WHERE kind = ANY($1) USING SAMPLE 5000 ROWS",
            [sorted(CONVERSATION)]).fetchall()]
        ct, ca = policy.retrieval.contiguity, policy.co_access
        gap = ct.gap_minutes * 60

        def ids(count: int) -> list[int]:
            return [int(i) for i in rng.integers(1, n + 1, count)]

        queries: list[tuple[str, Callable[[], object]]] = [
            ("BM25 keyword.search", lambda: svc.keyword.search(next(bm25),
                                                               policy.retrieval.bm25_top_k)),
            ("cache.rows 100 ids", lambda: svc.scoring.rows(ids(100))),
            ("cache.live_kinds + repo.contents 20 ids (hits)",
             lambda: svc.repo.contents(list(svc.scoring.live_kinds(ids(20))))),
            ("cache.partners 10 seeds", lambda: svc.scoring.partners(ids(10), ca.partners_top_k,
                                                                     ca.min_count)),
            ("cache.neighbours 5 chat seeds",
             lambda: svc.scoring.neighbours([int(i) for i in rng.choice(chat, 5)], ct.span, gap)),
            ("(SQL, replaced) get_many 100 ids", lambda: svc.repo.get_many(ids(100))),
            ("(SQL, replaced) co_access_partners 10 seeds",
             lambda: svc.repo.co_access_partners(ids(10), ca.partners_top_k, ca.min_count)),
            ("(SQL, replaced) conversation_neighbours 5 chat seeds",
             lambda: conversation_neighbours(cur, [int(i) for i in rng.choice(chat, 5)],
                                             span=ct.span, gap_seconds=gap, kinds=ct.kinds)),
        ]
        for label, query in queries:
            for _ in range(10):
                query()
            latencies = []
            for _ in range(args.queries):
                t1 = time.perf_counter()
                query()
                latencies.append((time.perf_counter() - t1) * 1e3)
            out["sql"].append([f"{n:,}", label, f"{pct(latencies, 50):.2f}",
                               f"{pct(latencies, 95):.2f}"])
        store.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000", help="comma-separated sizes")
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--batch", type=int, default=10_000, help="rows per write job")
    parser.add_argument("--adds", type=int, default=1000, help="1-vector index adds timed")
    parser.add_argument("--service-adds", type=int, default=100,
                        help="MemoryService.add calls (one memory, MiniLM) timed")
    parser.add_argument("--no-probes", dest="probes", action="store_false",
                        help="skip comparing the scoring cache's answers with DuckDB's")
    parser.add_argument("--co-access", type=float, default=1.0,
                        help="co-access pairs seeded per memory (before dedup)")
    parser.add_argument("--no-vector-index", action="store_true",
                        help="only time the per-search DuckDB queries and BM25 (no vector "
                             "index: for sizes where a rebuild takes too long)")
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--tmp", default=None, help="directory for the database and index")
    args = parser.parse_args()
    policy = load_policy().policy
    embedder = OnnxMiniLMEmbedder(intra_op_threads=1)
    out: dict[str, list[list[str]]] = {"main": [], "search": [], "memory": [], "stages": [],
                                       "protos": [], "sql": []}
    for size in (int(x) for x in args.sizes.split(",")):
        run = without_vectors if args.no_vector_index else bench_size
        run(size, args, embedder, policy, out)
    if args.no_vector_index:
        print(f"\ncores {os.cpu_count()}, load now {os.getloadavg()[0]:.1f}\n")
        print_table(["n", "per-search work", "p50 ms", "p95 ms"], out["sql"])
        return
    ix, r = policy.index, policy.retrieval
    print(f"\ncores {os.cpu_count()}, load now {os.getloadavg()[0]:.1f}; 384-d f16 cos, "
          f"M={ix.connectivity}, ef_add={ix.expansion_add}, ef_search={ix.expansion_search}; "
          f"bm25_top_k={r.bm25_top_k}, ann_top_k={r.ann_top_k}, k={r.default_k}; "
          f"{args.queries} queries\n")
    print_table(["n", "insert rows/s", "BM25 build s", "cache build s", "vec rebuild s",
                 "rebuild/s",
                 "open s (rebuild)", "reopen s (load)", "add/s 1x1", "svc.add ms",
                 "recall@10", "ANN p50 k10", "p99 k10", f"p50 k{r.ann_top_k}",
                 f"p99 k{r.ann_top_k}"], out["main"])
    print()
    print_table(["n", "hybrid excl p50", "p95", "p99", "CPU p50", "incl embed p50", "p95", "p99",
                 "embed p50", "bm25 p50", "ann p50", "blend p50"], out["search"])
    print()
    print_table(["n", "DuckDB MB", "index file MB", "usearch MB", "BM25 heap MB",
                 "scoring cache MB",
                 "open RSS +MB", "RSS MB", "peak RSS MB"], out["memory"])
    print()
    print_table(["n", "stage", "p50 ms", "p95 ms", "note"], out["stages"])
    if out["protos"]:
        print()
        print_table(["n", "cache vs DuckDB (seeds: each query's hits)", "equal",
                     "cache p50 ms", "SQL p50 ms"], out["protos"])
    print("\nTimes in ms unless marked s. 'excl': HybridSearcher.search with the synthetic "
          "query vector; 'incl': MemoryService.search (MiniLM int8, 1 thread) with "
          "mutate=False. add/s 1x1: one vector per UsearchVectorIndex.add call (1 thread) "
          "into the full index; svc.add: MemoryService.add of one memory (embed + write + "
          "index). open RSS: growth during open (BM25, scoring cache, vector index, DuckDB "
          "reads). Heaps (BM25, scoring cache) by tracemalloc, numpy buffers included.")


if __name__ == "__main__":
    main()
