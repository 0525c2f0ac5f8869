"""Temporal contiguity: the memories next to a memory in its conversation.

A reply is understood through the message it answers ("What will you show?" /
"Portraits of street vendors"), and in human free recall, recalling one item cues
the items experienced just before and after it (the contiguity effect of Howard &
Kahana's temporal context model). Search uses this as a second associative path
beside co-access: its top hits spread a share of their score to their neighbours.

Neighbours are memories of the conversation kinds (``retrieval.contiguity.kinds``)
in the same channel, ordered by the time they are about (event time, else when
stored; ties by id, i.e. by arrival), with no silence longer than
``gap_minutes`` between consecutive ones. Other kinds in between (tool calls,
summaries) are skipped over.

Search walks in-memory per-channel timelines (:class:`Timeline`, kept by
:class:`engine.memory.scoring_cache.ScoringCache`); :func:`conversation_neighbours`
answers the same question from DuckDB with the same walk (tools, tests).
"""

from __future__ import annotations

from array import array
from bisect import bisect_left, bisect_right
from collections.abc import Sequence

import duckdb
import numpy as np
import numpy.typing as npt

_NEIGHBOURS_SQL = """
SELECT s.id AS seed, m.id, epoch_us(coalesce(m.event_ts, m.created_at)) AS t
FROM memories s
JOIN memories m
  ON m.channel_id = s.channel_id
 AND coalesce(m.event_ts, m.created_at)
     BETWEEN coalesce(s.event_ts, s.created_at) - to_seconds($2::DOUBLE)
         AND coalesce(s.event_ts, s.created_at) + to_seconds($2::DOUBLE)
WHERE s.id = ANY($1) AND s.channel_id IS NOT NULL AND s.kind = ANY($3)
  AND NOT m.deleted AND m.kind = ANY($3)
ORDER BY seed, t, m.id
"""


def walk(
    times_us: Sequence[int], ids: Sequence[int], position: int, span: int, gap_seconds: float
) -> list[tuple[int, int]]:
    """The neighbours of one memory on its timeline.

    Args:
        times_us: the timeline's times (epoch microseconds), ascending.
        ids: the memory ids, aligned with ``times_us`` (ties ordered by id).
        position: where the memory is.
        span: positions taken on each side.
        gap_seconds: a longer silence between consecutive memories ends the walk.

    Returns:
        [(neighbour id, distance >= 1)], nearest first (earlier before later at a tie).
    """
    near: list[tuple[int, int]] = []
    for step in (-1, 1):
        i = position
        for distance in range(1, span + 1):
            j = i + step
            if not 0 <= j < len(ids):
                break
            if abs(times_us[j] - times_us[i]) / 10**6 > gap_seconds:  # timedelta seconds
                break
            near.append((ids[j], distance))
            i = j
    return sorted(near, key=lambda pair: pair[1])


class Timeline:
    """The conversation memories of one channel, ordered by (time, id). Not thread-safe."""

    __slots__ = ("ids", "times")

    def __init__(self, times_us: Sequence[int] = (), ids: Sequence[int] = ()) -> None:
        """Create a timeline.

        Args:
            times_us: epoch microseconds, already ordered by (time, id).
            ids: the memory ids, aligned.
        """
        self.times = array("q", times_us)
        self.ids = array("q", ids)

    def __len__(self) -> int:
        return len(self.ids)

    def _slot(self, time_us: int, memory_id: int) -> int:
        """Where (time, id) is or would be inserted."""
        i, stop = bisect_left(self.times, time_us), bisect_right(self.times, time_us)
        while i < stop and self.ids[i] < memory_id:
            i += 1
        return i

    def position(self, time_us: int, memory_id: int) -> int | None:
        """The index of a memory, or None when it is not on the timeline."""
        i = self._slot(time_us, memory_id)
        found = i < len(self.ids) and self.ids[i] == memory_id and self.times[i] == time_us
        return i if found else None

    def insert(self, time_us: int, memory_id: int) -> None:
        """Add a memory (no-op when present)."""
        i = self._slot(time_us, memory_id)
        if i < len(self.ids) and self.ids[i] == memory_id and self.times[i] == time_us:
            return
        self.times.insert(i, time_us)
        self.ids.insert(i, memory_id)

    def remove(self, time_us: int, memory_id: int) -> None:
        """Drop a memory (no-op when absent)."""
        i = self.position(time_us, memory_id)
        if i is not None:
            del self.times[i]
            del self.ids[i]

    def neighbours(
        self, time_us: int, memory_id: int, span: int, gap_seconds: float
    ) -> list[tuple[int, int]] | None:
        """The neighbours of a memory (see :func:`walk`); None when it is not here."""
        position = self.position(time_us, memory_id)
        if position is None:
            return None
        return walk(self.times, self.ids, position, span, gap_seconds)


