"""Loading the scoring cache from DuckDB (the source of truth).

:func:`load_scoring_cache` reads every memory once, in id ranges (progress per range),
all columns numeric (kinds and channels are coded by joins in SQL), then the access
times (``memory_accesses``), then the ``co_access`` table.
:func:`refresh_scoring_rows` re-reads a few memories; :func:`cached_memory` shows
what the cache holds about one (to compare with the store).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import duckdb
import numpy as np
import numpy.typing as npt

from engine.memory.scoring_cache import ScoringCache

Progress = Callable[[str, int, int], None]
STAGE = "scoring cache"
"""The ``progress`` stage name."""

_ROWS = """
SELECT m.id, k.code AS kind, coalesce(c.code, -1) AS channel, m.author_is_bot,
       m.immutable, m.deleted, epoch_us(coalesce(m.event_ts, m.created_at)) AS time_us,
       m.depth_weight_alpha AS alpha, m.depth_weight_beta AS beta, m.pinned
FROM memories m
JOIN (SELECT unnest($3::VARCHAR[]) AS name, unnest($4::INTEGER[]) AS code) k
  ON k.name = m.kind
LEFT JOIN (SELECT unnest($5::VARCHAR[]) AS name, unnest($6::INTEGER[]) AS code) c
  ON c.name = m.channel_id
