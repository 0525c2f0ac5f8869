"""A real terminal: ``cephalon --daemon`` plus ``cephalon attach`` inside tmux.

The console is started the way an operator over SSH would, a message is typed,
and the captured pane must show the reply and the live panels (Attention, Gut,
Tool calls with the call the turn made). Quitting detaches; the daemon goes on,
and a second attach finds the earlier turn in the Turns screen.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.daemon.conftest import Daemon, message, wait_until
from tests.helpers import REPO

pytestmark = [
    pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed"),
    pytest.mark.slow,
]

CEPHALON = REPO / ".venv" / "bin" / "cephalon"
CLEAN_ENV = {
    k: v
    for k, v in os.environ.items()
    if k not in ("COLUMNS", "LINES") and not k.startswith(("CEPHALON_", "TEXTUAL_"))
}
"""The tmux server's environment: a size fixed by the test run would shrink the console."""


class Tmux:
    """One private tmux server (``-L``) so the test never touches anyone's sessions."""

    def __init__(self) -> None:
        self.server = f"cephalon-test-{uuid.uuid4().hex[:8]}"

    def run(self, *args: str) -> str:
        return subprocess.run(
            ["tmux", "-L", self.server, *args],
            capture_output=True,
            text=True,
            timeout=10,
            env=CLEAN_ENV,
        ).stdout

    def start(self, name: str, env: dict[str, str], command: str) -> None:
        flags = [f"-e{key}={value}" for key, value in env.items()]
        self.run(
            "new-session", "-d", "-s", name, "-x", "160", "-y", "45",
            *flags, "-eTERM=tmux-256color", "-eCOLORTERM=truecolor", command,
        )  # fmt: skip
        self.run("resize-window", "-t", name, "-x", "160", "-y", "45")

    def pane(self, name: str) -> str:
        return self.run("capture-pane", "-t", name, "-p")

    def alive(self, name: str) -> bool:
        return (
            subprocess.run(
                ["tmux", "-L", self.server, "has-session", "-t", name], capture_output=True
            ).returncode
            == 0
        )

    def wait_for_text(self, name: str, text: str, timeout: float = 30) -> str:
        def shown() -> str | None:
            pane = self.pane(name)
            return pane if text in pane else None

        try:
            return str(wait_until(shown, timeout, f"{text!r} on screen"))
        except AssertionError:
            raise AssertionError(f"{text!r} never showed; the pane:\n{self.pane(name)}") from None

    def kill(self) -> None:
        self.run("kill-server")


@pytest.fixture
def tmux() -> Iterator[Tmux]:
    server = Tmux()
    yield server
    server.kill()


def test_attach_in_a_real_terminal_chats_detaches_and_reattaches(
    daemon_factory: Callable[..., Daemon], tmux: Tmux
) -> None:
    daemon = daemon_factory(
        replies=[
            {"type": "tool_call", "name": "clock.now", "args": {}},
            message("It is time to test the daemon."),
        ]
    )
    env = {"CEPHALON_HOME": str(daemon.home)}

    tmux.start("first", env, f"{CEPHALON} attach")
    tmux.wait_for_text("first", "Message")
    tmux.run("send-keys", "-t", "first", "-l", "what time is it?")
    tmux.run("send-keys", "-t", "first", "Enter")
    pane = tmux.wait_for_text("first", "It is time to test the daemon.")
    pane = tmux.wait_for_text("first", "clock.now")  # the tool panel shows the call
    for panel in ("Attention", "Gut", "Tool calls", "Chat"):
        assert panel in pane, pane
    assert pane.count("what time is it?") >= 2, pane  # the chat and the Attention panel

    tmux.run("send-keys", "-t", "first", "C-q")  # quit the console = detach
    wait_until(lambda: not tmux.alive("first"), 15, "the console to quit")
    time.sleep(0.2)
    assert daemon.proc.poll() is None  # the daemon goes on

    tmux.start("second", env, f"{CEPHALON} attach")
    tmux.wait_for_text("second", "Message")
    tmux.wait_for_text("second", "running")  # connected and drawn
    tmux.run("send-keys", "-t", "second", "Escape")  # leave the prompt for the panels
    time.sleep(0.5)  # a key right after Escape would read as Alt+key
    tmux.run("send-keys", "-t", "second", "r")  # the Turns screen
    pane = tmux.wait_for_text("second", "what time is it?")
    assert "It is time to test the daemon." in pane and "committed" in pane
    tmux.run("send-keys", "-t", "second", "C-q")
    wait_until(lambda: not tmux.alive("second"), 15, "the console to quit")
    assert daemon.proc.poll() is None
    code, out, err = daemon.stop()
    assert code == 0 and out == "" and err == ""


def test_attach_console_notices_when_the_daemon_stops(
    daemon_factory: Callable[..., Daemon], tmux: Tmux, isolated_home: Path
) -> None:
    daemon = daemon_factory()
    tmux.start("console", {"CEPHALON_HOME": str(daemon.home)}, f"{CEPHALON} attach")
    tmux.wait_for_text("console", "running")
    assert daemon.stop()[0] == 0
    tmux.wait_for_text("console", "disconnected")
    assert tmux.alive("console")  # the console stays up to say so


def test_chat_on_a_terminal_offers_to_attach(
    daemon_factory: Callable[..., Daemon], tmux: Tmux
) -> None:
    daemon = daemon_factory()
    env = {"CEPHALON_HOME": str(daemon.home)}
    tmux.start("chat", env, f"{CEPHALON} chat; sleep 30")
    tmux.wait_for_text("chat", "Attach to it? [y/N]")
    assert f"a daemon (pid {daemon.proc.pid}) owns" in tmux.pane("chat")
    tmux.run("send-keys", "-t", "chat", "y", "Enter")
    tmux.wait_for_text("chat", "you>")
    tmux.run("send-keys", "-t", "chat", "-l", "ping over the socket")
    tmux.run("send-keys", "-t", "chat", "Enter")
    tmux.wait_for_text("chat", "echo: ping over the socket")
    tmux.run("send-keys", "-t", "chat", "C-d")  # leave the chat: detach
    wait_until(lambda: daemon.connect().turns(), 10, "the turn on the daemon")
    assert daemon.proc.poll() is None

    tmux.start("declined", env, f"{CEPHALON} chat; echo exit=$?; sleep 30")
    tmux.wait_for_text("declined", "Attach to it? [y/N]")
    tmux.run("send-keys", "-t", "declined", "Enter")  # the default is no
    pane = tmux.wait_for_text("declined", "exit=0")
    assert "not attached" in pane
