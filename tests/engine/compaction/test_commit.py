"""Commit replaces sources by their summary in one transaction; abort changes nothing."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from engine.llm import ProviderUnavailable, ScriptedProvider
from engine.memory.compaction import CompactionError, Compactor
from engine.models import content_hash

from .conftest import World, day, summary_text

TOPIC = "zebra migration"


def _seed(world: World) -> tuple[list[int], list[int]]:
    """Two old groups (c1 and c2, day 0) and a young memory."""
    c1 = [
        world.add(f"the {TOPIC} is planned for friday, message {i}", at=day(0, 9, i))
        for i in range(3)
    ]
    c2 = [world.add(f"lunch order {i}", channel="c2", at=day(0, 9, i)) for i in range(2)]
    world.age(30)
    world.add("a young memory about lunch", channel="c2")
    return c1, c2


def _summarized(world: World, title: str = f"The {TOPIC}") -> tuple[Compactor, int, list[int]]:
    c1, _ = _seed(world)
    compactor = world.compactor(ScriptedProvider([summary_text(title=title)]))
    plan_id = compactor.plan(limit_groups=1)[0].plan_id
    compactor.summarize(plan_id)
    return compactor, plan_id, c1


def _orphans(world: World) -> int:
    return int(
        world.scalar(
            "SELECT count(*) FROM memory_vectors v LEFT JOIN memories m ON m.id = v.memory_id "
            "WHERE m.id IS NULL OR m.deleted"
        )
    )


def _assert_compacted(world: World, sources: list[int], summary_id: int) -> None:
    memory = world.memory
    for memory_id in sources:
        assert not memory.vectors.contains(memory_id)
        assert memory.get(memory_id).deleted  # type: ignore[union-attr]
    assert memory.vectors.contains(summary_id)
    assert _orphans(world) == 0
    hits = [h.id for h in memory.search(TOPIC, 10, mutate=False).hits]
    assert hits[0] == summary_id and not set(hits) & set(sources)
    dense = [h.id for h in memory.search(TOPIC, 10, mode="dense", mutate=False).hits]
    assert dense[0] == summary_id and not set(dense) & set(sources)
    assert len(memory.vectors) == int(world.scalar("SELECT count(*) FROM memory_vectors"))


def test_commit_leaves_tombstones_a_searchable_summary_and_no_orphan_vectors(
    world: World,
) -> None:
    compactor, plan_id, sources = _summarized(world)
    contents = {m: world.memory.get(m).content for m in sources}  # type: ignore[union-attr]
    events_before = int(world.scalar("SELECT count(*) FROM events"))
    assert all(world.memory.vectors.contains(m) for m in sources)

    done = compactor.commit(plan_id)

    assert (done.deleted, done.tombstones) == (3, 3)
    summary = world.memory.get(done.summary_memory_id)
    assert summary is not None and summary.kind == "summary" and not summary.deleted
    assert summary.content.startswith("Summary of channel c1 on 2025-11-03, 3 messages")
    assert f"The {TOPIC}" in summary.content and "- point 0" in summary.content
    assert summary.source_meta["source_ids"] == sources
    assert summary.channel_id == "c1" and summary.event_ts == day(0, 9, 0)
    tombstones = (
        world.store.reader()
        .execute(
            "SELECT memory_id, reason, plan_id, summary_memory_id, kind, channel_id, content_hash "
            "FROM tombstones ORDER BY memory_id"
        )
        .fetchall()
    )
    assert tombstones == [
        (m, "compaction", plan_id, done.summary_memory_id, "message", "c1", content_hash(c))
        for m, c in contents.items()
    ]
    events = (
        world.store.reader()
        .execute(
            "SELECT type, payload->>'summary_memory_id' FROM events WHERE id > ? ORDER BY id",
            [events_before],
        )
        .fetchall()
    )
    assert events == [
        ("memory.summary.created", str(done.summary_memory_id)),
        ("memory.compaction.deleted", str(done.summary_memory_id)),
    ]
    plan = compactor.get_plan(plan_id)
    assert (plan.status, plan.summary_memory_id) == ("committed", done.summary_memory_id)
    assert (
        int(world.scalar("SELECT count(*) FROM memory_vectors WHERE memory_id = ANY(?)", [sources]))
        == 0
    )
    _assert_compacted(world, sources, done.summary_memory_id)

    assert not world.reopen_memory().rebuilt  # the saved index agrees with DuckDB
    _assert_compacted(world, sources, done.summary_memory_id)
    with pytest.raises(CompactionError, match="already committed"):
        compactor.commit(plan_id)


def test_a_crash_after_commit_is_repaired_on_open(world: World, tmp_path: Path) -> None:
    """The index file is saved later than the commit: if the process dies in between,
    the next open finds the old file stale and rebuilds it from DuckDB."""
    compactor, plan_id, sources = _summarized(world)
    world.memory.save_index()
    shutil.copytree(tmp_path / "ix", tmp_path / "ix-before")
    done = compactor.commit(plan_id)

    def crash_before_save() -> None:
        shutil.rmtree(tmp_path / "ix")
        shutil.copytree(tmp_path / "ix-before", tmp_path / "ix")

    report = world.reopen_memory(crash_before_save)
    assert report.rebuilt and report.index_status == "stale-count"
    _assert_compacted(world, sources, done.summary_memory_id)


def test_abort_leaves_every_table_unchanged(world: World) -> None:
    compactor, plan_id, sources = _summarized(world)
    before = world.dump(skip=("compaction_plans",))
    plan_before = compactor.get_plan(plan_id)
    vectors_before = len(world.memory.vectors)

    compactor.abort(plan_id, "summary_json_validation_failed")

    assert world.dump(skip=("compaction_plans",)) == before
    plan = compactor.get_plan(plan_id)
    assert (plan.status, plan.error) == ("aborted", "summary_json_validation_failed")
    assert (plan.source_ids, plan.summary) == (plan_before.source_ids, plan_before.summary)
    assert len(world.memory.vectors) == vectors_before
    assert all(world.memory.vectors.contains(m) for m in sources)
    compactor.abort(plan_id, "again")  # a no-op
    assert compactor.get_plan(plan_id).error == "summary_json_validation_failed"
    with pytest.raises(CompactionError, match="already aborted"):
        compactor.commit(plan_id)


@pytest.mark.parametrize("change", ["deleted", "pinned", "locked", "used"])
def test_a_source_changed_since_planning_rejects_the_whole_commit(
    world: World, change: str
) -> None:
    compactor, plan_id, sources = _summarized(world)
    victim = sources[1]
    if change == "deleted":
        world.memory.forget([victim])
    elif change == "pinned":
        world.memory.pin(victim)
    elif change == "locked":
        world.store.write(
            lambda cur: cur.execute(
                "UPDATE memories SET locked_by_admin = true WHERE id = ?", [victim]
            )
        )
    else:
        world.memory.log_inclusions(7, "ctx", [(victim, 10)])
    before = world.dump(skip=("compaction_plans",))
    vectors_before = len(world.memory.vectors)

    with pytest.raises(CompactionError, match=str(victim)):
        compactor.commit(plan_id)

    assert world.dump(skip=("compaction_plans",)) == before  # nothing half-done
    assert len(world.memory.vectors) == vectors_before
    assert int(world.scalar("SELECT count(*) FROM memories WHERE kind = 'summary'")) == 0
    plan = compactor.get_plan(plan_id)
    assert plan.status == "aborted" and str(victim) in (plan.error or "")
    others = [m for m in sources if m != victim]
    assert all(world.memory.vectors.contains(m) for m in others)


def test_commit_needs_a_summary_and_the_right_sources(world: World) -> None:
    c1, _ = _seed(world)
    compactor = world.compactor(ScriptedProvider([]))
    plan_id = compactor.plan(limit_groups=1)[0].plan_id
    with pytest.raises(CompactionError, match="summarize it first"):
        compactor.commit(plan_id)
    with pytest.raises(CompactionError, match="do not match"):
        compactor.commit(plan_id, {"title": "t", "bullets": ["b"]}, source_ids=c1[:2])
    with pytest.raises(CompactionError, match="not valid json_v1"):
        compactor.commit(plan_id, {"title": "t", "bullets": []})
    assert compactor.get_plan(plan_id).status == "planned"
    done = compactor.commit(plan_id, {"title": "Given by the janitor", "bullets": ["b"]}, c1)
    assert done.deleted == 3
    assert "Given by the janitor" in world.memory.get(done.summary_memory_id).content  # type: ignore[union-attr]


def test_summaries_never_become_candidates(world: World) -> None:
    compactor, plan_id, _ = _summarized(world)
    compactor.commit(plan_id)
    world.age(365)
    groups = compactor.plan()
    planned = {i for g in groups for i in g.source_ids}
    kinds = (
        world.store.reader()
        .execute("SELECT DISTINCT kind FROM memories WHERE id = ANY(?)", [sorted(planned)])
        .fetchall()
    )
    assert kinds == [("message",)]


def test_run_all_commits_valid_groups_and_aborts_invalid_ones(world: World) -> None:
    for d in range(3):
        for i in range(2):
            world.add(f"day {d} chat {i}", at=day(d, 9, i))
    world.age(40)
    provider = ScriptedProvider([summary_text(), "not json at all", summary_text()])
    report = world.compactor(provider).run_all()
    assert report["planned"] == 3 and report["committed"] == 2 and report["aborted"] == 1
    assert (report["memories_deleted"], report["tombstones"], report["summaries_created"]) == (
        4,
        4,
        2,
    )
    assert "not JSON" in report["errors"][0]
    statuses = (
        world.store.reader().execute("SELECT status FROM compaction_plans ORDER BY id").fetchall()
    )
    assert statuses == [("committed",), ("aborted",), ("committed",)]
    assert _orphans(world) == 0


def test_run_all_stops_at_a_provider_failure(world: World) -> None:
    for d in range(3):
        for i in range(2):
            world.add(f"day {d} chat {i}", at=day(d, 9, i))
    world.age(40)
    provider = ScriptedProvider([summary_text(), ProviderUnavailable("down", "scripted")])
    report = world.compactor(provider).run_all()
    assert (report["committed"], report["aborted"]) == (1, 2)
    assert provider.remaining == 0 and len(provider.requests) == 2  # the third was not tried
    errors = (
        world.store.reader()
        .execute("SELECT error FROM compaction_plans WHERE status = 'aborted' ORDER BY id")
        .fetchall()
    )
    assert "down" in errors[0][0] and "provider failed" in errors[1][0]
    assert world.compactor(None).run_all()["skipped"].startswith("no LLM provider")
