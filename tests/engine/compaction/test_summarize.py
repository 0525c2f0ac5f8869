"""Summaries must be valid json_v1; anything else aborts the plan and changes no memory."""

from __future__ import annotations

import json

import pytest

from engine.llm import OpenAICompatProvider, ProviderUnavailable, ScriptedProvider, ScriptedReply
from engine.memory.compaction import CompactionError, SummaryUnavailable
from tests.fakes.llm_server import FakeLLMServer, Reply

from .conftest import World, day, summary_text


def _planned_world(world: World, n: int = 3) -> list[int]:
    ids = [
        world.add(f"alice: shall we ship on friday? take {i}", at=day(0, 9, i), author_id="alice")
        for i in range(n)
    ]
    world.age(30)
    return ids


def _live(world: World) -> int:
    return int(world.scalar("SELECT count(*) FROM memories WHERE NOT deleted"))


def test_valid_summary_is_stored_on_the_plan(world: World) -> None:
    _planned_world(world)
    provider = ScriptedProvider([summary_text(bullets=4)])
    compactor = world.compactor(provider)
    [group] = compactor.plan()
    summary = compactor.summarize(group.plan_id)
    assert summary.title == "Release planning" and len(summary.bullets) == 4
    plan = compactor.get_plan(group.plan_id)
    assert plan.status == "summarized"
    assert plan.summary == summary.model_dump(mode="json")
    assert plan.summarized_by == "scripted/scripted" and plan.llm_call_id is not None
    status = world.scalar("SELECT status FROM llm_calls WHERE id = ?", [plan.llm_call_id])
    assert status == "ok"
    [request] = provider.requests
    assert request.response_schema is not None
    assert request.response_schema["properties"]["bullets"]["maxItems"] == 25
    assert request.response_schema["additionalProperties"] is False
    prompt = request.messages[-1].content
    assert "channel c1 on 2025-11-03 (3 messages)" in prompt
    assert "[09:02] alice (message): alice: shall we ship on friday? take 2" in prompt


def test_code_fences_and_trailing_commas_are_forgiven(world: World) -> None:
    _planned_world(world)
    fenced = "```json\n" + summary_text()[:-1] + ",}\n```"
    compactor = world.compactor(ScriptedProvider([fenced]))
    [group] = compactor.plan()
    assert compactor.summarize(group.plan_id).participants == ["alice", "bob"]


@pytest.mark.parametrize(
    ("answer", "why"),
    [
        ("Sure! They talked about shipping.", "not JSON"),
        (json.dumps({"format": "json_v1", "title": "t"}), "bullets"),
        (summary_text(mood="great"), "mood"),
        (summary_text(bullets=26), "at most 25 allowed"),
        (summary_text(bullets=0), "bullets"),
        (summary_text(format="json_v2"), "format"),
        (summary_text(patterns=[{"pattern": "x", "count": 1}] * 11), "at most 10 allowed"),
        ('{"format": "json_v1", "title": "t", "bullets": ["a", "b"', "truncated"),
        (summary_text()[:60], "not JSON"),
        (ScriptedReply(text=summary_text(), finish_reason="length"), "cut off"),
    ],
)
def test_invalid_summaries_abort_the_plan(world: World, answer: object, why: str) -> None:
    ids = _planned_world(world)
    compactor = world.compactor(ScriptedProvider([answer]))  # type: ignore[list-item]
    [group] = compactor.plan()
    before = world.dump(skip=("compaction_plans", "llm_calls"))
    with pytest.raises(CompactionError, match=why):
        compactor.summarize(group.plan_id)
    plan = compactor.get_plan(group.plan_id)
    assert plan.status == "aborted" and why in (plan.error or "")
    assert plan.summary is None
    call = (
        world.store.reader()
        .execute("SELECT status, error FROM llm_calls WHERE id = ?", [plan.llm_call_id])
        .fetchall()
    )
    assert call[0][0] == "invalid"
    assert world.dump(skip=("compaction_plans", "llm_calls")) == before
    assert _live(world) == len(ids)
    with pytest.raises(CompactionError, match="already aborted"):
        compactor.commit(group.plan_id)


def test_provider_failure_aborts_with_summary_unavailable(world: World) -> None:
    _planned_world(world)
    compactor = world.compactor(ScriptedProvider([ProviderUnavailable("down", "scripted")]))
    [group] = compactor.plan()
    with pytest.raises(SummaryUnavailable, match="down"):
        compactor.summarize(group.plan_id)
    assert compactor.get_plan(group.plan_id).status == "aborted"


def test_no_provider_leaves_the_plan_open(world: World) -> None:
    _planned_world(world)
    compactor = world.compactor(None)
    [group] = compactor.plan()
    with pytest.raises(CompactionError, match="no LLM provider"):
        compactor.summarize(group.plan_id)
    assert compactor.get_plan(group.plan_id).status == "planned"


def test_unknown_plan_is_one_clear_error(world: World) -> None:
    with pytest.raises(CompactionError, match="no compaction plan 99"):
        world.compactor(ScriptedProvider([])).summarize(99)


def test_summarize_through_an_openai_compatible_server(world: World, server: FakeLLMServer) -> None:
    _planned_world(world)
    server.script(Reply(summary_text(title="Shipping on Friday")), Reply("no json here"))
    provider = OpenAICompatProvider(server.url, "m")
    try:
        compactor = world.compactor(provider)
        first, second = compactor.plan(), None
        assert len(first) == 1
        summary = compactor.summarize(first[0].plan_id)
        assert summary.title == "Shipping on Friday"
        body = server.requests[0].body
        assert body["response_format"]["type"] == "json_schema"
        schema = body["response_format"]["json_schema"]["schema"]
        assert schema["properties"]["patterns"]["maxItems"] == 10
        assert body["max_tokens"] == world.policy.compaction.summary.max_output_tokens
        compactor.abort(first[0].plan_id, "plan again")
        second = compactor.plan()
        with pytest.raises(CompactionError, match="not JSON"):
            compactor.summarize(second[0].plan_id)
        assert compactor.get_plan(second[0].plan_id).status == "aborted"
    finally:
        provider.close()
