"""The turn's opening transaction runs beside the model call; nothing acts, and no signal
of the turn goes out, before it has committed."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import duckdb
import pytest
from pydantic import BaseModel

from engine.config import load_policy, load_settings
from engine.engine import Engine
from engine.llm.scripted import ScriptedProvider, ScriptedReply
from engine.signals import EngineError, Signal
from engine.tools.registry import Scope, ToolContext, ToolSpec

POLICY = load_policy().policy


class _Text(BaseModel):
    text: str = ""


def _engine(script: list[object]) -> Engine:
    settings = load_settings().model_copy(update={"embedder": "hashing"})
    return Engine(settings, POLICY, provider=ScriptedProvider(script))  # type: ignore[arg-type]


def _probe(seen: list[list[tuple[Any, ...]]]) -> ToolSpec:
    """A read tool that records what the store says about its own turn."""

    def look(args: _Text, ctx: ToolContext) -> dict[str, bool]:
        rows = (
            ctx.store.reader()
            .execute("SELECT status FROM turns WHERE id = ?", [ctx.turn_id])
            .fetchall()
        )
        seen.append(rows)
        return {"ok": True}

    return ToolSpec("probe.turn", "what the store says about this turn", _Text, Scope.READ, look)


def _tool_call() -> dict[str, object]:
    return {"type": "tool_call", "name": "probe.turn", "args": {"text": "x"}}


def test_the_model_call_does_not_wait_for_the_opening(isolated_home: Path) -> None:
    at_model_start: list[bool] = []
    during_model: list[bool] = []
    release = threading.Event()
    engines: list[Engine] = []

    def generating(seconds: float) -> None:  # the model's time
        cur = engines[0].store.reader()

        def opened() -> bool:
            return cur.execute("SELECT count(*) FROM turns").fetchall() == [(1,)]

        at_model_start.append(opened())
        release.set()  # the writer goes on: the opening commits while the model runs
        for _ in range(500):
            if opened():
                during_model.append(True)
                return
            time.sleep(0.01)
        during_model.append(False)

    provider = ScriptedProvider(
        [ScriptedReply(text='{"type": "message", "content": "ok"}', delay_s=5)],
        sleep=generating,
    )
    settings = load_settings().model_copy(update={"embedder": "hashing"})
    with Engine(settings, POLICY, provider=provider) as engine:  # type: ignore[arg-type]
        engines.append(engine)
        engine.submit("hello")
        assert engine.store.writer is not None
        busy = engine.store.writer.submit(lambda cur: release.wait(10))  # the opening queues
        safety = threading.Timer(3, release.set)  # a turn that waited would still end
        safety.start()
        outcome = engine.step()
        safety.cancel()
        busy.result(10)
    assert outcome is not None and outcome.reply == "ok"
    assert at_model_start == [False]  # the model was asked before the turn's row existed
    assert during_model == [True]  # and the row was committed during the call


def test_a_turns_signals_wait_for_its_row(isolated_home: Path) -> None:
    seen: list[tuple[str, bool]] = []
    with _engine([{"type": "message", "content": "streamed"}]) as engine:

        def observe(signal: Signal) -> None:
            turn_id = getattr(signal, "turn_id", None)
            if turn_id is None or signal.kind == "turn.committed":
                return
            rows = (
                engine.store.reader()
                .execute("SELECT count(*) FROM turns WHERE id = ?", [turn_id])
                .fetchall()
            )
            seen.append((signal.kind, rows == [(1,)]))

        engine.bus.subscribe(observe)
        engine.submit("hello there")
        assert engine.store.writer is not None
        release = threading.Event()
        busy = engine.store.writer.submit(lambda cur: release.wait(10))  # the opening queues
        threading.Timer(0.3, release.set).start()
        outcome = engine.step()
        busy.result(10)
        assert outcome is not None and outcome.reply == "streamed"
    kinds = [kind for kind, _ in seen]
    assert kinds[:2] == ["attention.candidates", "turn.started"]  # in their order
    assert "llm.delta" in kinds and "state.report" in kinds
    assert all(found for _, found in seen), seen  # none before the row was committed


def _squat(engine: Engine, turn_id: int) -> None:
    """A row takes the id the next turn is going to use: its opening cannot commit."""
    engine.store.write(
        lambda cur: cur.execute(
            "INSERT INTO turns (id, started_at, status, input) "
            "VALUES (?, now(), 'committed', 'squatter')",
            [turn_id],
        )
    )


def test_a_failed_opening_runs_nothing_and_keeps_the_input(isolated_home: Path) -> None:
    seen: list[list[tuple[Any, ...]]] = []
    errors: list[Signal] = []
    script: list[object] = [
        {"type": "message", "content": "first"},
        _tool_call(),
        {"type": "message", "content": "again"},
    ]
    with _engine(script) as engine:
        provider = engine.turns.act.provider
        assert isinstance(provider, ScriptedProvider)
        engine.registry.register(_probe(seen))
        engine.bus.subscribe(lambda s: errors.append(s) if isinstance(s, EngineError) else None)
        first = engine.run_turn("one")
        _squat(engine, first.turn_id + 1)
        engine.submit("two")
        with pytest.raises(duckdb.ConstraintException):
            engine.step()
        assert seen == []  # the tool never ran without its turn's row
        assert [s.stage for s in errors if s.stage == "open"] == ["open"]
        cur = engine.store.reader()
        pending = cur.execute(
            "SELECT text FROM candidates WHERE status = 'pending' ORDER BY id"
        ).fetchall()
        assert pending == [("two",)]  # nothing lost: the input waits for its turn
        # after a failed opening the next turn waits for its own before the model call:
        # a store that keeps failing does not cost a model call per retry
        asked = len(provider.requests)
        assert engine.store.writer is not None
        release = threading.Event()

        def squat_later(cur: duckdb.DuckDBPyConnection) -> None:  # queued before the opening
            release.wait(10)
            cur.execute(
                "INSERT INTO turns (id, started_at, status, input) "
                "VALUES (?, now(), 'committed', 'squatter')",
                [first.turn_id + 2],  # the id the retry takes once ids are re-read
            )

        engine.store.writer.submit(squat_later)
        threading.Timer(0.3, release.set).start()
        with pytest.raises(duckdb.ConstraintException):
            engine.step()
        assert len(provider.requests) == asked
        retried = engine.step()
        assert retried is not None and retried.reply == "again"
        assert retried.turn_id == first.turn_id + 3
        statuses = cur.execute("SELECT id, status FROM turns ORDER BY id").fetchall()
    assert statuses == [
        (first.turn_id, "committed"),
        (first.turn_id + 1, "committed"),
        (first.turn_id + 2, "committed"),
        (first.turn_id + 3, "committed"),
    ]
