"""Control socket latency and signal throughput (printed numbers, not a pass/fail test).

Serves a real engine (hashing embedder, scripted echo provider) on a control
socket in this process and measures, with a :class:`RemoteBackend` client:
- connect + hello round trip;
- request round trip of ``status`` (a few SQL counts) and ``turns``;
- a whole turn seen from the console: ``submit`` to ``turn.committed``;
- signals/s pushed through the socket to one subscribed console, and what the
  engine's emitting thread paid per signal.

Usage: python bench/bench_control.py [--requests N] [--signals N] [--turns N]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import engine  # noqa: F401  (native libraries load first)
from engine.backend_local import LocalBackend
from engine.config import Settings, load_policy
from engine.control import ControlServer, RemoteBackend
from engine.engine import Engine
from engine.llm.scripted import ScriptedProvider
from engine.signals import EngineState, Signal, TurnCommitted


def _ms(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return 1000 * ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def _report(name: str, seconds: list[float]) -> None:
    print(
        f"{name:<28} p50 {_ms(seconds, 0.5):7.2f} ms   p99 {_ms(seconds, 0.99):7.2f} ms"
        f"   mean {1000 * statistics.fmean(seconds):7.2f} ms   n={len(seconds)}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=500)
    parser.add_argument("--signals", type=int, default=50_000)
    parser.add_argument("--turns", type=int, default=20)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp) / "home"
        settings = Settings(home=home, embedder="hashing")
        loaded = load_policy()
        provider = ScriptedProvider(echo_when_exhausted=True)
        with Engine(settings, loaded.policy, provider=provider) as eng:
            eng.start()
            server = ControlServer(
                settings.data_dir.socket_path,
                LocalBackend(eng, loaded),
                loaded.policy.engine.daemon,
            )
            server.start()
            try:
                _measure(eng, settings.data_dir.socket_path, args)
            finally:
                server.close()


def _measure(eng: Engine, path: Path, args: argparse.Namespace) -> None:
    connects = []
    for _ in range(20):
        began = time.perf_counter()
        RemoteBackend(path).close()
        connects.append(time.perf_counter() - began)
    _report("connect + hello", connects)

    client = RemoteBackend(path)
    for op in ("status", "turns"):
        times = []
        for _ in range(args.requests):
            began = time.perf_counter()
            client.call(op)
            times.append(time.perf_counter() - began)
        _report(f"request {op}", times)

    committed = threading.Event()
    seen: list[Signal] = []

    def on_signal(signal: Signal) -> None:
        seen.append(signal)
        if isinstance(signal, TurnCommitted):
            committed.set()

    client.subscribe(on_signal)
    turns = []
    for i in range(args.turns):
        committed.clear()
        began = time.perf_counter()
        client.submit(f"benchmark message {i}")
        committed.wait(30)
        turns.append(time.perf_counter() - began)
    _report("submit -> turn.committed", turns)

    total, burst = args.signals, 500  # bursts stay under the subscriber queue limit
    received = threading.Semaphore(0)
    client.subscribe(lambda s: received.release() if isinstance(s, EngineState) else None)
    state = EngineState(ts=datetime.now(UTC), state="running", detail="bench " + "x" * 100)
    emit_seconds = 0.0
    got = 0
    began = time.perf_counter()
    while got < total:
        t0 = time.perf_counter()
        for _ in range(burst):
            eng.bus.emit(state)
        emit_seconds += time.perf_counter() - t0
        for _ in range(burst):
            if not received.acquire(timeout=10):
                raise SystemExit(f"signals lost after {got}")
            got += 1
    elapsed = time.perf_counter() - began
    print(
        f"signals through the socket: {got} in {elapsed:.2f} s = {got / elapsed:,.0f}/s "
        f"to one console; the engine thread paid {1e6 * emit_seconds / got:.1f} us per emit"
    )
    client.close()


if __name__ == "__main__":
    main()
