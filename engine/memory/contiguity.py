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
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import duckdb

_NEIGHBOURS_SQL = """
SELECT s.id AS seed, m.id, coalesce(m.event_ts, m.created_at) AS t
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


def conversation_neighbours(
    cur: duckdb.DuckDBPyConnection,
    seeds: Sequence[int],
    *,
    span: int,
    gap_seconds: float,
    kinds: Sequence[str],
) -> dict[int, list[tuple[int, int]]]:
    """Find the conversation neighbours of some memories.

    Args:
        cur: a read cursor on the store.
        seeds: memory ids whose neighbours are wanted.
        span: positions taken on each side.
        gap_seconds: a longer silence between consecutive memories ends the conversation.
        kinds: memory kinds that belong to a conversation.

    Returns:
        seed id -> [(neighbour id, distance in positions >= 1)], nearest first; seeds
        outside a channel or of another kind have no entry.
    """
    if not seeds or span <= 0 or not kinds:
        return {}
    rows = cur.execute(
        _NEIGHBOURS_SQL, [list(seeds), float(gap_seconds * span), list(kinds)]
    ).fetchall()
    by_seed: dict[int, list[tuple[int, datetime]]] = {}
    for seed, memory_id, when in rows:
        by_seed.setdefault(int(seed), []).append((int(memory_id), when))
    found: dict[int, list[tuple[int, int]]] = {}
    for seed, timeline in by_seed.items():
        position = next((i for i, (m, _) in enumerate(timeline) if m == seed), None)
        if position is None:
            continue
        near: list[tuple[int, int]] = []
        for step in (-1, 1):
            i = position
            for distance in range(1, span + 1):
                j = i + step
                if not 0 <= j < len(timeline):
                    break
                if abs((timeline[j][1] - timeline[i][1]).total_seconds()) > gap_seconds:
                    break
                near.append((timeline[j][0], distance))
                i = j
        found[seed] = sorted(near, key=lambda pair: pair[1])
    return found
