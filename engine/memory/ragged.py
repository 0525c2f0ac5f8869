"""Variable-length rows per memory id (access times, co-access partners) in flat arrays.

One Python object per memory would cost ~100 bytes before any data (300 MB at 1M
memories with co-access and access history); here a row is a ``(start, length)``
pair into shared growable numpy columns, 12 bytes per id plus the values.

Appending to a row moves it to the end of the columns (unless it is already last)
with room for the new value; the old copy becomes garbage, reclaimed by a compaction
when garbage outgrows live data, so appends are amortized O(row length). Not
thread-safe: the owner (:class:`engine.memory.scoring_cache.ScoringCache`) locks.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

IntArray = npt.NDArray[np.int64]


class Ragged:
    """Rows of one or more value columns (same length per row), keyed by id >= 0."""

    def __init__(self, dtypes: Sequence[npt.DTypeLike]) -> None:
        """Create an empty store.

        Args:
            dtypes: one numpy dtype per value column.
        """
        self.start: IntArray = np.zeros(0, dtype=np.int64)
        self.length = np.zeros(0, dtype=np.int32)
        self.columns: list[npt.NDArray[Any]] = [np.zeros(0, dtype=d) for d in dtypes]
        self.used = 0
        """Filled prefix of the columns (live rows and garbage)."""
        self.live = 0
        """Values in live rows."""

    def ensure_ids(self, size: int) -> None:
        """Make ids ``< size`` addressable (new ids have empty rows).

        Args:
            size: the number of ids needed.
        """
        if size <= len(self.start):
            return
        grow = max(size, len(self.start) + len(self.start) // 4, 1024) - len(self.start)
        self.start = np.concatenate([self.start, np.zeros(grow, dtype=np.int64)])
        self.length = np.concatenate([self.length, np.zeros(grow, dtype=np.int32)])

    def load(self, ids: IntArray, values: Sequence[npt.NDArray[Any]]) -> None:
        """Replace everything with rows given as one value per entry.

        Args:
            ids: the row of each entry; entries of one row must be adjacent and in order.
            values: one array per column, aligned with ``ids``.
        """
        n = len(ids)
        self.start[:] = 0
        self.length[:] = 0
        self.columns = [
            np.array(v, dtype=c.dtype) for v, c in zip(values, self.columns, strict=True)
        ]
        self.used = self.live = n
        if n == 0:
            return
        first = np.flatnonzero(np.r_[True, ids[1:] != ids[:-1]])
        rows = ids[first]
        self.ensure_ids(int(rows.max()) + 1)
        self.start[rows] = first
        self.length[rows] = np.diff(np.r_[first, n])

    def row(self, key: int) -> tuple[int, int]:
        """``(start, stop)`` of a row in the columns (``(0, 0)`` for an unknown id)."""
        if key >= len(self.start):
            return 0, 0
        start = int(self.start[key])
        return start, start + int(self.length[key])

    def clear(self, key: int) -> None:
        """Empty a row (its values become garbage)."""
        if key < len(self.start):
            self.live -= int(self.length[key])
            self.length[key] = 0

    def append(self, key: int, values: Sequence[Any]) -> int:
        """Append one entry to a row.

        Args:
            key: the row id (made addressable if new).
            values: one value per column.

        Returns:
            The entry's position in the columns.
        """
        self.ensure_ids(key + 1)
        start, stop = self.row(key)
        size = stop - start
        self._reserve(size + 1)
        start, stop = self.row(key)  # a compaction moves rows
        if size == 0 or stop != self.used:  # not the last row: move it to the end
            at = self.used
            for column in self.columns:
                column[at : at + size] = column[start:stop]
            self.start[key] = at
            self.used = at + size
        position = self.used
        for column, value in zip(self.columns, values, strict=True):
            column[position] = value
        self.length[key] = size + 1
        self.used += 1
        self.live += 1
        return position

    def _reserve(self, extra: int) -> None:
        capacity = len(self.columns[0])
        if self.used + extra <= capacity:
            return
        if self.used - self.live > self.live:
            self.compact()
            if self.used + extra <= capacity:
                return
        size = max(self.used + extra, capacity * 2, 1024)
        for i, column in enumerate(self.columns):
            grown = np.zeros(size, dtype=column.dtype)
            grown[: self.used] = column[: self.used]
            self.columns[i] = grown

    def compact(self) -> None:
        """Drop garbage: rows packed in id order."""
        rows = np.flatnonzero(self.length)
        lengths = self.length[rows].astype(np.int64)
        new_start = np.zeros(len(rows), dtype=np.int64)
        np.cumsum(lengths[:-1], out=new_start[1:])
        # entry j of the packed columns is entry (j - new_start[r]) of row r
        owner = np.repeat(np.arange(len(rows)), lengths)
        source = self.start[rows][owner] + (np.arange(len(owner)) - new_start[owner])
        for i, column in enumerate(self.columns):
            packed = np.zeros(len(column), dtype=column.dtype)
            packed[: len(source)] = column[source]
            self.columns[i] = packed
        self.start[rows] = new_start
        self.used = self.live = len(source)

    def nbytes(self) -> int:
        """Bytes held by the arrays."""
        return int(self.start.nbytes + self.length.nbytes + sum(c.nbytes for c in self.columns))
