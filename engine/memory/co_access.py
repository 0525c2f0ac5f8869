"""Co-access counts in memory: how often two memories were returned together.

Mirrors the ``co_access`` table (one row per unordered pair) as an adjacency list per
memory, both directions, in flat arrays (:class:`engine.memory.ragged.Ragged`). Not
thread-safe: :class:`engine.memory.scoring_cache.ScoringCache` locks.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import numpy.typing as npt

from engine.memory.ragged import Ragged

IdArray = npt.NDArray[np.int64]


class CoAccess:
    """Per memory: its partners and the pair counts."""

    def __init__(self) -> None:
        self.pairs = Ragged([np.int64, np.int32])

    def load(self, a: IdArray, b: IdArray, counts: npt.NDArray[np.integer]) -> None:
        """Replace everything with the rows of the ``co_access`` table.

        Args:
            a: the smaller id of each pair.
            b: the larger id.
            counts: how often each pair was retrieved together.
        """
        seeds = np.concatenate([a, b]).astype(np.int64)
        partners = np.concatenate([b, a]).astype(np.int64)
        both = np.concatenate([counts, counts]).astype(np.int32)
        order = np.argsort(seeds, kind="stable")
        if len(seeds):
            self.pairs.ensure_ids(int(seeds.max()) + 1)
        self.pairs.load(seeds[order], [partners[order], both[order]])

    def bump(self, a: int, b: int) -> None:
        """Count one more co-access of a pair (``count + 1``, or a new pair at 1)."""
        for seed, partner in ((a, b), (b, a)):
            start, stop = self.pairs.row(seed)
            partners, counts = self.pairs.columns
            found = np.flatnonzero(partners[start:stop] == partner)
            if len(found):
                counts[start + int(found[0])] += 1
            else:
                self.pairs.append(seed, (partner, 1))

    def partners(
        self,
        seeds: Sequence[int],
        per_seed: int,
        min_count: int,
        live: Callable[[IdArray], npt.NDArray[np.bool_]],
    ) -> dict[int, list[int]]:
        """The most frequent live partners of each seed.

        Args:
            seeds: seed memories.
            per_seed: partners per seed, most frequent first (ties: lower id first).
            min_count: ignore pairs seen fewer times.
            live: which of some ids are stored, not deleted memories.

        Returns:
            Seed id -> partner ids; seeds without any are absent.
        """
        found: dict[int, list[int]] = {}
        partners, counts = self.pairs.columns
        for seed in dict.fromkeys(seeds):
            start, stop = self.pairs.row(seed)
            if start == stop:
                continue
            ids, seen = partners[start:stop], counts[start:stop]
            keep = (seen >= min_count) & live(ids)
            ids, seen = ids[keep], seen[keep]
            if len(ids):
                order = np.lexsort((ids, -seen.astype(np.int64)))
                found[seed] = ids[order][:per_seed].tolist()
        return found

    def counts(self, seed: int) -> dict[int, int]:
        """Partner -> count of one memory."""
        start, stop = self.pairs.row(seed)
        partners, counts = self.pairs.columns
        return dict(zip(partners[start:stop].tolist(), counts[start:stop].tolist(), strict=True))
