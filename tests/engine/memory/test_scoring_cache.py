"""The scoring cache agrees with DuckDB after every kind of write, and answers the
neighbour and co-access questions exactly as the SQL does."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest

from engine.clock import FrozenClock
from engine.config import load_policy
from engine.memory.contiguity import conversation_neighbours
from engine.memory.embed import HashingEmbedder
from engine.memory.ragged import Ragged
from engine.memory.records import NewMemory
from engine.memory.scoring_cache import ScoringCache
from engine.memory.scoring_load import cached_memory, load_scoring_cache
from engine.memory.service import MemoryService
from engine.store import Store
from tests.engine.memory.store_builder import (
    add_prepared,
    build_history,
    random_memories,
    stored_rows,
)


def _fresh(svc: MemoryService) -> ScoringCache:
    cache = ScoringCache(svc.policy.retrieval.contiguity.kinds)
    load_scoring_cache(cache, svc.store.reader())
    return cache


def _assert_cache_is_store(svc: MemoryService, cache: ScoringCache) -> None:
    stored = stored_rows(svc)
    assert stored
    for memory_id, row in stored.items():
        assert cached_memory(cache, memory_id) == row, memory_id  # exact, floats included
    assert cached_memory(cache, max(stored) + 1) is None


def test_cache_equals_store_after_every_kind_of_write(
    service: MemoryService, clock: FrozenClock
) -> None:
    build_history(service, clock, np.random.default_rng(7))
    stored = stored_rows(service)
    assert any(r["deleted"] for r in stored.values())
    assert any(r["pinned"] for r in stored.values())
    assert any(len(r["access_timestamps"]) > 1 for r in stored.values())
    assert any(count > 1 for r in stored.values() for count in r["co_access"].values())
    assert any(r["beta"] != 4.0 for r in stored.values() if not r["immutable"])
    _assert_cache_is_store(service, service.scoring)  # kept up to date by the writers
    _assert_cache_is_store(service, _fresh(service))  # loaded from the store
    fresh = _fresh(service)
    incremental = {
        service.scoring.channel_names[c]: (list(t.times), list(t.ids))
        for c, t in service.scoring.conversations.timelines.items()
        if len(t)
    }
    loaded = {
        fresh.channel_names[c]: (list(t.times), list(t.ids))
        for c, t in fresh.conversations.timelines.items()
        if len(t)
    }
    assert incremental == loaded and incremental


def test_the_weight_ceiling_is_applied_like_the_sql(
    service: MemoryService, clock: FrozenClock
) -> None:
    ids = service.add(
        [NewMemory(kind="fact", content=f"lighthouse keeper log {i}") for i in range(12)]
    )
    service.store.write(  # mutable memories right below the ceiling, one immutable
        lambda cur: cur.execute(
            "UPDATE memories SET depth_weight_beta = 1.0 + id / 70, depth_weight_alpha = "
            "19 * (1.0 + id / 70) - 0.15 + id / 1000, immutable = (id % 5 = 0) "
            "WHERE id = ANY($1)",
            [ids],
        )
    )
    service.reload_scoring_cache()
    for _ in range(4):
        clock.advance(60)
        service.search("lighthouse keeper log", 5, mutate=True)
    service.store.write(lambda cur: None)
    stored = stored_rows(service)
    means = [r["alpha"] / (r["alpha"] + r["beta"]) for r in stored.values() if not r["immutable"]]
    assert max(means) == pytest.approx(0.95)  # the ceiling was reached
    _assert_cache_is_store(service, service.scoring)


def test_index_prepared_from_another_service_reads_rows_back(
    service: MemoryService, clock: FrozenClock, tmp_path: Path
) -> None:
    other = MemoryService(
        service.store, HashingEmbedder(), service.policy, clock, tmp_path / "other-ix"
    )
    prepared = other.prepare(random_memories(np.random.default_rng(3), clock, 6))
    ids = service.store.write(lambda cur: other.insert_prepared(cur, prepared))
    service.index_prepared(ids, prepared)  # no creation time recorded here: read back
    _assert_cache_is_store(service, service.scoring)


def test_neighbours_equal_the_sql(service: MemoryService, clock: FrozenClock) -> None:
    rng = np.random.default_rng(11)
    ids = add_prepared(service, random_memories(rng, clock, 150))
    service.forget([int(i) for i in rng.choice(ids, 15)])
    kinds = service.policy.retrieval.contiguity.kinds
    unknown = max(ids) + 5
    for span, gap_minutes in itertools.product((1, 2, 3), (30, 45, 0.5)):
        for _ in range(10):
            seeds = [int(i) for i in rng.choice(ids, 6)] + [unknown]
            cached = service.scoring.neighbours(seeds, span, gap_minutes * 60)
            sql = conversation_neighbours(
                service.store.reader(), seeds, span=span, gap_seconds=gap_minutes * 60, kinds=kinds
            )
            assert cached == sql
            assert list(cached) == sorted(cached)
    assert any(service.scoring.neighbours(ids, 2, 1800).values())


def test_partners_equal_the_sql(service: MemoryService, clock: FrozenClock) -> None:
    rng = np.random.default_rng(5)
    ids = service.add(random_memories(rng, clock, 60))
    pairs = {tuple(sorted(int(x) for x in rng.choice(ids, 2, replace=False))) for _ in range(300)}
    counts = [int(rng.integers(1, 4)) for _ in pairs]
    service.store.write(
        lambda cur: cur.execute(
            "INSERT INTO co_access SELECT unnest($1), unnest($2), unnest($3), now()",
            [[a for a, _ in pairs], [b for _, b in pairs], counts],
        )
    )
    service.forget([int(i) for i in rng.choice(ids, 8)])
    service.reload_scoring_cache()
    for per_seed, min_count in itertools.product((1, 3, 50), (1, 2, 3)):
        seeds = [*(int(i) for i in rng.choice(ids, 10)), 10**6]
        cached = service.scoring.partners(seeds, per_seed, min_count)
        sql = service.repo.co_access_partners(seeds, per_seed, min_count)
        assert {s: set(p) for s, p in cached.items()} == {s: set(p) for s, p in sql.items()}
        for seed, partners in cached.items():  # most frequent first, ties by id
            row = cached_memory(service.scoring, seed)
            assert row is not None
            order = [(-row["co_access"][p], p) for p in partners]
            assert order == sorted(order)


def test_load_reports_progress(service: MemoryService, clock: FrozenClock) -> None:
    service.add(random_memories(np.random.default_rng(1), clock, 30))
    seen: list[tuple[str, int, int]] = []
    cache = ScoringCache(service.policy.retrieval.contiguity.kinds)
    assert load_scoring_cache(cache, service.store.reader(), lambda *a: seen.append(a), 10) == 30
    assert seen[-1] == ("scoring cache", 30, 30) and len(seen) == 5  # ids 0-9, ..., 30; done


def test_ragged_rows_survive_appends_and_compaction() -> None:
    rng = np.random.default_rng(2)
    ragged = Ragged([np.float64])
    model: dict[int, list[float]] = {}
    ids = np.repeat(np.arange(1, 40), rng.integers(0, 4, 39))
    values = rng.random(len(ids))
    ragged.ensure_ids(50)
    ragged.load(ids, [values])
    for key, value in zip(ids.tolist(), values.tolist(), strict=True):
        model.setdefault(key, []).append(value)
    for step in range(3000):
        key = int(rng.integers(0, 60))
        if step % 97 == 0:
            ragged.clear(key)
            model.pop(key, None)
        else:
            value = float(rng.random())
            ragged.append(key, (value,))
            model.setdefault(key, []).append(value)
        if step % 500 == 0:
            ragged.compact()
    for key in range(70):
        start, stop = ragged.row(key)
        assert ragged.columns[0][start:stop].tolist() == model.get(key, [])
    assert ragged.live == sum(len(v) for v in model.values())
    assert len(ragged.columns[0]) <= 4 * ragged.live + 1024  # garbage is reclaimed


def test_rebuild_adds_on_the_configured_threads(
    tmp_path: Path, clock: FrozenClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    with Store(tmp_path / "db.duckdb", clock=clock) as store:
        policy = load_policy().policy
        first = MemoryService(store, HashingEmbedder(), policy, clock, tmp_path / "ix", threads=2)
        first.add([NewMemory(kind="fact", content="river pasta", event_ts=clock.now())])
        svc = MemoryService(store, HashingEmbedder(), policy, clock, tmp_path / "ix2", threads=2)
        seen: list[int | None] = []
        original = type(svc.vectors).add

        def add(self: object, keys: object, vectors: object, **kw: object) -> None:
            seen.append(kw.get("threads"))  # type: ignore[arg-type]
            original(self, keys, vectors, **kw)  # type: ignore[arg-type]

        monkeypatch.setattr(type(svc.vectors), "add", add)
        assert svc.open().rebuilt
        assert seen == [2]
