"""The search pipeline as it was before the scoring cache: every candidate's row from
DuckDB (``get_many``), conversation neighbours and co-access partners by SQL, one
``activation()`` call per candidate. Kept verbatim (bar the candidate stage, which is
shared and unchanged) as the reference the cached pipeline must reproduce exactly."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from engine.memory.blend import RAW_MESSAGE_KINDS, BlendInputs, relevance_weights, sigmoid
from engine.memory.contiguity import conversation_neighbours
from engine.memory.explain import Explanation, SearchHit
from engine.memory.records import Memory
from engine.memory.search import SearchResult, _Candidate
from engine.memory.service import MemoryService
from engine.mind.activation import activation, recency_factor
from engine.mind.weights import StochasticWeight
from engine.policy import Policy


def score_memory(
    policy: Policy,
    e: Explanation,
    memory: Memory,
    similarity: float | None,
    focus: float,
    rerank: float | None,
    inputs: BlendInputs,
    rng: np.random.Generator | None,
) -> None:
    p = policy
    w = p.retrieval.blend
    accesses = [memory.time.timestamp(), *memory.access_timestamps]
    parts = activation(
        accesses,
        inputs.now_s,
        context_weights=[p.activation.spreading_weight],
        associations=[focus],
        rng=rng,
        decay=p.activation.decay_d,
        noise_s=p.activation.noise_s,
        min_age_s=p.activation.min_age_seconds,
        empty_history=p.activation.empty_history_floor,
    )
    weight = StochasticWeight(memory.alpha, memory.beta, immutable=memory.immutable)
    e.activation = {k: round(v, 4) for k, v in parts.as_dict().items()}
    e.weight_mean, e.weight_variance = round(weight.center, 4), round(weight.variance, 5)
    e.weight_contested = weight.is_contested(p.weights.contested_min)
    half_life_s = p.retrieval.recency_half_life_days * 86400
    e.recency = round(recency_factor(inputs.now_s - max(accesses), half_life_s), 4)
    if e.ann_similarity is None and similarity is not None:
        e.ann_similarity = round(similarity, 4)
    if rerank is not None:
        e.rerank = round(rerank, 4)
    raw_bot = memory.author_is_bot and memory.kind in RAW_MESSAGE_KINDS
    e.source_factor = p.retrieval.bot_message_weight if raw_bot else 1.0
    rrf_w, dense_w, bm25_w = inputs.weights
    bm25 = (e.bm25_score or 0.0) / inputs.max_bm25 if inputs.max_bm25 > 0 else 0.0
    score = (
        rrf_w * (e.rrf / inputs.max_rrf)
        + dense_w * max(0.0, similarity or 0.0)
        + bm25_w * bm25
        + (w.rerank * rerank if rerank is not None else 0.0)
        + w.activation * sigmoid(parts.total - p.activation.retrieval_threshold)
        + w.weight * weight.center
        + w.recency * e.recency
    )
    e.final = round(score * e.source_factor, 6)


def _links(
    svc: MemoryService, seeds: list[_Candidate]
) -> dict[str, dict[int, list[tuple[int, float]]]]:
    ct, ca = svc.policy.retrieval.contiguity, svc.policy.co_access
    links: dict[str, dict[int, list[tuple[int, float]]]] = {"contiguity": {}, "co_access": {}}
    if ct.spread > 0 and ct.span > 0 and ct.seeds > 0:
        near = conversation_neighbours(
            svc.store.reader(),
            [c.memory_id for c in seeds[: ct.seeds]],
            span=ct.span,
            gap_seconds=ct.gap_minutes * 60,
            kinds=ct.kinds,
        )
        links["contiguity"] = {
            seed: [(n, ct.spread * ct.decay ** (d - 1)) for n, d in pairs]
            for seed, pairs in near.items()
        }
    if ca.spread_factor > 0 and ca.partners_top_k > 0:
        top = [c.memory_id for c in seeds[: svc.policy.retrieval.default_k]]
        partners = svc.repo.co_access_partners(top, ca.partners_top_k, ca.min_count)
        links["co_access"] = {
            seed: [(partner, ca.spread_factor) for partner in partners.get(seed, [])]
            for seed in top
        }
    return links


def _spread(
    svc: MemoryService,
    candidates: dict[int, _Candidate],
    seeds: list[_Candidate],
    allowed: Sequence[int] | None,
) -> None:
    if not seeds:
        return
    scored = {c.memory_id: c.explain.final for c in seeds}
    allowed_set = set(allowed) if allowed is not None else None
    for path, links in _links(svc, seeds).items():
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


def reference_search(
    svc: MemoryService,
    query: str,
    query_vector: npt.NDArray[np.float32] | None,
    k: int,
    *,
    allowed: Sequence[int] | None = None,
    context_vector: npt.NDArray[np.float32] | None = None,
    rng: np.random.Generator | None = None,
) -> SearchResult:
    """``HybridSearcher.search(mode="full")`` without a reranker, from DuckDB rows."""
    searcher, p = svc.searcher, svc.policy
    r = p.retrieval
    candidates = searcher.candidates(query, query_vector, allowed, {})
    memories = svc.repo.get_many(list(candidates))
    similarity = searcher._similarities(query_vector, candidates)
    focus = (
        similarity if context_vector is None else searcher._similarities(context_vector, candidates)
    )
    for c in candidates.values():
        c.explain.rerank = "skipped: no reranker model"
    signals = BlendInputs(
        weights=relevance_weights(p.retrieval.blend, False),
        max_rrf=2.0 / (p.retrieval.rrf_k + 1),
        max_bm25=max((c.explain.bm25_score or 0.0 for c in candidates.values()), default=0.0),
        now_s=svc.clock.now().timestamp(),
    )
    for memory_id in sorted(candidates):
        memory = memories.get(memory_id)
        if memory is None or memory.deleted:
            candidates.pop(memory_id)
            continue
        score_memory(
            p,
            candidates[memory_id].explain,
            memory,
            similarity.get(memory_id),
            focus.get(memory_id, 0.0),
            None,
            signals,
            rng,
        )
    _spread(
        svc,
        candidates,
        sorted(candidates.values(), key=lambda c: (-c.explain.final, c.memory_id)),
        allowed,
    )
    ranked = sorted(candidates.values(), key=lambda c: (-c.explain.final, c.memory_id))
    last = max(k, r.near_miss_last_rank)
    rows = svc.repo.get_many([c.memory_id for c in ranked[:last]])
    hits: list[SearchHit] = []
    misses: list[SearchHit] = []
    for rank, c in enumerate(ranked[:last], start=1):
        memory = rows.get(c.memory_id)
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
    return SearchResult(query, "full", hits, misses, {}, "skipped: no reranker model")
