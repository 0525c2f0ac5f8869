"""Probes for bench/bench_memory.py: per-stage search times, the scoring cache's size,
and whether the cache answers what DuckDB answers on the benchmark's store."""

from __future__ import annotations

import time
import tracemalloc
from collections import defaultdict
from collections.abc import Callable
from typing import Any

import numpy as np

from engine.memory.contiguity import conversation_neighbours
from engine.memory.keyword import KeywordIndex
from engine.memory.scoring_cache import ScoringCache
from engine.memory.scoring_load import load_scoring_cache
from engine.memory.service import MemoryService


def pct(values: list[float], q: float) -> float:
    return float(np.percentile(values, q)) if values else float("nan")


class Probe:
    """Per-stage times of ``HybridSearcher.search``: timing wrappers set on the instances
    and module globals it calls for the duration of ``run``, then removed. Wraps only what
    exists, so it follows the pipeline as it changes."""

    def __init__(self, searcher: Any) -> None:
        self.searcher = searcher
        self.ms: dict[str, float] = defaultdict(float)
        self.undo: list[Callable[[], None]] = []
        self.top: list[str] = []
        self.nested: list[str] = []
        self.candidates: list[int] = []

    def _wrap(self, owner: Any, attr: str, label: str, *, instance: bool = True,
              nested: bool = False, after: Callable[[Any], None] | None = None) -> None:
        if not hasattr(owner, attr):
            return
        fn = getattr(owner, attr)

        def timed(*a: Any, **kw: Any) -> Any:
            t0 = time.perf_counter()
            try:
                out = fn(*a, **kw)
            finally:
                self.ms[label] += (time.perf_counter() - t0) * 1e3
            if after is not None:
                after(out)
            return out

        setattr(owner, attr, timed)
        self.undo.append((lambda: delattr(owner, attr)) if instance
                         else (lambda: setattr(owner, attr, fn)))
        (self.nested if nested else self.top).append(label)

    def run(self, texts: list[str], vectors: np.ndarray, k: int,
            rng: np.random.Generator) -> list[tuple[str, float, float, str]]:
        import engine.memory.search as search_module

        s = self.searcher
        self._wrap(s.keyword, "search", "keyword.search")
        self._wrap(s.vectors, "search", "vectors.search (ANN)")
        self._wrap(s.cache, "rows", "cache.rows (scoring inputs)",
                   after=lambda rows: self.candidates.append(len(rows.ids)))
        self._wrap(s.vectors, "search_exact", "search_exact (similarities)")
        self._wrap(s, "_rerank", "_rerank")
        self._wrap(search_module, "score_candidates", "score_candidates", instance=False)
        self._wrap(s, "_spread", "_spread (contiguity + co-access)")
        self._wrap(s.cache, "live_kinds", "cache.live_kinds (hits)")
        self._wrap(s.repo, "contents", "repo.contents (hits' text, DuckDB)")
        self._wrap(s.cache, "neighbours", "  cache.neighbours", nested=True)
        self._wrap(s.cache, "partners", "  cache.partners", nested=True)
        rows: dict[str, list[float]] = defaultdict(list)
        try:
            for text, vec in zip(texts, vectors, strict=True):
                self.ms.clear()
                t0 = time.perf_counter()
                result = s.search(text, vec, k, rng=rng)
                total = (time.perf_counter() - t0) * 1e3
                ms = dict(self.ms)
                ms["other (RRF, sort, hits, overhead)"] = total - sum(
                    ms.get(t, 0.0) for t in self.top)
                ms["timings_ms blend"] = result.timings_ms["blend"]
                ms["total (wrapped)"] = total
                for name, value in ms.items():
                    rows[name].append(value)
        finally:
            for undo in reversed(self.undo):
                undo()
        note = f"{np.median(self.candidates):.0f} candidates (median)"
        order = [*self.top, *self.nested, "other (RRF, sort, hits, overhead)",
                 "timings_ms blend", "total (wrapped)"]
        return [(name, pct(rows[name], 50), pct(rows[name], 95),
                 note if name.startswith("cache.rows") else "")
                for name in order if name in rows]


def heap_mb(build: Callable[[], object]) -> tuple[float, float]:
    """Python heap (MB, tracemalloc: numpy buffers included) held by what ``build``
    returns, and the seconds it took (slower under tracemalloc)."""
    tracemalloc.start()
    t0 = time.perf_counter()
    kept = build()
    seconds = time.perf_counter() - t0
    size, _ = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    del kept
    return size / 1e6, seconds