WHERE m.id BETWEEN $1 AND $2
"""
_ACCESSES = """
SELECT memory_id AS id, accessed_at AS stamp, rowid AS k
FROM memory_accesses WHERE memory_id BETWEEN $1 AND $2
"""
_ONE = (
    "SELECT id, kind, channel_id, author_is_bot, immutable, deleted, "
    "epoch_us(coalesce(event_ts, created_at)), depth_weight_alpha, depth_weight_beta, "
    "pinned FROM memories WHERE id = ANY($1)"
)


def access_times(cur: duckdb.DuckDBPyConnection, ids: Sequence[int]) -> dict[int, list[float]]:
    """Some memories' access times, in the order they were logged (an index lookup).

    Args:
        cur: a read cursor.
        ids: the memories.

    Returns:
        memory id -> its times (memories never accessed are absent).
    """
    rows = cur.execute(
        "SELECT memory_id, list(accessed_at ORDER BY rowid) FROM memory_accesses "
        "WHERE memory_id = ANY($1) GROUP BY memory_id",
        [list(ids)],
    ).fetchall()
    return {int(r[0]): list(r[1]) for r in rows}


def _codes(cache: ScoringCache, cur: duckdb.DuckDBPyConnection) -> list[Any]:
    """Code every kind and channel in the store; the SQL parameters of the joins."""
    kinds = [r[0] for r in cur.execute("SELECT DISTINCT kind FROM memories").fetchall()]
    channels = [
        r[0]
        for r in cur.execute(
            "SELECT DISTINCT channel_id FROM memories WHERE channel_id IS NOT NULL"
        ).fetchall()
    ]
    return [
        kinds,
        [cache.kind_code(k) for k in kinds],
        channels,
        [cache.channel_code(c) for c in channels],
    ]


def load_scoring_cache(
    cache: ScoringCache,
    cur: duckdb.DuckDBPyConnection,
    progress: Progress | None = None,
    batch: int = 100_000,
) -> int:
    """Fill the cache from the store (everything it held before is dropped).

    Args:
        cache: the cache.
        cur: a read cursor.
        progress: called as ``progress("scoring cache", done, total)`` per id range,
            and once more at the end.
        batch: ids per range.

    Returns:
        How many memories were loaded (deleted ones included).
    """
    total, top = cur.execute("SELECT count(*), coalesce(max(id), 0) FROM memories").fetchone() or (
        0,
        0,
    )
    with cache.lock:
        cache.reset()
        cache.ensure(int(top) + 1 + int(top) // 8)
        codes = _codes(cache, cur)
        access_ids: list[npt.NDArray[np.int64]] = []
        access_values: list[npt.NDArray[np.float64]] = []
        done = 0
        for low in range(0, int(top) + 1, batch):
            rows = cur.execute(_ROWS, [low, low + batch - 1, *codes]).fetchnumpy()
            ids = np.asarray(rows["id"], dtype=np.int64)
            cache.cols["present"][ids] = True
            for name in (
                "kind",
                "channel",
                "immutable",
                "deleted",
                "time_us",
                "alpha",
                "beta",
                "pinned",
            ):
                cache.cols[name][ids] = rows[name]
            cache.cols["bot"][ids] = rows["author_is_bot"]
            found = cur.execute(_ACCESSES, [low, low + batch - 1]).fetchnumpy()
            order = np.lexsort((found["k"], found["id"]))  # each memory's times, in order
            access_ids.append(np.asarray(found["id"], dtype=np.int64)[order])
            access_values.append(np.asarray(found["stamp"], dtype=np.float64)[order])
            done += len(ids)
            if progress:
                progress(STAGE, done, int(total))
        cache.accesses.ensure_ids(len(cache.cols["present"]))
        cache.accesses.load(np.concatenate(access_ids), [np.concatenate(access_values)])
        pairs = cur.execute("SELECT a, b, count FROM co_access_counts").fetchnumpy()
        cache.co_access.load(
            np.asarray(pairs["a"], dtype=np.int64),
            np.asarray(pairs["b"], dtype=np.int64),
            np.asarray(pairs["count"]),
        )
        keys = np.flatnonzero(cache.cols["present"]).astype(np.int64)
        keys = keys[cache.conversation_mask(keys)]
        cache.conversations.build(keys, cache.cols["channel"][keys], cache.cols["time_us"][keys])
    if progress:
        progress(STAGE, done, int(total))  # co-access and timelines too
    return int(total)


def refresh_scoring_rows(
    cache: ScoringCache, cur: duckdb.DuckDBPyConnection, ids: Sequence[int]
) -> int:
    """Re-read some memories into the cache (not their co-access counts).

    Args:
        cache: the cache.
        cur: a read cursor.
        ids: the memories.

    Returns:
        How many were found in the store.
    """
    rows = cur.execute(_ONE, [list(ids)]).fetchall()
    accessed = access_times(cur, ids)
    with cache.lock:
        for key, kind, channel, bot, immutable, deleted, time_us, alpha, beta, pin in rows:
            cache.put(
                int(key),
                kind=kind,
                channel_id=channel,
                flags=(bool(bot), bool(immutable), bool(deleted)),
                time_us=int(time_us),
                weight=(float(alpha), float(beta)),
                accesses=accessed.get(int(key), []),
                pinned=bool(pin),
            )
    return len(rows)


def cached_memory(cache: ScoringCache, memory_id: int) -> dict[str, Any] | None:
    """Everything the cache holds about one memory, named like the store's columns.

    Args:
        cache: the cache.
        memory_id: the memory.

    Returns:
        kind, channel_id, author_is_bot, immutable, deleted, time_us, alpha, beta,
        access_timestamps and co_access (partner -> count); None for an unknown id.
    """
    with cache.lock:
        c = cache.cols
        if not 0 <= memory_id < len(c["present"]) or not c["present"][memory_id]:
            return None
        start, stop = cache.accesses.row(memory_id)
        channel = int(c["channel"][memory_id])
        return {
            "kind": cache.kind_names[int(c["kind"][memory_id])],
            "channel_id": cache.channel_names[channel] if channel >= 0 else None,
            "author_is_bot": bool(c["bot"][memory_id]),
            "immutable": bool(c["immutable"][memory_id]),
            "deleted": bool(c["deleted"][memory_id]),
            "time_us": int(c["time_us"][memory_id]),
            "alpha": float(c["alpha"][memory_id]),
            "beta": float(c["beta"][memory_id]),
            "pinned": bool(c["pinned"][memory_id]),
            "access_timestamps": cache.accesses.columns[0][start:stop].tolist(),
            "co_access": cache.co_access.counts(memory_id),
        }
