"""Turns with the scripted provider: the act loop's bounds and the one-transaction commit."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from engine.config import load_policy, load_settings
from engine.engine import Engine
from engine.llm.scripted import ScriptedProvider
from engine.signals import Signal

POLICY = load_policy().policy


def _engine(script: list[object], policy: object = POLICY) -> Engine:
    settings = load_settings().model_copy(update={"embedder": "hashing"})
    return Engine(settings, policy, provider=ScriptedProvider(script))  # type: ignore[arg-type]


@pytest.fixture
def signals() -> list[Signal]:
    return []


def _turn_row(engine: Engine, turn_id: int) -> dict[str, object]:
    cur = engine.store.reader()
    values = cur.execute("SELECT * FROM turns WHERE id = ?", [turn_id]).fetchall()[0]
    return dict(zip([d[0] for d in cur.description], values, strict=True))


def test_reply_commits_everything_in_the_turn(isolated_home: Path, signals: list[Signal]) -> None:
    with _engine(
        [
            {"type": "tool_call", "name": "clock.now", "args": {}},
            {"type": "message", "content": "It is noon."},
        ]
    ) as engine:
        engine.bus.subscribe(signals.append)
        outcome = engine.run_turn("what time is it?")
        row = _turn_row(engine, outcome.turn_id)
        record = json.loads(str(row["record"]))
        assert row["status"] == "committed" and row["output"] == "It is noon."
        assert record["stop_reason"] == "message" and len(record["llm_calls"]) == 2
        assert record["tool_calls"] == [outcome.tool_calls[0]["id"]]
        events = [e.type for e in _events(engine)]
        assert events == ["local.message.created", "llm.assistant.message"]
        # the input waits in the scratch buffer for the exit gate; the reply was judged
        scratch = (
            engine.store.reader()
            .execute("SELECT kind, content, status, turn_id FROM scratch_items")
            .fetchall()
        )
        assert scratch[0] == ("message", "what time is it?", "buffered", outcome.turn_id)
        action = record["gates"]["exit"]["action"]
        kinds = engine.store.reader().execute("SELECT kind FROM memories ORDER BY id").fetchall()
        assert kinds == ([("assistant_message",)] if action.startswith("persist") else [])
        llm_rows = (
            engine.store.reader()
            .execute("SELECT count(*) FROM llm_calls WHERE turn_id = ?", [outcome.turn_id])
            .fetchall()
        )
        assert llm_rows == [(2,)]
    kinds_seen = [s.kind for s in signals]
    assert kinds_seen[-1] == "turn.committed"
    assert "tool.started" in kinds_seen and "llm.delta" in kinds_seen


def _events(engine: Engine) -> list:  # type: ignore[type-arg]
    from engine.store import EventLog

    return EventLog(engine.store).tail()


def test_unrepairable_output_is_reasked_once_then_recorded(isolated_home: Path) -> None:
    garbage = '{"type": "tool_call", "name": 42, "args": [1, 2'
    with _engine([garbage, garbage]) as engine:
        outcome = engine.run_turn("hello")
        assert outcome.status == "failed" and outcome.stop_reason == "invalid_output"
        assert outcome.error
        row = _turn_row(engine, outcome.turn_id)
        assert row["status"] == "failed" and row["error"] == outcome.error
        provider = engine.provider
        assert isinstance(provider, ScriptedProvider) and len(provider.requests) == 2
        reask = provider.requests[1].messages[-1].content
        assert reask.startswith("Your reply was not valid")


def test_no_progress_stops_the_loop(isolated_home: Path) -> None:
    call = {"type": "tool_call", "name": "clock.now", "args": {}}
    with _engine([call] * 10) as engine:
        outcome = engine.run_turn("loop forever")
        assert outcome.stop_reason == "no_progress"
        assert len(outcome.tool_calls) == POLICY.act_loop.no_progress_repeats
        assert [c["status"] for c in outcome.tool_calls] == ["ok", "cached", "cached"]


def test_max_iterations_bound(isolated_home: Path) -> None:
    calls = [
        {"type": "tool_call", "name": "memory.search", "args": {"query": f"q{i}"}}
        for i in range(20)
    ]
    with _engine(calls) as engine:
        outcome = engine.run_turn("search a lot")
        assert outcome.stop_reason == "max_iterations" and outcome.status == "failed"
        assert len(outcome.tool_calls) == POLICY.act_loop.max_iterations


def test_token_budget_stops_generation(isolated_home: Path) -> None:
    tools = POLICY.tools.model_copy(
        update={"budget": POLICY.tools.budget.model_copy(update={"tokens_per_hour": 1})}
    )
    tight = POLICY.model_copy(update={"tools": tools})
    with _engine([{"type": "message", "content": "first"}], tight) as engine:
        assert engine.run_turn("one").reply == "first"
        second = engine.run_turn("two")
        assert second.stop_reason == "budget" and "tokens_per_hour" in (second.error or "")
        provider = engine.provider
        assert isinstance(provider, ScriptedProvider) and len(provider.requests) == 1


def test_provider_failure_is_a_failed_turn(isolated_home: Path) -> None:
    with _engine([]) as engine:  # the script is empty: the provider is "down"
        outcome = engine.run_turn("anyone there?")
        assert outcome.status == "failed" and outcome.stop_reason == "provider_error"
        assert _turn_row(engine, outcome.turn_id)["status"] == "failed"
