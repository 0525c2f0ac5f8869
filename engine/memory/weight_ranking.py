"""Memories picked and ranked from the scoring cache, without SQL.

Identity injection and attention's active goals choose a few memories of a small
class (immutable, pinned, some kinds) every turn. In DuckDB that was a scan and a
sort of the whole table, ~8 ms at 100k memories; the scoring cache
(:mod:`engine.memory.scoring_cache`) holds the columns they need. The order is the
one the SQL had: depth-weight mean (``alpha / (alpha + beta)``) descending, ties
to the newer id.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from engine.memory.scoring_cache import ScoringCache


def select_live(
    cache: ScoringCache,
    *,
    immutable: bool | None = None,
    pinned_or_kinds: Sequence[str] | None = None,
) -> npt.NDArray[np.int64]:
    """Ids of live (stored, not deleted) memories, ascending.

    Args:
        cache: the scoring cache.
        immutable: only immutable (True) or only mutable (False) memories; None: both.
        pinned_or_kinds: when given, only memories that are pinned or of one of
            these kinds.

    Returns:
        The ids.
    """
    with cache.lock:
        c = cache.cols
        mask = c["present"] & ~c["deleted"]
        if immutable is not None:
            mask &= c["immutable"] if immutable else ~c["immutable"]
        if pinned_or_kinds is not None:
            codes = [cache.kind_codes[k] for k in pinned_or_kinds if k in cache.kind_codes]
            mask &= c["pinned"] | np.isin(c["kind"], codes)
        return np.flatnonzero(mask).astype(np.int64)


def by_weight(
    cache: ScoringCache,
    ids: npt.NDArray[np.int64],
    *,
    pinned_first: bool = False,
    newer_first: bool = True,
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float64]]:
    """Some memories ordered by depth-weight mean, heaviest first.

    Args:
        cache: the scoring cache.
        ids: candidate memory ids (present in the cache).
        pinned_first: pinned memories before all others.
        newer_first: ties go to the newer (higher) id; False: to the older.

    Returns:
        (the ids, their means), in that order.
    """
    if not len(ids):
        return ids, np.zeros(0)
    with cache.lock:
        alpha, beta = cache.cols["alpha"][ids], cache.cols["beta"][ids]
        pinned = cache.cols["pinned"][ids]
    mean = alpha / (alpha + beta)
    ties = -ids if newer_first else ids
    sort_keys = (ties, -mean, ~pinned) if pinned_first else (ties, -mean)
    order = np.lexsort(sort_keys)  # the last key sorts first
    return ids[order], mean[order]


def heaviest_first(
    cache: ScoringCache, ids: npt.NDArray[np.int64], limit: int, *, pinned_first: bool = False
) -> list[int]:
    """The ``limit`` heaviest of some memories.

    Args:
        cache: the scoring cache.
        ids: candidate memory ids (present in the cache).
        limit: how many at most.
        pinned_first: pinned memories before all others.

    Returns:
        Ids by mean weight descending (pinned ones first if asked), ties to the newer id.
    """
    if limit <= 0:
        return []
    ranked, _ = by_weight(cache, ids, pinned_first=pinned_first)
    return [int(i) for i in ranked[:limit]]
