"""A change of embedding model: old vectors are never mixed in; re-embedding completes search."""

from __future__ import annotations

from pathlib import Path

from engine.clock import FrozenClock
from engine.config import load_policy
from engine.memory.embed import HashingEmbedder
from engine.memory.records import NewMemory
from engine.memory.reembed import pending_reembed, reembed, start_background_reembed
from engine.memory.service import MemoryService
from engine.store import Store

POLICY = load_policy().policy
TEXTS = [
    f"note {i} about the {w} project"
    for i, w in enumerate(["apollo", "gemini", "mercury", "artemis", "voyager", "pioneer"])
]


def test_model_switch_then_reembed(tmp_path: Path, clock: FrozenClock) -> None:
    old_model, new_model = HashingEmbedder(ngram_max=2), HashingEmbedder(ngram_max=1)
    assert old_model.name != new_model.name
    with Store(tmp_path / "db.duckdb", clock=clock) as store:
        old = MemoryService(store, old_model, POLICY, clock, tmp_path / "index")
        old.open()
        ids = old.add([NewMemory(kind="fact", content=t) for t in TEXTS])
        old.add([NewMemory(kind="tool_call", content="clock.now({})", embed=False)])
        old.close()

        new = MemoryService(store, new_model, POLICY, clock, tmp_path / "index")
        report = new.open()
        assert report.index_status == "missing" and report.vectors == 0  # nothing old mixed in
        assert sorted(pending_reembed(new)) == ids  # the unembedded tool call is not pending
        keyword_only = new.search("voyager project", 3, mutate=False)
        assert keyword_only.hits[0].id == ids[4] and keyword_only.hits[0].explain.ann_rank is None

        seen: list[int] = []
        assert reembed(new, progress=lambda _s, done, _t: seen.append(done)) == len(ids)
        assert seen[-1] == len(ids)
        assert len(new.vectors) == len(ids) and pending_reembed(new) == []
        dense = new.search("voyager project", 3, mode="dense", mutate=False)
        assert dense.hits[0].id == ids[4]
        models = (
            store.reader()
            .execute("SELECT model, count(*) FROM memory_vectors GROUP BY model ORDER BY model")
            .fetchall()
        )
        assert models == sorted([(old_model.name, 6), (new_model.name, 6)])

        assert start_background_reembed(new) is None  # nothing left to do
