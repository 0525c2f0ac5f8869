"""Hybrid search: BM25 + ANN candidates, optional cross-encoder rerank, then a blend
of score-aware relevance (RRF, cosine similarity, normalized BM25) and cognitive
priors (ACT-R activation, Beta depth weight, recency; see :mod:`engine.memory.blend`),
then one hop of spreading from the top hits to their conversation neighbours
(:mod:`engine.memory.contiguity`) and co-access partners. Every hit carries its
explanation. Baseline modes (``bm25``, ``dense``, ``rrf``) rank by one stage only,
for evaluation.

Everything scored comes from the in-memory scoring cache
(:mod:`engine.memory.scoring_cache`); DuckDB is read for the text of the hits and
near misses (and of the reranked candidates) only.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import numpy.typing as npt

from engine.clock import Clock
from engine.memory.blend import BlendInputs, relevance_weights, score_candidates
from engine.memory.explain import Explanation, SearchHit
from engine.memory.keyword import KeywordIndex
from engine.memory.repository import MemoryRepository
from engine.memory.rerank import Reranker
from engine.memory.scoring_cache import ScoringCache
from engine.memory.vector_index import UsearchVectorIndex
from engine.policy import Policy

Mode = Literal["full", "bm25", "dense", "rrf"]


@dataclass
class SearchResult:
    """Results, near misses (ranked just below the cut) and stage timings."""

    query: str
    mode: Mode
    hits: list[SearchHit]
    near_misses: list[SearchHit]
    timings_ms: dict[str, float] = field(default_factory=dict)
    rerank_status: str = "skipped"


@dataclass
class _Candidate:
    memory_id: int
    explain: Explanation = field(default_factory=Explanation)


def _baseline_score(mode: Mode, e: Explanation) -> float:
    if mode == "bm25":
        return e.bm25_score or 0.0
    if mode == "dense":
        return e.ann_similarity if e.ann_similarity is not None else -2.0
    return e.rrf


class HybridSearcher:
    """Runs searches over one memory store's keyword and vector indexes."""

    def __init__(
        self,
        repo: MemoryRepository,
        keyword: KeywordIndex,
        vectors: UsearchVectorIndex,
        policy: Policy,
        clock: Clock,
        reranker: Reranker | None = None,
        *,
        cache: ScoringCache,
    ) -> None:
        """Create a searcher.

        Args:
            repo: the memories in DuckDB (texts of hits).
            keyword: the BM25 index.
            vectors: the ANN index.
            policy: retrieval settings.
            clock: the time of a search.
            reranker: the cross-encoder, if any.
            cache: scoring fields, co-access and conversation timelines.
        """
        self.repo = repo
        self.cache = cache
        self.keyword = keyword
        self.vectors = vectors
        self.policy = policy
        self.clock = clock
        self.reranker = reranker

    def search(
        self,
        query: str,
        query_vector: npt.NDArray[np.float32] | None,
        k: int,
        *,
        mode: Mode = "full",
        allowed: Sequence[int] | None = None,
        context_vector: npt.NDArray[np.float32] | None = None,
        rng: np.random.Generator | None = None,
    ) -> SearchResult:
        """Rank memories for a query.

        Args:
            query: the query text.
            query_vector: its embedding (None: keyword only).
            k: results wanted.
            mode: ``full`` or a single-stage baseline.
            allowed: restrict to these memory ids, or None for all.
            context_vector: the attention focus spreading comes from (default: the query).
            rng: source of activation noise (None: no noise).

        Returns:
            Hits best first with explanations, near misses, timings.
        """
        r = self.policy.retrieval
        timings: dict[str, float] = {}
        candidates = self.candidates(query, query_vector, allowed, timings)
        t0 = time.perf_counter()
        if mode == "full":
            status = self._blend(query, query_vector, context_vector, candidates, allowed, rng)
        else:
            status = "skipped: baseline"
            for c in candidates.values():
                c.explain.final = _baseline_score(mode, c.explain)
            if mode == "bm25":
                candidates = {i: c for i, c in candidates.items() if c.explain.bm25_rank}
            if mode == "dense":
                candidates = {i: c for i, c in candidates.items() if c.explain.ann_rank}
        timings["blend"] = (time.perf_counter() - t0) * 1000

        ranked = sorted(candidates.values(), key=lambda c: (-c.explain.final, c.memory_id))
        last = max(k, r.near_miss_last_rank)
        kinds = self.cache.live_kinds([c.memory_id for c in ranked[:last]])
        texts = self.repo.contents(list(kinds))
        hits: list[SearchHit] = []
        misses: list[SearchHit] = []
        for rank, c in enumerate(ranked[:last], start=1):
            content = texts.get(c.memory_id)
            if c.memory_id not in kinds or content is None:
                continue
            if rank > k:
                c.explain.cut = f"rank {rank} > k={k}"
            found = SearchHit(
                id=c.memory_id,
                kind=kinds[c.memory_id],
                content=content,
                score=round(c.explain.final, 6),
                rank=rank,
                explain=c.explain,
            )
            (hits if rank <= k else misses).append(found)
        return SearchResult(query, mode, hits, misses, timings, status)

    def candidates(
        self,
        query: str,
        query_vector: npt.NDArray[np.float32] | None,
        allowed: Sequence[int] | None,
        timings: dict[str, float],
    ) -> dict[int, _Candidate]:
        """The keyword and vector candidates with their ranks and RRF.

        Args:
            query: the query text.
            query_vector: its embedding (None: keyword only).
            allowed: restrict to these memory ids, or None for all.
            timings: receives ``bm25`` and ``ann`` (ms).

        Returns:
            Memory id -> candidate.
        """
        r = self.policy.retrieval
        candidates: dict[int, _Candidate] = {}
        t0 = time.perf_counter()
        for hit in self.keyword.search(query, r.bm25_top_k, allowed):
            c = candidates.setdefault(hit.memory_id, _Candidate(hit.memory_id))
            c.explain.bm25_rank, c.explain.bm25_score = hit.rank, round(hit.score, 4)
        timings["bm25"] = (time.perf_counter() - t0) * 1000

        t0 = time.perf_counter()
        if query_vector is not None and len(self.vectors):
            if allowed is not None:
                keys, sims = self.vectors.search_exact(query_vector, r.ann_top_k, allowed)
            else:
                keys, sims = self.vectors.search(query_vector, r.ann_top_k)
            for rank, (key, sim) in enumerate(zip(keys, sims, strict=True), start=1):
                c = candidates.setdefault(int(key), _Candidate(int(key)))
                c.explain.ann_rank, c.explain.ann_similarity = rank, round(float(sim), 4)
        timings["ann"] = (time.perf_counter() - t0) * 1000

        for c in candidates.values():
            e = c.explain
            e.rrf = sum(1.0 / (r.rrf_k + rank) for rank in (e.bm25_rank, e.ann_rank) if rank)
        return candidates

    def _blend(
        self,
        query: str,
        query_vector: npt.NDArray[np.float32] | None,
        context_vector: npt.NDArray[np.float32] | None,
        candidates: dict[int, _Candidate],
        allowed: Sequence[int] | None,
        rng: np.random.Generator | None,
    ) -> str:
        p = self.policy
        rows = self.cache.rows(candidates)
        similarity = self._similarities(query_vector, candidates)
        focus = (
            similarity if context_vector is None else self._similarities(context_vector, candidates)
        )
        rerank_scores, status = self._rerank(query, candidates)
        signals = BlendInputs(
            weights=relevance_weights(p.retrieval.blend, bool(rerank_scores)),
            max_rrf=2.0 / (p.retrieval.rrf_k + 1),
            max_bm25=max((c.explain.bm25_score or 0.0 for c in candidates.values()), default=0.0),
            now_s=self.clock.now().timestamp(),
        )
        live = set(rows.ids)
        for memory_id in [i for i in candidates if i not in live]:  # deleted or unknown
            candidates.pop(memory_id)
        score_candidates(
            p,
            rows,
            [candidates[i].explain for i in rows.ids],
            (similarity, focus, rerank_scores),
            signals,
            rng,
        )
        self._spread(
            candidates,
            sorted(candidates.values(), key=lambda c: (-c.explain.final, c.memory_id)),
            allowed,
        )
        return status

    def _similarities(
        self, vector: npt.NDArray[np.float32] | None, candidates: dict[int, _Candidate]
    ) -> dict[int, float]:
        """Exact cosine similarity of a vector to every candidate that has a vector."""
        if vector is None or not candidates or not len(self.vectors):
            return {}
        keys, sims = self.vectors.search_exact(vector, len(candidates), list(candidates))
        return {int(key): float(sim) for key, sim in zip(keys, sims, strict=True)}

    def _rerank(
        self, query: str, candidates: dict[int, _Candidate]
    ) -> tuple[dict[int, float], str]:
        if self.reranker is None or not self.reranker.available:
            reason = (
                "no reranker model"
                if self.reranker is None or self.reranker.folder is None
                else "reranker model unusable (see doctor)"
            )
            for c in candidates.values():
                c.explain.rerank = f"skipped: {reason}"
            return {}, f"skipped: {reason}"
        top = sorted(candidates.values(), key=lambda c: -c.explain.rrf)
        top = top[: self.policy.retrieval.rerank_top_n]
        texts = self.repo.contents([c.memory_id for c in top])
        passages = [(c.memory_id, texts[c.memory_id]) for c in top if c.memory_id in texts]
        return self.reranker.score(query, passages), "ok"

    def _links(self, seeds: list[_Candidate]) -> dict[str, dict[int, list[tuple[int, float]]]]:
        """Who each top hit spreads to, and the share: conversation neighbours
        (``retrieval.contiguity``) and co-access partners (``co_access``)."""
        ct, ca = self.policy.retrieval.contiguity, self.policy.co_access
        links: dict[str, dict[int, list[tuple[int, float]]]] = {"contiguity": {}, "co_access": {}}
        if ct.spread > 0 and ct.span > 0 and ct.seeds > 0:
            near = self.cache.neighbours(
                [c.memory_id for c in seeds[: ct.seeds]], ct.span, ct.gap_minutes * 60
            )
            links["contiguity"] = {
                seed: [(n, ct.spread * ct.decay ** (d - 1)) for n, d in pairs]
                for seed, pairs in near.items()
            }
        if ca.spread_factor > 0 and ca.partners_top_k > 0:
            top = [c.memory_id for c in seeds[: self.policy.retrieval.default_k]]
            partners = self.cache.partners(top, ca.partners_top_k, ca.min_count)
            links["co_access"] = {
                seed: [(partner, ca.spread_factor) for partner in partners.get(seed, [])]
                for seed in top
            }
        return links

    def _spread(
        self,
        candidates: dict[int, _Candidate],
        seeds: list[_Candidate],
        allowed: Sequence[int] | None,
    ) -> None:
        """One hop of spreading from the top hits, by their scores before spreading."""
        if not seeds:
            return
        scored = {c.memory_id: c.explain.final for c in seeds}
        allowed_set = set(allowed) if allowed is not None else None
        for path, links in self._links(seeds).items():
            for seed, targets in links.items():
                for target, share in targets:
                    if allowed_set is not None and target not in allowed_set:
                        continue
                    bonus = share * scored[seed]
                    e = candidates.setdefault(target, _Candidate(target)).explain
                    if path == "contiguity":
                        e.contiguity = round(e.contiguity + bonus, 6)
                        e.contiguity_from.append(seed)
                    else:
                        e.co_access = round(e.co_access + bonus, 6)
                        e.co_access_from.append(seed)
                    e.final = round(e.final + bonus, 6)
