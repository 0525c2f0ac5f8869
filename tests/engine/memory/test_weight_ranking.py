"""Identity candidates and active goals are chosen from the scoring cache in exactly
the order the SQL they replaced gave (pinned first, mean weight, newer id on ties)."""

from __future__ import annotations

import numpy as np

from engine.clock import FrozenClock
from engine.memory.scoring_load import load_scoring_cache
from engine.memory.service import MemoryService
from engine.mind.salience import active_goals
from engine.pipeline.identity import identity_candidates
from tests.engine.memory.store_builder import build_history

MEAN = "depth_weight_alpha / (depth_weight_alpha + depth_weight_beta)"


def _weights_with_ties(svc: MemoryService) -> None:
    """Few distinct weights (many ties), some goals, and the cache reloaded."""
    svc.store.write(
        lambda cur: cur.execute(
            "UPDATE memories SET depth_weight_alpha = 1 + (id * 7) % 4, "
            "depth_weight_beta = 1 + (id * 3) % 3, "
            "kind = CASE WHEN id % 11 = 0 THEN 'goal' ELSE kind END"
        )
    )
    load_scoring_cache(svc.scoring, svc.store.reader())


def test_identity_candidates_match_the_sql_order(
    service: MemoryService, clock: FrozenClock
) -> None:
    build_history(service, clock, np.random.default_rng(7))
    _weights_with_ties(service)
    for memory_id in (3, 8, 13):
        service.pin(memory_id)
    policy = service.policy.identity.model_copy(update={"kinds": ["fact", "episodic"], "top_n": 9})
    cur = service.store.reader()
    immutable = [
        r[0]
        for r in cur.execute(
            "SELECT id FROM memories WHERE NOT deleted AND immutable ORDER BY id"
        ).fetchall()
    ]
    ranked = [
        r[0]
        for r in cur.execute(
            f"SELECT id FROM memories WHERE NOT deleted AND NOT immutable "
            f"AND (pinned OR list_contains(?, kind)) ORDER BY pinned DESC, {MEAN} DESC, "
            "id DESC LIMIT ?",
            [["fact", "episodic"], 9],
        ).fetchall()
    ]
    got = identity_candidates(service, policy)
    assert [c.id for c in got] == immutable + ranked
    assert immutable and len(ranked) == 9 and got[len(immutable)].pinned
    stored = {r[0]: r[1:] for r in cur.execute(
        "SELECT id, kind, content, depth_weight_alpha, depth_weight_beta, immutable, pinned "
        "FROM memories").fetchall()}  # fmt: skip
    for c in got:
        assert (c.kind, c.content, c.alpha, c.beta, c.immutable, c.pinned) == stored[c.id]


def test_active_goals_match_the_sql_order(service: MemoryService, clock: FrozenClock) -> None:
    build_history(service, clock, np.random.default_rng(8))
    _weights_with_ties(service)
    service.pin(4)
    policy = service.policy.attention.model_copy(
        update={"goal_memories": 6, "goal_recent_messages": 0}
    )
    cur = service.store.reader()
    expected = [
        r[0]
        for r in cur.execute(
            f"SELECT content FROM memories WHERE NOT deleted AND (pinned OR kind = 'goal') "
            f"ORDER BY {MEAN} DESC, id DESC LIMIT 6"
        ).fetchall()
    ]
    assert len(expected) == 6
    assert active_goals(service, [], policy) == expected
