"""The memory service with the real embedded MiniLM: add, search, forget, index sync."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from engine.clock import FrozenClock
from engine.config import load_policy
from engine.memory.embed_onnx import OnnxMiniLMEmbedder
from engine.memory.records import NewMemory
from engine.memory.retrieval_effects import fold_co_access
from engine.memory.service import MemoryService
from engine.store import Store

FACTS = [
    "My cat is called Biscuit and she sleeps on the radiator",
    "Caroline went to an LGBTQ support group on Tuesday evening",
    "Melanie painted a sunrise over the lake last summer",
    "The operator prefers short, direct answers without emoji",
    "Paris is the capital of France",
    "The deploy key for staging rotates every 90 days",
    "Version 2.4.1 fixed the memory leak in the indexer",
    "Lunch with Priya is booked for Friday at noon",
]


@pytest.fixture(scope="module")
def embedder() -> OnnxMiniLMEmbedder:
    return OnnxMiniLMEmbedder(intra_op_threads=1)


@pytest.fixture
def service(
    tmp_path: Path, clock: FrozenClock, embedder: OnnxMiniLMEmbedder
) -> Iterator[MemoryService]:
    with Store(tmp_path / "db.duckdb", clock=clock) as store:
        svc = MemoryService(store, embedder, load_policy().policy, clock, tmp_path / "index")
        svc.open()
        yield svc
        svc.close()


def test_each_memory_found_by_its_own_text(service: MemoryService) -> None:
    ids = service.add([NewMemory(kind="fact", content=t) for t in FACTS])
    for memory_id, text in zip(ids, FACTS, strict=True):
        assert service.search(text, 3, mutate=False).hits[0].id == memory_id


def test_explanations_carry_every_signal(service: MemoryService) -> None:
    service.add([NewMemory(kind="fact", content=t) for t in FACTS])
    result = service.search("what is my pet called?", 3, mutate=False)
    top = result.hits[0]
    assert "Biscuit" in top.content
    e = top.explain
    assert e.ann_rank == 1 and e.ann_similarity is not None and e.ann_similarity > 0.3
    assert e.rrf > 0 and str(e.rerank).startswith("skipped")
    assert set(e.activation) == {"base_level", "spreading", "partial_matching", "noise", "total"}
    assert e.weight_mean == pytest.approx(0.2) and e.recency == pytest.approx(1.0)
    assert e.final == top.score and e.cut is None
    assert all(m.explain.cut and m.explain.cut.startswith("rank") for m in result.near_misses)
    assert {"bm25", "ann", "blend", "embed"} <= set(result.timings_ms)


def test_a_stored_vector_records_its_model_in_the_same_insert(service: MemoryService) -> None:
    ids = service.add(
        [
            NewMemory(kind="fact", content="the shed is green"),
            NewMemory(kind="tool_call", content="clock.now({})", embed=False),
        ]
    )
    rows = (
        service.store.reader()
        .execute(
            "SELECT m.id, m.embed_model, v.memory_id IS NOT NULL FROM memories m "
            "LEFT JOIN memory_vectors v ON v.memory_id = m.id WHERE m.id = ANY($1) ORDER BY m.id",
            [ids],
        )
        .fetchall()
    )
    assert rows == [(ids[0], service.embedder.name, True), (ids[1], None, False)]


def test_baseline_modes_rank_by_one_signal(service: MemoryService) -> None:
    service.add([NewMemory(kind="fact", content=t) for t in FACTS])
    bm25 = service.search("Friday lunch", 5, mode="bm25")
    assert bm25.hits and all(h.explain.bm25_rank for h in bm25.hits)
    assert [h.score for h in bm25.hits] == sorted((h.score for h in bm25.hits), reverse=True)
    dense = service.search("Friday lunch", 5, mode="dense")
    assert all(h.explain.ann_rank for h in dense.hits)


def test_retrieval_reinforces_hits_and_contradicts_near_misses(
    service: MemoryService, clock: FrozenClock
) -> None:
    ids = service.add([NewMemory(kind="fact", content=t) for t in FACTS])
    ids += service.add(
        [NewMemory(kind="fact", content=f"filler note {i} about nothing") for i in range(20)]
    )
    result = service.search("cat radiator", 5, mutate=True)
    service.store.write(lambda cur: None)  # queued effects are committed in order
    hit = service.get(result.hits[0].id)
    assert hit is not None
    assert hit.alpha == pytest.approx(1.1) and hit.access_timestamps == [clock.now().timestamp()]
    near = [m for m in result.near_misses if 6 <= m.rank <= 20]
    assert near
    missed = service.get(near[0].id)
    assert missed is not None and missed.beta == pytest.approx(4.05)
    pairs = service.store.reader().execute("SELECT count(*) FROM co_access_counts").fetchall()[0][0]
    assert pairs == 10  # 5 hits -> 10 pairs


def test_co_access_is_logged_then_folded_without_changing_the_counts(
    service: MemoryService, tmp_path: Path
) -> None:
    service.add([NewMemory(kind="fact", content=t) for t in FACTS])
    cur = service.store.reader()

    def counts() -> list[tuple[int, int, int]]:
        return cur.execute("SELECT a, b, count FROM co_access_counts ORDER BY a, b").fetchall()

    for query in ["cat radiator", "cat sleeps", "radiator heat"]:
        service.search(query, 4, mutate=True)
    service.store.write(lambda _: None)  # the queued effects have committed
    logged = counts()
    assert logged and any(c > 1 for _, _, c in logged)  # some pair was seen twice
    assert cur.execute("SELECT count(*) FROM co_access").fetchone() == (0,)  # only logged
    assert service.store.write(fold_co_access) == sum(c for _, _, c in logged)
    assert counts() == logged
    assert cur.execute("SELECT count(*) FROM co_access_log").fetchone() == (0,)
    assert cur.execute("SELECT a, b, count FROM co_access ORDER BY a, b").fetchall() == logged
    service.search("cat radiator", 4, mutate=True)  # logged on top of the folded counts
    service.store.write(lambda _: None)
    unfolded = counts()
    assert sum(c for _, _, c in unfolded) == sum(c for _, _, c in logged) + 6  # 4 hits
    restarted = MemoryService(
        service.store, service.embedder, service.policy, service.clock, tmp_path / "ix2"
    )
    restarted.open()  # start-up folds what the last run logged
    assert cur.execute("SELECT count(*) FROM co_access_log").fetchone() == (0,)
    assert counts() == unfolded
    restarted.close()


def test_co_access_partner_gets_spread(service: MemoryService) -> None:
    a, b = service.add(
        [
            NewMemory(kind="fact", content="alpha project kickoff notes"),
            NewMemory(kind="fact", content="budget spreadsheet for Q3"),
        ]
    )
    service.store.write(
        lambda cur: cur.execute(
            "INSERT INTO co_access VALUES (?, ?, 3, now())", [min(a, b), max(a, b)]
        )
    )
    service.reload_scoring_cache()  # SQL behind the service's back: reload what search reads
    result = service.search("alpha project kickoff", 2, mutate=False, noise=False)
    partner = next(h for h in result.hits if h.id == b)
    assert partner.explain.co_access > 0 and partner.explain.co_access_from == [a]


def test_forget_removes_vector_and_text(service: MemoryService) -> None:
    ids = service.add([NewMemory(kind="fact", content=t) for t in FACTS])
    assert service.forget([ids[0]]) == 1
    assert ids[0] not in [h.id for h in service.search(FACTS[0], 8, mutate=False).hits]
    assert not service.vectors.contains(ids[0])
    assert service.repo.count_vectors(service.embedder.name) == len(FACTS) - 1
    assert service.forget([ids[0]]) == 0


def test_too_long_text_is_chunked_not_truncated(service: MemoryService) -> None:
    head = "The secret launch code is kept in the blue binder. "
    tail = "Zebras migrate across the Serengeti plains in enormous herds every year. "
    long_text = head + "filler words " * 300 + tail
    assert service.embedder.count_tokens(long_text) > 256
    (memory_id,) = service.add([NewMemory(kind="fact", content=long_text)])
    service.add([NewMemory(kind="fact", content=t) for t in FACTS])
    found = service.search("zebras migrating across the Serengeti", 3, mode="dense").hits
    assert memory_id in [h.id for h in found]  # the end of the text counts too


def test_index_rebuilt_when_missing_corrupt_or_stale(
    tmp_path: Path, clock: FrozenClock, embedder: OnnxMiniLMEmbedder
) -> None:
    policy = load_policy().policy
    db, index_dir = tmp_path / "db.duckdb", tmp_path / "index"
    with Store(db, clock=clock) as store:
        svc = MemoryService(store, embedder, policy, clock, index_dir)
        svc.open()
        ids = svc.add([NewMemory(kind="fact", content=t) for t in FACTS])
        svc.close()
        path = svc.index_path
        assert MemoryService(store, embedder, policy, clock, index_dir).open().rebuilt is False

        data = bytearray(path.read_bytes())
        data[len(data) // 2] ^= 0xFF  # damage the graph: must not be loaded
        path.write_bytes(bytes(data))
        report = MemoryService(store, embedder, policy, clock, index_dir).open()
        assert report.rebuilt and report.index_status == "checksum-mismatch"

        path.unlink()
        fresh = MemoryService(store, embedder, policy, clock, index_dir)
        report = fresh.open()
        assert report.rebuilt and report.index_status == "missing" and report.vectors == 8
        assert fresh.search(FACTS[3], 1, mutate=False).hits[0].id == ids[3]

        store.write(
            lambda cur: cur.execute(  # a vector the saved index does not hold
                "INSERT INTO memory_vectors SELECT 999, model, vector, created_at "
                "FROM memory_vectors LIMIT 1"
            )
        )
        store.write(
            lambda cur: cur.execute(
                "INSERT INTO memories (id, kind, content, created_at, updated_at) "
                "VALUES (999, 'fact', 'x', now(), now())"
            )
        )
        report = MemoryService(store, embedder, policy, clock, index_dir).open()
        assert report.index_status == "stale-count" and report.vectors == 9


def test_vectors_are_stored_as_f16(service: MemoryService) -> None:
    (memory_id,) = service.add([NewMemory(kind="fact", content=FACTS[0])])
    blob = (
        service.store.reader()
        .execute("SELECT vector FROM memory_vectors WHERE memory_id = ?", [memory_id])
        .fetchall()[0][0]
    )
    assert len(blob) == 384 * 2
    vector = np.frombuffer(blob, dtype="<f2").astype(np.float32)
    assert abs(float(np.linalg.norm(vector)) - 1.0) < 1e-2


def test_deferred_retrieval_effects_apply_in_the_callers_transaction(
    service: MemoryService, clock: FrozenClock
) -> None:
    """A turn searches read-only and commits the effects with the turn itself."""
    service.add([NewMemory(kind="fact", content=t) for t in FACTS])
    result = service.search("cat radiator", 5, mutate=False, noise=True)
    top = result.hits[0].id
    before = service.get(top)
    assert before is not None and before.access_timestamps == []  # nothing written yet

    def fail_after_effects(cur: object) -> None:
        service.retrieval_effects_in(cur, result, clock.now())  # type: ignore[arg-type]
        raise RuntimeError("the turn's commit failed")

    with pytest.raises(RuntimeError):
        service.store.write(fail_after_effects)
    rolled_back = service.get(top)
    assert rolled_back is not None and rolled_back.access_timestamps == []
    service.store.write(lambda cur: service.retrieval_effects_in(cur, result, clock.now()))
    after = service.get(top)
    assert after is not None and after.alpha == pytest.approx(1.1)
    assert after.access_timestamps == [clock.now().timestamp()]


def test_a_text_is_embedded_once_while_it_stays_in_the_cache(service: MemoryService) -> None:
    cache = service.embed_cache
    first = service.embed_texts(["the cat sleeps on the radiator", "tea at noon"])
    assert (cache.misses, cache.hits) == (2, 0)
    again = service.embed_texts(["tea at noon", "the cat sleeps on the radiator", "tea at noon"])
    assert cache.hits == 3 and cache.misses == 2  # three lookups, no new embedding
    assert np.array_equal(again[1], first[0]) and np.array_equal(again[0], first[1])
    assert np.array_equal(again[0], again[2])


def test_the_embedding_cache_evicts_the_least_recently_used() -> None:
    from engine.memory.embed_cache import EmbeddingCache

    cache = EmbeddingCache(capacity=2)
    one, two, three = (np.full(4, v, dtype=np.float32) for v in (1, 2, 3))
    cache.put("m", "a", one)
    cache.put("m", "b", two)
    assert cache.get("m", "a") is not None  # "a" is now the most recent
    cache.put("m", "c", three)
    assert cache.get("m", "b") is None and len(cache) == 2
    assert cache.get("other-model", "a") is None  # keyed by model too
    kept = cache.get("m", "a")
    assert kept is not None and not kept.flags.writeable
    assert EmbeddingCache(0).get("m", "a") is None
