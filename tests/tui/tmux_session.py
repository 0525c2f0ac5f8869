"""Driving the real ``cephalon`` in a real terminal: a private tmux server per test."""

from __future__ import annotations

import shlex
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path

from tests.helpers import REPO

TMUX = shutil.which("tmux") or "/usr/bin/tmux"


def tmux_available() -> bool:
    """True when a tmux binary is installed."""
    return Path(TMUX).exists()


class TmuxSession:
    """One detached tmux session on its own server socket (killed on exit)."""

    def __init__(self, command: str, env: dict[str, str], width: int = 160, height: int = 50):
        self.socket = f"cephalon-test-{uuid.uuid4().hex[:8]}"
        self.name = "console"
        flags = [arg for key, value in env.items() for arg in ("-e", f"{key}={value}")]
        self._tmux(
            "new-session",
            "-d",
            "-s",
            self.name,
            "-x",
            str(width),
            "-y",
            str(height),
            *flags,
            command,
        )

    def _tmux(self, *args: str) -> str:
        proc = subprocess.run(
            [TMUX, "-L", self.socket, "-f", "/dev/null", *args],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        if proc.returncode != 0 and args[0] not in ("has-session", "kill-server"):
            raise RuntimeError(f"tmux {args[0]} failed: {proc.stderr.strip()}")
        return proc.stdout

    def capture(self) -> str:
        """The visible pane, as text."""
        return self._tmux("capture-pane", "-p", "-t", self.name)

    def send(self, *keys: str, literal: bool = False) -> None:
        """Send keys (tmux key names, or ``literal`` text)."""
        self._tmux("send-keys", "-t", self.name, *(["-l"] if literal else []), *keys)

    def wait_for(self, *needles: str, timeout: float = 60.0, poll_s: float = 0.05) -> str:
        """Poll the pane (every ``poll_s``) until every needle shows; the pane text."""
        deadline = time.monotonic() + timeout
        screen = ""
        while time.monotonic() < deadline:
            screen = self.capture()
            if all(n in screen for n in needles):
                return screen
            time.sleep(poll_s)
        raise AssertionError(f"{needles} not on screen after {timeout}s:\n{screen}")

    def alive(self) -> bool:
        """True while the session (its command) runs."""
        proc = subprocess.run(
            [TMUX, "-L", self.socket, "has-session", "-t", self.name],
            capture_output=True,
            check=False,
        )
        return proc.returncode == 0

    def close(self) -> None:
        """Kill this test's tmux server (and what runs in it)."""
        self._tmux("kill-server")

    def __enter__(self) -> TmuxSession:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def cephalon_command(home: Path, *args: str, exit_file: Path | None = None) -> str:
    """A shell command running this checkout's ``cephalon`` (and recording its exit code)."""
    run = " ".join(
        shlex.quote(a) for a in (sys.executable, "-m", "cephalon_tui", "--home", str(home), *args)
    )
    # pytest plugins export COLUMNS/LINES (80x24); the console must measure the pane
    command = f"cd {shlex.quote(str(REPO))} && env -u COLUMNS -u LINES {run}"
    if exit_file is not None:
        command += f"; echo $? > {shlex.quote(str(exit_file))}"
    return command
