"""Which tools a turn is offered: live services and the turn's source decide."""

from __future__ import annotations

from pathlib import Path

from engine.clock import FrozenClock
from engine.config import load_policy
from engine.factory import build_tool_registry
from engine.llm.scripted import ScriptedProvider
from engine.pipeline.act import ActLoop
from engine.replay import ReplayTools
from engine.store import Store
from engine.tools import SourceTag, ToolRuntime

POLICY = load_policy().policy
DISCORD = ["discord.channels", "discord.delete", "discord.history", "discord.send"]
GC = ["memory.compact_abort", "memory.compact_commit", "memory.gc_plan", "memory.summarize"]


def test_discord_tools_need_a_live_connection_and_gc_tools_a_maintenance_turn(
    tmp_path: Path,
) -> None:
    registry = build_tool_registry(POLICY)
    with Store(tmp_path / "db.duckdb") as store:
        runtime = ToolRuntime(registry, store, FrozenClock(), POLICY.tools, services={})
        operator = runtime.offered_tools(SourceTag.OPERATOR)
        assert not set(operator) & set(DISCORD + GC)
        assert "memory.search" in operator and operator == sorted(operator)
        assert set(GC) <= set(runtime.offered_tools(SourceTag.JOB))
        runtime.services["discord"] = object()  # what Engine.start sets once Discord is up
        assert set(DISCORD) <= set(runtime.offered_tools(SourceTag.CHANNEL))
        assert not set(GC) & set(runtime.offered_tools(SourceTag.CHANNEL))
        runtime.close()


def test_the_model_sees_only_the_offered_schemas_and_replay_offers_the_recorded_set() -> None:
    registry = build_tool_registry(POLICY)
    recorded = ["clock.now", "discord.send"]
    tools = ReplayTools(registry, [], offered=recorded)
    provider = ScriptedProvider([{"type": "message", "content": "ok"}])
    result = ActLoop(provider, tools, POLICY).run([], turn_id=None, source=SourceTag.OPERATOR)
    assert result.offered_tools == recorded
    assert [t.name for t in result.requests[0].tools] == recorded
    # records from before offers were filtered replay with every tool
    assert ReplayTools(registry, []).offered_tools(SourceTag.OPERATOR) == registry.names()
