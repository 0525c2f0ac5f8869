"""Several turns through the whole pipeline with the scripted provider; each replays exactly."""

from __future__ import annotations

from pathlib import Path

from engine.clock import FrozenClock
from engine.config import load_policy, load_settings
from engine.engine import Engine
from engine.llm.scripted import ScriptedProvider
from engine.replay import ReplayDeps, replay_turn
from engine.signals import Signal
from engine.turns_query import get_turn

POLICY = load_policy().policy

SCRIPT: list[object] = [
    {"type": "message", "content": "Nice to meet you, Ada."},
    {"type": "tool_call", "name": "memory.search", "args": {"query": "Ada tea", "k": 3}},
    {"type": "message", "content": "You like green tea."},
    {"type": "tool_call", "name": "clock.now", "args": {}},
    {"type": "message", "content": "It is Saturday."},
    {"type": "message", "content": "Goodbye!"},
]
INPUTS = [
    "Hi, my name is Ada and I like green tea.",
    "What kind of tea do I like?",
    "What day is it?",
    "Bye for now.",
]
RECORD_KEYS = {
    "input",
    "input_event_id",
    "source_tag",
    "context",
    "prompt",
    "llm_results",
    "llm_calls",
    "request_digests",
    "tool_call_log",
    "output",
    "stop_reason",
    "timings_ms",
    "memory_ids",
    "attention",
    "gut",
    "gates",
    "candidate_id",
    "offered_tools",
}


def test_turns_are_recorded_completely_and_replay_exactly(isolated_home: Path) -> None:
    signals: list[Signal] = []
    settings = load_settings().model_copy(update={"embedder": "hashing"})
    clock = FrozenClock()
    with Engine(settings, POLICY, provider=ScriptedProvider(SCRIPT), clock=clock) as engine:
        engine.bus.subscribe(signals.append)
        outcomes = []
        for text in INPUTS:
            outcomes.append(engine.run_turn(text))
            clock.advance(60)
        assert [o.reply for o in outcomes] == [
            "Nice to meet you, Ada.",
            "You like green tea.",
            "It is Saturday.",
            "Goodbye!",
        ]
        cur = engine.store.reader()
        deps = ReplayDeps(engine.store, engine.registry, POLICY, engine.clock)
        for outcome, text in zip(outcomes, INPUTS, strict=True):
            record = get_turn(cur, outcome.turn_id)
            assert set(record) >= RECORD_KEYS, RECORD_KEYS - set(record)
            assert record["status"] == "committed" and record["input"] == text
            # no Discord connection and an operator turn: no Discord or compaction tools
            assert record["offered_tools"] == [
                "clock.now",
                "memory.add",
                "memory.context_log_write",
                "memory.search",
                "system.status",
            ]
            assert len(record["llm_results"]) == len(record["llm_calls"])
            assert len(record["request_digests"]) == len(record["llm_results"])
            for call in record["tool_call_log"]:
                assert {
                    "tool",
                    "args",
                    "status",
                    "result",
                    "idempotency_key",
                    "duration_ms",
                } <= set(call)
            replayed = replay_turn(deps, record)
            assert replayed["match"] is True, replayed["stages"]
            assert replayed["replayed"] == outcome.reply
        # "my name is Ada" minted an identity memory at once; the memory tool found it,
        # and its result was recorded (and replayed, not re-run)
        first, second = (get_turn(cur, o.turn_id) for o in outcomes[:2])
        assert first["identity"] == "Ada"
        assert second["tool_call_log"][0]["tool"] == "memory.search"
        hits = second["tool_call_log"][0]["result"]["results"]
        assert any(h["content"] == "The operator's name is Ada." for h in hits)
        # the attention report: one candidate, the operator's message, and why it won
        attention = second["attention"]
        assert attention["winner_id"] == outcomes[1].candidate_id
        assert attention["candidates"][0]["source"] == "operator"
        assert set(attention["candidates"][0]["parts"]) == {
            "novelty",
            "relevance",
            "charge",
            "urgency",
        }
        assert "operator" in attention["report"]
        assert second["gut"]["intensity"] >= 0 and second["gates"]["entry"] in ("buffer", "skip")
        # the later turn retrieved the earlier one as context, and logged it
        inclusions = cur.execute(
            "SELECT count(*) FROM context_inclusions WHERE turn_id = ?", [outcomes[1].turn_id]
        ).fetchall()
        assert inclusions[0][0] >= 1
        # replay wrote nothing
        before = cur.execute("SELECT count(*) FROM tool_calls").fetchall()
        replay_turn(deps, second)
        assert cur.execute("SELECT count(*) FROM tool_calls").fetchall() == before
    kinds = [s.kind for s in signals]
    assert kinds.count("turn.started") == 4 and kinds.count("turn.committed") == 4


def test_a_tampered_recording_does_not_match(isolated_home: Path) -> None:
    settings = load_settings().model_copy(update={"embedder": "hashing"})
    with Engine(settings, POLICY, provider=ScriptedProvider(SCRIPT[1:3])) as engine:
        outcome = engine.run_turn("What tea?")
        record = get_turn(engine.store.reader(), outcome.turn_id)
        record["tool_call_log"][0]["args"] = {"query": "coffee", "k": 3}
        result = replay_turn(
            ReplayDeps(engine.store, engine.registry, POLICY, engine.clock), record
        )
        assert result["match"] is False
        failing = [s["stage"] for s in result["stages"] if not s["match"]]
        # the tampered call is not answered from the recording, so the model's next
        # request differs too; the output (a recorded reply) still looks the same
        assert failing == ["tool_calls", "llm_requests"]
