"""Hybrid search: BM25 + ANN fused by RRF, optional cross-encoder rerank, then a
cognitive blend (ACT-R activation, Beta depth weight, recency) with co-access
spreading. Every hit carries its explanation. Baseline modes (``bm25``, ``dense``,
``rrf``) rank by one stage only, for evaluation.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import numpy.typing as npt

from engine.clock import Clock
from engine.memory.explain import Explanation, SearchHit
from engine.memory.keyword import KeywordIndex
from engine.memory.records import Memory
from engine.memory.repository import MemoryRepository
from engine.memory.rerank import Reranker
from engine.memory.vector_index import UsearchVectorIndex
from engine.mind.activation import activation, recency_factor
from engine.mind.weights import StochasticWeight
from engine.policy import Policy

Mode = Literal["full", "bm25", "dense", "rrf"]
RAW_MESSAGE_KINDS = frozenset({"message", "discord_message"})


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


def _sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-max(-50.0, min(50.0, x))))


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
    ) -> None:
        self.repo = repo
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
        memories = self.repo.get_many([c.memory_id for c in ranked[:last]])
        hits: list[SearchHit] = []
        misses: list[SearchHit] = []
        for rank, c in enumerate(ranked[:last], start=1):
            memory = memories.get(c.memory_id)
            if memory is None or memory.deleted:
                continue
            if rank > k:
                c.explain.cut = f"rank {rank} > k={k}"
            found = SearchHit(
                id=c.memory_id,
                kind=memory.kind,
                content=memory.content,
                score=round(c.explain.final, 6),
                rank=rank,
                explain=c.explain,
            )
            (hits if rank <= k else misses).append(found)
        return SearchResult(query, mode, hits, misses, timings, status)

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
        r = p.retrieval
        memories = self.repo.get_many(list(candidates))
        focus = context_vector if context_vector is not None else query_vector
        spread: dict[int, float] = {}
        if focus is not None and candidates and len(self.vectors):
            keys, sims = self.vectors.search_exact(focus, len(candidates), list(candidates))
            spread = {int(key): float(sim) for key, sim in zip(keys, sims, strict=True)}
        weights = r.blend
        rerank_scores, status = self._rerank(query, candidates, memories)
        rrf_weight = weights.rrf + (0.0 if rerank_scores else weights.rerank)
        max_rrf = 2.0 / (r.rrf_k + 1)
        now = self.clock.now()
        for memory_id in sorted(candidates):
            memory = memories.get(memory_id)
            if memory is None or memory.deleted:
                candidates.pop(memory_id)
                continue
            self._score(
                candidates[memory_id].explain,
                memory,
                spread.get(memory_id, 0.0),
                rerank_scores.get(memory_id),
                rrf_weight,
                max_rrf,
                now.timestamp(),
                rng,
            )
        self._co_access(candidates, allowed)
        return status

    def _score(
        self,
        e: Explanation,
        memory: Memory,
        similarity: float,
        rerank: float | None,
        rrf_weight: float,
        max_rrf: float,
        now_s: float,
        rng: np.random.Generator | None,
    ) -> None:
        p = self.policy
        w = p.retrieval.blend
        accesses = [memory.time.timestamp(), *memory.access_timestamps]
        parts = activation(
            accesses,
            now_s,
            context_weights=[p.activation.spreading_weight],
            associations=[similarity],
            rng=rng,
            decay=p.activation.decay_d,
            noise_s=p.activation.noise_s,
            min_age_s=p.activation.min_age_seconds,
            empty_history=p.activation.empty_history_floor,
        )
        weight = StochasticWeight(memory.alpha, memory.beta, immutable=memory.immutable)
        last_access = max(accesses)
        e.activation = {k: round(v, 4) for k, v in parts.as_dict().items()}
        e.weight_mean, e.weight_variance = round(weight.center, 4), round(weight.variance, 5)
        e.weight_contested = weight.is_contested(p.weights.contested_min)
        e.recency = round(
            recency_factor(now_s - last_access, p.retrieval.recency_half_life_days * 86400), 4
        )
        if rerank is not None:
            e.rerank = round(rerank, 4)
        raw_bot = memory.author_is_bot and memory.kind in RAW_MESSAGE_KINDS
        e.source_factor = p.retrieval.bot_message_weight if raw_bot else 1.0
        score = (
            rrf_weight * (e.rrf / max_rrf)
            + (w.rerank * rerank if rerank is not None else 0.0)
            + w.activation * _sigmoid(parts.total)
            + w.weight * weight.center
            + w.recency * e.recency
        )
        e.final = round(score * e.source_factor, 6)

    def _rerank(
        self, query: str, candidates: dict[int, _Candidate], memories: dict[int, Memory]
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
        passages = [
            (c.memory_id, memories[c.memory_id].content) for c in top if c.memory_id in memories
        ]
        return self.reranker.score(query, passages), "ok"

    def _co_access(self, candidates: dict[int, _Candidate], allowed: Sequence[int] | None) -> None:
        ca = self.policy.co_access
        if ca.spread_factor <= 0 or ca.partners_top_k <= 0 or not candidates:
            return
        seeds = sorted(candidates.values(), key=lambda c: -c.explain.final)
        seeds = seeds[: self.policy.retrieval.default_k]
        partners = self.repo.co_access_partners(
            [c.memory_id for c in seeds], ca.partners_top_k, ca.min_count
        )
        allowed_set = set(allowed) if allowed is not None else None
        for seed in seeds:
            for partner in partners.get(seed.memory_id, []):
                if allowed_set is not None and partner not in allowed_set:
                    continue
                bonus = ca.spread_factor * seed.explain.final
                c = candidates.setdefault(partner, _Candidate(partner))
                c.explain.co_access = round(c.explain.co_access + bonus, 6)
                c.explain.co_access_from.append(seed.memory_id)
                c.explain.final = round(c.explain.final + bonus, 6)
