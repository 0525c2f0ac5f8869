"""``cephalon --daemon``: pidfile, refuses a second instance, stops cleanly on SIGTERM."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

from engine.store import EventLog, Store
from tests.helpers import run_cli


def _wait_for(path: Path, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        assert time.monotonic() < deadline, f"{path} never appeared"
        time.sleep(0.05)


def test_daemon_lifecycle(isolated_home: Path) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "cephalon_tui", "--daemon"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        _wait_for(isolated_home / "daemon.pid")
        log_file = isolated_home / "logs" / "daemon.log"
        _wait_for(log_file)
        deadline = time.monotonic() + 30
        while "daemon.start" not in log_file.read_text():
            assert time.monotonic() < deadline
            time.sleep(0.05)
        assert (isolated_home / "daemon.pid").read_text().strip() == str(proc.pid)

        second = run_cli("--daemon")
        assert second.code == 3
        assert f"pid {proc.pid}" in second.stderr and "already runs" in second.stderr

        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    assert out == "" and err == ""  # the daemon never writes to the terminal
    assert not (isolated_home / "daemon.pid").exists()
    with Store(isolated_home / "cephalon.duckdb", read_only=True) as store:
        phases = [e.payload["phase"] for e in EventLog(store).tail()]
    assert phases == ["daemon.start", "daemon.stop"]
