"""The always-on loop: submit, pause/resume, graceful and hard stop, idle thoughts."""

from __future__ import annotations

import threading
from pathlib import Path

from engine.clock import FrozenClock
from engine.config import load_policy, load_settings
from engine.engine import Engine
from engine.llm.scripted import ScriptedProvider, ScriptedReply
from engine.signals import Signal, TurnCommitted

POLICY = load_policy().policy


def _engine(script: list[object], clock: FrozenClock | None = None) -> Engine:
    settings = load_settings().model_copy(update={"embedder": "hashing"})
    return Engine(settings, POLICY, provider=ScriptedProvider(script), clock=clock)  # type: ignore[arg-type]


def _statuses(engine: Engine) -> list[tuple[int, str]]:
    return engine.store.reader().execute("SELECT id, status FROM turns ORDER BY id").fetchall()


def test_submitted_inputs_are_answered_by_the_loop(isolated_home: Path) -> None:
    committed: list[TurnCommitted] = []
    with _engine(
        [{"type": "message", "content": "one"}, {"type": "message", "content": "two"}]
    ) as engine:
        engine.bus.subscribe(
            lambda s: committed.append(s) if isinstance(s, TurnCommitted) else None
        )
        engine.start()
        assert engine.state == "running"
        engine.submit("first")
        engine.submit("second")
        assert engine.loop.wait_idle(10)
        assert [c.output for c in committed] == ["one", "two"]
    assert engine.state == "stopped"


def test_paused_loop_queues_and_resume_answers(isolated_home: Path) -> None:
    with _engine([{"type": "message", "content": "later"}]) as engine:
        engine.start()
        engine.pause()
        assert engine.state == "paused"
        engine.submit("hold this")
        engine.loop.wait_idle(0.5)
        assert _statuses(engine) == []
        pending = engine.store.reader().execute("SELECT status FROM candidates").fetchall()
        assert pending == [("pending",)]
        engine.resume()
        assert engine.loop.wait_idle(10)
        assert _statuses(engine) == [(1, "committed")]


def test_stop_cancels_a_wedged_turn_and_checkpoints_it(isolated_home: Path) -> None:
    started = threading.Event()
    engine = _engine([ScriptedReply(text="never", delay_s=60)])
    engine.bus.subscribe(lambda s: started.set() if s.kind == "turn.started" else None)
    try:
        engine.start()
        engine.submit("take forever")
        assert started.wait(10)
        engine.stop(drain_seconds=0.5)  # the turn does not finish in time: cancelled
        assert engine.state == "stopped"
        row = engine.store.reader().execute("SELECT status, error FROM turns").fetchall()
        assert row[0][0] == "cancelled"
    finally:
        engine.close()


def test_a_failing_step_is_recorded_and_the_loop_goes_on(isolated_home: Path) -> None:
    errors: list[Signal] = []
    with _engine([RuntimeError("model exploded"), {"type": "message", "content": "fine"}]) as e:
        e.bus.subscribe(lambda s: errors.append(s) if s.kind == "turn.committed" else None)
        e.start()
        e.submit("break")
        e.submit("recover")
        assert e.loop.wait_idle(10)
        statuses = [s for _, s in _statuses(e)]
        assert statuses == ["failed", "committed"]


def test_idle_mind_proposes_a_thought_after_the_idle_period(isolated_home: Path) -> None:
    clock = FrozenClock()
    with _engine([{"type": "message", "content": "noted"}] * 3, clock) as engine:
        assert engine.memory is not None
        engine.memory.add_for_tool("the garden needs water on Sundays", "fact", "operator")
        engine._tick()
        assert engine.store.reader().execute(
            "SELECT count(*) FROM candidates WHERE source = 'dmn'"
        ).fetchall() == [(0,)]
        clock.advance(POLICY.dmn.idle_seconds + 1)
        engine._tick()
        engine._tick()  # one idle thought waits at a time
        rows = (
            engine.store.reader()
            .execute("SELECT text, source_tag FROM candidates WHERE source = 'dmn'")
            .fetchall()
        )
        assert len(rows) == 1 and rows[0][1] == "dmn"
        assert "idle thought" in rows[0][0]
        outcome = engine.step()
        assert outcome is not None and outcome.reply == "noted"
