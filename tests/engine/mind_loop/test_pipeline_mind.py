"""The pipeline's mind: attention between sources, gut candidates, stage timeouts."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.config import load_policy, load_settings
from engine.engine import Engine
from engine.llm.scripted import ScriptedProvider, ScriptedReply
from engine.mind.gut import Gut
from engine.policy import Policy
from engine.signals import AttentionCandidates, CognitiveState, EngineError, Signal
from engine.turns_query import get_turn


def _policy(tmp_path: Path, toml: str) -> Policy:
    path = tmp_path / "policy.toml"
    path.write_text(toml)
    return load_policy(path).policy


def _engine(policy: Policy, script: list[object]) -> Engine:
    settings = load_settings().model_copy(update={"embedder": "hashing"})
    return Engine(settings, policy, provider=ScriptedProvider(script))


def test_operator_input_wins_over_an_idle_thought_which_waits_and_decays(
    isolated_home: Path, tmp_path: Path
) -> None:
    seen: list[Signal] = []
    policy = load_policy().policy
    with _engine(policy, [{"type": "message", "content": "ok"}] * 2) as engine:
        engine.bus.subscribe(seen.append)
        engine.intake.submit("(idle thought) what about the garden?", source="dmn")
        engine.submit("please check the weather", source="operator")
        first = engine.step()
        assert first is not None and first.attention["candidates"][0]["source"] == "operator"
        views = next(s for s in seen if isinstance(s, AttentionCandidates)).candidates
        winner, loser = views
        assert winner.winner and winner.source == "operator" and not loser.winner
        assert winner.parts.urgency == 0.8 and loser.parts.urgency == 0.2
        weights = policy.attention.salience
        for view in views:
            p = view.parts
            expected = (
                weights.novelty * p.novelty
                + weights.relevance * p.relevance
                + weights.charge * p.charge
                + weights.urgency * p.urgency
            )
            assert abs(view.salience - expected) < 1e-6
        report = next(s for s in seen if isinstance(s, CognitiveState)).report
        assert "operator message" in report and "idle thought" in report
        # the report the model saw is the one the signal carried
        prompt = get_turn(engine.store.reader(), first.turn_id)["prompt"]
        assert any(m["content"] == report for m in prompt)
        row = (
            engine.store.reader()
            .execute("SELECT status, urgency, waited FROM candidates WHERE source = 'dmn'")
            .fetchall()
        )
        assert row == [("pending", 0.2 * policy.attention.loser_urgency_decay, 1)]
        second = engine.step()
        assert second is not None and second.attention["candidates"][0]["source"] == "dmn"


def test_a_charged_gut_reading_queues_a_gut_candidate(isolated_home: Path, tmp_path: Path) -> None:
    policy = _policy(tmp_path, "[gut]\nsignal_min_charge = 0.0\ncharge_floor = 0.0\n")
    with _engine(policy, [{"type": "message", "content": "fine"}] * 3) as engine:
        assert engine.memory is not None
        for fact in ("bees make honey", "the boat is blue", "tax forms are due in April"):
            engine.memory.add_for_tool(fact, "fact", "operator")
        outcome = engine.run_turn("tell me about volcanoes erupting")
        assert outcome.gut is not None and outcome.gut["charge"] > 0
        rows = (
            engine.store.reader()
            .execute("SELECT text FROM candidates WHERE source = 'gut' AND status = 'pending'")
            .fetchall()
        )
        assert len(rows) == 1 and "gut feeling" in rows[0][0]
        gut_turn = engine.step()  # the feeling takes its own turn...
        assert gut_turn is not None
        assert engine.store.reader().execute(  # ...which queues no feeling about itself
            "SELECT count(*) FROM candidates WHERE source = 'gut' AND status = 'pending'"
        ).fetchall() == [(0,)]
        stored = (
            engine.store.reader()
            .execute("SELECT count(*) FROM gut_deltas WHERE turn_id = ?", [outcome.turn_id])
            .fetchall()
        )
        assert stored == [(1,)]


def test_a_stage_past_its_timeout_fails_the_turn_not_the_engine(
    isolated_home: Path, tmp_path: Path
) -> None:
    policy = _policy(tmp_path, "[engine]\nstage_timeout_seconds = 0.000001\n")
    with _engine(policy, [{"type": "message", "content": "unused"}]) as engine:
        outcome = engine.run_turn("anything at all")
        assert outcome.status == "failed"
        assert outcome.error is not None and "took longer than" in outcome.error
        row = engine.store.reader().execute("SELECT status FROM turns").fetchall()
        assert row == [("failed",)]


def test_a_turn_commits_its_retrieval_effects_and_reports_every_stage_time(
    isolated_home: Path,
) -> None:
    from engine.memory.records import NewMemory

    with _engine(load_policy().policy, [{"type": "message", "content": "Biscuit."}]) as engine:
        assert engine.memory is not None
        ids = engine.memory.add(
            [
                NewMemory(kind="fact", content="The operator's cat is named Biscuit."),
                NewMemory(kind="fact", content="The garden shed key is under the blue pot."),
            ]
        )
        outcome = engine.run_turn("What is my cat named?")
        related = [c["id"] for c in outcome.context if c["section"] == "related"]
        assert ids[0] in related
        cat = engine.memory.get(ids[0])
        assert cat is not None and cat.alpha > 1.0 and cat.access_timestamps
        turn = get_turn(engine.store.reader(), outcome.turn_id)
        assert turn["status"] == "committed"
        assert set(outcome.timings_ms) == {
            "attention",
            "context",
            "gut",
            "gut_wait",
            "act",
            "gates",
            "commit",
        }
        assert all(ms >= 0 for ms in outcome.timings_ms.values())


def test_the_gut_is_measured_while_the_model_generates(isolated_home: Path) -> None:
    slow = ScriptedReply(envelope={"type": "message", "content": "Mulled it over."}, delay_s=0.6)
    seen: list[Signal] = []
    with _engine(load_policy().policy, [slow]) as engine:
        assert engine.memory is not None
        engine.memory.add_for_tool("the boat is blue", "fact", "operator")
        engine.bus.subscribe(seen.append)
        outcome = engine.run_turn("what colour is the boat?")
        assert outcome.status == "committed" and outcome.gut is not None
        t = outcome.timings_ms
        assert t["act"] >= 600
        # the gut's own work ran during the model's 0.6 s, so the turn hardly waited
        assert t["gut_wait"] < 100 and t["gut_wait"] <= t["gut"] + 1
        kinds = [s.kind for s in seen]
        assert kinds.index("gut.delta") < kinds.index("turn.committed")


def test_a_failing_gut_is_recorded_and_the_turn_still_commits(
    isolated_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(self: Gut, context: object) -> object:  # fault injection
        raise RuntimeError("centroid exploded")

    monkeypatch.setattr(Gut, "measure", broken)
    seen: list[Signal] = []
    with _engine(load_policy().policy, [{"type": "message", "content": "Still here."}]) as engine:
        engine.bus.subscribe(seen.append)
        outcome = engine.run_turn("hello there, how are you?")
        assert outcome.status == "committed" and outcome.reply == "Still here."
        assert outcome.gut is None and "gut" not in outcome.timings_ms
        errors = [s for s in seen if isinstance(s, EngineError)]
        assert [e.stage for e in errors] == ["gut"] and "centroid exploded" in errors[0].error
        record = get_turn(engine.store.reader(), outcome.turn_id)
        assert "centroid exploded" in record["gut_error"]
