"""Benchmark the memory subsystem on synthetic memories (printed numbers, not a timed test).

    .venv/bin/python bench/bench_memory.py                          # 10k and 100k
    .venv/bin/python bench/bench_memory.py --sizes 10000,100000,1000000   # long: see --help
    .venv/bin/python bench/bench_memory.py --sizes 1000000 --no-vector-index  # SQL + BM25

Per size, in a temp dir: clustered low-rank vectors and Zipf texts that agree on topic
(bench/synthetic.py) are written straight into DuckDB through MemoryRepository.insert /
insert_vectors (batches of --batch rows per store.write job), so nothing is embedded,
with the history a searched store has (co-access pairs, access times on 30% of rows);
then ``MemoryService.open`` runs on a store with no index file: the BM25 index is built
from DuckDB and the vector index rebuilt from the stored f16 vectors and saved (the same
path as a deleted index file). Then, with the policy's [index] and [retrieval] settings:

- ANN: recall@10 of ``vectors.search`` against exact search over the stored (f16)
  vectors; latency at k=10 and at k=ann_top_k (what hybrid search asks for);
- hybrid, query embedding EXCLUDED: ``HybridSearcher.search(text, synthetic vector)``;
- hybrid, query embedding INCLUDED: ``MemoryService.search(text, mutate=False)`` with the
  real int8 MiniLM embedder (its vector is not in the synthetic space, so ranks are
  meaningless, but the work is the same; the embed time is the extra);
- a per-stage breakdown (instance-level timing wrappers around each call the pipeline
  makes), and prototypes of changes to the slow stages (--no-probes to skip);
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
from collections import defaultdict
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import duckdb
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

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


def pct(values: list[float], q: float) -> float:
    return float(np.percentile(values, q))


def log(n: int, text: str) -> None:
    load = os.getloadavg()[0]
    print(f"[{n:,}] {text}  (load {load:.1f}, RSS {rss_mb():,.0f} MB)", flush=True)


class Probe:
    """Per-stage times of ``HybridSearcher.search``: timing wrappers set on the instances
    and module globals it calls for the duration of ``run``, then removed. Wraps only what
    exists, so it follows the pipeline as it changes."""

    def __init__(self, searcher: Any) -> None:
        self.searcher = searcher
        self.ms: dict[str, float] = defaultdict(float)
        self.calls: dict[str, int] = defaultdict(int)
        self.undo: list[Callable[[], None]] = []
        self.top: list[str] = []
        self.nested: list[str] = []

    def _wrap(self, owner: Any, attr: str, label: str, *, instance: bool = True,
              nested: bool = False) -> None:
        if not hasattr(owner, attr):
            return
        fn = getattr(owner, attr)
        numbered = label == "get_many"

        def timed(*a: Any, **kw: Any) -> Any:
            self.calls[label] += 1
            name = f"{label} #{self.calls[label]}" if numbered else label
            t0 = time.perf_counter()
            try:
                return fn(*a, **kw)
            finally:
                self.ms[name] += (time.perf_counter() - t0) * 1e3

        setattr(owner, attr, timed)
        self.undo.append((lambda: delattr(owner, attr)) if instance
                         else (lambda: setattr(owner, attr, fn)))
        names = ["get_many #1 (blend)", "get_many #2 (hits)"] if numbered else [label]
        (self.nested if nested else self.top).extend(names)

    def run(self, texts: list[str], vectors: np.ndarray, k: int,
            rng: np.random.Generator) -> list[tuple[str, float, float, str]]:
        import engine.memory.repository as repository_module
        import engine.memory.search as search_module

        s = self.searcher
        self._wrap(s.keyword, "search", "keyword.search")
        self._wrap(s.vectors, "search", "vectors.search")
        self._wrap(s.repo, "get_many", "get_many")
        self._wrap(s.vectors, "search_exact", "search_exact (sims/spreading)")
        self._wrap(s, "_rerank", "_rerank")
        for attr in ("score_memory", "_score"):  # module function now, method before
            owner = search_module if attr == "score_memory" else s
            self._wrap(owner, attr, "score x candidates", instance=owner is s)
        self._wrap(s, "_spread", "_spread (contiguity + co-access)")
        self._wrap(s, "_co_access", "_co_access")
        self._wrap(search_module, "conversation_neighbours", "  contiguity SQL",
                   instance=False, nested=True)
        self._wrap(s.repo, "co_access_partners", "  co_access_partners SQL", nested=True)
        self._wrap(repository_module, "_memory", "  Memory() rows, both get_many",
                   instance=False, nested=True)
        for module_name in ("engine.memory.blend", "engine.memory.search"):
            module = sys.modules.get(module_name)
            if module is not None and hasattr(module, "activation"):
                self._wrap(module, "activation", "  activation() in scoring", instance=False,
                           nested=True)
                break
        rows: dict[str, list[float]] = defaultdict(list)
        candidates = []
        try:
            for text, vec in zip(texts, vectors, strict=True):
                self.ms.clear()
                self.calls.clear()
                t0 = time.perf_counter()
                result = s.search(text, vec, k, rng=rng)
                total = (time.perf_counter() - t0) * 1e3
                candidates.append(self.calls["score x candidates"])
                ms = dict(self.ms)
                ms["get_many #1 (blend)"] = ms.pop("get_many #1", 0.0)
                ms["get_many #2 (hits)"] = ms.pop("get_many #2", 0.0)
                ms["other (RRF, sort, hits, overhead)"] = total - sum(
                    ms.get(t, 0.0) for t in self.top)
                ms["timings_ms blend"] = result.timings_ms["blend"]
                ms["total (wrapped)"] = total
                for name, value in ms.items():
                    rows[name].append(value)
        finally:
            for undo in reversed(self.undo):
                undo()
        note = f"{np.median(candidates):.0f} candidates (median)"
        order = [*self.top, *self.nested, "other (RRF, sort, hits, overhead)",
                 "timings_ms blend", "total (wrapped)"]
        return [(name, pct(rows[name], 50), pct(rows[name], 95),
                 note if name == "score x candidates" else "")
                for name in order if name in rows]


NARROW = ("id, kind, content, author_is_bot, deleted, immutable, event_ts, created_at, "
          "access_timestamps, depth_weight_alpha, depth_weight_beta")


class Prototype:
    """Changes to the retrieval path, applied by instance-level patches (engine files untouched).

    - ``reuse``: fetch each memory once per search: the final ``get_many`` (the hits) takes
      rows from the blend's ``get_many`` and asks DuckDB only for the rest (co-access
      partners);
    - ``narrow``: the blend fetches only the 11 columns search reads, and builds rows without
      pydantic validation (``Memory.model_construct``);
    - ``co_access``: partners by ``a = ANY OR b = ANY`` on co_access alone, ranked in
      Python, liveness from rows already fetched (no UNION ALL + window + memories join);
    - ``explain``: ``ActivationParts.as_dict`` without ``dataclasses.asdict`` (deepcopy);
    - ``ram``: the blend's scoring rows, co-access adjacency and conversation timelines
      held in memory (loaded here once; a real one would be numpy columns kept in sync
      like the BM25 index); the hits' text still comes from DuckDB (one narrow query).
    """

    def __init__(self, svc: MemoryService) -> None:
        self.svc = svc
        self.repo = svc.repo
        self.get_many = svc.repo.get_many
        self.memo: dict[int, Any] = {}
        self.fetches = 0
        self.ram: dict[int, Any] = {}
        self.adjacency: dict[int, list[tuple[int, int]]] = {}
        self.timelines: dict[str, list[tuple[float, int]]] = {}
        self.position: dict[int, tuple[str, int]] = {}
        self.undo: list[Callable[[], None]] = []

    def narrow_rows(self, ids: list[int]) -> dict[int, Any]:
        from engine.clock import from_naive_utc
        from engine.memory.records import Memory

        rows = self.svc.store.reader().execute(
            f"SELECT {NARROW} FROM memories WHERE id = ANY($1)", [list(ids)]).fetchall()
        return {r[0]: Memory.model_construct(
            id=r[0], kind=r[1], content=r[2], author_is_bot=r[3], deleted=r[4], immutable=r[5],
            event_ts=from_naive_utc(r[6]) if r[6] is not None else None,
            created_at=from_naive_utc(r[7]), access_timestamps=list(r[8] or []), alpha=r[9],
            beta=r[10]) for r in rows}

    def load_ram(self) -> None:
        cur = self.svc.store.reader()
        ids = [r[0] for r in cur.execute("SELECT id FROM memories ORDER BY id").fetchall()]
        for start in range(0, len(ids), 50_000):
            self.ram.update(self.narrow_rows(ids[start:start + 50_000]))
        adjacency: dict[int, list[tuple[int, int]]] = defaultdict(list)
        for a, b, count in cur.execute("SELECT a, b, count FROM co_access").fetchall():
            adjacency[a].append((-count, b))
            adjacency[b].append((-count, a))
        self.adjacency = {seed: sorted(pairs) for seed, pairs in adjacency.items()}
        kinds = list(self.svc.policy.retrieval.contiguity.kinds) if hasattr(
            self.svc.policy.retrieval, "contiguity") else []
        timelines: dict[str, list[tuple[float, int]]] = defaultdict(list)
        for memory_id, channel, when in cur.execute(
                "SELECT id, channel_id, epoch_us(coalesce(event_ts, created_at)) / 1e6 "
                "FROM memories WHERE NOT deleted AND channel_id IS NOT NULL AND kind = ANY($1)",
                [kinds]).fetchall():
            timelines[channel].append((when, memory_id))
        for channel, timeline in timelines.items():
            timeline.sort()
            for position, (_, memory_id) in enumerate(timeline):
                self.position[memory_id] = (channel, position)
        self.timelines = dict(timelines)

    def neighbours(self, cur: Any, seeds: Any, *, span: int, gap_seconds: float,
                   kinds: Any) -> dict[int, list[tuple[int, int]]]:
        """``conversation_neighbours`` from the in-memory timelines (same walk)."""
        found: dict[int, list[tuple[int, int]]] = {}
        for seed in seeds:
            if seed not in self.position:
                continue
            channel, position = self.position[seed]
            timeline = self.timelines[channel]
            near: list[tuple[int, int]] = []
            for step in (-1, 1):
                i = position
                for distance in range(1, span + 1):
                    j = i + step
                    if not 0 <= j < len(timeline) or abs(
                            timeline[j][0] - timeline[i][0]) > gap_seconds:
                        break
                    near.append((timeline[j][1], distance))
                    i = j
            found[seed] = sorted(near, key=lambda pair: pair[1])
        return found

    def apply(self, changes: set[str]) -> None:
        fetch = self.narrow_rows if "narrow" in changes else self.get_many
        if "ram" in changes and not self.ram:
            self.load_ram()

        def get_many(ids: Any) -> dict[int, Any]:
            self.fetches += 1
            if "ram" in changes and self.fetches == 1:  # the blend's rows
                return {i: self.ram[i] for i in ids if i in self.ram}
            if "ram" in changes:  # the hits' text is not in RAM: one narrow query
                return self.narrow_rows(list(ids))
            if "reuse" not in changes:
                return fetch(list(ids))
            missing = [i for i in ids if i not in self.memo]
            if missing:
                self.memo.update(fetch(missing))
            return {i: self.memo[i] for i in ids if i in self.memo}

        def partners(ids: Any, per_seed: int, min_count: int) -> dict[int, list[int]]:
            if not ids:
                return {}
            if "ram" in changes:
                return {seed: [p for c, p in self.adjacency.get(seed, []) if -c >= min_count
                               and p in self.ram and not self.ram[p].deleted][:per_seed]
                        for seed in ids if seed in self.adjacency}
            rows = self.svc.store.reader().execute(
                "SELECT a, b, count FROM co_access WHERE (a = ANY($1) OR b = ANY($1)) "
                "AND count >= $2", [list(ids), min_count]).fetchall()
            seeds = set(ids)
            found: dict[int, list[tuple[int, int]]] = defaultdict(list)
            for a, b, count in rows:
                if a in seeds:
                    found[a].append((-count, b))
                if b in seeds:
                    found[b].append((-count, a))
            rows_by_id = get_many(sorted({p for pairs in found.values() for _, p in pairs}))
            return {seed: [p for _, p in sorted(pairs)
                           if p in rows_by_id and not rows_by_id[p].deleted][:per_seed]
                    for seed, pairs in found.items()}

        self.repo.get_many = get_many  # type: ignore[method-assign]
        self.undo.append(lambda: delattr(self.repo, "get_many"))
        if "co_access" in changes:
            self.repo.co_access_partners = partners  # type: ignore[method-assign]
            self.undo.append(lambda: delattr(self.repo, "co_access_partners"))
        if "ram" in changes:
            import engine.memory.search as search_module

            if hasattr(search_module, "conversation_neighbours"):
                original_neighbours = search_module.conversation_neighbours
                search_module.conversation_neighbours = self.neighbours
                self.undo.append(lambda: setattr(search_module, "conversation_neighbours",
                                                 original_neighbours))
        if "explain" in changes:
            from engine.mind.activation import ActivationParts

            original = ActivationParts.as_dict

            def as_dict(parts: Any) -> dict[str, float]:
                return dict(parts.__dict__)

            ActivationParts.as_dict = as_dict  # type: ignore[method-assign,assignment]
            self.undo.append(lambda: setattr(ActivationParts, "as_dict", original))

    def restore(self) -> None:
        for undo in reversed(self.undo):
            undo()
        self.undo.clear()

    def search(self, changes: set[str], text: str, vec: np.ndarray,
               k: int) -> tuple[float, float, list[int]]:
        """One search (noise off, to compare rankings): wall ms, process CPU ms, ids."""
        self.apply(changes)
        try:
            self.memo.clear()
            self.fetches = 0
            t0, c0 = time.perf_counter(), time.process_time()
            result = self.svc.searcher.search(text, vec, k)
            wall, cpu = time.perf_counter() - t0, time.process_time() - c0
        finally:
            self.restore()
        return wall * 1e3, cpu * 1e3, [h.id for h in result.hits + result.near_misses]


def prototypes(svc: MemoryService, texts: list[str], vectors: np.ndarray, k: int,
               rebuild: bool) -> list[list[str]]:
    """Hybrid search p50/p95 with each change added in turn, and a 2-thread rebuild."""
    proto = Prototype(svc)
    steps = [("as is (noise off)", set()), ("+ reuse rows for hits", {"reuse"}),
             ("+ narrow blend rows", {"reuse", "narrow"}),
             ("+ co_access query", {"reuse", "narrow", "co_access"}),
             ("+ cheap as_dict", {"reuse", "narrow", "co_access", "explain"}),
             ("scoring rows, co-access, contiguity in RAM", {"ram", "co_access", "explain"})]
    for text, vec in zip(texts[:20], vectors[:20], strict=True):  # warm-up
        for _, changes in steps:
            proto.search(changes, text, vec, k)
    wall: list[list[float]] = [[] for _ in steps]
    cpu: list[list[float]] = [[] for _ in steps]
    same = [True] * len(steps)
    for text, vec in zip(texts, vectors, strict=True):  # variants interleaved per query
        base_ids: list[int] = []
        for i, (_, changes) in enumerate(steps):
            w, c, ids = proto.search(changes, text, vec, k)
            wall[i].append(w)
            cpu[i].append(c)
            base_ids = base_ids or ids
            same[i] &= ids == base_ids
    rows = []
    for i, (label, _) in enumerate(steps):
        delta = pct(wall[i], 50) - pct(wall[0], 50)
        note = "" if i == 0 else ("same ranking" if same[i] else "RANKING DIFFERS")
        rows.append([label, f"{pct(wall[i], 50):.1f}", f"{pct(wall[i], 95):.1f}",
                     f"{pct(cpu[i], 50):.1f}", f"{delta:+.1f} ms {note}".strip()])
    if rebuild:
        from engine.memory.vector_index import UsearchVectorIndex

        for threads in (2,):
            fresh = UsearchVectorIndex(model="probe", dim=svc.embedder.dim,
                                       connectivity=svc.policy.index.connectivity,
                                       expansion_add=svc.policy.index.expansion_add)
            t0 = time.perf_counter()
            for batch_ids, vecs in svc.repo.iter_vectors(svc.embedder.name, svc.embedder.dim,
                                                         svc.policy.index.rebuild_batch):
                fresh.add(batch_ids, vecs, threads=threads)
            rate = len(fresh) / (time.perf_counter() - t0)
            rows.append([f"rebuild add(threads={threads})", f"{rate:,.0f}/s", "", "",
                         "_rebuild now adds on 1 thread: see 'rebuild/s' above"])
            del fresh
    return rows


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
        cur.execute("UPDATE memories SET access_timestamps = list_transform(range(id % 5 + 1), "
                    "lambda x: $1 - ((id * 7919 + x * 104729) % 2592000)::DOUBLE) "
                    "WHERE id % 10 < 3", [now.timestamp()])

    store.write(job)
    return len(lo)


def keyword_index_mb(svc: MemoryService) -> float:
    """Python heap of a BM25 index over the store, built again under tracemalloc (the
    RSS delta during open mixes it with DuckDB's cache and freed bench arrays)."""
    import tracemalloc

    from engine.memory.keyword import KeywordIndex

    r = svc.policy.retrieval
    tracemalloc.start()
    index = KeywordIndex(r.bm25_k1, r.bm25_b)
    for batch in svc.repo.iter_texts():
        index.add_many(batch)
        del batch
    size, _ = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    del index
    return size / 1e6


def open_timed(svc: MemoryService) -> dict[str, float]:
    """``svc.open()`` with the time and RSS at each phase boundary."""
    marks: dict[str, float] = {}
    t0 = time.perf_counter()

    def progress(stage: str, done: int, total: int) -> None:
        now = time.perf_counter() - t0
        if stage == "keyword index":
            marks["keyword_s"] = now
        else:
            marks["vectors_s"] = now

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
        rebuild_s = marks["vectors_s"] - marks["keyword_s"]
        log(n, f"open (rebuild) {marks['total_s']:.1f}s: BM25 {marks['keyword_s']:.1f}s, "
               f"vectors {rebuild_s:.1f}s ({n / rebuild_s:,.0f}/s), "
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
        if args.probes:
            out["protos"] += [[f"{n:,}", *row] for row in prototypes(svc, q_texts, q_vecs, k,
                                                                    args.rebuild_probe_max >= n)]
        rss_search = rss_mb()
        usearch_mb = svc.vectors.memory_usage / 1e6
        bm25_mb = keyword_index_mb(svc)
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
        f"{n:,}", f"{n / insert_s:,.0f}", f"{marks['keyword_s']:.1f}", f"{rebuild_s:.1f}",
        f"{n / rebuild_s:,.0f}", f"{marks['total_s']:.1f}", f"{reopen['total_s']:.1f}",
        f"{add_rate:,.0f}", f"{pct(add_ms, 50):.1f}", f"{recall:.3f}",
        f"{pct(ann10, 50):.2f}", f"{pct(ann10, 99):.2f}", f"{pct(ann50, 50):.2f}",
        f"{pct(ann50, 99):.2f}",
    ])
    out["search"].append([
        f"{n:,}", f"{pct(excl, 50):.1f}", f"{pct(excl, 95):.1f}", f"{pct(excl, 99):.1f}",
        f"{pct(excl_cpu, 50):.1f}",
        f"{pct(incl, 50):.1f}", f"{pct(incl, 95):.1f}", f"{pct(embed, 50):.1f}",
        *(f"{pct(stages[s], 50):.2f}" for s in ("bm25", "ann", "blend")),
    ])
    out["memory"].append([
        f"{n:,}", f"{db_mb:,.0f}", f"{index_mb:,.1f}", f"{usearch_mb:,.0f}",
        f"{bm25_mb:,.0f}", f"{rss_open:,.0f}", f"{rss_search:,.0f}",
        f"{peak_rss_mb():,.0f}",
    ])


