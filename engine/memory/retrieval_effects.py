"""What retrieving memories does to them.

Returned memories get an access time (a row of ``memory_accesses``) and
``reinforce`` (alpha += amount, capped so a mutable memory's mean never exceeds the
safety ceiling); near misses (ranks just below the cut) get ``contradict`` (beta +=
amount); memories returned together count a co-access (a row of ``co_access_log``,
folded into ``co_access`` by :func:`fold_co_access`). Immutable memories never
change weight.

The scoring cache (:mod:`engine.memory.scoring_cache`) gets the same changes, with
the same arithmetic, when the write is queued: the next search sees them at once,
and cache and store agree once the write commits.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING

import duckdb
import structlog

from engine.clock import to_naive_utc
from engine.errors import StoreError
from engine.memory.scoring_rows import epoch_us
from engine.memory.stat_updates import insert_accesses
from engine.policy import Policy
from engine.store import Store

if TYPE_CHECKING:
    from engine.memory.scoring_cache import ScoringCache
    from engine.memory.search import SearchResult
    from engine.memory.stat_updates import MemoryStatUpdates

log = structlog.get_logger("cephalon.memory")


InclusionDetail = tuple[str, int, float | None, str]
"""(section, rank, score, explanation JSON) of one logged inclusion."""


def retrieval_effect_ids(policy: Policy, result: SearchResult) -> tuple[list[int], list[int]]:
    """The memories one search strengthens (its hits) and weakens (its near misses)."""
    r = policy.retrieval
    hit_ids = [h.id for h in result.hits]
    miss_ids = [
        h.id
        for h in result.near_misses
        if r.near_miss_first_rank <= h.rank <= r.near_miss_last_rank
    ]
    return hit_ids, miss_ids


def write_retrieval_effects(
    cur: duckdb.DuckDBPyConnection,
    policy: Policy,
    now: datetime,
    hit_ids: list[int],
    miss_ids: list[int],
    stats: MemoryStatUpdates | None = None,
) -> None:
    """The SQL of one search's effects, on the caller's cursor (inside its transaction).

    Args:
        cur: the writer's cursor.
        policy: amounts and the weight ceiling.
        now: the access time.
        hit_ids: returned memories (access time, reinforce, co-access).
        miss_ids: near misses (contradict).
        stats: when given, the weight and access changes are collected there (one
            UPDATE for the whole turn) instead of written here.
    """
    r = policy.retrieval
    cap = policy.weights.max_center
    if stats is not None:
        stats.retrieved(hit_ids, r.reinforce_retrieved, now.timestamp())
        stats.near_missed(miss_ids, r.contradict_near_miss)
    elif hit_ids:
        cur.execute(
            "UPDATE memories SET depth_weight_alpha = CASE WHEN immutable THEN "
            "depth_weight_alpha ELSE greatest(depth_weight_alpha, least(depth_weight_alpha + $1, "
            "$2 * depth_weight_beta / (1 - $2))) END WHERE id = ANY($3)",
            [r.reinforce_retrieved, cap, hit_ids],
        )
        _log_accesses(cur, hit_ids, now.timestamp())
    if miss_ids and stats is None:
        cur.execute(
            "UPDATE memories SET depth_weight_beta = depth_weight_beta + $1 "
            "WHERE id = ANY($2) AND NOT immutable",
            [r.contradict_near_miss, miss_ids],
        )
    pairs = list(itertools.combinations(sorted(hit_ids), 2))
    if pairs:
        cur.execute(
            "INSERT INTO co_access_log SELECT unnest($1), unnest($2), $3",
            [[a for a, _ in pairs], [b for _, b in pairs], to_naive_utc(now)],
        )


def fold_co_access(cur: duckdb.DuckDBPyConnection) -> int:
    """Move the co-access log into ``co_access`` (inside the caller's transaction).

    ``co_access_counts`` reads the same before and after.

    Args:
        cur: the writer's cursor.

    Returns:
        How many log rows were folded.
    """
    (logged,) = cur.execute("SELECT count(*) FROM co_access_log").fetchone() or (0,)
    if logged:
        cur.execute(
            "INSERT INTO co_access SELECT a, b, count(*), max(seen_at) FROM co_access_log "
            "GROUP BY a, b ON CONFLICT (a, b) DO UPDATE SET count = count + excluded.count, "
            "last_at = greatest(last_at, excluded.last_at)"
        )
        cur.execute("DELETE FROM co_access_log")
    return int(logged)


def retrieval_amounts(policy: Policy) -> tuple[float, float, float]:
    """(reinforce, contradict, weight ceiling): what the scoring cache mirrors."""
    r = policy.retrieval
    return (r.reinforce_retrieved, r.contradict_near_miss, policy.weights.max_center)


def apply_retrieval_effects(
    store: Store, policy: Policy, now: datetime, result: SearchResult, cache: ScoringCache
) -> None:
    """Queue the effects of one search as a write of their own (searches stay fast).

    The scoring cache gets them at once, in the order the writes are queued. (A
    turn's context search applies them in the turn's commit instead:
    :meth:`MemoryService.retrieval_effects_in`.)

    Args:
        store: the store.
        policy: amounts, near-miss ranks and the weight ceiling.
        now: the access time.
        result: the search whose hits and near misses are affected.
        cache: the scoring cache to update as well (before the commit).

    Raises:
        StoreError: the store is read-only.
    """
    if store.writer is None:
        raise StoreError(f"database {store.path} is open read-only")
    hit_ids, miss_ids = retrieval_effect_ids(policy, result)

    def job(cur: duckdb.DuckDBPyConnection) -> None:
        write_retrieval_effects(cur, policy, now, hit_ids, miss_ids)

    with cache.lock:  # the cache changes in the order the writes are queued
        cache.record_retrieval(hit_ids, miss_ids, now.timestamp(), retrieval_amounts(policy))
        future = store.writer.submit(job)
    future.add_done_callback(
        lambda f: (
            f.exception()
            and log.error(
                "retrieval effects failed (the scoring cache is ahead until the store reopens)",
                error=str(f.exception()),
            )
        )
    )


def record_inclusions(
    cur: duckdb.DuckDBPyConnection,
    turn_id: int | None,
    context_id: str,
    items: list[tuple[int, int]],
    now: datetime,
    tau_seconds: float,
    details: Sequence[InclusionDetail] | None = None,
    stats: MemoryStatUpdates | None = None,
) -> int:
    """Log memories that went into a context and update their access statistics.

    ``included_count_decay`` decays exponentially with ``tau`` since the last
    inclusion and then counts this one: ``c * exp(-dt / tau) + 1``.

    Args:
        cur: the writer's cursor, inside a transaction.
        turn_id: the turn, if any.
        context_id: the context (for the log).
        items: (memory id, tokens) pairs, in context order.
        now: naive-UTC inclusion time.
        tau_seconds: decay time constant.
        details: per item, its (section, rank, score, explanation JSON) when the caller
            knows them (a turn's assembled context); else rows are logged as
            ``context_log`` in item order with no score.
        stats: when given, the access statistics are collected there (one UPDATE for
            the whole turn) instead of written here.

    Returns:
        How many inclusions were recorded.
    """
    if not items:
        return 0
    ids = [memory_id for memory_id, _ in items]
    if details is None:
        details = [
            ("context_log", rank, None, json.dumps({"context_id": context_id, "tokens": t}))
            for rank, (_, t) in enumerate(items, start=1)
        ]
    cur.execute(
        "INSERT INTO context_inclusions (turn_id, memory_id, section, rank, score, explain, ts) "
        "SELECT $1, unnest($2), unnest($3), unnest($4), unnest($5), unnest($6), $7",
        [
            turn_id,
            ids,
            [d[0] for d in details],
            [d[1] for d in details],
            [d[2] for d in details],
            [d[3] for d in details],
            now,
        ],
    )
    if stats is not None:
        stats.included(ids, now, epoch_us(now) / 10**6)
        return len(items)
    cur.execute(
        "UPDATE memories SET included_count_decay = included_count_decay * "
        "exp(-coalesce(epoch($1) - epoch(last_included_at), 0) / $2) + 1, "
        "last_included_at = $1 WHERE id = ANY($3)",
        [now, tau_seconds, ids],
    )
    _log_accesses(cur, ids, epoch_us(now) / 10**6)
    return len(items)


def _log_accesses(cur: duckdb.DuckDBPyConnection, ids: Sequence[int], stamp: float) -> None:
    """One access at ``stamp`` for each distinct memory of ``ids``."""
    distinct = list(dict.fromkeys(ids))
    insert_accesses(cur, distinct, [stamp] * len(distinct))
