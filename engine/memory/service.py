"""The memory subsystem as one object: store, embed, index, search, forget.

DuckDB is the source of truth. On open the keyword index and the scoring cache
(what search scores by: :mod:`engine.memory.scoring_cache`) are loaded from it and
the vector index is verified (model, dimension, checksum, count) and rebuilt
from the stored f16 vectors when anything is off. A write commits rows and
vectors in one transaction; the in-memory indexes are updated after the commit
(retrieval effects: when queued, see :mod:`engine.memory.retrieval_effects`).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import numpy.typing as npt
import structlog

from engine.clock import Clock, to_naive_utc
from engine.memory.embed import Embedder, prefixed_text
from engine.memory.keyword import KeywordIndex
from engine.memory.nearest_cache import NearestCache
from engine.memory.records import Memory, NewMemory
from engine.memory.repository import MemoryRepository
from engine.memory.rerank import Reranker
from engine.memory.retrieval_effects import (
    apply_retrieval_effects,
    fold_co_access,
    record_inclusions,
    retrieval_amounts,
    retrieval_effect_ids,
    write_retrieval_effects,
)
from engine.memory.scoring_cache import ScoringCache
from engine.memory.scoring_load import load_scoring_cache, refresh_scoring_rows
from engine.memory.scoring_rows import epoch_us
from engine.memory.search import HybridSearcher, Mode, SearchResult
from engine.memory.stat_updates import MemoryStatUpdates
from engine.memory.text_embedding import TextEmbedding
from engine.memory.vector_index import IndexStatus, UsearchVectorIndex
from engine.policy import Policy
from engine.store import Store

log = structlog.get_logger("cephalon.memory")
Progress = Callable[[str, int, int], None]
"""``progress(stage, done, total)`` for long work (index rebuild, import)."""


@dataclass(frozen=True)
class OpenReport:
    """What ``open`` found and did."""

    memories: int
    index_status: str
    index_detail: str
    rebuilt: bool
    vectors: int


@dataclass(frozen=True)
class PreparedMemories:
    """Memories with their vectors computed, not yet stored."""

    items: list[NewMemory]
    embedded: list[int]
    """Positions in ``items`` that have a vector (in ``vectors`` order)."""
    vectors: npt.NDArray[np.float32]


def _slug(model: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in model)


class MemoryService:
    """Long-term memory: add, search (explained), pin, forget, import."""

    def __init__(
        self,
        store: Store,
        embedder: Embedder,
        policy: Policy,
        clock: Clock,
        index_dir: Path,
        reranker: Reranker | None = None,
        threads: int = 2,
        seed: int = 0,
    ) -> None:
        self.store = store
        self.embedder = embedder
        self.embedding = TextEmbedding(embedder, policy.embedding)
        self.embed_cache = self.embedding.cache
        self.prefetch = self.embedding.prefetch
        """Inputs embedded ahead of their turn (:meth:`prefetch_embeddings`)."""
        self.nearest_cache = NearestCache(
            lambda: self.vectors,
            policy.index.nearest_cache_entries,
            policy.index.lookup_expansion,
        )
        self.policy = policy
        self.clock = clock
        self.repo = MemoryRepository(store, policy.retrieval.content_cache_entries)
        self.keyword = KeywordIndex(policy.retrieval.bm25_k1, policy.retrieval.bm25_b)
        self.index_path = index_dir / f"memories-{_slug(embedder.name)}.usearch"
        self.reranker = reranker
        self.rng = np.random.default_rng(seed)
        self._threads = threads
        self.vectors = self._new_index()
        self.scoring = ScoringCache(policy.retrieval.contiguity.kinds)
        self.searcher = HybridSearcher(
            self.repo, self.keyword, self.vectors, policy, clock, reranker, cache=self.scoring
        )
        self._dirty = False
        self._inserted_at: dict[int, datetime] = {}
        """Creation time of inserted memories not yet indexed (insert -> index_prepared)."""
        self._inserted_lock = threading.Lock()

    def _new_index(self) -> UsearchVectorIndex:
        ix = self.policy.index
        return UsearchVectorIndex(
            model=self.embedder.name,
            dim=self.embedder.dim,
            connectivity=ix.connectivity,
            expansion_add=ix.expansion_add,
            expansion_search=ix.expansion_search,
            add_threads=1,
            rebuild_threads=self._threads,
        )

    # -- lifecycle ----------------------------------------------------------------------

    def open(self, progress: Progress | None = None) -> OpenReport:
        """Fold the co-access log, build the keyword index and scoring cache, verify (or
        rebuild) the vector index; the texts read for the keyword index fill the content
        cache on the way.

        Args:
            progress: called as ``progress(stage, done, total)``.

        Returns:
            What was found and whether the vector index was rebuilt.
        """
        total = self.repo.count()
        done = 0
        version = self.repo.content_cache.version
        for batch in self.repo.iter_texts():
            done += self.keyword.add_many(batch)
            self.repo.content_cache.put_many(dict(batch), version)  # warm: no reads per turn
            if progress:
                progress("keyword index", done, total)
        if self.store.writer is not None:  # the co-access logged since the last start
            self.store.write(fold_co_access)
        self.reload_scoring_cache(progress)
        ix = self.policy.index
        opened = UsearchVectorIndex.open(
            self.index_path,
            expected_model=self.embedder.name,
            expected_dim=self.embedder.dim,
            connectivity=ix.connectivity,
            expansion_add=ix.expansion_add,
            expansion_search=ix.expansion_search,
            rebuild_threads=self._threads,
        )
        stored = self.repo.count_vectors(self.embedder.name)
        status, detail = opened.status.value, opened.detail
        if opened.status is IndexStatus.OK and len(opened.index) != stored:
            status = "stale-count"
            detail = f"index holds {len(opened.index)} vectors, the database {stored}"
        self.vectors = opened.index if status == IndexStatus.OK.value else self._new_index()
        self.searcher.vectors = self.vectors
        rebuilt = status != IndexStatus.OK.value
        if rebuilt:
            log.warning("vector index rebuild", status=status, detail=detail, vectors=stored)
            self._rebuild(stored, progress)
        return OpenReport(total, status, detail, rebuilt, len(self.vectors))

    def reload_scoring_cache(self, progress: Progress | None = None) -> int:
        """Load the scoring cache from DuckDB again, after writes made behind this
        service's back (SQL by hand, another process, a migration).

        Args:
            progress: called as ``progress("scoring cache", done, total)``.

        Returns:
            How many memories it holds (deleted ones included).
        """
        return load_scoring_cache(self.scoring, self.store.reader(), progress)

    def _rebuild(self, total: int, progress: Progress | None) -> None:
        done = 0
        for ids, vectors in self.repo.iter_vectors(
            self.embedder.name, self.embedder.dim, self.policy.index.rebuild_batch
        ):
            self.vectors.add(ids, vectors, threads=self._threads)
            done += len(ids)
            if progress:
                progress("vector index", done, total)
        try:
            self.save_index()
        except OSError as exc:  # e.g. a read-only data dir: keep the rebuilt index in memory
            log.warning("vector index not saved", error=str(exc))

    def save_index(self) -> None:
        """Write the vector index atomically with its checksum."""
        self.index_path.parent.mkdir(parents=True, exist_ok=True)
        self.vectors.save(self.index_path)
        self._dirty = False

    def close(self) -> None:
        """Finish prefetching; save the vector index if it changed."""
        self.embedding.close()
        if self._dirty:
            self.save_index()

    # -- writes -------------------------------------------------------------------------

    def embedding_text(self, memory: NewMemory | Memory) -> str:
        """The text embedded for a memory (with its type prefix when the policy says so)."""
        e = self.policy.embedding
        if not e.use_type_prefixes or memory.kind not in e.type_prefixes:
            return memory.content  # messages, summaries... carry no type prefix
        return prefixed_text(memory.kind, memory.content, e.type_prefixes)

    def embed_texts(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        """Embed texts (:meth:`engine.memory.text_embedding.TextEmbedding.embed`: chunked,
        never truncated, cached, a prefetched text waited for)."""
        return self.embedding.embed(texts)

    def prefetch_embeddings(self, texts: Sequence[str]) -> None:
        """Start embedding texts in the background (an input as intake stores it).

        Args:
            texts: texts a turn will soon embed; already cached ones are skipped.
        """
        self.embedding.start(texts)

    def prepare(self, items: Sequence[NewMemory]) -> PreparedMemories:
        """Embed what needs embedding (slow; done before any transaction opens).

        Args:
            items: the memories.

        Returns:
            The memories with their vectors, ready for :meth:`insert_prepared`.
        """
        to_embed = [i for i, item in enumerate(items) if item.embed]
        vectors = self.embed_texts([self.embedding_text(items[i]) for i in to_embed])
        return PreparedMemories(list(items), to_embed, vectors)

    def insert_prepared(
        self, cur: duckdb.DuckDBPyConnection, prepared: PreparedMemories
    ) -> list[int]:
        """Insert prepared memories and their vectors inside the caller's transaction.

        Call :meth:`index_prepared` with the ids after the transaction commits.
        """
        now = self.clock.now()
        w = self.policy.weights
        model = self.embedder.name
        ids = self.repo.insert(
            cur,
            prepared.items,
            now,
            (w.prior_alpha, w.prior_beta),
            (w.immutable_alpha, w.immutable_beta),
            model,
            set(prepared.embedded),
        )
        embedded = [ids[i] for i in prepared.embedded]
        self.repo.insert_vectors(cur, embedded, model, prepared.vectors, now, record_model=False)
        with self._inserted_lock:
            self._inserted_at.update(dict.fromkeys(ids, now))
        return ids

    def index_prepared(self, ids: Sequence[int], prepared: PreparedMemories) -> None:
        """Make committed memories searchable (scoring cache, keyword and vector indexes)
        and remember the new ones' texts (the content cache: a later turn that finds
        them reads no table).

        Args:
            ids: what :meth:`insert_prepared` returned, after the commit.
            prepared: what was inserted.
        """
        w = self.policy.weights
        priors = ((w.prior_alpha, w.prior_beta), (w.immutable_alpha, w.immutable_beta))
        with self._inserted_lock:
            created = [self._inserted_at.pop(memory_id, None) for memory_id in ids]
        texts: dict[int, str] = {}
        for memory_id, item, at in zip(ids, prepared.items, created, strict=True):
            if at is not None:  # inserted by this service: its row is known
                self.scoring.insert([memory_id], [item], at, priors)
                texts[memory_id] = item.content
        self.repo.content_cache.put_many(texts, self.repo.content_cache.version)
        unknown = [memory_id for memory_id, at in zip(ids, created, strict=True) if at is None]
        if unknown:  # inserted by another service object: read them back
            refresh_scoring_rows(self.scoring, self.store.reader(), unknown)
        for memory_id, item in zip(ids, prepared.items, strict=True):
            self.keyword.add(memory_id, item.content)
        if prepared.embedded:
            keys = np.asarray([ids[i] for i in prepared.embedded], dtype=np.int64)
            self.vectors.add(keys, prepared.vectors)
            self._dirty = True

    def add(self, items: Sequence[NewMemory]) -> list[int]:
        """Store memories and their vectors in one transaction, then index them.

        Args:
            items: the memories (``embed=False`` ones get no vector).

        Returns:
            Their ids.
        """
        if not items:
            return []
        prepared = self.prepare(items)
        ids = self.store.write(lambda cur: self.insert_prepared(cur, prepared))
        self.index_prepared(ids, prepared)
        return ids

    def forget(self, ids: Sequence[int]) -> int:
        """Tombstone memories and purge their vectors; returns how many were live."""
        live = [m.id for m in self.repo.get_many(ids).values() if not m.deleted]
        if not live:
            return 0
        now = self.clock.now()
        self.store.write(lambda cur: self.repo.mark_deleted(cur, live, now))
        self.purge_indexes(live)
        return len(live)

    def purge_indexes(self, ids: Sequence[int]) -> None:
        """Drop memories from the in-memory indexes (scoring cache, keyword, vectors)
        after a commit that marked them deleted (``repo.mark_deleted`` in a writer job).

        Args:
            ids: memories now deleted in DuckDB.
        """
        if not ids:
            return
        self.scoring.mark_deleted(ids)
        for memory_id in ids:
            self.keyword.remove(memory_id)
        self.vectors.remove(np.asarray(list(ids), dtype=np.int64))
        self._dirty = True

    def pin(self, memory_id: int, pinned: bool = True) -> bool:
        """Pin (never compacted, always a candidate for identity) or unpin a memory."""
        changed = self.repo.set_pinned(memory_id, pinned, self.clock.now())
        if changed:
            self.scoring.set_pinned(memory_id, pinned)
        return changed

    # -- reads --------------------------------------------------------------------------

    def search(
        self,
        query: str,
        k: int | None = None,
        *,
        mode: Mode = "full",
        allowed: Sequence[int] | None = None,
        mutate: bool = True,
        noise: bool | None = None,
        context_vector: npt.NDArray[np.float32] | None = None,
    ) -> SearchResult:
        """Hybrid search with explanations; retrieval strengthens what it returns.

        Args:
            query: what to look for.
            k: how many (default: the policy's ``retrieval.default_k``).
            mode: ``full`` or a baseline (``bm25``, ``dense``, ``rrf``).
            allowed: restrict to these memory ids.
            mutate: apply retrieval effects (access times, reinforce/contradict, co-access)
                in a write of their own. A turn passes False with ``noise=True`` and
                applies them in its commit (:meth:`retrieval_effects_in`).
            noise: add seeded ACT-R noise (default: only when ``mutate``, so read-only
                lookups give the same answer twice).
            context_vector: attention focus for spreading (default: the query).

        Returns:
            The results; ``timings_ms['embed']`` holds the query embedding time.
        """
        import time

        k = k or self.policy.retrieval.default_k
        t0 = time.perf_counter()
        vector = None if mode == "bm25" else self.embed_texts([query])[0]
        embed_ms = (time.perf_counter() - t0) * 1000
        result = self.searcher.search(
            query,
            vector,
            k,
            mode=mode,
            allowed=allowed,
            context_vector=context_vector,
            rng=self.rng if (mutate if noise is None else noise) else None,
        )
        result.timings_ms["embed"] = embed_ms
        if mutate and mode == "full" and result.hits:
            apply_retrieval_effects(self.store, self.policy, self.clock.now(), result, self.scoring)
        return result

    def retrieval_effects_in(
        self,
        cur: duckdb.DuckDBPyConnection,
        result: SearchResult,
        now: datetime,
        stats: MemoryStatUpdates | None = None,
    ) -> None:
        """Write a search's retrieval effects inside the caller's transaction (the scoring
        cache is the caller's: :meth:`cache_retrieval_effects` once it has committed).

        Args:
            cur: the writer's cursor (a turn's commit).
            result: a search made with ``mutate=False``.
            now: the access time.
            stats: collects the weight and access changes for the turn's one UPDATE.
        """
        if not result.hits:
            return
        hit_ids, miss_ids = retrieval_effect_ids(self.policy, result)
        write_retrieval_effects(cur, self.policy, now, hit_ids, miss_ids, stats)

    def cache_retrieval_effects(self, result: SearchResult, now: datetime) -> None:
        """The scoring cache's side of :meth:`retrieval_effects_in` (same arithmetic).

        Args:
            result: the search.
            now: the access time.
        """
        if not result.hits:
            return
        hit_ids, miss_ids = retrieval_effect_ids(self.policy, result)
        with self.scoring.lock:
            self.scoring.record_retrieval(
                hit_ids, miss_ids, now.timestamp(), retrieval_amounts(self.policy)
            )

    def get(self, memory_id: int) -> Memory | None:
        """One memory by id (deleted ones too)."""
        return self.repo.get(memory_id)

    # -- the memory tools (engine.tools.builtin.MemoryToolService) ----------------------

    def search_for_tool(self, query: str, k: int) -> list[dict[str, Any]]:
        """Search for the ``memory.search`` tool: compact hits."""
        return [
            {"id": h.id, "kind": h.kind, "content": h.content, "score": h.score}
            for h in self.search(query, k).hits
        ]

    def add_for_tool(self, text: str, kind: str, source_tag: str) -> int:
        """Store a memory for the ``memory.add`` tool."""
        return self.add([NewMemory(kind=kind, content=text, source="tool", source_tag=source_tag)])[
            0
        ]

    def log_inclusions(
        self, turn_id: int | None, context_id: str, items: list[tuple[int, int]]
    ) -> int:
        """Record context inclusions and update access statistics (one transaction).

        Args:
            turn_id: the turn, if any.
            context_id: the context (for the log).
            items: (memory id, tokens) pairs, in context order.

        Returns:
            How many inclusions were recorded.
        """
        now = to_naive_utc(self.clock.now())
        tau = self.policy.compaction.access.tau_days * 86400
        count = self.store.write(
            lambda cur: record_inclusions(cur, turn_id, context_id, items, now, tau)
        )  # the SQL appends epoch(now) to each memory's access times; so does the cache:
        self.scoring.record_access([memory_id for memory_id, _ in items], epoch_us(now) / 10**6)
        return count
