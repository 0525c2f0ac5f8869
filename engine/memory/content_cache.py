"""A bounded LRU of memory id -> content, in front of ``SELECT content ... WHERE id = ANY``.

Every turn reads the texts of its identity memories, goals, search hits and the
exit gate's nearest memory: ~6 reads of ~1.7 ms each at 100k memories (DuckDB
scans for ``id = ANY(...)``). A memory's text is written once, at insert; the one
rewrite in place (the janitor's aggregate memories) calls :meth:`ContentCache.forget`
after its commit. A read that raced with a rewrite is not cached: every
``forget`` bumps a version, and :meth:`put_many` drops rows read under an older one.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterable, Mapping, Sequence


class ContentCache:
    """Thread-safe LRU of memory texts."""

    def __init__(self, capacity: int) -> None:
        """Create the cache.

        Args:
            capacity: entries kept; 0 disables the cache.
        """
        self.capacity = capacity
        self._entries: OrderedDict[int, str] = OrderedDict()
        self._lock = threading.Lock()
        self.version = 0
        """Bumped by :meth:`forget`; take it before reading the store."""

    def get_many(self, ids: Sequence[int]) -> dict[int, str]:
        """The cached texts among ``ids`` (each hit becomes the most recent)."""
        found: dict[int, str] = {}
        with self._lock:
            for key in ids:
                text = self._entries.get(key)
                if text is not None:
                    self._entries.move_to_end(key)
                    found[key] = text
        return found

    def put_many(self, rows: Mapping[int, str], version: int) -> None:
        """Remember texts read from the store while :attr:`version` was ``version``."""
        if self.capacity <= 0:
            return
        with self._lock:
            if version != self.version:
                return  # a rewrite happened during the read
            self._entries.update(rows)
            for key in rows:
                self._entries.move_to_end(key)
            while len(self._entries) > self.capacity:
                self._entries.popitem(last=False)

    def forget(self, ids: Iterable[int]) -> None:
        """Drop texts that were rewritten (call after the rewrite commits)."""
        with self._lock:
            self.version += 1
            for key in ids:
                self._entries.pop(key, None)

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)
