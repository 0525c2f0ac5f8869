"""`cephalon chat` as a REPL: streamed replies and the slash commands, over the real CLI."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.helpers import REPO, run_cli


def _chat(home: Path, lines: list[str], replies: list[object]) -> str:
    home.mkdir(parents=True, exist_ok=True)
    script = home / "script.json"
    script.write_text(json.dumps({"replies": replies, "then": "echo"}))
    env = {
        "PATH": "/usr/bin:/bin",
        "CEPHALON_HOME": str(home),
        "CEPHALON_PROVIDER": "scripted",
        "CEPHALON_SCRIPT_FILE": str(script),
        "CEPHALON_EMBEDDER": "hashing",
    }
    proc = subprocess.run(
        [sys.executable, "-m", "cephalon_tui", "chat"],
        input="\n".join(lines) + "\n",
        capture_output=True,
        text=True,
        env=env,
        cwd=REPO,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def test_repl_streams_replies_and_answers_slash_commands(isolated_home: Path) -> None:
    out = _chat(
        isolated_home,
        ["hello there", "/why", "/pause", "wait for it", "/state", "/resume", "/cost", "/nope"],
        [{"type": "message", "content": "Hi, operator."}],
    )
    assert "cephalon> Hi, operator." in out
    # paused: the message is queued, not answered, until /resume
    assert "(queued: the engine is paused" in out
    assert "state: paused" in out and "queue_depth: 1" in out
    assert out.index("(running)") < out.index("cephalon> echo: wait for it")
    assert "session: $0.000000" in out
    assert "unknown command /nope" in out


def test_why_lists_the_memories_of_the_last_context(isolated_home: Path) -> None:
    added = run_cli("memory", "add", "my cat is called Miso", env={"CEPHALON_EMBEDDER": "hashing"})
    assert added.code == 0, added.stderr
    out = _chat(
        isolated_home,
        ["what is my cat called?", "/why"],
        [{"type": "message", "content": "Miso."}],
    )
    why = out[out.index("cephalon> Miso.") :]
    assert "my cat is called Miso" in why and "score" in why
