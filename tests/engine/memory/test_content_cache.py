"""Memory texts are read from DuckDB once, and a rewrite in place is never served stale."""

from __future__ import annotations

from pathlib import Path

from engine.memory.content_cache import ContentCache
from engine.memory.records import NewMemory
from engine.memory.service import MemoryService


def test_texts_are_read_once_then_served_from_the_cache(
    service: MemoryService, tmp_path: Path
) -> None:
    ids = service.add([NewMemory(kind="fact", content=f"fact number {i}") for i in range(5)])
    other = MemoryService(  # did not insert them and has not read them yet
        service.store, service.embedder, service.policy, service.clock, tmp_path / "ix2"
    )
    repo = other.repo
    assert repo.contents(ids[:3]) == {i: f"fact number {n}" for n, i in enumerate(ids[:3])}
    assert len(repo.content_cache) == 3
    # behind the cache's back: a cached text is not re-read, an uncached one is
    service.store.write(lambda cur: cur.execute("UPDATE memories SET content = 'x'"))
    again = repo.contents([ids[0], ids[4], ids[0]])
    assert again == {ids[0]: "fact number 0", ids[4]: "x"}
    repo.content_cache.forget([ids[0]])  # what a rewrite in place calls after its commit
    assert repo.contents([ids[0]]) == {ids[0]: "x"}


def test_a_memory_added_here_is_cached_at_once(service: MemoryService) -> None:
    ids = service.add([NewMemory(kind="fact", content=f"new fact {i}") for i in range(3)])
    assert service.repo.content_cache.get_many(ids) == {
        i: f"new fact {n}" for n, i in enumerate(ids)
    }


def test_a_read_racing_a_rewrite_is_not_cached() -> None:
    cache = ContentCache(10)
    version = cache.version  # a reader starts reading the old text...
    cache.forget([1])  # ...the rewrite commits and forgets...
    cache.put_many({1: "old"}, version)  # ...and the reader's old text is dropped
    assert cache.get_many([1]) == {}
    cache.put_many({1: "new"}, cache.version)
    assert cache.get_many([1]) == {1: "new"}


def test_the_cache_is_bounded_and_can_be_off() -> None:
    cache = ContentCache(2)
    cache.put_many({1: "a", 2: "b"}, 0)
    cache.get_many([1])  # 1 is now the most recent
    cache.put_many({3: "c"}, 0)
    assert cache.get_many([1, 2, 3]) == {1: "a", 3: "c"}
    off = ContentCache(0)
    off.put_many({1: "a"}, 0)
    assert len(off) == 0


def test_opening_the_service_fills_the_cache_from_the_keyword_read(
    service: MemoryService, tmp_path: Path
) -> None:
    ids = service.add([NewMemory(kind="fact", content=f"fact number {i}") for i in range(3)])
    reopened = MemoryService(
        service.store, service.embedder, service.policy, service.clock, tmp_path / "ix2"
    )
    assert len(reopened.repo.content_cache) == 0
    reopened.open()
    assert len(reopened.repo.content_cache) == 3
    service.store.write(lambda cur: cur.execute("UPDATE memories SET content = 'changed'"))
    # served from what open() read, with no read of its own
    assert reopened.repo.contents(ids) == {i: f"fact number {n}" for n, i in enumerate(ids)}
    reopened.close()
