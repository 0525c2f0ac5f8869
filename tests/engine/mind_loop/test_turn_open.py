"""The turn's opening transaction runs beside the model call, and nothing acts before it."""

from __future__ import annotations

import threading
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


def test_a_tool_waits_for_its_turn_to_be_open(isolated_home: Path) -> None:
    seen: list[list[tuple[Any, ...]]] = []
    with _engine([_tool_call(), {"type": "message", "content": "done"}]) as engine:
        engine.registry.register(_probe(seen))
        assert engine.store.writer is not None
        release = threading.Event()
        # the writer is busy when the turn starts: its opening queues behind this job
        busy = engine.store.writer.submit(lambda cur: release.wait(10))
        threading.Timer(0.3, release.set).start()
        outcome = engine.run_turn("look at yourself")
        busy.result(10)
        assert outcome.reply == "done"
    assert seen == [[("running",)]]  # the tool saw its turn's row: it ran after the opening


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
        assert engine.store.writer is not None
        release = threading.Event()
        engine.store.writer.submit(lambda cur: release.wait(10))  # the opening queues
        threading.Timer(0.3, release.set).start()
        engine.run_turn("hello there")
    kinds = [kind for kind, _ in seen]
    assert kinds[:2] == ["attention.candidates", "turn.started"]  # in their order
    assert "llm.delta" in kinds and "state.report" in kinds
    assert all(found for _, found in seen), seen  # none before the row was committed


def test_the_opening_runs_while_the_model_generates(isolated_home: Path) -> None:
    during: list[list[tuple[Any, ...]]] = []
    engines: list[Engine] = []

    def generating(seconds: float) -> None:  # the model's time: poll for the turn's row
        cur = engines[0].store.reader()
        for _ in range(500):
            rows = cur.execute("SELECT id, status FROM turns").fetchall()
            if rows:
                during.append(rows)
                return
            threading.Event().wait(0.01)

    provider = ScriptedProvider(
        [ScriptedReply(text='{"type": "message", "content": "ok"}', delay_s=5)],
        sleep=generating,
    )
    settings = load_settings().model_copy(update={"embedder": "hashing"})
    with Engine(settings, POLICY, provider=provider) as engine:  # type: ignore[arg-type]
        engines.append(engine)
        outcome = engine.run_turn("hello")
    assert during == [[(outcome.turn_id, "running")]]


def test_a_failed_opening_runs_nothing_and_keeps_the_input(isolated_home: Path) -> None:
    seen: list[list[tuple[Any, ...]]] = []
    errors: list[Signal] = []
    script: list[object] = [
        {"type": "message", "content": "first"},
        _tool_call(),
        {"type": "message", "content": "again"},
    ]
    with _engine(script) as engine:
        engine.registry.register(_probe(seen))
        engine.bus.subscribe(lambda s: errors.append(s) if isinstance(s, EngineError) else None)
        first = engine.run_turn("one")
        # a row takes the id the next turn was going to use: its opening cannot commit
        engine.store.write(
            lambda cur: cur.execute(
                "INSERT INTO turns (id, started_at, status, input) "
                "VALUES (?, now(), 'committed', 'squatter')",
                [first.turn_id + 1],
            )
        )
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
        retried = engine.step()  # the ids are re-read: the input's turn now runs
        assert retried is not None and retried.reply == "again"
        assert retried.turn_id == first.turn_id + 2
        statuses = cur.execute("SELECT id, status FROM turns ORDER BY id").fetchall()
    assert statuses == [
        (first.turn_id, "committed"),
        (first.turn_id + 1, "committed"),
        (first.turn_id + 2, "committed"),
    ]