def without_vectors(n: int, args: argparse.Namespace, embedder: OnnxMiniLMEmbedder,
                    policy: Policy, out: dict[str, list[list[str]]]) -> None:
    """The per-search work that needs no vector index (the DuckDB queries, BM25) on a store
    of n memories, for sizes where a vector rebuild takes too long. Candidates are random
    ids; BM25 queries are drawn like the memories."""
    import engine.memory.search as search_module

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
        bm25 = iter(q_texts * 2)
        proto = Prototype(svc)
        cur = store.reader()
        chat = [r[0] for r in cur.execute(
            "SELECT id FROM memories WHERE kind = ANY($1) USING SAMPLE 5000 ROWS",
            [sorted(CONVERSATION)]).fetchall()]
        ct = getattr(policy.retrieval, "contiguity", None)
        queries: list[tuple[str, Callable[[], object]]] = [
            ("BM25 keyword.search (not SQL)",
             lambda: svc.keyword.search(next(bm25), policy.retrieval.bm25_top_k)),
            ("get_many 100 ids (now)",
             lambda: svc.repo.get_many([int(i) for i in rng.integers(1, n + 1, 100)])),
            ("get_many 20 ids (now)",
             lambda: svc.repo.get_many([int(i) for i in rng.integers(1, n + 1, 20)])),
            ("narrow rows 100 ids (proposed)",
             lambda: proto.narrow_rows([int(i) for i in rng.integers(1, n + 1, 100)])),
            ("co_access_partners 10 seeds (now)",
             lambda: svc.repo.co_access_partners(
                 [int(i) for i in rng.integers(1, n + 1, 10)], 3, 1)),
        ]
        neighbours = search_module.__dict__.get("conversation_neighbours")
        if ct is not None and neighbours is not None:
            queries.append(("contiguity 5 chat seeds (now)",
                            lambda: neighbours(
                                cur, [int(i) for i in rng.choice(chat, 5)], span=ct.span,
                                gap_seconds=ct.gap_minutes * 60, kinds=ct.kinds)))
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
                        help="skip the prototype measurements")
    parser.add_argument("--rebuild-probe-max", type=int, default=100_000,
                        help="largest size at which the 2-thread rebuild is prototyped")
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
    print_table(["n", "insert rows/s", "BM25 build s", "vec rebuild s", "rebuild/s",
                 "open s (rebuild)", "reopen s (load)", "add/s 1x1", "svc.add ms",
                 "recall@10", "ANN p50 k10", "p99 k10", f"p50 k{r.ann_top_k}",
                 f"p99 k{r.ann_top_k}"], out["main"])
    print()
    print_table(["n", "hybrid excl p50", "p95", "p99", "CPU p50", "incl embed p50", "p95",
                 "embed p50", "bm25 p50", "ann p50", "blend p50"], out["search"])
    print()
    print_table(["n", "DuckDB MB", "index file MB", "usearch MB", "BM25 heap MB",
                 "open RSS +MB", "RSS MB", "peak RSS MB"], out["memory"])
    print()
    print_table(["n", "stage", "p50 ms", "p95 ms", "note"], out["stages"])
    if out["protos"]:
        print()
        print_table(["n", "prototype (interleaved per query)", "p50 ms", "p95 ms",
                     "CPU p50 ms", "p50 vs now"], out["protos"])
    print("\nTimes in ms unless marked s. 'excl': HybridSearcher.search with the synthetic "
          "query vector; 'incl': MemoryService.search (MiniLM int8, 1 thread) with "
          "mutate=False. add/s 1x1: one vector per UsearchVectorIndex.add call (1 thread) "
          "into the full index; svc.add: MemoryService.add of one memory (embed + write + "
          "index). open RSS: growth during open (BM25 + vector index + DuckDB reads).")


if __name__ == "__main__":
    main()
