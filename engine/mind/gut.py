"""The gut: how far the current attention has drifted from what the mind holds deep
(moltbot plan v4, section 5.1, two-centroid model).

- The **subconscious centroid** is the mean of the memory vectors weighted by each
  memory's depth weight (Beta mean ``alpha / (alpha + beta)``), over the
  ``gut.max_memories`` heaviest memories that have a vector.
- The **attention centroid** is the mean of the current context's vectors, weighted
  by recency: an item ``gut.recency_half_life_items`` places older weighs half.

Both are normalised to unit length before they are compared, so the gut measures a
change of *direction* (what the mind is about), not how spread out either set is
(the length of a mean of unit vectors shrinks with dispersion). The delta
``attention - subconscious`` has a magnitude, the **intensity** (0 when they agree,
at most 2), and a direction; the memories nearest to that direction are what the
feeling points **toward**. ``charge = clip((intensity - gut.charge_floor) /
gut.charge_scale, 0, 1)`` feeds attention's salience and the exit gate; the floor
discounts the drift every context has (with all-MiniLM-L6-v2 and ten assorted facts
in memory, a question about one of them read 1.15-1.26, an unrelated subject 1.45,
the memories themselves 0.28).

Memory vectors are cached by id (a memory's vector never changes under one
embedding model); the ranking by weight is re-read from the scoring cache on every
measurement, so the centroid follows reinforcement at the cost of one weighted mean.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import duckdb
import numpy as np
import numpy.typing as npt

from engine.clock import to_naive_utc
from engine.memory.service import MemoryService
from engine.memory.vector_rows import VectorRows
from engine.memory.weight_ranking import by_weight, select_live
from engine.policy.mind import GutSection
from engine.signals import GutDelta

Vector = npt.NDArray[np.float32]


@dataclass(frozen=True)
class GutReading:
    """One measurement of the gut."""

    intensity: float
    """||attention - subconscious|| of the unit centroids, in [0, 2]."""
    charge: float
    """clip((intensity - charge_floor) / charge_scale, 0, 1)."""
    toward: list[dict[str, Any]] = field(default_factory=list)
    """Nearest memories to the delta: ``{"id", "content", "similarity"}``."""
    model: str | None = None
    """The embedding model the vectors came from."""


def _unit(vector: npt.NDArray[np.floating[Any]]) -> Vector | None:
    norm = float(np.linalg.norm(vector))
    if not np.isfinite(norm) or norm <= 1e-12:
        return None
    return (vector / norm).astype(np.float32)


class Gut:
    """Measures the delta between the subconscious and the attention centroid."""

    def __init__(self, memory: MemoryService, policy: GutSection) -> None:
        """Create the gut.

        Args:
            memory: the memory service (vectors, weights, embedder, store).
            policy: ``gut`` settings.
        """
        self.memory = memory
        self.policy = policy
        self._lock = threading.Lock()
        self._rows = VectorRows(lambda: memory.vectors, max_rows=4 * policy.max_memories)
        self._last: GutReading | None = None
        self._loaded_last = False

    # -- the subconscious -----------------------------------------------------------------

    def _heaviest(self) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float64]]:
        """Live memories, heaviest first, ties to the older id (with their means)."""
        cache = self.memory.scoring
        return by_weight(cache, select_live(cache), newer_first=False)

    def memory_vectors(self, ids: Sequence[int]) -> list[Vector | None]:
        """Stored unit vectors of memories, None where one has none.

        Read from the ANN index's in-memory graph (no SQL). The turn passes its
        retrieved memories' vectors to :meth:`measure` this way rather than embedding
        their texts again.
        """
        stored = self.memory.vectors.vectors(list(ids)) if ids else []
        return [None if vec is None else _unit(vec) for vec in stored]

    def subconscious_centroid(self) -> Vector | None:
        """The depth-weighted mean of the heaviest memories' vectors, unit length.

        Returns:
            The centroid, or None when no memory has a vector.
        """
        with self._lock:
            keys, weights = self._heaviest()
            cap = self.policy.max_memories
            rows: list[npt.NDArray[np.float32]] = []
            row_weights: list[npt.NDArray[np.float64]] = []
            have = scanned = 0
            while scanned < len(keys) and have < cap:  # skip memories with no vector
                batch = keys[scanned : scanned + cap]
                present, found = self._rows.take(batch)
                take = min(cap - have, len(found))
                rows.append(found[:take])
                row_weights.append(weights[scanned : scanned + len(batch)][present][:take])
                have += take
                scanned += len(batch)
            if not have:
                return None
            w = np.concatenate(row_weights)
            mean = w @ np.vstack(rows).astype(np.float64) / w.sum()
            return _unit(mean)

    # -- attention and the delta ------------------------------------------------------------

    def attention_centroid(self, context: Sequence[str | npt.ArrayLike]) -> Vector | None:
        """The recency-weighted mean of the context, unit length.

        Args:
            context: texts or vectors, oldest first (the last is the newest).

        Returns:
            The centroid, or None for an empty context.
        """
        items = [c for c in context if not (isinstance(c, str) and not c.strip())]
        if not items:
            return None
        texts = {i: str(c) for i, c in enumerate(items) if isinstance(c, str)}
        embedded = dict(
            zip(texts, self.memory.embed_texts(list(texts.values())), strict=True) if texts else ()
        )
        rows = [
            _unit(np.asarray(embedded.get(i, c), dtype=np.float64)) for i, c in enumerate(items)
        ]
        ages = np.arange(len(rows) - 1, -1, -1, dtype=np.float64)
        weights = 0.5 ** (ages / self.policy.recency_half_life_items)
        keep = [i for i, r in enumerate(rows) if r is not None]
        if not keep:
            return None
        matrix = np.vstack([r for r in rows if r is not None]).astype(np.float64)
        w = weights[keep]
        return _unit((matrix * w[:, None]).sum(axis=0) / w.sum())

    def measure(self, context: Sequence[str | npt.ArrayLike]) -> GutReading:
        """Measure the gut for the current context.

        Args:
            context: the texts (or vectors) in the model's context, oldest first.

        Returns:
            Intensity, charge, what it points toward; all 0 / [] when memory or the
            context is empty. The reading is kept as :attr:`last`.
        """
        sub = self.subconscious_centroid()
        att = self.attention_centroid(context)
        if sub is None or att is None:
            reading = GutReading(0.0, 0.0, [], self.memory.embedder.name)
        else:
            delta = att.astype(np.float64) - sub.astype(np.float64)
            intensity = float(np.linalg.norm(delta))
            over = intensity - self.policy.charge_floor
            charge = min(1.0, max(0.0, over / self.policy.charge_scale))
            reading = GutReading(intensity, charge, self._toward(delta), self.memory.embedder.name)
        self._last = reading
        self._loaded_last = True
        return reading

    def _toward(self, delta: npt.NDArray[np.float64]) -> list[dict[str, Any]]:
        direction = _unit(delta)
        if direction is None or not len(self.memory.vectors):
            return []
        keys, sims = self.memory.vectors.search(
            direction, self.policy.nearest_k, self.memory.policy.index.lookup_expansion
        )
        contents = self.memory.repo.contents(keys.tolist())
        return [
            {"id": int(k), "content": contents.get(int(k), ""), "similarity": round(float(s), 4)}
            for k, s in zip(keys.tolist(), sims.tolist(), strict=True)
        ]

    # -- the record -------------------------------------------------------------------------

    @property
    def last(self) -> GutReading | None:
        """The latest reading (after a restart: the last one stored), or None."""
        if not self._loaded_last:
            self._loaded_last = True
            rows = (
                self.memory.store.reader()
                .execute(
                    "SELECT intensity, charge, toward, model FROM gut_deltas "
                    "ORDER BY ts DESC, turn_id DESC LIMIT 1"
                )
                .fetchall()
            )
            if rows:
                r = rows[0]
                self._last = GutReading(float(r[0]), float(r[1]), json.loads(r[2]), r[3])
        return self._last

    @staticmethod
    def signal(reading: GutReading, ts: datetime, turn_id: int | None) -> GutDelta:
        """The ``gut.delta`` signal of a reading."""
        return GutDelta(
            ts=ts,
            turn_id=turn_id,
            intensity=reading.intensity,
            charge=reading.charge,
            toward=reading.toward,
        )

    @staticmethod
    def insert(
        cur: duckdb.DuckDBPyConnection, turn_id: int, reading: GutReading, ts: datetime
    ) -> None:
        """Store a reading in ``gut_deltas`` inside the caller's transaction.

        Args:
            cur: the writer's cursor.
            turn_id: the turn it was measured in.
            reading: the reading.
            ts: when.
        """
        cur.execute(
            "INSERT INTO gut_deltas (turn_id, ts, intensity, charge, toward, model) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            [
                turn_id,
                to_naive_utc(ts),
                reading.intensity,
                reading.charge,
                json.dumps(reading.toward),
                reading.model,
            ],
        )
