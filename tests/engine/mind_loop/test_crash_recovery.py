"""SIGKILL in the middle of a turn that called a write tool, then restart."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from engine.config import load_policy, load_settings
from engine.engine import Engine
from engine.llm.scripted import ScriptedProvider
from engine.replay import ReplayDeps, replay_turn
from engine.store import Store
from engine.turns_query import get_turn
from tests.helpers import REPO

POLICY = load_policy().policy


def _settings() -> object:
    return load_settings().model_copy(update={"embedder": "hashing"})


def _counts(engine: Engine) -> dict[str, int]:
    cur = engine.store.reader()
    return {
        table: int(cur.execute(f"SELECT count(*) FROM {table}").fetchall()[0][0])
        for table in ("events", "memories", "turns", "tool_calls")
    }


def _wait_for_log(path: Path, needle: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists() and needle in path.read_text(errors="replace"):
            return
        time.sleep(0.05)
    raise AssertionError(f"{needle!r} never appeared in {path}")


def test_sigkill_mid_turn_after_a_write_tool(isolated_home: Path) -> None:
    # a committed turn first, and an operator unlock of write tools
    with Engine(
        _settings(),  # type: ignore[arg-type]
        POLICY,
        provider=ScriptedProvider([{"type": "message", "content": "noted"}]),
    ) as engine:
        first = engine.run_turn("my favourite colour is teal")
        engine.unlock(60)
    with Store(isolated_home / "cephalon.duckdb", read_only=True) as store:
        cur = store.reader()
        before = {  # after the clean close (which flushed the scratch buffer)
            table: int(cur.execute(f"SELECT count(*) FROM {table}").fetchall()[0][0])
            for table in ("events", "memories", "turns", "tool_calls")
        }
    script = isolated_home / "script.json"
    script.write_text(
        json.dumps(
            [
                {
                    "type": "tool_call",
                    "name": "memory.add",
                    "args": {"text": "the launch code is 4242", "kind": "fact"},
                },
                {"text": '{"type": "message", "content": "done"}', "delay_s": 120},
            ]
        )
    )
    env = {
        **os.environ,
        "CEPHALON_PROVIDER": "scripted",
        "CEPHALON_SCRIPT_FILE": str(script),
        "CEPHALON_EMBEDDER": "hashing",
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "cephalon_tui", "chat", "--once", "remember the launch code"],
        cwd=REPO,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _wait_for_log(isolated_home / "logs" / "cephalon.log", '"tool": "memory.add"', 90)
        time.sleep(0.3)  # inside the scripted model's 120 s pause: mid-turn
        assert proc.poll() is None, "the turn finished before it could be killed"
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(30)
    assert proc.returncode == -signal.SIGKILL

    with Engine(
        _settings(),  # type: ignore[arg-type]
        POLICY,
        provider=ScriptedProvider([{"type": "message", "content": "back"}]),
    ) as engine:
        cur = engine.store.reader()
        assert engine.recovery.turns, "the killed turn was not found running"
        (killed,) = engine.recovery.turns
        status, record = cur.execute(
            "SELECT status, record FROM turns WHERE id = ?", [killed]
        ).fetchall()[0]
        assert status == "interrupted"
        assert json.loads(record)["stop_reason"] == "interrupted"
        # the write tool ran exactly once and its effect is there once
        calls = cur.execute(
            "SELECT tool, status FROM tool_calls WHERE turn_id = ?", [killed]
        ).fetchall()
        assert calls == [("memory.add", "ok")]
        added = cur.execute(
            "SELECT count(*) FROM memories WHERE content = 'the launch code is 4242'"
        ).fetchall()
        assert added == [(1,)]
        # nothing committed before the crash was lost
        after = _counts(engine)
        assert after["events"] == before["events"] + 1  # + the killed turn's input
        assert after["memories"] == before["memories"] + 1  # + the tool's memory
        assert get_turn(cur, first.turn_id)["output"] == "noted"
        # the interrupted input is not re-sent: the next step has nothing to do
        assert engine.step() is None
        # and the engine goes on
        outcome = engine.run_turn("are you back?")
        assert outcome.reply == "back" and outcome.status == "committed"
        # the earlier turn still replays exactly
        replayed = replay_turn(
            ReplayDeps(engine.store, engine.registry, POLICY, engine.clock),
            get_turn(cur, first.turn_id),
        )
        assert replayed["match"] is True
