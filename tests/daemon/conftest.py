"""Fixtures for daemon tests: a real ``cephalon --daemon`` subprocess on a temp data dir.

The daemon runs the scripted provider from a JSON script file (replies in order,
then ``echo: <message>``) and the hashing embedder, so it starts in about a second
and every reply is known in advance.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from engine.control import RemoteBackend
from engine.signals import Signal
from tests.helpers import REPO


def daemon_env(home: Path, script: Path) -> dict[str, str]:
    """The environment of a daemon (or CLI) on ``home`` with the scripted provider."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CEPHALON_")}
    env.update(
        CEPHALON_HOME=str(home),
        CEPHALON_PROVIDER="scripted",
        CEPHALON_SCRIPT_FILE=str(script),
        CEPHALON_EMBEDDER="hashing",
    )
    return env


def wait_until(check: Callable[[], Any], timeout: float = 20, what: str = "condition") -> Any:
    """Poll ``check`` until it returns something truthy."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


@dataclass
class Daemon:
    """A running ``cephalon --daemon``."""

    home: Path
    script: Path
    proc: subprocess.Popen[str]
    clients: list[RemoteBackend] = field(default_factory=list)

    @property
    def env(self) -> dict[str, str]:
        return daemon_env(self.home, self.script)

    def connect(self) -> RemoteBackend:
        """A new client (closed at teardown if the test does not close it)."""
        client = RemoteBackend(self.home / "control.sock", request_timeout_s=30)
        self.clients.append(client)
        return client

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30) -> tuple[int, str, str]:
        """Send ``sig`` and wait: (exit code, stdout, stderr)."""
        self.proc.send_signal(sig)
        out, err = self.proc.communicate(timeout=timeout)
        return self.proc.returncode, out, err


def start_daemon(home: Path, script: Path, timeout: float = 30) -> Daemon:
    """Start a daemon and wait until its control socket answers."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "cephalon_tui", "--home", str(home), "--daemon"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=daemon_env(home, script),
        cwd=REPO,
    )
    daemon = Daemon(home, script, proc)
    sock = home / "control.sock"

    def ready() -> bool:
        if proc.poll() is not None:
            raise AssertionError(f"the daemon exited early: {proc.communicate()}")
        if not sock.exists():
            return False
        try:
            RemoteBackend(sock, request_timeout_s=5).close()
        except Exception:
            return False
        return True

    wait_until(ready, timeout, "the daemon's socket")
    return daemon


def write_script(path: Path, replies: list[Any]) -> Path:
    """A scripted-provider file: these replies in order, then echo."""
    path.write_text(json.dumps({"replies": replies, "then": "echo"}), encoding="utf-8")
    return path


def message(text: str, delay_s: float = 0.0) -> dict[str, Any]:
    """One scripted reply: a message envelope, optionally after a delay."""
    envelope = json.dumps({"type": "message", "content": text})
    return {"text": envelope, "delay_s": delay_s}


@pytest.fixture
def script(tmp_path: Path) -> Path:
    """An echo-only script (tests overwrite it before starting the daemon)."""
    return write_script(tmp_path / "script.json", [])


@pytest.fixture
def daemon_factory(isolated_home: Path, script: Path) -> Iterator[Callable[..., Daemon]]:
    """Start daemons on the test's home; every one still running is stopped at teardown."""
    started: list[Daemon] = []

    def start(home: Path | None = None, replies: list[Any] | None = None) -> Daemon:
        if replies is not None:
            write_script(script, replies)
        daemon = start_daemon(home or isolated_home, script)
        started.append(daemon)
        return daemon

    yield start
    for daemon in started:
        for client in daemon.clients:
            client.close()
        if daemon.proc.poll() is None:
            daemon.proc.send_signal(signal.SIGTERM)
            try:
                daemon.proc.communicate(timeout=30)
            except subprocess.TimeoutExpired:
                daemon.proc.kill()
                daemon.proc.communicate()


@pytest.fixture(scope="module")
def shared_daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Daemon]:
    """One daemon for a whole module (tests that only read, or only send bad frames)."""
    root = tmp_path_factory.mktemp("shared")
    daemon = start_daemon(root / "home", write_script(root / "script.json", []))
    yield daemon
    for client in daemon.clients:
        client.close()
    code, _out, err = daemon.stop()
    assert code == 0, err


@pytest.fixture
def daemon(daemon_factory: Callable[..., Daemon]) -> Daemon:
    """One running daemon on the test's home (echo replies)."""
    return daemon_factory()


class SignalLog:
    """Collects signals from a backend; waits for the one a test needs."""

    def __init__(self) -> None:
        import threading

        self.items: list[Signal] = []
        self._cond = threading.Condition()

    def __call__(self, signal: Signal) -> None:
        with self._cond:
            self.items.append(signal)
            self._cond.notify_all()

    def wait_for(self, match: Callable[[Signal], bool], timeout: float = 20) -> Signal:
        with self._cond:
            found = self._cond.wait_for(
                lambda: next((s for s in self.items if match(s)), None), timeout
            )
        if found is None:
            kinds = [s.kind for s in self.items]
            raise AssertionError(f"no matching signal in {timeout} s; got {kinds}")
        return found