def conversation_neighbours(
    cur: duckdb.DuckDBPyConnection,
    seeds: Sequence[int],
    *,
    span: int,
    gap_seconds: float,
    kinds: Sequence[str],
) -> dict[int, list[tuple[int, int]]]:
    """Find the conversation neighbours of some memories in DuckDB.

    Search uses the in-memory timelines instead
    (:meth:`engine.memory.scoring_cache.ScoringCache.neighbours`, same answer).

    Args:
        cur: a read cursor on the store.
        seeds: memory ids whose neighbours are wanted.
        span: positions taken on each side.
        gap_seconds: a longer silence between consecutive memories ends the conversation.
        kinds: memory kinds that belong to a conversation.

    Returns:
        seed id -> [(neighbour id, distance in positions >= 1)], nearest first, in
        ascending seed order; seeds outside a channel or of another kind, and deleted
        ones, have no entry.
    """
    if not seeds or span <= 0 or not kinds:
        return {}
    rows = cur.execute(
        _NEIGHBOURS_SQL, [list(seeds), float(gap_seconds * span), list(kinds)]
    ).fetchall()
    by_seed: dict[int, tuple[list[int], list[int]]] = {}
    for seed, memory_id, when in rows:
        times, ids = by_seed.setdefault(int(seed), ([], []))
        times.append(int(when))
        ids.append(int(memory_id))
    found: dict[int, list[tuple[int, int]]] = {}
    for seed, (times, ids) in by_seed.items():
        if seed in ids:
            found[seed] = walk(times, ids, ids.index(seed), span, gap_seconds)
    return found


class Conversations:
    """Every channel's :class:`Timeline`. Not thread-safe (the scoring cache locks)."""

    def __init__(self) -> None:
        self.timelines: dict[int, Timeline] = {}

    def build(
        self,
        ids: npt.NDArray[np.int64],
        channels: npt.NDArray[np.integer],
        times_us: npt.NDArray[np.int64],
    ) -> None:
        """Replace every timeline.

        Args:
            ids: the conversation memories (stored, not deleted, of a conversation kind).
            channels: their channel codes.
            times_us: their times, epoch microseconds.
        """
        order = np.lexsort((ids, times_us, channels))
        ids, channels, times_us = ids[order], channels[order], times_us[order]
        cuts = np.flatnonzero(np.diff(channels)) + 1
        self.timelines = {
            int(channel[0]): Timeline(times.tolist(), members.tolist())
            for channel, times, members in zip(
                np.split(channels, cuts),
                np.split(times_us, cuts),
                np.split(ids, cuts),
                strict=True,
            )
            if len(channel)
        }

    def insert(self, channel: int, time_us: int, memory_id: int) -> None:
        """Put a memory on its channel's timeline."""
        self.timelines.setdefault(channel, Timeline()).insert(time_us, memory_id)

    def remove(self, channel: int, time_us: int, memory_id: int) -> None:
        """Take a memory off its channel's timeline."""
        timeline = self.timelines.get(channel)
        if timeline is not None:
            timeline.remove(time_us, memory_id)

    def neighbours(
        self, channel: int, time_us: int, memory_id: int, span: int, gap_seconds: float
    ) -> list[tuple[int, int]] | None:
        """A memory's neighbours (see :func:`walk`); None when it is on no timeline."""
        timeline = self.timelines.get(channel)
        if timeline is None:
            return None
        return timeline.neighbours(time_us, memory_id, span, gap_seconds)
