"""A bounded LRU of text -> unit vector, so one text is embedded once per model.

A turn embeds its input for attention (novelty, relevance), for retrieval, for the
gut's attention centroid and again when minting; the gut also re-reads the whole
working transcript every turn. With the cache each of those texts costs one model
call the first time and a dictionary lookup after.
"""

from __future__ import annotations

import threading
from collections import OrderedDict

import numpy as np
import numpy.typing as npt


class EmbeddingCache:
    """Thread-safe LRU keyed by (model name, text)."""

    def __init__(self, capacity: int) -> None:
        """Create the cache.

        Args:
            capacity: entries kept; 0 disables the cache.
        """
        self.capacity = capacity
        self._entries: OrderedDict[tuple[str, str], npt.NDArray[np.float32]] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def get(self, model: str, text: str) -> npt.NDArray[np.float32] | None:
        """The cached vector of ``text`` under ``model``, or None."""
        with self._lock:
            vector = self._entries.get((model, text))
            if vector is None:
                self.misses += 1
                return None
            self._entries.move_to_end((model, text))
            self.hits += 1
            return vector

    def put(self, model: str, text: str, vector: npt.NDArray[np.float32]) -> None:
        """Remember a vector (a read-only copy), evicting the least recently used."""
        if self.capacity <= 0:
            return
        kept = np.array(vector, dtype=np.float32, copy=True)
        kept.setflags(write=False)
        with self._lock:
            self._entries[(model, text)] = kept
            self._entries.move_to_end((model, text))
            while len(self._entries) > self.capacity:
                self._entries.popitem(last=False)

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)
