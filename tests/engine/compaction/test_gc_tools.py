"""The GC tools through the tool runtime: plan, summarize and abort run read-only;
commit deletes memories, so it waits for an operator unlock."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from engine.llm import ScriptedProvider
from engine.tools import Scope, SourceTag, ToolRegistry, ToolRuntime, register_builtin_tools
from engine.tools.memory_gc_tools import register_gc_tools

from .conftest import World, day, summary_text


@pytest.fixture
def runtime(world: World) -> Iterator[tuple[ToolRuntime, ScriptedProvider]]:
    registry = ToolRegistry()
    register_builtin_tools(registry)
    if registry.get("memory.gc_plan") is None:  # not yet wired into the builtins
        register_gc_tools(registry, world.policy)
    provider = ScriptedProvider()
    rt = ToolRuntime(
        registry,
        world.store,
        world.clock,
        world.policy.tools,
        services={"memory": world.memory, "provider": provider},
    )
    yield rt, provider
    rt.close()


def _seed(world: World) -> list[int]:
    ids = [world.add(f"deploy chatter {d}-{i}", at=day(d, 9, i)) for d in (0, 1) for i in range(2)]
    world.age(30)
    return ids


def test_scopes_and_schemas(runtime: tuple[ToolRuntime, ScriptedProvider]) -> None:
    rt, _ = runtime
    scopes = {
        name: rt.registry.get(name).scope  # type: ignore[union-attr]
        for name in rt.registry.names()
        if name.startswith("memory.") and "context" not in name
    }
    assert scopes["memory.gc_plan"] is Scope.READ
    assert scopes["memory.summarize"] is Scope.READ
    assert scopes["memory.compact_abort"] is Scope.READ
    assert scopes["memory.compact_commit"] is Scope.WRITE
    summarize = rt.registry.get("memory.summarize")
    assert summarize is not None and summarize.timeout_s is not None
    assert summarize.timeout_s > rt.policy.default_timeout_seconds


def test_plan_summarize_commit_needs_an_unlock(
    world: World, runtime: tuple[ToolRuntime, ScriptedProvider]
) -> None:
    rt, provider = runtime
    ids = _seed(world)
    op = SourceTag.OPERATOR
    planned = rt.call("memory.gc_plan", {"max_groups": 5}, turn_id=1, source=op)
    assert planned.status == "ok", planned.error
    groups = planned.result["groups"]
    assert [g["source_ids"] for g in groups] == [ids[:2], ids[2:]]
    assert groups[0]["group_id"] == str(groups[0]["plan_id"])
    assert groups[0]["time_range"]["start"].startswith("2025-11-03T09:00")
    first, second = (g["plan_id"] for g in groups)

    provider.push(summary_text(title="Deploy chatter"))
    summarized = rt.call("memory.summarize", {"plan_id": first}, turn_id=1, source=op)
    assert summarized.status == "ok", summarized.error
    assert summarized.result["summary"]["title"] == "Deploy chatter"

    args = {"plan_id": first, "source_ids": ids[:2]}
    denied = rt.call("memory.compact_commit", args, turn_id=1, source=op)
    assert denied.status == "denied" and "unlock" in (denied.error or "")
    assert int(world.scalar("SELECT count(*) FROM memories WHERE deleted")) == 0

    rt.unlock([Scope.WRITE], minutes=5)
    done = rt.call("memory.compact_commit", args, turn_id=2, source=op)
    assert done.status == "ok", done.error
    assert done.result["deleted_count"] == 2 and done.result["tombstones"] == 2
    assert int(world.scalar("SELECT count(*) FROM tombstones")) == 2
    assert not any(world.memory.vectors.contains(m) for m in ids[:2])

    # a janitor (self-initiated) needs confidence even when unlocked
    job = SourceTag.JOB
    provider.push(summary_text())
    assert rt.call("memory.summarize", {"plan_id": second}, turn_id=3, source=job).ok
    low = rt.call("memory.compact_commit", {"plan_id": second}, turn_id=3, source=job)
    assert low.status == "denied" and "confidence" in (low.error or "")
    high = rt.call(
        "memory.compact_commit", {"plan_id": second}, turn_id=3, source=job, confidence=0.99
    )
    assert high.status == "ok", high.error

    world.age(1)  # the unlock has expired
    again = rt.call("memory.compact_commit", {"plan_id": first}, turn_id=4, source=op)
    assert again.status == "denied"


def test_invalid_summary_and_abort_through_tools(
    world: World, runtime: tuple[ToolRuntime, ScriptedProvider]
) -> None:
    rt, provider = runtime
    _seed(world)
    op = SourceTag.OPERATOR
    groups = rt.call("memory.gc_plan", {}, turn_id=1, source=op).result["groups"]
    first, second = (g["plan_id"] for g in groups)
    provider.push('{"title": "no bullets"}')
    bad = rt.call("memory.summarize", {"plan_id": first}, turn_id=1, source=op)
    assert bad.status == "error" and "bullets" in (bad.error or "")
    before = world.dump(skip=("compaction_plans", "tool_calls"))
    aborted = rt.call(
        "memory.compact_abort",
        {"plan_id": second, "reason": "operator said no"},
        turn_id=1,
        source=op,
    )
    assert aborted.result == {"plan_id": second, "status": "aborted"}
    assert world.dump(skip=("compaction_plans", "tool_calls")) == before
    statuses = (
        world.store.reader()
        .execute("SELECT status, error FROM compaction_plans ORDER BY id")
        .fetchall()
    )
    assert statuses[0][0] == "aborted" and "bullets" in statuses[0][1]
    assert statuses[1] == ("aborted", "operator said no")
    stricter = rt.call("memory.gc_plan", {"age_min_days": 60}, turn_id=2, source=op)
    assert stricter.ok and stricter.result["groups"] == []  # too young for 60 days
    looser = rt.call("memory.gc_plan", {"age_min_days": 0}, turn_id=3, source=op)
    assert looser.ok and len(looser.result["groups"]) == 2  # the aborted groups, again
    unknown = rt.call("memory.summarize", {"plan_id": 999}, turn_id=4, source=op)
    assert unknown.status == "error" and "no compaction plan 999" in (unknown.error or "")
