"""Reading and writing memories, their vectors and co-access counts in DuckDB.

Methods named ``insert_*``/``update_*`` run inside the caller's transaction (a
writer job), so a turn or an import batch commits everything in one go.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Iterator, Sequence
from datetime import datetime
from typing import Any

import duckdb
import numpy as np
import numpy.typing as npt

from engine.clock import from_naive_utc, to_naive_utc
from engine.memory.content_cache import ContentCache
from engine.memory.records import Memory, NewMemory
from engine.memory.scoring_load import access_times
from engine.store import Store
from engine.store.sql import scalar

_COLUMNS = (
    "id, kind, content, normalized_content, source, channel_id, author_id, author_is_bot, "
    "source_meta, event_ids, created_at, updated_at, event_ts, last_included_at, "
    "NULL, "  # (was access_timestamps: now rows of memory_accesses, see access_times)
    "included_count_decay, depth_weight_alpha, depth_weight_beta, pinned, "
    "locked_by_admin, locked_by_system, deleted, immutable, source_tag, source_confidence, "
    "compressed, embed_model, fingerprints, tags"
)


def _memory(row: Sequence[Any], accessed: list[float]) -> Memory:
    def ts(value: datetime | None) -> datetime | None:
        return from_naive_utc(value) if value is not None else None

    return Memory(
        id=row[0],
        kind=row[1],
        content=row[2],
        normalized_content=row[3],
        source=row[4],
        channel_id=row[5],
        author_id=row[6],
        author_is_bot=row[7],
        source_meta=json.loads(row[8]) if row[8] else {},
        event_ids=list(row[9] or []),
        created_at=from_naive_utc(row[10]),
        updated_at=from_naive_utc(row[11]),
        event_ts=ts(row[12]),
        last_included_at=ts(row[13]),
        access_timestamps=accessed,
        included_count_decay=row[15],
        alpha=row[16],
        beta=row[17],
        pinned=row[18],
        locked_by_admin=row[19],
        locked_by_system=row[20],
        deleted=row[21],
        immutable=row[22],
        source_tag=row[23],
        source_confidence=row[24],
        compressed=row[25],
        embed_model=row[26],
        fingerprints=json.loads(row[27]) if row[27] else None,
        tags=list(row[28] or []),
    )


def vector_blob(vector: npt.ArrayLike) -> bytes:
    """A unit vector as stored: little-endian float16 bytes ("halfvec")."""
    return np.asarray(vector, dtype="<f2").tobytes()


def blob_vectors(blobs: Sequence[bytes], dim: int) -> npt.NDArray[np.float32]:
    """Stored vectors back as a float32 matrix."""
    if not blobs:
        return np.zeros((0, dim), dtype=np.float32)
    return np.frombuffer(b"".join(blobs), dtype="<f2").reshape(len(blobs), dim).astype(np.float32)


class MemoryRepository:
    """Memories in the store."""

    def __init__(self, store: Store, content_cache_entries: int = 0) -> None:
        """Create the repository.

        Args:
            store: the store.
            content_cache_entries: memory texts kept in memory for :meth:`contents`
                (0: none).
        """
        self.store = store
        self.content_cache = ContentCache(content_cache_entries)

    # -- writes inside a caller's transaction ------------------------------------------

    def insert(
        self,
        cur: duckdb.DuckDBPyConnection,
        items: Sequence[NewMemory],
        now: datetime,
        prior: tuple[float, float],
        immutable_prior: tuple[float, float],
        embed_model: str | None = None,
        embedded: Collection[int] = (),
    ) -> list[int]:
        """Insert memories (ids allocated by the writer).

        Args:
            cur: the writer's cursor, inside a transaction.
            items: what to insert.
            now: creation time.
            prior: (alpha, beta) of a new mutable memory.
            immutable_prior: (alpha, beta) of an immutable one.
            embed_model: the model of the vectors stored with them (recorded here, so
                :meth:`insert_vectors` needs no UPDATE).
            embedded: positions in ``items`` that get a vector.

        Returns:
            The new ids, in order.
        """
        assert self.store.writer is not None
        first = self.store.writer.ids.take("memories", len(items))
        stamp = to_naive_utc(now)
        rows = []
        for offset, item in enumerate(items):
            alpha, beta = immutable_prior if item.immutable else prior
            rows.append(
                (
                    first + offset,
                    item.kind,
                    item.content,
                    item.normalized_content,
                    item.source,
                    item.channel_id,
                    item.author_id,
                    item.author_is_bot,
                    json.dumps(item.source_meta, default=str),
                    item.event_ids,
                    stamp,
                    stamp,
                    to_naive_utc(item.event_ts) if item.event_ts else None,
                    alpha,
                    beta,
                    item.pinned,
                    item.immutable,
                    item.source_tag,
                    item.source_confidence,
                    json.dumps(item.fingerprints) if item.fingerprints is not None else None,
                    item.tags,
                    embed_model if offset in embedded else None,
                )
            )
        self._insert_rows(cur, rows)
        return [first + i for i in range(len(items))]

    @staticmethod
    def _insert_rows(cur: duckdb.DuckDBPyConnection, rows: list[tuple[Any, ...]]) -> None:
        # One statement for any batch size: each column goes in as a list and is unnested.
        cur.execute(
            "INSERT INTO memories (id, kind, content, normalized_content, source, channel_id, "
            "author_id, author_is_bot, source_meta, event_ids, created_at, updated_at, event_ts, "
            "depth_weight_alpha, depth_weight_beta, pinned, immutable, source_tag, "
            "source_confidence, fingerprints, tags, embed_model) SELECT * FROM (SELECT "
            + ", ".join(f"unnest(${i + 1})" for i in range(22))
            + ")",
            [list(column) for column in zip(*rows, strict=True)],
        )

    def insert_vectors(
        self,
        cur: duckdb.DuckDBPyConnection,
        ids: Sequence[int],
        model: str,
        vectors: npt.NDArray[np.float32],
        now: datetime,
        record_model: bool = True,
    ) -> None:
        """Store vectors (f16) for memories and record their embedding model.

        Args:
            cur: the writer's cursor, inside a transaction.
            ids: the memories.
            model: the embedding model.
            vectors: one row per id.
            now: when they were embedded.
            record_model: set ``memories.embed_model`` (False: :meth:`insert` did).
        """
        if not ids:
            return
        stamp = to_naive_utc(now)
        cur.execute(
            "INSERT OR REPLACE INTO memory_vectors SELECT unnest($1), $2, unnest($3), $4",
            [list(ids), model, [vector_blob(v) for v in vectors], stamp],
        )
        if record_model:
            cur.execute(
                "UPDATE memories SET embed_model = $1 WHERE id = ANY($2)", [model, list(ids)]
            )

    def mark_deleted(
        self, cur: duckdb.DuckDBPyConnection, ids: Sequence[int], now: datetime
    ) -> None:
        """Tombstone memories and purge their vectors."""
        cur.execute(
            "UPDATE memories SET deleted = true, deleted_at = $1, updated_at = $1 "
            "WHERE id = ANY($2)",
            [to_naive_utc(now), list(ids)],
        )
        cur.execute("DELETE FROM memory_vectors WHERE memory_id = ANY($1)", [list(ids)])

    def set_pinned(self, memory_id: int, pinned: bool, now: datetime) -> bool:
        """Pin or unpin; returns whether the memory exists (and is not deleted)."""

        def job(cur: duckdb.DuckDBPyConnection) -> bool:
            cur.execute(
                "UPDATE memories SET pinned = $1, updated_at = $2 WHERE id = $3 AND NOT deleted",
                [pinned, to_naive_utc(now), memory_id],
            )
            return bool(
                scalar(
                    cur, "SELECT count(*) FROM memories WHERE id = ? AND NOT deleted", [memory_id]
                )
            )

        return self.store.write(job)

    # -- reads --------------------------------------------------------------------------

    def get(self, memory_id: int) -> Memory | None:
        """One memory (deleted ones too), or None."""
        found = self.get_many([memory_id])
        return found.get(memory_id)

    def get_many(self, ids: Sequence[int]) -> dict[int, Memory]:
        """Memories by id."""
        if not ids:
            return {}
        rows = (
            self.store.reader()
            .execute(f"SELECT {_COLUMNS} FROM memories WHERE id = ANY($1)", [list(ids)])
            .fetchall()
        )
        accessed = access_times(self.store.reader(), ids)
        return {row[0]: _memory(row, accessed.get(row[0], [])) for row in rows}

    def contents(self, ids: Sequence[int]) -> dict[int, str]:
        """The text of memories by id (deleted ones too), through the content cache."""
        if not ids:
            return {}
        found = self.content_cache.get_many(ids)
        missing = [i for i in dict.fromkeys(ids) if i not in found]
        if missing:
            version = self.content_cache.version
            rows = (
                self.store.reader()
                .execute("SELECT id, content FROM memories WHERE id = ANY($1)", [missing])
                .fetchall()
            )
            read = {int(row[0]): str(row[1]) for row in rows}
            self.content_cache.put_many(read, version)
            found.update(read)
        return found

    def count(self, include_deleted: bool = False) -> int:
        """How many memories."""
        where = "" if include_deleted else " WHERE NOT deleted"
        return int(scalar(self.store.reader(), f"SELECT count(*) FROM memories{where}"))

    def live_ids(self) -> list[int]:
        """Ids of every memory not deleted."""
        rows = (
            self.store.reader()
            .execute("SELECT id FROM memories WHERE NOT deleted ORDER BY id")
            .fetchall()
        )
        return [r[0] for r in rows]

    def iter_texts(self, batch: int = 10_000) -> Iterator[list[tuple[int, str]]]:
        """(id, content) of live memories in id order, in batches (keyword index rebuild)."""
        last = 0
        cur = self.store.reader()
        while True:
            rows = cur.execute(
                "SELECT id, content FROM memories WHERE NOT deleted AND id > ? ORDER BY id LIMIT ?",
                [last, batch],
            ).fetchall()
            if not rows:
                return
            yield [(int(r[0]), str(r[1])) for r in rows]
            last = rows[-1][0]

    def count_vectors(self, model: str) -> int:
        """Vectors stored for live memories under one model."""
        return int(
            scalar(
                self.store.reader(),
                "SELECT count(*) FROM memory_vectors v JOIN memories m ON m.id = v.memory_id "
                "WHERE v.model = ? AND NOT m.deleted",
                [model],
            )
        )

    def iter_vectors(
        self, model: str, dim: int, batch: int = 4096
    ) -> Iterator[tuple[npt.NDArray[np.int64], npt.NDArray[np.float32]]]:
        """(ids, vectors) of live memories under one model, in batches (index rebuild)."""
        last = 0
        cur = self.store.reader()
        while True:
            rows = cur.execute(
                "SELECT v.memory_id, v.vector FROM memory_vectors v JOIN memories m "
                "ON m.id = v.memory_id WHERE v.model = ? AND NOT m.deleted AND v.memory_id > ? "
                "ORDER BY v.memory_id LIMIT ?",
                [model, last, batch],
            ).fetchall()
            if not rows:
                return
            ids = np.asarray([r[0] for r in rows], dtype=np.int64)
            yield ids, blob_vectors([bytes(r[1]) for r in rows], dim)
            last = int(ids[-1])

    def ids_without_vectors(self, model: str, kinds_excluded: Sequence[str] = ()) -> list[int]:
        """Live memories with no vector under ``model`` (for background re-embedding)."""
        rows = (
            self.store.reader()
            .execute(
                "SELECT m.id FROM memories m LEFT JOIN memory_vectors v ON v.memory_id = m.id "
                "AND v.model = $1 WHERE NOT m.deleted AND v.memory_id IS NULL "
                "AND m.embed_model IS NOT NULL AND NOT list_contains($2, m.kind) ORDER BY m.id",
                [model, list(kinds_excluded)],
            )
            .fetchall()
        )
        return [r[0] for r in rows]

    def co_access_partners(
        self, ids: Sequence[int], per_seed: int, min_count: int
    ) -> dict[int, list[int]]:
        """Memories most often retrieved together with each of ``ids``, from DuckDB.

        Search asks the scoring cache instead
        (:meth:`engine.memory.scoring_cache.ScoringCache.partners`, same answer).

        Args:
            ids: seed memories.
            per_seed: partners per seed, most frequent first.
            min_count: ignore pairs seen fewer times.

        Returns:
            Seed id -> partner ids (live memories only).
        """
        if not ids:
            return {}
        rows = (
            self.store.reader()
            .execute(
                "WITH pairs AS (SELECT a AS seed, b AS partner, count FROM co_access_counts "
                "UNION ALL SELECT b, a, count FROM co_access_counts) "
                "SELECT seed, partner FROM pairs JOIN memories m ON m.id = partner "
                "WHERE seed = ANY($1) AND count >= $2 AND NOT m.deleted "
                "QUALIFY row_number() OVER (PARTITION BY seed ORDER BY count DESC, partner) <= $3",
                [list(ids), min_count, per_seed],
            )
            .fetchall()
        )
        partners: dict[int, list[int]] = {}
        for seed, partner in rows:
            partners.setdefault(int(seed), []).append(int(partner))
        return partners
