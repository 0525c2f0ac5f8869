"""The nearest stored memory to a text, remembered across turns and kept current.

Attention weighs every pending candidate every turn; a candidate that keeps losing
(a gut feeling, a DMN thought) is weighed again and again, and each weighing was an
ANN search (~2 ms at 100k memories). Between two weighings the only change to
memory is usually a few new memories. :class:`NearestCache` keeps each text's
nearest memory and similarity with a mark of the index's additions
(:meth:`VectorIndex.added_since`); a later lookup compares the text with just the
memories added since, exactly. Replacing or removing a stored vector (re-embedding,
forgetting, a rebuild) bumps :attr:`VectorIndex.revision` and the cache starts over.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from engine.memory.vector_index import VectorIndex

Vector = npt.NDArray[np.float32]

CATCH_UP_LIMIT = 512
"""Past this many additions since a text's last lookup, a fresh ANN search is cheaper
than comparing with each (an import, the janitor's aggregates)."""


@dataclass
class _Entry:
    key: int | None
    similarity: float
    mark: int


class NearestCache:
    """Text -> (nearest memory id, cosine similarity), bounded LRU."""

    def __init__(
        self, index: Callable[[], VectorIndex], capacity: int, expansion: int | None = None
    ) -> None:
        """Create an empty cache.

        Args:
            index: returns the current ANN index (the memory service may swap it).
            capacity: texts remembered; 0 turns the cache off (every lookup searches).
            expansion: the ANN candidate list of its searches (``index.lookup_expansion``;
                None: the index's own).
        """
        self._index = index
        self.capacity = capacity
        self.expansion = expansion
        self._entries: OrderedDict[str, _Entry] = OrderedDict()
        self._source: tuple[int, int] = (0, -1)
        self._mark = 0
        self._lock = threading.Lock()
        self.searches = 0
        """ANN searches made (the rest were answered from the cache)."""

    def nearest(self, text: str, vector: Vector) -> tuple[int | None, float]:
        """The stored memory most similar to ``vector`` (the embedding of ``text``).

        Args:
            text: the cache key.
            vector: its unit embedding (non-zero).

        Returns:
            (memory id, cosine similarity), or (None, 0.0) when the index is empty.
        """
        index = self._index()
        source = (id(index), index.revision)
        with self._lock:
            if source != self._source:
                self._entries.clear()
                self._source = source
            entry = self._entries.get(text)
        if entry is not None:
            added, mark = index.added_since(entry.mark)
            if len(added) > CATCH_UP_LIMIT:
                entry = None
            elif added:
                entry = self._catch_up(index, entry, vector, added, mark)
        if entry is None:
            with self._lock:
                _, mark = index.added_since(self._mark)  # before the search: never misses one
                self._mark = mark
            self.searches += 1
            keys, sims = index.search(vector, 1, self.expansion)
            entry = (
                _Entry(int(keys[0]), float(sims[0]), mark) if len(keys) else _Entry(None, 0.0, mark)
            )
        if self.capacity > 0:
            with self._lock:
                if source == self._source:
                    self._entries[text] = entry
                    self._entries.move_to_end(text)
                    while len(self._entries) > self.capacity:
                        self._entries.popitem(last=False)
        return entry.key, entry.similarity

    @staticmethod
    def _catch_up(
        index: VectorIndex, entry: _Entry, vector: Vector, added: list[int], mark: int
    ) -> _Entry:
        """Compare with the memories added since the entry's mark (fetched once)."""
        stored = [(k, v) for k, v in zip(added, index.vectors(added), strict=True) if v is not None]
        best = _Entry(entry.key, entry.similarity, mark)
        if stored:
            matrix = np.vstack([v for _, v in stored]).astype(np.float32)
            sims = matrix @ vector / (np.linalg.norm(matrix, axis=1) * np.linalg.norm(vector))
            top = int(np.argmax(sims))
            if entry.key is None or float(sims[top]) > entry.similarity:
                best = _Entry(int(stored[top][0]), float(sims[top]), mark)
        return best
