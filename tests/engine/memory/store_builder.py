"""A small but varied memory store for the scoring-cache tests: conversation and other
kinds in a few channels (ties in time, silences right at the gap), bots, immutable
memories, naive and aware event times, then a history of searches with their effects,
context inclusions, forgets and later inserts."""

from __future__ import annotations

from datetime import UTC, timedelta
from typing import Any

import numpy as np

from engine.clock import FrozenClock, to_naive_utc
from engine.memory.records import NewMemory
from engine.memory.scoring_rows import epoch_us
from engine.memory.service import MemoryService

WORDS = [
    *("band", "gig", "brewery", "lighthouse", "novel", "portrait", "vendor", "river"),
    *("pasta", "budget", "deploy", "key", "rotate", "staging", "cat", "radiator", "lunch"),
    *("friday", "noon", "paris", "capital", "meeting", "kickoff", "notes", "garden"),
    *("tomato", "bicycle", "repair", "invoice"),
]
KINDS = ["message", "assistant_message", "discord_message", "fact", "episodic", "tool_call"]


def random_memories(rng: np.random.Generator, clock: FrozenClock, n: int) -> list[NewMemory]:
    """``n`` varied memories."""
    gap = 30 * 60
    items = []
    for i in range(n):
        kind = KINDS[int(rng.integers(len(KINDS)))]
        channel = None if rng.random() < 0.15 else f"c{int(rng.integers(3))}"
        roll = rng.random()
        if roll < 0.15:
            event = None  # the creation time counts
        elif roll < 0.3:
            event = clock.now() - timedelta(seconds=gap * int(rng.integers(1, 6)))  # at the gap
        else:
            event = clock.now() - timedelta(minutes=int(rng.integers(0, 400)))  # ties happen
        if event is not None and rng.random() < 0.3:
            event = to_naive_utc(event)  # naive: taken as UTC
        elif event is not None and rng.random() < 0.2:
            event = event.astimezone(UTC).replace(microsecond=int(rng.integers(10**6)))
        text = " ".join(rng.choice(WORDS, int(rng.integers(3, 9))))
        items.append(
            NewMemory(
                kind=kind,
                content=f"{text} #{i}",
                channel_id=channel,
                event_ts=event,
                author_is_bot=bool(rng.random() < 0.25),
                immutable=bool(rng.random() < 0.1),
                embed=bool(rng.random() < 0.9),
            )
        )
    return items


def queries(rng: np.random.Generator, n: int) -> list[str]:
    """``n`` queries over the same words."""
    return [" ".join(rng.choice(WORDS, int(rng.integers(1, 4)))) for _ in range(n)]


def add_prepared(svc: MemoryService, items: list[NewMemory]) -> list[int]:
    """Insert the way a turn does: inside a bigger write job, indexed after the commit."""
    prepared = svc.prepare(items)
    ids = svc.store.write(lambda cur: svc.insert_prepared(cur, prepared))
    svc.index_prepared(ids, prepared)
    return ids


def build_history(svc: MemoryService, clock: FrozenClock, rng: np.random.Generator) -> None:
    """A store with a past: adds, searches with effects, inclusions, forgets, a pin."""
    ids = svc.add(random_memories(rng, clock, 120))
    ids += add_prepared(svc, random_memories(rng, clock, 40))
    for i, query in enumerate(queries(rng, 40)):
        clock.advance(float(rng.integers(1, 4000)))
        svc.search(query, int(rng.integers(3, 11)), mutate=True)
        if i % 6 == 0:
            picked = [int(x) for x in rng.choice(ids, 4)]
            svc.log_inclusions(1, "ctx", [(m, 10) for m in [*picked, picked[0]]])  # a repeat
        if i % 9 == 4:
            svc.forget([int(x) for x in rng.choice(ids, 3)])
        if i % 10 == 7:
            ids += add_prepared(svc, random_memories(rng, clock, 8))
        if i % 13 == 5:
            svc.pin(int(rng.choice(ids)))
    svc.store.write(lambda cur: None)  # queued retrieval effects are committed in order


def stored_rows(svc: MemoryService) -> dict[int, dict[str, Any]]:
    """What DuckDB holds, in the shape of ``cached_memory``."""
    rows = (
        svc.store.reader()
        .execute(
            "SELECT id, kind, channel_id, author_is_bot, immutable, deleted, "
            "coalesce(event_ts, created_at), depth_weight_alpha, depth_weight_beta, "
            "NULL, pinned FROM memories"
        )
        .fetchall()
    )
    accesses: dict[int, list[float]] = {}
    logged = svc.store.reader().execute(
        "SELECT memory_id, accessed_at FROM memory_accesses ORDER BY rowid"
    )
    for memory_id, stamp in logged.fetchall():
        accesses.setdefault(memory_id, []).append(stamp)
    pairs = svc.store.reader().execute("SELECT a, b, count FROM co_access_counts").fetchall()
    co: dict[int, dict[int, int]] = {}
    for a, b, count in pairs:
        co.setdefault(a, {})[b] = count
        co.setdefault(b, {})[a] = count
    return {
        r[0]: {
            "kind": r[1],
            "channel_id": r[2],
            "author_is_bot": r[3],
            "immutable": r[4],
            "deleted": r[5],
            "time_us": epoch_us(r[6]),
            "alpha": r[7],
            "beta": r[8],
            "pinned": r[10],
            "access_timestamps": accesses.get(r[0], []),
            "co_access": co.get(r[0], {}),
        }
        for r in rows
    }