def keyword_index_mb(svc: MemoryService) -> float:
    """Heap of a BM25 index over the store, built again (the RSS delta during open mixes
    it with DuckDB's cache and freed bench arrays)."""
    r = svc.policy.retrieval

    def build() -> KeywordIndex:
        index = KeywordIndex(r.bm25_k1, r.bm25_b)
        for batch in svc.repo.iter_texts():
            index.add_many(batch)
        return index

    return heap_mb(build)[0]


def scoring_cache_mb(svc: MemoryService) -> float:
    """Heap of a scoring cache loaded again from the store."""

    def build() -> ScoringCache:
        cache = ScoringCache(svc.policy.retrieval.contiguity.kinds)
        load_scoring_cache(cache, svc.store.reader())
        return cache

    return heap_mb(build)[0]


def cache_matches_sql(svc: MemoryService, seeds: list[list[int]]) -> list[list[str]]:
    """Do the cache's conversation neighbours, co-access partners and scoring rows equal
    DuckDB's (``conversation_neighbours``, ``co_access_partners``, ``get_many``) for the
    given seed lists (e.g. each query's top hits)? One row per check, with both times."""
    ct, ca = svc.policy.retrieval.contiguity, svc.policy.co_access
    cur = svc.store.reader()
    checks: dict[str, tuple[Callable[[list[int]], object], Callable[[list[int]], object]]] = {
        "conversation neighbours": (
            lambda ids: svc.scoring.neighbours(ids, ct.span, ct.gap_minutes * 60),
            lambda ids: conversation_neighbours(cur, ids, span=ct.span,
                                                gap_seconds=ct.gap_minutes * 60, kinds=ct.kinds)),
        "co-access partners": (
            lambda ids: svc.scoring.partners(ids, ca.partners_top_k, ca.min_count),
            lambda ids: _ordered_partners(svc, ids, ca.partners_top_k, ca.min_count)),
        "scoring rows": (
            lambda ids: _rows_tuple(svc.scoring.rows(ids)),
            lambda ids: _rows_from_db(svc, ids)),
    }
    out = []
    for label, (cached, sql) in checks.items():
        same, t_cache, t_sql = 0, [], []
        for ids in seeds:
            t0 = time.perf_counter()
            a = cached(ids)
            t1 = time.perf_counter()
            b = sql(ids)
            t2 = time.perf_counter()
            same += a == b
            t_cache.append((t1 - t0) * 1e3)
            t_sql.append((t2 - t1) * 1e3)
        out.append([label, f"{same}/{len(seeds)}", f"{pct(t_cache, 50):.2f}",
                    f"{pct(t_sql, 50):.2f}"])
    return out


def _ordered_partners(svc: MemoryService, ids: list[int], per_seed: int,
                      min_count: int) -> dict[int, list[int]]:
    """``co_access_partners`` ordered like the cache (SQL returns each seed's partners in
    no particular order; search does not depend on it)."""
    found = svc.repo.co_access_partners(ids, per_seed, min_count)
    if not found:
        return {}
    rows = svc.store.reader().execute(
        "SELECT a, b, count FROM co_access_counts WHERE a = ANY($1) OR b = ANY($1)",
        [ids]).fetchall()
    count = {(a, b): c for a, b, c in rows} | {(b, a): c for a, b, c in rows}
    return {seed: sorted(partners, key=lambda p: (-count[(seed, p)], p))
            for seed, partners in found.items()}


def _rows_tuple(rows: Any) -> tuple[Any, ...]:
    return (rows.ids, rows.kinds, rows.author_is_bot, rows.immutable, rows.alpha, rows.beta,
            rows.history, rows.bounds)


def _rows_from_db(svc: MemoryService, ids: list[int]) -> tuple[Any, ...]:
    memories = sorted((m for m in svc.repo.get_many(ids).values() if not m.deleted),
                      key=lambda m: m.id)
    history: list[float] = []
    bounds = [0]
    for m in memories:
        history += [m.time.timestamp(), *m.access_timestamps]
        bounds.append(len(history))
    return ([m.id for m in memories], [m.kind for m in memories],
            [m.author_is_bot for m in memories], [m.immutable for m in memories],
            [m.alpha for m in memories], [m.beta for m in memories], history, bounds)

