"""A turn's one UPDATE of memory statistics leaves the store exactly as the three
separate statements did (retrieval hits, near misses, inclusions), also followed by
the exit gate's reinforcement, and the scoring cache agrees with it."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from engine.clock import FrozenClock
from engine.config import load_policy
from engine.memory.embed import HashingEmbedder
from engine.memory.scoring_load import cached_memory
from engine.memory.search import SearchResult
from engine.memory.service import MemoryService
from engine.memory.stat_updates import MemoryStatUpdates
from engine.mind.gate_effects import after_reinforce, reinforce_in
from engine.pipeline.inclusions import Inclusion, cache_inclusions, record_inclusions
from engine.store import Store
from tests.engine.memory.store_builder import build_history, queries, stored_rows


def _open(root: Path, clock: FrozenClock) -> tuple[Store, MemoryService]:
    root.mkdir()
    store = Store(root / "db.duckdb", clock=clock)
    svc = MemoryService(store, HashingEmbedder(), load_policy().policy, clock, root / "ix")
    svc.open()
    return store, svc


@pytest.fixture
def twins(tmp_path: Path) -> Iterator[list[tuple[MemoryService, FrozenClock]]]:
    """Two stores with the same history."""
    made = []
    for name in ("separate", "merged"):
        clock = FrozenClock()
        store, svc = _open(tmp_path / name, clock)
        build_history(svc, clock, np.random.default_rng(7))
        made.append((store, svc, clock))
    yield [(svc, clock) for _, svc, clock in made]
    for store, svc, _ in made:
        svc.close()
        store.close()


def _everything(svc: MemoryService) -> dict[int, dict[str, Any]]:
    rows = stored_rows(svc)
    for memory_id, decay, last in (
        svc.store.reader()
        .execute("SELECT id, included_count_decay, last_included_at FROM memories")
        .fetchall()
    ):
        rows[memory_id] |= {"included_count_decay": decay, "last_included_at": last}
    return rows


def _effects(
    svc: MemoryService,
    merged: bool,
    result: SearchResult,
    inclusions: list[Inclusion],
    gate_ids: list[int],
    now: datetime,
    cur: Any,
) -> None:
    """One turn's effects on memory statistics, as separate statements or merged."""
    cap = svc.policy.weights.max_center
    stats = None
    if merged:
        stats = MemoryStatUpdates(cap, svc.policy.compaction.access.tau_days * 86400)
    svc.retrieval_effects_in(cur, result, now, stats)
    record_inclusions(cur, 1, inclusions, now, svc, stats)
    if stats is not None:
        assert stats.write(cur) >= len({i.memory_id for i in inclusions})
    # the exit gate's reinforcement is its own UPDATE (the commit writes it after the gates)
    reinforce_in(cur, gate_ids, svc.policy.gates.exit.reinforce_alpha, cap)


def test_one_update_equals_the_separate_statements(
    twins: list[tuple[MemoryService, FrozenClock]],
) -> None:
    rng = np.random.default_rng(11)
    before = _everything(twins[0][0])
    assert before == _everything(twins[1][0])
    live = [i for i, r in before.items() if not r["deleted"]]
    deleted = [i for i, r in before.items() if r["deleted"]]
    immutable = [i for i, r in before.items() if r["immutable"]]
    assert deleted and immutable
    for round_, query in enumerate(queries(rng, 12)):
        included = [int(i) for i in rng.choice(live, 5)] + [immutable[round_ % len(immutable)]]
        gate = [int(rng.choice(live)), deleted[round_ % len(deleted)], immutable[0]]
        advance = float(rng.integers(1, 5000))
        for merged, (svc, clock) in enumerate(twins):
            clock.advance(advance)
            now = clock.now()
            result = svc.search(query, 6, mutate=False)
            gate_ids = [*gate, *(h.id for h in result.hits[:1])]  # also a hit
            inclusions = [
                Inclusion(m, "related", rank, 0.5, {}, 10)
                for rank, m in enumerate([*included, *(h.id for h in result.hits[:2])], 1)
            ]

            svc.store.write(partial(_effects, svc, bool(merged), result, inclusions, gate_ids, now))
            svc.cache_retrieval_effects(result, now)  # as the turn commit does, after it
            cache_inclusions(svc, inclusions, now)
            after_reinforce(svc, gate_ids)
    separate, merged_rows = _everything(twins[0][0]), _everything(twins[1][0])
    assert merged_rows == separate  # exact: floats, access lists and times
    changed = [i for i in before if before[i] != separate[i]]
    assert len(changed) > 20  # the rounds did change many memories
    assert any(separate[i]["alpha"] != before[i]["alpha"] for i in live)
    assert any(separate[i]["beta"] != before[i]["beta"] for i in live)
    for i in immutable:  # immutable weights never move
        assert (separate[i]["alpha"], separate[i]["beta"]) == (
            before[i]["alpha"],
            before[i]["beta"],
        )
    svc = twins[1][0]
    for memory_id, row in stored_rows(svc).items():  # the cache followed the merged write
        assert cached_memory(svc.scoring, memory_id) == row, memory_id


def test_no_changes_write_nothing(twins: list[tuple[MemoryService, FrozenClock]]) -> None:
    svc = twins[0][0]
    before = _everything(svc)
    assert svc.store.write(lambda cur: MemoryStatUpdates(0.95, 86400.0).write(cur)) == 0
    assert _everything(svc) == before
