"""The real ``cephalon`` in a real terminal (tmux): type a message, see the reply and
the Attention, Gut and Tool panels, quit cleanly."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from tests.tui.tmux_session import TmuxSession, cephalon_command, tmux_available

pytestmark = pytest.mark.skipif(
    not tmux_available(), reason="tmux is not installed (/usr/bin/tmux)"
)


def _env(home: Path, replies: list[object], **extra: str) -> dict[str, str]:
    home.mkdir(parents=True, exist_ok=True)
    script = home / "script.json"
    script.write_text(json.dumps({"replies": replies, "then": "echo"}))
    return {
        "CEPHALON_PROVIDER": "scripted",
        "CEPHALON_SCRIPT_FILE": str(script),
        "CEPHALON_EMBEDDER": "hashing",
        "TERM": "tmux-256color",
        "COLORTERM": "truecolor",
        **extra,
    }


def test_message_typed_in_the_terminal_gets_its_reply_and_the_panels_show(
    isolated_home: Path,
) -> None:
    replies = [
        {"type": "tool_call", "name": "clock.now", "args": {}},
        {"type": "message", "content": "Hello, operator. The clock says noon."},
    ]
    exit_file = isolated_home / "exit-code"
    command = cephalon_command(isolated_home, exit_file=exit_file)
    with TmuxSession(command, _env(isolated_home, replies)) as tmux:
        tmux.wait_for("Chat", "Message", timeout=30)
        tmux.send("hello there", literal=True)
        tmux.wait_for("hello there")
        tmux.send("Enter")
        # the tool panel is paced (a redraw every 0.5 s at most): its "✓ ok" may land a
        # frame after the reply, so wait for both
        screen = tmux.wait_for("The clock says noon.", "clock.now", "✓ ok", timeout=60)
        for title in ("Chat", "Attention", "Gut", "Cognitive state", "Tool calls", "Context"):
            assert title in screen, screen
        assert "you hello there" in screen
        status_bar = screen.splitlines()[-2]
        assert "running" in status_bar and "/scripted" in status_bar, status_bar
        tmux.send("C-q")
        deadline = time.monotonic() + 30
        while tmux.alive() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not tmux.alive()
    assert exit_file.read_text().strip() == "0"


def test_the_console_renders_in_a_16_colour_terminal(isolated_home: Path) -> None:
    env = _env(isolated_home, [], TERM="screen", COLORTERM="", CEPHALON_THEME="cephalon-light")
    env["TEXTUAL_COLOR_SYSTEM"] = "standard"
    with TmuxSession(cephalon_command(isolated_home), env) as tmux:
        tmux.wait_for("Attention", "Tool calls", "writes locked", timeout=30)
        escapes = tmux._tmux("capture-pane", "-p", "-e", "-t", tmux.name)
        assert "38;2;" not in escapes and "38;5;" not in escapes and "48;2;" not in escapes
        assert any(f"[{code}m" in escapes or f";{code}m" in escapes for code in range(30, 38))
