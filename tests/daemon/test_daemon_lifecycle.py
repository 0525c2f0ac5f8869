"""``cephalon --daemon``: attach, send, detach, reattach; stops; crashes; one per dir."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable
from pathlib import Path

from engine.signals import EngineState, TurnCommitted, TurnStarted
from engine.store import EventLog, Store
from engine.turns_query import list_turns
from tests.daemon.conftest import Daemon, SignalLog, message, start_daemon, wait_until
from tests.helpers import run_cli


def _turn_rows(home: Path) -> list[dict[str, object]]:
    with Store(home / "cephalon.duckdb", read_only=True) as store:
        return list_turns(store.reader(), 50)


def test_attach_send_detach_reattach_sees_the_earlier_turn(daemon: Daemon) -> None:
    first = daemon.connect()
    assert first.server_info["protocol"] == 1
    assert first.server_info["pid"] == daemon.proc.pid
    log = SignalLog()
    first.subscribe(log)
    candidate = first.submit("hello daemon")
    started = log.wait_for(lambda s: isinstance(s, TurnStarted) and s.candidate_id == candidate)
    done = log.wait_for(lambda s: isinstance(s, TurnCommitted) and s.turn_id == started.turn_id)
    assert isinstance(done, TurnCommitted)
    assert done.status == "committed" and done.output == "echo: hello daemon"
    first.close()  # detach
    assert daemon.proc.poll() is None  # the daemon goes on

    second = daemon.connect()
    turns = second.turns()
    assert [(t["input"], t["output"], t["status"]) for t in turns] == [
        ("hello daemon", "echo: hello daemon", "committed")
    ]
    assert second.turn(int(turns[0]["id"]))["output"] == "echo: hello daemon"
    status = second.status()
    assert status["state"] == "running" and status["turns"] == 1
    second.pause()
    assert second.status()["state"] == "paused"
    second.resume()
    assert second.status()["state"] == "running"
    assert second.unlock(5)  # an ISO timestamp
    second.close()

    code, out, err = daemon.stop()
    assert code == 0 and out == "" and err == ""
    assert not (daemon.home / "daemon.pid").exists()
    assert not (daemon.home / "control.sock").exists()
    with Store(daemon.home / "cephalon.duckdb", read_only=True) as store:
        phases = [e.payload.get("phase") for e in EventLog(store).tail(100) if e.source == "daemon"]
    assert phases == ["daemon.start", "daemon.stop"]
    log_text = (daemon.home / "logs" / "daemon.log").read_text()
    assert "daemon.ready" in log_text and "daemon.stopped" in log_text


def test_a_hangup_leaves_the_daemon_running(daemon: Daemon) -> None:
    for _ in range(5):  # the SSH session that started it closed (and a few more)
        daemon.proc.send_signal(signal.SIGHUP)
        time.sleep(0.05)
    log_path = daemon.home / "logs" / "daemon.log"
    wait_until(lambda: "daemon.hangup_ignored" in log_path.read_text(), what="the hangup log")
    assert daemon.proc.poll() is None
    # the handler itself never logs: a signal landing inside a log write lost the line
    stderr_log = (daemon.home / "logs" / "daemon.stderr.log").read_text()
    assert "Logging error" not in stderr_log
    client = daemon.connect()
    assert client.status()["state"] == "running"
    client.close()
    code, _out, err = daemon.stop()
    assert code == 0 and err == ""


def test_sigterm_mid_turn_lets_the_turn_finish(daemon_factory: Callable[..., Daemon]) -> None:
    daemon = daemon_factory(replies=[message("slow but complete", delay_s=2.0)])
    client = daemon.connect()
    log = SignalLog()
    client.subscribe(log)
    client.submit("take your time")
    log.wait_for(lambda s: isinstance(s, TurnStarted))
    began = time.monotonic()
    code, out, err = daemon.stop(signal.SIGTERM)
    assert code == 0, err
    assert out == "" and err == ""
    assert time.monotonic() - began < 15
    committed = log.wait_for(lambda s: isinstance(s, TurnCommitted))
    assert isinstance(committed, TurnCommitted) and committed.output == "slow but complete"
    gone = log.wait_for(lambda s: isinstance(s, EngineState) and s.state == "disconnected")
    assert isinstance(gone, EngineState) and "stopping" in gone.detail
    rows = _turn_rows(daemon.home)
    assert [(r["status"], r["output"]) for r in rows] == [("committed", "slow but complete")]


def test_sigterm_mid_turn_cancels_after_the_drain_period(
    daemon_factory: Callable[..., Daemon], isolated_home: Path
) -> None:
    isolated_home.mkdir(parents=True, exist_ok=True)
    (isolated_home / "policy.toml").write_text("[engine.daemon]\ndrain_seconds = 0.5\n")
    daemon = daemon_factory(replies=[message("never said", delay_s=60.0)])
    client = daemon.connect()
    log = SignalLog()
    client.subscribe(log)
    client.submit("this turn will be cut short")
    log.wait_for(lambda s: isinstance(s, TurnStarted))
    began = time.monotonic()
    code, _out, err = daemon.stop(signal.SIGTERM)
    assert code == 0, err
    assert time.monotonic() - began < 10  # not the 60 s of the scripted reply
    rows = _turn_rows(daemon.home)
    assert len(rows) == 1
    assert rows[0]["status"] == "cancelled" and rows[0]["output"] is None

    again = start_daemon(daemon.home, daemon.script)  # the data dir is healthy
    try:
        assert again.connect().turns()[0]["status"] == "cancelled"
    finally:
        for c in again.clients:
            c.close()
        assert again.stop()[0] == 0


def test_sigkill_mid_turn_restart_marks_it_interrupted(
    daemon_factory: Callable[..., Daemon],
) -> None:
    daemon = daemon_factory(replies=[message("lost", delay_s=60.0)])
    client = daemon.connect()
    log = SignalLog()
    client.subscribe(log)
    client.submit("crash during this")
    log.wait_for(lambda s: isinstance(s, TurnStarted))
    daemon.proc.kill()
    daemon.proc.communicate(timeout=10)
    client.close()
    assert (daemon.home / "daemon.pid").exists()  # stale: its owner is dead

    restarted = daemon_factory(replies=[])  # echo replies from here on
    backend = restarted.connect()
    rows = backend.turns()
    assert [(r["status"], r["input"]) for r in rows] == [("interrupted", "crash during this")]
    log2 = SignalLog()
    backend.subscribe(log2)
    backend.submit("after the crash")
    done = log2.wait_for(lambda s: isinstance(s, TurnCommitted))
    assert isinstance(done, TurnCommitted) and done.output == "echo: after the crash"


def test_a_second_daemon_on_the_same_dir_is_refused(daemon: Daemon) -> None:
    second = run_cli("--daemon", env=daemon.env)
    assert second.code == 3
    assert f"pid {daemon.proc.pid}" in second.stderr and "already runs" in second.stderr
    assert "Traceback" not in second.stderr
    assert daemon.connect().status()["state"] == "running"  # the first one is untouched
    assert (daemon.home / "daemon.pid").read_text().strip() == str(daemon.proc.pid)


def test_sigint_stops_cleanly_and_the_socket_is_owner_only(daemon: Daemon) -> None:
    sock = daemon.home / "control.sock"
    mode = sock.stat().st_mode & 0o777
    assert mode == 0o600
    assert sock.stat().st_uid == os.getuid()
    code, out, err = daemon.stop(signal.SIGINT)
    assert code == 0 and out == "" and err == ""
    wait_until(lambda: not sock.exists(), 5, "the socket to be removed")
