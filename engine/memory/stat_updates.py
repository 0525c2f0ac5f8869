"""A turn's changes to existing memories' weights and access statistics, in ONE UPDATE.

A turn's commit touches a handful of memories in up to three ways: its context
search's hits (alpha reinforced, an access time) and near misses (beta
contradicted), and the memories that went into the context (decayed inclusion
count, ``last_included_at``, an access time). As three UPDATEs of ``memories``
that cost ~12 ms at 100k memories (each scans for its ids); as one, ~4-5 ms. The
access times are rows of ``memory_accesses`` (migration m008), so the UPDATE
changes fixed-width columns only, in place, in one scan of ``memories``. All of
it is known before the model is called, so the commit writes it while the exit
gate still runs; the gate's ``reinforce`` is a separate UPDATE after it
(:func:`engine.mind.gate_effects.reinforce_in`).

The arithmetic is that of the separate statements applied in that order
(:func:`engine.memory.retrieval_effects.write_retrieval_effects`,
:func:`engine.memory.retrieval_effects.record_inclusions`): a hit's alpha becomes
``greatest(a, least(a + hit, c * b / (1 - c)))`` for the weight ceiling ``c``, a
near miss's beta ``b + miss``; an amount of 0 leaves a weight exactly as it was.
Immutable memories keep their weights.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

import duckdb

from engine.clock import to_naive_utc


@dataclass
class _Row:
    hit: float = 0.0
    miss: float = 0.0
    included: bool = False
    stamps: list[float] = field(default_factory=list)


_UPDATE = """
UPDATE memories SET
    depth_weight_alpha = CASE WHEN immutable THEN depth_weight_alpha
        ELSE greatest(depth_weight_alpha, least(depth_weight_alpha + u.hit,
                      $1 * depth_weight_beta / (1 - $1))) END,
    depth_weight_beta = CASE WHEN immutable THEN depth_weight_beta
                             ELSE depth_weight_beta + u.miss END,
    included_count_decay = CASE WHEN u.included THEN included_count_decay
        * exp(-coalesce(epoch($2) - epoch(last_included_at), 0) / $3) + 1
        ELSE included_count_decay END,
    last_included_at = CASE WHEN u.included THEN $2 ELSE last_included_at END
FROM (SELECT unnest($4) AS id, unnest($5) AS hit, unnest($6) AS miss,
             unnest($7) AS included) u
WHERE memories.id = u.id
"""


class MemoryStatUpdates:
    """Collects a turn's per-memory changes; :meth:`write` applies them at once."""

    def __init__(self, max_center: float, tau_seconds: float) -> None:
        """Start with no changes.

        Args:
            max_center: the weight ceiling ``c`` on a mutable memory's mean.
            tau_seconds: the inclusion count's decay time constant.
        """
        self.max_center = max_center
        self.tau_seconds = tau_seconds
        self._rows: dict[int, _Row] = {}
        self._included_at: datetime | None = None

    def _row(self, memory_id: int) -> _Row:
        return self._rows.setdefault(int(memory_id), _Row())

    def retrieved(self, ids: Iterable[int], amount: float, stamp: float) -> None:
        """A search returned these: reinforce alpha by ``amount``, log an access.

        Args:
            ids: the hits (each counted once).
            amount: ``retrieval.reinforce_retrieved``.
            stamp: the access time, epoch seconds.
        """
        for key in dict.fromkeys(ids):
            row = self._row(key)
            row.hit = amount
            row.stamps.append(stamp)

    def near_missed(self, ids: Iterable[int], amount: float) -> None:
        """Near misses of a search: beta += ``amount``."""
        for key in ids:
            self._row(key).miss = amount

    def included(self, ids: Iterable[int], now: datetime, stamp: float) -> None:
        """These went into a context at ``now``: count the inclusion, log an access.

        Args:
            ids: the memories (each counted once).
            now: the inclusion time (one per turn).
            stamp: ``now`` as the access time, epoch seconds.
        """
        self._included_at = now
        for key in dict.fromkeys(ids):
            row = self._row(key)
            row.included = True
            row.stamps.append(stamp)

    def write(self, cur: duckdb.DuckDBPyConnection) -> int:
        """Apply every collected change (inside the caller's transaction).

        One UPDATE of fixed-width columns (in place), and one INSERT of the
        access times into ``memory_accesses``.

        Args:
            cur: the writer's cursor.

        Returns:
            How many memories were named.
        """
        if not self._rows:
            return 0
        ids = list(self._rows)
        rows = list(self._rows.values())
        included_at = self._included_at or datetime(1970, 1, 1)
        cur.execute(
            _UPDATE,
            [
                self.max_center,
                to_naive_utc(included_at),
                self.tau_seconds,
                ids,
                [r.hit for r in rows],
                [r.miss for r in rows],
                [r.included for r in rows],
            ],
        )
        insert_accesses(
            cur,
            [key for key, row in self._rows.items() for _ in row.stamps],
            [stamp for row in self._rows.values() for stamp in row.stamps],
        )
        return len(ids)


def insert_accesses(
    cur: duckdb.DuckDBPyConnection, memory_ids: list[int], stamps: list[float]
) -> None:
    """Append access times to ``memory_accesses`` (one INSERT; nothing when no ids).

    Args:
        cur: the writer's cursor.
        memory_ids: one per access (a memory may repeat).
        stamps: the access times, epoch seconds, one per id.
    """
    if memory_ids:
        cur.execute(
            "INSERT INTO memory_accesses SELECT unnest($1), unnest($2)", [memory_ids, stamps]
        )
