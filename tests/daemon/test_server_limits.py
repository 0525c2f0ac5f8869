"""The control server in-process over a real engine: slow consoles, limits, long paths."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from engine.backend_local import LocalBackend
from engine.config import Settings, load_policy
from engine.control import ControlServer, RemoteBackend
from engine.control.engine_ops import engine_ops
from engine.engine import Engine
from engine.errors import CephalonError
from engine.llm.scripted import ScriptedProvider
from engine.policy.runtime import DaemonSection
from engine.signals import EngineError, EngineState, Signal
from tests.daemon.conftest import SignalLog, wait_until


@pytest.fixture
def engine(isolated_home: Path) -> Iterator[Engine]:
    settings = Settings(home=isolated_home, embedder="hashing")
    provider = ScriptedProvider(echo_when_exhausted=True)
    with Engine(settings, load_policy().policy, provider=provider) as eng:
        yield eng


def _config(**changes: object) -> DaemonSection:
    return load_policy().policy.engine.daemon.model_copy(update=changes)


def _serve(engine: Engine, path: Path, config: DaemonSection) -> ControlServer:
    backend = LocalBackend(engine)
    server = ControlServer(
        path, backend, config, extra_ops=engine_ops(engine, backend, lambda: {"pid": 0})
    )
    server.start()
    return server


def _state(n: int) -> Signal:
    return EngineState(ts=datetime.now(UTC), state="running", detail=f"burst {n}")


def test_a_console_that_stops_reading_is_dropped_without_blocking_the_engine(
    engine: Engine, tmp_path: Path
) -> None:
    server = _serve(engine, tmp_path / "c.sock", _config(subscriber_queue_frames=50))
    try:
        stalled = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        stalled.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        stalled.connect(str(tmp_path / "c.sock"))
        stalled.sendall(b'{"v":1,"id":1,"op":"subscribe","args":{}}\n')
        wait_until(lambda: server.client_count == 1, 5, "the connection")
        time.sleep(0.2)  # let the subscribe run
        began = time.perf_counter()
        for n in range(20_000):  # far more than the socket buffers and the queue hold
            engine.bus.emit(_state(n))
        emit_s = time.perf_counter() - began
        assert emit_s < 5  # never waited for the console
        # a healthy console attached meanwhile still gets everything
        healthy = RemoteBackend(tmp_path / "c.sock")
        log = SignalLog()
        healthy.subscribe(log)
        engine.bus.emit(EngineError(ts=datetime.now(UTC), stage="test", error="after"))
        log.wait_for(lambda s: isinstance(s, EngineError) and s.error == "after", 5)
        healthy.close()
        # the stalled console, when it reads at last, finds the notice after its backlog
        stalled.settimeout(5)
        data = b""
        while b"subscription_dropped" not in data:
            chunk = stalled.recv(1 << 16)
            assert chunk
            data += chunk
        frames = [json.loads(line) for line in data.split(b"\n") if line.strip()]
        signals = [f for f in frames if "signal" in f]
        assert 0 < len(signals) <= 51
        stalled.close()
    finally:
        server.close()


def test_the_remote_backend_resubscribes_after_a_drop(engine: Engine, tmp_path: Path) -> None:
    server = _serve(engine, tmp_path / "c.sock", _config(subscriber_queue_frames=5))
    client = RemoteBackend(tmp_path / "c.sock")
    try:
        seen: list[Signal] = []

        def slow_observer(signal: Signal) -> None:
            seen.append(signal)
            time.sleep(0.01)  # a console slower than the engine

        client.subscribe(slow_observer)
        for n in range(3000):
            engine.bus.emit(_state(n))
        wait_until(
            lambda: any(isinstance(s, EngineError) and s.stage == "control" for s in seen),
            10,
            "the drop notice",
        )
        time.sleep(0.5)
        engine.bus.emit(EngineError(ts=datetime.now(UTC), stage="test", error="later"))
        wait_until(
            lambda: any(isinstance(s, EngineError) and s.error == "later" for s in seen),
            30,
            "signals after resubscribing",
        )
    finally:
        client.close()
        server.close()


def test_too_many_consoles_are_refused_with_busy(engine: Engine, tmp_path: Path) -> None:
    server = _serve(engine, tmp_path / "c.sock", _config(max_clients=2))
    clients = [RemoteBackend(tmp_path / "c.sock") for _ in range(2)]
    try:
        with pytest.raises(CephalonError, match="2 consoles are attached"):
            RemoteBackend(tmp_path / "c.sock")
        clients.pop().close()
        wait_until(lambda: server.client_count == 1, 5, "the slot to free up")
        clients.append(RemoteBackend(tmp_path / "c.sock"))
        assert clients[-1].status()["state"] == "stopped"
    finally:
        for client in clients:
            client.close()
        server.close()


def test_a_socket_path_longer_than_sun_path_still_works(engine: Engine, tmp_path: Path) -> None:
    deep = tmp_path / ("d" * 60) / ("e" * 60)
    deep.mkdir(parents=True)
    path = deep / "control.sock"
    assert len(str(path)) > 108
    server = _serve(engine, path, _config())
    try:
        assert path.stat().st_mode & 0o777 == 0o600
        with RemoteBackend(path) as client:
            assert client.status()["turns"] == 0
    finally:
        server.close()
    assert not path.exists()


def test_requests_larger_than_the_limit_are_refused_by_the_client(
    engine: Engine, tmp_path: Path
) -> None:
    server = _serve(engine, tmp_path / "c.sock", _config(max_request_bytes=4096))
    try:
        with RemoteBackend(tmp_path / "c.sock", max_request_bytes=4096) as client:
            with pytest.raises(CephalonError, match="over the daemon's limit"):
                client.submit("x" * 10_000)
            assert client.submit("small enough") > 0
    finally:
        server.close()


def test_a_failing_op_is_an_error_reply_not_a_dead_server(engine: Engine, tmp_path: Path) -> None:
    server = _serve(engine, tmp_path / "c.sock", _config())
    try:
        with RemoteBackend(tmp_path / "c.sock") as client:
            with pytest.raises(CephalonError, match="no turn 42"):
                client.turn(42)
            with pytest.raises(CephalonError, match="no memory 7"):
                client.memory_forget(7)
            with pytest.raises(CephalonError, match="mode must be one of"):
                client.memory_search("x", mode="magic")
            with pytest.raises(CephalonError, match="needs some text"):
                client.submit("   ")
            assert client.submit("a real message") > 0
            tail = client.events_tail(5)
            assert tail[-1]["payload"]["content"] == "a real message"
            assert client.status()["state"] == "stopped"  # this engine's loop never started
    finally:
        server.close()
