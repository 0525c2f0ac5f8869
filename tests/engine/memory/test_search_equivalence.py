"""Search scored from the scoring cache returns exactly what the pipeline that read
every candidate from DuckDB returned (tests/engine/memory/reference_pipeline.py):
same hits, ranks, scores and explanations, with and without noise, fenced by
``allowed``, with a separate attention focus, as the store's history grows."""

from __future__ import annotations

import numpy as np

from engine.clock import FrozenClock
from engine.memory.search import SearchResult
from engine.memory.service import MemoryService
from tests.engine.memory.reference_pipeline import reference_search
from tests.engine.memory.store_builder import (
    add_prepared,
    build_history,
    queries,
    random_memories,
)


def _dump(result: SearchResult) -> list[dict[str, object]]:
    return [h.model_dump() for h in [*result.hits, *result.near_misses]]


def _compare(svc: MemoryService, rng: np.random.Generator, rounds: int) -> int:
    """Run mixed queries both ways; returns how many results had spreading in them."""
    ids = svc.repo.live_ids()
    spread = 0
    for i, query in enumerate(queries(rng, rounds)):
        vector = svc.embed_texts([query])[0]
        focus = svc.embed_texts([queries(rng, 1)[0]])[0] if i % 3 == 0 else None
        allowed = sorted(int(x) for x in rng.choice(ids, len(ids) // 2)) if i % 4 == 1 else None
        k = int(rng.integers(1, 15))
        seed = int(rng.integers(1 << 30)) if i % 2 else None
        noise = (np.random.default_rng(seed), np.random.default_rng(seed)) if seed else (None,) * 2
        cached = svc.searcher.search(
            query, vector, k, allowed=allowed, context_vector=focus, rng=noise[0]
        )
        expected = reference_search(
            svc, query, vector, k, allowed=allowed, context_vector=focus, rng=noise[1]
        )
        assert _dump(cached) == _dump(expected), (i, query)
        spread += any(h.explain.contiguity or h.explain.co_access for h in cached.hits)
    return spread


def test_cached_search_equals_the_duckdb_pipeline(
    service: MemoryService, clock: FrozenClock
) -> None:
    rng = np.random.default_rng(19)
    build_history(service, clock, rng)
    spread = _compare(service, rng, 60)
    clock.advance(3 * 86400.0)
    build_history(service, clock, rng)  # more history: effects, forgets, inserts
    add_prepared(service, random_memories(rng, clock, 20))
    spread += _compare(service, rng, 60)
    assert spread > 20  # contiguity and co-access were exercised


def test_cache_reloaded_from_the_store_searches_the_same(
    service: MemoryService, clock: FrozenClock
) -> None:
    rng = np.random.default_rng(23)
    build_history(service, clock, rng)
    texts = queries(rng, 30)
    before = [_dump(service.search(q, 8, mutate=False)) for q in texts]
    service.reload_scoring_cache()
    assert [_dump(service.search(q, 8, mutate=False)) for q in texts] == before
